package cards

import (
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// The virtual CPS card's own PKCS#15 directories (ISO/IEC 7816-15), written
// in DER with cryptobyte. They are judged by OpenSC's PKCS#15 layer in the
// tests, not by the kiosk's reader alone.

func ctxTag(n int, constructed bool) asn1.Tag {
	t := asn1.Tag(n).ContextSpecific()
	if constructed {
		t = t.Constructed()
	}
	return t
}

// namedBits is a DER BIT STRING with the given bits set (bit 0 is the
// first one, as PKCS#15 flag lists number them), trailing zeros dropped.
func namedBits(b *cryptobyte.Builder, bits ...int) {
	hi := -1
	for _, n := range bits {
		hi = max(hi, n)
	}
	data := make([]byte, (hi+8)/8)
	for _, n := range bits {
		data[n/8] |= 0x80 >> (n % 8)
	}
	unused := 0
	if hi >= 0 {
		unused = 7 - hi%8
	}
	b.AddASN1(asn1.BIT_STRING, func(b *cryptobyte.Builder) {
		b.AddUint8(uint8(unused))
		b.AddBytes(data)
	})
}

// p15Path is a PKCS#15 Path: efidOrPath, and the application's AID when
// aid is set (a key's path on a CPS3 is its application alone).
func p15Path(b *cryptobyte.Builder, efid, aid []byte) {
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1OctetString(efid)
		if aid != nil {
			b.AddASN1(asn1.Tag(15)|0x40, func(b *cryptobyte.Builder) { b.AddBytes(aid) })
		}
	})
}

func der(f func(b *cryptobyte.Builder)) []byte {
	var b cryptobyte.Builder
	f(&b)
	return b.BytesOrPanic()
}

// PKCS#15 object flags, key usages, access flags and access modes (bit
// numbers of their BIT STRINGs).
const (
	objPrivate    = 0
	objModifiable = 1

	usageDecrypt        = 1
	usageSign           = 2
	usageNonRepudiation = 9

	accSensitive       = 0
	accAlwaysSensitive = 2
	accNeverExtract    = 3

	amPSOCDS     = 5
	amPSODecrypt = 7
	amIntAuth    = 9
)

type p15Object struct {
	label   string
	flags   []int
	authID  []byte
	access  []int // access modes granted under authID
	classFn func(b *cryptobyte.Builder)
	typeFn  func(b *cryptobyte.Builder)
}

func (o p15Object) write(b *cryptobyte.Builder) {
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(asn1.UTF8String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(o.label)) })
			if o.flags != nil {
				namedBits(b, o.flags...)
			}
			if o.authID != nil {
				b.AddASN1OctetString(o.authID)
			}
			if o.access != nil {
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
					for _, m := range o.access {
						b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
							namedBits(b, m)
							b.AddASN1OctetString(o.authID)
						})
					}
				})
			}
		})
		o.classFn(b)
		b.AddASN1(ctxTag(1, true), o.typeFn)
	})
}

// p15PIN is the AODF entry of a PIN: ASCII digits, its lengths and padding.
type p15PIN struct {
	label                     string
	authID                    []byte
	ref                       int
	minLen, storedLen, maxLen int
	pad                       byte // padChar, when needsPadding
	needsPadding              bool
	path                      []byte
}

func (p p15PIN) write(b *cryptobyte.Builder) {
	p15Object{label: p.label, flags: []int{objPrivate, objModifiable},
		classFn: func(b *cryptobyte.Builder) {
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1OctetString(p.authID) })
		},
		typeFn: func(b *cryptobyte.Builder) {
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
				flags := []int{1, 4} // local, initialized
				if p.needsPadding {
					flags = append(flags, 5)
				}
				namedBits(b, flags...)
				b.AddASN1Enum(1) // ascii-numeric
				b.AddASN1Int64(int64(p.minLen))
				b.AddASN1Int64(int64(p.storedLen))
				b.AddASN1Int64(int64(p.maxLen))
				b.AddASN1Int64WithTag(int64(p.ref), ctxTag(0, false))
				if p.needsPadding {
					b.AddASN1OctetString([]byte{p.pad})
				}
				if p.path != nil {
					p15Path(b, p.path, nil)
				}
			})
		}}.write(b)
}

