// Package pkcs15 reads the directories a smart card describes itself with
// (PKCS#15, ISO/IEC 7816-15): the ODF, the TokenInfo, and the object
// directories of PINs (AODF), private keys (PrKDF), certificates (CDF) and
// data objects (DODF). It parses DER with cryptobyte and knows nothing of
// APDUs: the card packages read the files and hand their bytes here.
//
// Entries of kinds the kiosk does not use (public and secret keys, other
// authentication objects than PINs, ...) are skipped, as are a file's
// trailing 00 or FF padding bytes.
package pkcs15

import (
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// ErrMalformed is what every unreadable directory unwraps to.
var ErrMalformed = errors.New("pkcs15: malformed directory")

func malformed(what string) error { return fmt.Errorf("%w: %s", ErrMalformed, what) }

// Path is where an object or a directory sits: a file identifier or a path
// (EFID), in the application named by AID when AID is set. An object whose
// path holds an AID and no EFID is the application itself (a key).
type Path struct {
	EFID []byte
	AID  []byte
}

// ODF kinds (the context tags of the ODF's choices).
const (
	PrKDF = 0
	PuKDF = 1
	CDF   = 4
	DODF  = 7
	AODF  = 8
)

// ODF maps each directory kind to where its directories are.
type ODF map[int][]Path

func ctxTag(n int) asn1.Tag { return asn1.Tag(n).ContextSpecific() }

func ctxCons(n int) asn1.Tag { return asn1.Tag(n).ContextSpecific().Constructed() }

// trim drops the padding a card leaves after the last object: the
// directory ends at the first 00 or FF byte where an object would start.
// A malformed object is left for the parser to report.
func trim(b []byte) cryptobyte.String {
	s := cryptobyte.String(b)
	n := 0
	for len(s) > 0 && s[0] != 0x00 && s[0] != 0xFF {
		var el cryptobyte.String
		var tag asn1.Tag
		if !s.ReadAnyASN1Element(&el, &tag) {
			return cryptobyte.String(b)
		}
		n += len(el)
	}
	return cryptobyte.String(b[:n])
}

func readPath(s *cryptobyte.String) (Path, bool) {
	var seq cryptobyte.String
	var p Path
	if !s.ReadASN1(&seq, asn1.SEQUENCE) {
		return p, false
	}
	var efid cryptobyte.String
	if !seq.ReadASN1(&efid, asn1.OCTET_STRING) {
		return p, false
	}
	p.EFID = append([]byte(nil), efid...)
	// index INTEGER, length [0] INTEGER: skipped; aid [APPLICATION 15].
	for !seq.Empty() {
		var el cryptobyte.String
		var tag asn1.Tag
		if !seq.ReadAnyASN1(&el, &tag) {
			return p, false
		}
		if tag == asn1.Tag(15)|0x40 {
			p.AID = append([]byte(nil), el...)
		}
	}
	return p, true
}

// ParseODF reads EF(ODF).
func ParseODF(b []byte) (ODF, error) {
	s := trim(b)
	odf := ODF{}
	for !s.Empty() {
		var el cryptobyte.String
		var tag asn1.Tag
		if !s.ReadAnyASN1(&el, &tag) {
			return nil, malformed("ODF")
		}
		if tag&0xC0 != 0x80 { // not a context choice
			continue
		}
		p, ok := readPath(&el)
		if !ok {
			return nil, malformed("ODF path")
		}
		kind := int(tag & 0x1F)
		odf[kind] = append(odf[kind], p)
	}
	return odf, nil
}

// Algorithm is a TokenInfo supportedAlgorithms entry.
type Algorithm struct {
	Reference int
	Mechanism uint64 // PKCS#11 mechanism: 0x40 CKM_SHA256_RSA_PKCS, 0x01 CKM_RSA_PKCS...
	AlgRef    int    // the card's own algorithm reference (MSE SET 80); -1 when absent
}

// TokenInfo is EF(TokenInfo).
type TokenInfo struct {
	Version      int
	Serial       []byte
	Manufacturer string
	Label        string
	Algorithms   []Algorithm
}

// AlgRef is the card's reference of the algorithm for a PKCS#11
// mechanism, if the card declares one.
func (t *TokenInfo) AlgRef(mechanism uint64) (int, bool) {
	for _, a := range t.Algorithms {
		if a.Mechanism == mechanism && a.AlgRef >= 0 {
			return a.AlgRef, true
		}
	}
	return 0, false
}

// ParseTokenInfo reads EF(TokenInfo).
func ParseTokenInfo(b []byte) (*TokenInfo, error) {
	s := trim(b)
	var seq, serial cryptobyte.String
	t := &TokenInfo{}
	var v int64
	if !s.ReadASN1(&seq, asn1.SEQUENCE) || !seq.ReadASN1Integer(&v) || !seq.ReadASN1(&serial, asn1.OCTET_STRING) {
		return nil, malformed("TokenInfo")
	}
	t.Version, t.Serial = int(v), append([]byte(nil), serial...)
	for !seq.Empty() {
		var el cryptobyte.String
		var tag asn1.Tag
		if !seq.ReadAnyASN1(&el, &tag) {
			return nil, malformed("TokenInfo")
		}
		switch tag {
		case asn1.UTF8String:
			t.Manufacturer = string(el)
		case ctxTag(0):
			t.Label = string(el)
		case ctxCons(2):
			for !el.Empty() {
				var alg cryptobyte.String
				if !el.ReadASN1(&alg, asn1.SEQUENCE) {
					return nil, malformed("TokenInfo algorithm")
				}
				a := Algorithm{AlgRef: -1}
				var ref int64
				var mech uint64
				if !alg.ReadASN1Integer(&ref) || !alg.ReadASN1Integer(&mech) {
					return nil, malformed("TokenInfo algorithm")
				}
				a.Reference, a.Mechanism = int(ref), mech
				for !alg.Empty() {
					var f cryptobyte.String
					var ft asn1.Tag
					if !alg.ReadAnyASN1Element(&f, &ft) {
						return nil, malformed("TokenInfo algorithm")
					}
					if ft == asn1.INTEGER {
						var r int64
						if f.ReadASN1Integer(&r) {
							a.AlgRef = int(r)
						}
					}
				}
				t.Algorithms = append(t.Algorithms, a)
			}
		}
	}
	return t, nil
}

// Common is what every PKCS#15 object says of itself.
type Common struct {
	Label   string
	Private bool
	// AuthID is the PIN that protects the object (its AODF entry's
	// AuthID), nil if none.
	AuthID []byte
}

// object splits a PKCS#15 object: common attributes, class attributes, and
// the type attributes ([1]).
func object(s *cryptobyte.String) (c Common, class, typ cryptobyte.String, ok bool) {
	var obj, common cryptobyte.String
	if !s.ReadASN1(&obj, asn1.SEQUENCE) || !obj.ReadASN1(&common, asn1.SEQUENCE) || !obj.ReadASN1(&class, asn1.SEQUENCE) {
		return c, nil, nil, false
	}
	for !common.Empty() {
		var el cryptobyte.String
		var tag asn1.Tag
		if !common.ReadAnyASN1(&el, &tag) {
			return c, nil, nil, false
		}
		switch tag {
		case asn1.UTF8String:
			c.Label = string(el)
		case asn1.BIT_STRING:
			c.Private = bit(el, 0)
		case asn1.OCTET_STRING:
			c.AuthID = append([]byte(nil), el...)
		}
	}
	for !obj.Empty() {
		var el cryptobyte.String
		var tag asn1.Tag
		if !obj.ReadAnyASN1(&el, &tag) {
			return c, nil, nil, false
		}
		if tag == ctxCons(1) {
			typ = el
		}
	}
	return c, class, typ, typ != nil
}

// bit reports bit n of a DER BIT STRING's contents (unused-bits byte
// first), numbered from the first bit as PKCS#15 flag lists are.
func bit(bs []byte, n int) bool {
	if len(bs) < 1 || 1+n/8 >= len(bs) {
		return false
	}
	return bs[1+n/8]&(0x80>>(n%8)) != 0
}

// entries calls fn for every PKCS#15 object of a directory, skipping the
// choices the kiosk does not read ([n]-tagged: EC keys, external data
// objects, other authentication objects) and the trailing padding.
func entries(b []byte, fn func(c Common, class, typ cryptobyte.String) error) error {
	s := trim(b)
	for !s.Empty() {
		if s[0] != 0x30 {
			var skip cryptobyte.String
			var tag asn1.Tag
			if !s.ReadAnyASN1(&skip, &tag) {
				return malformed("directory entry")
			}
			continue
		}
		c, class, typ, ok := object(&s)
		if !ok {
			return malformed("directory entry")
		}
		if err := fn(c, class, typ); err != nil {
			return err
		}
	}
	return nil
}

// PIN types.
const (
	PINBCD          = 0
	PINASCIINumeric = 1
	PINUTF8         = 2
)

// PIN is an AODF PIN entry: how the card wants the PIN presented.
type PIN struct {
	Common
	ID        []byte // the AuthID objects name it by
	Type      int
	MinLen    int
	StoredLen int
	MaxLen    int // -1 when not declared
	Reference int // -1 when not declared
	// NeedsPadding: the PIN is padded with PadChar to StoredLen.
	NeedsPadding bool
	PadChar      byte
	HasPadChar   bool
	Path         *Path
}

// ParseAODF reads an AODF's PIN entries.
func ParseAODF(b []byte) ([]PIN, error) {
	var out []PIN
	err := entries(b, func(c Common, class, typ cryptobyte.String) error {
		p := PIN{Common: c, MaxLen: -1, Reference: -1}
		var id cryptobyte.String
		if !class.ReadASN1(&id, asn1.OCTET_STRING) {
			return malformed("AODF authId")
		}
		p.ID = append([]byte(nil), id...)
		var attrs, flags cryptobyte.String
		var typ64 int
		var min64, stored64 int64
		if !typ.ReadASN1(&attrs, asn1.SEQUENCE) || !attrs.ReadASN1(&flags, asn1.BIT_STRING) ||
			!attrs.ReadASN1Enum(&typ64) || !attrs.ReadASN1Integer(&min64) || !attrs.ReadASN1Integer(&stored64) {
			return malformed("AODF PIN attributes")
		}
		p.NeedsPadding = bit(flags, 5)
		p.Type, p.MinLen, p.StoredLen = typ64, int(min64), int(stored64)
		for !attrs.Empty() {
			var el cryptobyte.String
			var tag asn1.Tag
			if !attrs.ReadAnyASN1Element(&el, &tag) {
				return malformed("AODF PIN attributes")
			}
			switch tag {
			case asn1.INTEGER:
				var v int64
				if el.ReadASN1Integer(&v) {
					p.MaxLen = int(v)
				}
			case ctxTag(0):
				var v int64
				if readImplicitInt(el, &v) {
					p.Reference = int(v)
				}
			case asn1.OCTET_STRING:
				var v cryptobyte.String
				if el.ReadASN1(&v, asn1.OCTET_STRING) && len(v) == 1 {
					p.PadChar, p.HasPadChar = v[0], true
				}
			case asn1.SEQUENCE:
				if path, ok := readPath(&el); ok {
					p.Path = &path
				}
			}
		}
		out = append(out, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// readImplicitInt reads an [n] IMPLICIT INTEGER element (its tag byte,
// length and value) as unsigned: cards write a local PIN's reference 81
// in one byte.
func readImplicitInt(el cryptobyte.String, v *int64) bool {
	var val cryptobyte.String
	var tag asn1.Tag
	if !el.ReadAnyASN1(&val, &tag) || len(val) == 0 || len(val) > 8 {
		return false
	}
	var n int64
	for _, b := range val {
		n = n<<8 | int64(b)
	}
	*v = n
	return true
}

// Key usages (PKCS#15 KeyUsageFlags bits).
const (
	UsageDecrypt        = 1
	UsageSign           = 2
	UsageNonRepudiation = 9
)

// PrivateKey is a PrKDF RSA key entry.
type PrivateKey struct {
	Common
	ID          []byte
	Usage       []byte // the KeyUsageFlags BIT STRING; see Uses
	Reference   int    // -1 when not declared
	ModulusBits int
	Path        Path
}

// Uses reports whether the key's usage flags include usage.
func (k *PrivateKey) Uses(usage int) bool { return bit(k.Usage, usage) }

// ParsePrKDF reads a PrKDF's RSA key entries.
func ParsePrKDF(b []byte) ([]PrivateKey, error) {
	var out []PrivateKey
	err := entries(b, func(c Common, class, typ cryptobyte.String) error {
		k := PrivateKey{Common: c, Reference: -1}
		var id, usage cryptobyte.String
		if !class.ReadASN1(&id, asn1.OCTET_STRING) || !class.ReadASN1Element(&usage, asn1.BIT_STRING) {
			return malformed("PrKDF key attributes")
		}
		k.ID = append([]byte(nil), id...)
		var ub cryptobyte.String
		usage.ReadASN1(&ub, asn1.BIT_STRING)
		k.Usage = append([]byte(nil), ub...)
		for !class.Empty() {
			var el cryptobyte.String
			var tag asn1.Tag
			if !class.ReadAnyASN1Element(&el, &tag) {
				return malformed("PrKDF key attributes")
			}
			if tag == asn1.INTEGER {
				var v int64
				if el.ReadASN1Integer(&v) {
					k.Reference = int(v)
				}
			}
		}
		var rsa cryptobyte.String
		if !typ.ReadASN1(&rsa, asn1.SEQUENCE) {
			return malformed("PrKDF RSA attributes")
		}
		var mod int64
		path, ok := readPath(&rsa)
		if !ok || !rsa.ReadASN1Integer(&mod) {
			return malformed("PrKDF RSA attributes")
		}
		k.Path, k.ModulusBits = path, int(mod)
		out = append(out, k)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Certificate is a CDF X.509 certificate entry.
type Certificate struct {
	Common
	ID   []byte
	Path Path
}

// ParseCDF reads a CDF's X.509 certificate entries (held in an EF).
func ParseCDF(b []byte) ([]Certificate, error) {
	var out []Certificate
	err := entries(b, func(c Common, class, typ cryptobyte.String) error {
		var id, attrs cryptobyte.String
		if !class.ReadASN1(&id, asn1.OCTET_STRING) || !typ.ReadASN1(&attrs, asn1.SEQUENCE) {
			return malformed("CDF certificate attributes")
		}
		path, ok := readPath(&attrs)
		if !ok { // a certificate held directly in the CDF: not on CPS cards
			return nil
		}
		out = append(out, Certificate{Common: c, ID: append([]byte(nil), id...), Path: path})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DataObject is a DODF opaque data object entry.
type DataObject struct {
	Common
	Application string
	Path        Path
}

// ParseDODF reads a DODF's opaque data object entries.
func ParseDODF(b []byte) ([]DataObject, error) {
	var out []DataObject
	err := entries(b, func(c Common, class, typ cryptobyte.String) error {
		d := DataObject{Common: c}
		var app cryptobyte.String
		if class.PeekASN1Tag(asn1.UTF8String) && class.ReadASN1(&app, asn1.UTF8String) {
			d.Application = string(app)
		}
		path, ok := readPath(&typ)
		if !ok {
			return nil
		}
		d.Path = path
		out = append(out, d)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