// p15Key is a PrKDF entry of an RSA key held on the card.
type p15Key struct {
	label   string
	id      []byte
	usage   []int
	access  []int
	ref     int
	authID  []byte
	aid     []byte
	modBits int
}

func (k p15Key) write(b *cryptobyte.Builder) {
	p15Object{label: k.label, flags: []int{objPrivate}, authID: k.authID, access: k.access,
		classFn: func(b *cryptobyte.Builder) {
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1OctetString(k.id)
				namedBits(b, k.usage...)
				namedBits(b, accSensitive, accAlwaysSensitive, accNeverExtract)
				b.AddASN1Int64(int64(k.ref))
			})
		},
		typeFn: func(b *cryptobyte.Builder) {
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
				p15Path(b, nil, k.aid)
				b.AddASN1Int64(int64(k.modBits))
			})
		}}.write(b)
}

// p15File is a CDF (X.509 certificate) or DODF (opaque data object)
// entry pointing at an EF of the application.
type p15File struct {
	label   string
	id      []byte // certificates: the key's id
	appName string // data objects: applicationName
	authID  []byte // data objects readable after the PIN only
	fid     []byte
}

func (f p15File) writeCert(b *cryptobyte.Builder) {
	p15Object{label: f.label,
		classFn: func(b *cryptobyte.Builder) {
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1OctetString(f.id) })
		},
		typeFn: func(b *cryptobyte.Builder) {
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { p15Path(b, f.fid, nil) })
		}}.write(b)
}

func (f p15File) writeData(b *cryptobyte.Builder) {
	o := p15Object{label: f.label,
		classFn: func(b *cryptobyte.Builder) {
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(asn1.UTF8String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(f.appName)) })
			})
		},
		typeFn: func(b *cryptobyte.Builder) { p15Path(b, f.fid, nil) }}
	if f.authID != nil {
		o.flags, o.authID = []int{objPrivate}, f.authID
	}
	o.write(b)
}

// p15Algorithm is a TokenInfo supportedAlgorithms entry.
type p15Algorithm struct {
	ref       int
	mechanism int // PKCS#11 mechanism
	ops       []int
	oid       []int
	algRef    int
}

// tokenInfo is EF 5032.
func tokenInfo(serial []byte, manufacturer, label string, algs []p15Algorithm) []byte {
	return der(func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1Int64(1)
			b.AddASN1OctetString(serial)
			b.AddASN1(asn1.UTF8String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(manufacturer)) })
			b.AddASN1(ctxTag(0, false), func(b *cryptobyte.Builder) { b.AddBytes([]byte(label)) })
			namedBits(b, 0, 1) // readonly, loginRequired
			b.AddASN1(ctxTag(2, true), func(b *cryptobyte.Builder) {
				for _, a := range algs {
					b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1Int64(int64(a.ref))
						b.AddASN1Int64(int64(a.mechanism))
						b.AddASN1NULL()
						namedBits(b, a.ops...)
						b.AddASN1ObjectIdentifier(a.oid)
						b.AddASN1Int64(int64(a.algRef))
					})
				}
			})
		})
	})
}

// ODF choice tags.
const (
	odfPrKDF = 0
	odfCDF   = 4
	odfDODF  = 7
	odfAODF  = 8
)

func odf(entries map[int][]byte) []byte {
	return der(func(b *cryptobyte.Builder) {
		for _, tag := range []int{odfPrKDF, odfCDF, odfDODF, odfAODF} {
			if fid, ok := entries[tag]; ok {
				b.AddASN1(ctxTag(tag, true), func(b *cryptobyte.Builder) { p15Path(b, fid, nil) })
			}
		}
	})
}
