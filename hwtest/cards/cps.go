package cards

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"time"

	"dmpkiosk/apdu"
	"dmpkiosk/apdu/cps"
)

// IGCSante is a test stand-in for the IGC-Santé authority that issues the
// professionals' card certificates: an RSA CA whose certificates the virtual
// CPS cards carry, so that a card signature verifies against the card's
// certificate and this CA.
type IGCSante struct {
	Cert *x509.Certificate
	Key  *rsa.PrivateKey
	PEM  []byte

	mu    sync.Mutex
	cards map[string]cpsKeys
}

type cpsKeys struct {
	sign, auth         *rsa.PrivateKey
	signCert, authCert []byte
}

// NewIGCSante creates a fresh test authority.
func NewIGCSante() (*IGCSante, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randSerial(),
		Subject:               pkix.Name{CommonName: "TEST IGC-SANTE ELEMENTAIRE ORGANISATIONS", Organization: []string{"dmpkiosk tests"}, Country: []string{"FR"}},
		NotBefore:             time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2049, 12, 31, 0, 0, 0, 0, time.UTC),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, _ := x509.ParseCertificate(der)
	return &IGCSante{Cert: cert, Key: key, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), cards: map[string]cpsKeys{}}, nil
}

// LoadOrCreateIGCSante keeps the test authority in dir (igc-sante.pem and
// igc-sante.key), so that separate processes (cardsim, the bridge) agree on
// it.
func LoadOrCreateIGCSante(dir string) (*IGCSante, error) {
	certPath, keyPath := filepath.Join(dir, "igc-sante.pem"), filepath.Join(dir, "igc-sante.key")
	cpem, cerr := os.ReadFile(certPath)
	kpem, kerr := os.ReadFile(keyPath)
	if cerr == nil && kerr == nil {
		cb, _ := pem.Decode(cpem)
		kb, _ := pem.Decode(kpem)
		if cb == nil || kb == nil {
			return nil, errors.New("hwtest: unreadable IGC-Santé test authority in " + dir)
		}
		cert, err := x509.ParseCertificate(cb.Bytes)
		if err != nil {
			return nil, err
		}
		key, err := x509.ParsePKCS1PrivateKey(kb.Bytes)
		if err != nil {
			return nil, err
		}
		return &IGCSante{Cert: cert, Key: key, PEM: cpem, cards: map[string]cpsKeys{}}, nil
	}
	ca, err := NewIGCSante()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(certPath, ca.PEM, 0o644); err != nil {
		return nil, err
	}
	kpem = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(ca.Key)})
	return ca, os.WriteFile(keyPath, kpem, 0o600)
}

// Pool is a pool holding the authority alone.
func (ca *IGCSante) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// CPSProfile is a virtual CPS3 card as data.
type CPSProfile struct {
	Name                  string
	CardType              string // CPS, CPF, CPE, CDE
	IDType                string // 8 RPPS, 0 ADELI, 3 establishment staff
	NationalID            string // as the VIHF names it: type digit + number
	Surname, FirstName    string
	Profession, Specialty string
	Serial                string // 10 digits after the ANS issuer prefix
	NotBefore, NotAfter   string // AAAAMMJJ
	PIN                   string
	Blocked               bool
	// The PIN's stored length and padding as the card's AODF declares
	// them; zero: 8 bytes padded with FF. A stored length equal to the
	// PIN's, with no pad, declares no padding.
	PINStoredLen int
	PINPad       byte
	// SignKeyRef is CPS_PRIV_SIG's key reference; zero: 0x81, a real
	// CPS3's.
	SignKeyRef byte
	// PINEachSignature: the signature key's security condition is spent by
	// each signature (a card that asks its PIN again for every one).
	PINEachSignature bool
}

// CPS3ATR is the CPS3 contact ATR (T=0, WI=42).
var CPS3ATR = []byte{0x3B, 0xAC, 0x00, 0x40, 0x2A, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x00, 0x03, 0x10, 0x00, 0x90, 0x00}

// CPS4ATR is a CPS4's (NXP ChipDoc).
var CPS4ATR = []byte{0x3B, 0x9B, 0x18, 0x80, 0x01, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x04, 0x01, 0x00, 0x00, 0x90, 0x44}

// CPS2terATR is a CPS2ter's.
var CPS2terATR = []byte{0x3B, 0xAC, 0x00, 0x40, 0x2A, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x82, 0x02, 0x12, 0x00, 0x90, 0x00}

// CPSProfiles are the fictitious professionals of the virtual CPS cards.
var CPSProfiles = []CPSProfile{
	{Name: "cps-medecin", CardType: "CPS", IDType: "8", NationalID: "810100456789", Surname: "LEROY", FirstName: "SOPHIE",
		Profession: "10", Specialty: "SM26", Serial: "0000104567", NotBefore: "20240301", NotAfter: "20290228", PIN: "1234"},
	{Name: "cpe-accueil", CardType: "CPE", IDType: "3", NationalID: "3750712184/ACC0042", Surname: "GARNIER", FirstName: "LUCIE",
		Serial: "0000204213", NotBefore: "20230915", NotAfter: "20280914", PIN: "4321"},
	{Name: "cpf-interne", CardType: "CPF", IDType: "8", NationalID: "810100998877", Surname: "FONTAINE", FirstName: "HUGO",
		Profession: "10", Serial: "0000309988", NotBefore: "20251101", NotAfter: "20281031", PIN: "2468"},
	{Name: "cde-directeur", CardType: "CDE", IDType: "3", NationalID: "3750712184/DIR0001", Surname: "MOREAU", FirstName: "ÉTIENNE",
		Serial: "0000400001", NotBefore: "20220101", NotAfter: "20311231", PIN: "1357"},
	{Name: "cps-bloquee", CardType: "CPS", IDType: "8", NationalID: "810100111222", Surname: "CHEVALIER", FirstName: "ANNE",
		Profession: "60", Serial: "0000501112", NotBefore: "20240101", NotAfter: "20281231", PIN: "1111", Blocked: true},
	{Name: "cps-expiree", CardType: "CPS", IDType: "8", NationalID: "810100333444", Surname: "BLANC", FirstName: "OLIVIER",
		Profession: "21", Serial: "0000603334", NotBefore: "20180101", NotAfter: "20221231", PIN: "1234"},
}

func day(s string) time.Time {
	t, err := time.Parse("20060102", s)
	if err != nil {
		panic("hwtest: profile date " + s)
	}
	return t
}

func (ca *IGCSante) keys(p CPSProfile) (cpsKeys, error) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if k, ok := ca.cards[p.Name]; ok {
		return k, nil
	}
	var k cpsKeys
	var err error
	if k.sign, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return k, err
	}
	if k.auth, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return k, err
	}
	subject := CPSCertSubject(p)
	issue := func(pub *rsa.PublicKey, ku x509.KeyUsage, eku []x509.ExtKeyUsage) ([]byte, error) {
		return x509.CreateCertificate(rand.Reader, &x509.Certificate{
			SerialNumber: randSerial(), Subject: subject,
			NotBefore: day(p.NotBefore), NotAfter: day(p.NotAfter).Add(24*time.Hour - time.Second),
			KeyUsage: ku, ExtKeyUsage: eku,
		}, ca.Cert, pub, ca.Key)
	}
	if k.signCert, err = issue(&k.sign.PublicKey, x509.KeyUsageContentCommitment|x509.KeyUsageDigitalSignature, nil); err != nil {
		return k, err
	}
	if k.authCert, err = issue(&k.auth.PublicKey, x509.KeyUsageDigitalSignature, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}); err != nil {
		return k, err
	}
	ca.cards[p.Name] = k
	return k, nil
}

// The virtual CPS3's file system (facts in ../shared/docs/cps.md; what is
// not public is chosen here and marked "inferred").
var (
	cpsMFAID          = []byte{0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x01, 0x00}
	cpsAID            = []byte{0xE8, 0x28, 0xBD, 0x08, 0x0F, 0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x00, 0x10}
	cpsAIDContactless = []byte{0xE8, 0x28, 0xBD, 0x08, 0x0F, 0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x00, 0x20}
	// cpsEFATR is a real CPS3v3's EF.ATR (with the issuer's 0x80 prefix).
	cpsEFATR = []byte{0x80, 0x43, 0x01, 0xB8, 0x46, 0x04, 0x04, 0xB0, 0xEC, 0xC1, 0x47, 0x03, 0x94, 0x01, 0x80,
		0x4F, 0x08, 0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x01, 0x00,
		0xE0, 0x10, 0x02, 0x02, 0x01, 0x04, 0x02, 0x02, 0x01, 0x04, 0x02, 0x02, 0x01, 0x00, 0x02, 0x02, 0x01, 0x00,
		0x78, 0x08, 0x06, 0x06, 0x2B, 0x81, 0x22, 0xF8, 0x78, 0x02, 0x82, 0x02, 0x90, 0x00}
	// Access rules as a real CPS3 writes them: read always, nothing else
	// (8C 7B FF FF FF FF FF 00), or read after the PIN (SC 12, inferred).
	accessRead    = apdu.Template(0xA1, []byte{0x8C, 0x07, 0x7B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00}, []byte{0x9C, 0x07, 0x7B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00})
	accessReadPIN = apdu.Template(0xA1, []byte{0x8C, 0x07, 0x7B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x12}, []byte{0x9C, 0x07, 0x7B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x12})
	accessDF      = apdu.Template(0xA1, []byte{0x8C, 0x03, 0x03, 0xFF, 0x00})
)

// Key references and algorithm references of a real CPS3.
const (
	CPSPrivSig    = 0x81
	CPSPrivAut    = 0x82
	cpsAlgSHA256  = 0x42
	cpsAlgSHA1    = 0x12
	cpsAlgRSAPKCS = 0x02 // inferred: INTERNAL AUTHENTICATE over a DigestInfo
	cpsPINRef     = 0x01
)

// CPSCertSubject is the subject a virtual card's certificates carry:
// CN the national identifier, SN and GN the holder's names, title the
// profession (TRE G15), and OU the card type (inferred: the IGC-Santé
// naming profile is public in part only).
func CPSCertSubject(p CPSProfile) pkix.Name {
	return pkix.Name{CommonName: p.NationalID, Country: []string{"FR"}, Organization: []string{"dmpkiosk tests"},
		OrganizationalUnit: []string{p.CardType},
		ExtraNames: []pkix.AttributeTypeAndValue{
			{Type: []int{2, 5, 4, 4}, Value: p.Surname},
			{Type: []int{2, 5, 4, 42}, Value: p.FirstName},
			{Type: []int{2, 5, 4, 12}, Value: p.Profession},
		}}
}

func (p CPSProfile) signKeyRef() byte {
	if p.SignKeyRef == 0 {
		return CPSPrivSig
	}
	return p.SignKeyRef
}

func (p CPSProfile) pinFormat() (stored int, pad byte, padding bool) {
	switch {
	case p.PINStoredLen == 0:
		return 8, 0xFF, true
	case p.PINStoredLen == len(p.PIN) && p.PINPad == 0:
		return p.PINStoredLen, 0, false
	default:
		return p.PINStoredLen, p.PINPad, true
	}
}

// CPSCard lays a profile out as a virtual CPS3 shaped like a real one: the
// MF with its AID, EF.ATR, EF.DIR, EF.SN.ICC, FCPs with access rules, and
// the application's own PKCS#15 (ODF, TokenInfo, AODF, PrKDF with
// CPS_PRIV_SIG 0x81 and CPS_PRIV_AUT 0x82, CDF, DODF), keys and
// certificates from this authority. The EFs' identifiers inside the
// application are inferred (readers find them through the ODF).
func (ca *IGCSante) CPSCard(p CPSProfile) (*ISOCard, error) {
	k, err := ca.keys(p)
	if err != nil {
		return nil, err
	}
	pan := []byte{0x80, 0x25, 0x00, 0x00, 0x01}
	for i := 0; i < 10; i += 2 {
		pan = append(pan, (p.Serial[i]-'0')<<4|(p.Serial[i+1]-'0'))
	}
	stored, pad, padding := p.pinFormat()
	pinBlock := make([]byte, stored)
	for i := range pinBlock {
		pinBlock[i] = pad
	}
	copy(pinBlock, p.PIN)
	authID := []byte{0x01}
	keyID := func(n byte) []byte { return append(append([]byte(nil), cpsAID...), n) }
	aodf := der(p15PIN{label: "CPS_PIN", authID: authID, ref: cpsPINRef, minLen: 4, storedLen: stored, maxLen: stored,
		pad: pad, needsPadding: padding}.write)
	prkdf := der(func(b *cryptobyte.Builder) {
		p15Key{label: "CPS_PRIV_SIG", id: keyID(1), usage: []int{usageNonRepudiation}, access: []int{amPSOCDS},
			ref: int(p.signKeyRef()), authID: authID, aid: cpsAID, modBits: 2048}.write(b)
		p15Key{label: "CPS_PRIV_AUT", id: keyID(2), usage: []int{usageDecrypt, usageSign}, access: []int{amPSODecrypt, amIntAuth},
			ref: CPSPrivAut, authID: authID, aid: cpsAID, modBits: 2048}.write(b)
	})
	cdf := der(func(b *cryptobyte.Builder) {
		p15File{label: "Certificat de signature CPS", id: keyID(1), fid: []byte{0x80, 0x10}}.writeCert(b)
		p15File{label: "Certificat d'authentification CPS", id: keyID(2), fid: []byte{0x80, 0x20}}.writeCert(b)
	})
	// The holder data objects' byte format is not public: these contents
	// are the project's own (inferred), and no reader parses them.
	utf8Seq := func(vals ...string) []byte {
		return der(func(b *cryptobyte.Builder) {
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
				for _, v := range vals {
					b.AddASN1(asn1.UTF8String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(v)) })
				}
			})
		})
	}
	dataObjects := []struct {
		label string
		fid   uint16
		pin   bool
		data  []byte
	}{
		{"CPS_ID_CARD", 0x9001, false, utf8Seq(p.CardType, p.Serial)},
		{"CPS_NAME_PS", 0x9002, false, utf8Seq(p.Surname, p.FirstName)},
		{"CPS_LANG_PS", 0x9003, false, utf8Seq("fr")},
		{"CPS_INFO_PS", 0x9004, false, utf8Seq(p.IDType, p.NationalID, p.Profession, p.Specialty)},
		{"CPS_ACTIVITY_01_PS", 0x9011, true, apdu.Template(0xEE, apdu.AppendTLV(nil, 0x84, latin1Bytes("CH TEST")), apdu.AppendTLV(nil, 0x85, []byte("3750712184")), apdu.AppendTLV(nil, 0x86, []byte("SA07")))},
	}
	dodf := der(func(b *cryptobyte.Builder) {
		for _, d := range dataObjects {
			f := p15File{label: d.label, appName: "CPS", fid: []byte{byte(d.fid >> 8), byte(d.fid)}}
			if d.pin {
				f.authID = authID
			}
			f.writeData(b)
		}
	})
	algs := []p15Algorithm{
		{ref: 1, mechanism: 0x40, ops: []int{1}, oid: []int{1, 2, 840, 113549, 1, 1, 11}, algRef: cpsAlgSHA256},    // CKM_SHA256_RSA_PKCS
		{ref: 2, mechanism: 0x06, ops: []int{1}, oid: []int{1, 2, 840, 113549, 1, 1, 5}, algRef: cpsAlgSHA1},       // CKM_SHA1_RSA_PKCS
		{ref: 3, mechanism: 0x01, ops: []int{1, 5}, oid: []int{1, 2, 840, 113549, 1, 1, 1}, algRef: cpsAlgRSAPKCS}, // CKM_RSA_PKCS
		{ref: 4, mechanism: 0x220, ops: []int{6}, oid: []int{1, 3, 14, 3, 2, 26}, algRef: 0x10},                    // CKM_SHA_1, hash
		{ref: 5, mechanism: 0x250, ops: []int{6}, oid: []int{2, 16, 840, 1, 101, 3, 4, 2, 1}, algRef: 0x40},        // CKM_SHA256, hash
	}
	ef := func(fid uint16, data []byte, access []byte) *File {
		return &File{FID: fid, Data: data, Access: access}
	}
	app := &File{FID: 0x5000, AID: cpsAID, Access: accessDF, Children: []*File{
		ef(0x5031, odf(map[int][]byte{odfPrKDF: {0x70, 0x02}, odfCDF: {0x70, 0x04}, odfDODF: {0x70, 0x05}, odfAODF: {0x70, 0x01}}), accessRead),
		ef(0x5032, tokenInfo(pan[5:], "ASIP SANTE", "CPS3v3-"+p.Serial, algs), accessRead),
		ef(0x7001, aodf, accessRead),
		ef(0x7002, prkdf, accessRead),
		ef(0x7004, cdf, accessRead),
		ef(0x7005, dodf, accessRead),
		ef(0x8010, k.signCert, accessRead),
		ef(0x8020, k.authCert, accessRead),
	}}
	for _, d := range dataObjects {
		f := ef(d.fid, d.data, accessRead)
		if d.pin {
			f.Access, f.ReadPIN = accessReadPIN, true
		}
		app.Children = append(app.Children, f)
	}
	dir := apdu.Template(0x61, apdu.AppendTLV(nil, 0x4F, cpsAIDContactless), apdu.AppendTLV(nil, 0x50, []byte("CPx IAS CL")))
	dir = append(dir, apdu.Template(0x61, apdu.AppendTLV(nil, 0x4F, cpsAID), apdu.AppendTLV(nil, 0x50, []byte("CPx IAS")))...)
	card := &ISOCard{
		Answer: CPS3ATR,
		MF: &File{FID: 0x3F00, AID: cpsMFAID, Access: accessDF, Children: []*File{
			{FID: 0x2F01, SFI: 0x1D, Data: cpsEFATR, Access: accessRead},
			{FID: 0x2F00, SFI: 0x1E, Data: dir, Access: accessRead},
			{FID: 0xD003, SFI: 0x1C, Data: apdu.AppendTLV(nil, 0x5A, pan), Access: accessRead},
			// 3F00/0001: selected by the issuer's driver and by OpenSC
			// before they use a key (what it holds is not public: a DF here).
			{FID: 0x0001, Access: accessDF},
			app,
			{FID: 0x5100, AID: cpsAIDContactless, Access: accessDF, Children: []*File{
				ef(0x5032, tokenInfo(pan[5:], "ASIP SANTE", "CPS3v3-CL-"+p.Serial, nil), accessRead),
			}},
		}},
		PIN: pinBlock, PINRef: cpsPINRef, MaxTries: 3, Blocked: p.Blocked,
		FCIWith61: true, WrongLe6C: true,
	}
	card.Extra = cpsInstructions(k, p.signKeyRef(), p.PINEachSignature)
	return card, nil
}

// cpsKeySDO answers GET DATA on a private key's security data object
// (BF 90 <ref>), as IAS-ECC middleware reads it before using the key: its
// data (7F 48) and its DOCP (A0: the access rules of PSO CDS, INTERNAL
// AUTHENTICATE and PSO DECIPHER, each after the PIN). The access rule
// bytes are inferred.
func cpsKeySDO(c *ISOCard, list []byte, sigRef byte) ([]byte, bool) {
	for _, ref := range []byte{sigRef, CPSPrivAut} {
		tag := apdu.Tag(0xBF9000 | uint32(ref&0x3F))
		want, ok, _ := apdu.Find(list, 0x70, tag)
		if !ok {
			continue
		}
		var part []byte
		switch {
		case len(want) >= 2 && want[0] == 0x7F && want[1] == 0x48:
			part = apdu.Template(0x7F48, []byte{0x80, 0x01, 0x00})
		case len(want) >= 1 && want[0] == 0xA0:
			// Access mode byte then one SCB per operation it names, high
			// bit first: PSO CDS (40), INTERNAL AUTHENTICATE (20), PSO
			// DECIPHER (10), GET DATA (01); 12 is "after the PIN".
			scb := []byte{0x31, 0x12, 0x12, 0x00} // CPS_PRIV_AUT
			if ref == sigRef {
				scb = []byte{0x41, 0x12, 0x00}
			}
			part = apdu.Template(0xA0, apdu.AppendTLV(nil, 0x80, []byte{0x08, 0x00}), // 2048 bits
				apdu.Template(0xA1, apdu.AppendTLV(nil, 0x8C, scb)))
		default:
			return sw(apdu.SWRefDataNotFound), true
		}
		return c.Respond(apdu.Template(0x70, apdu.AppendTLV(nil, tag, part))), true
	}
	return nil, false
}

// cpsInstructions answers what the card does beyond the ISO engine: GET
// DATA on the PIN's security data object (its tries, as IAS-ECC
// middleware asks), MSE SET, PSO COMPUTE DIGITAL SIGNATURE carrying the
// hash, and INTERNAL AUTHENTICATE.
func cpsInstructions(k cpsKeys, sigRef byte, pinEachSignature bool) func(c *ISOCard, cmd apdu.Command) ([]byte, bool) {
	var env byte // B6 (signature) or A4 (authentication) once set
	var keyRef, alg byte
	return func(c *ISOCard, cmd apdu.Command) ([]byte, bool) {
		switch {
		case cmd.Ins == apdu.InsGetData && cmd.P1 == 0x3F && cmd.P2 == 0xFF:
			// 4D { 70 { BF 81 <ref> { <tag> 80 } } }: one part of the CHV
			// object, its DOCP (A0: tries, access rules) or its data (7F 41:
			// the PIN's lengths). Any other object: 6A 88, as the real card
			// answers the SE's.
			list, _, _ := apdu.Find(cmd.Data, 0x4D) // 4D is written primitive
			if resp, ok := cpsKeySDO(c, list, sigRef); ok {
				return resp, true
			}
			want, ok, _ := apdu.Find(list, 0x70, apdu.Tag(0xBF8100|cpsPINRef))
			var part []byte
			switch {
			case ok && len(want) >= 1 && want[0] == 0xA0:
				part = apdu.Template(0xA0, []byte{0x9A, 0x01, 0x03}, []byte{0x9B, 0x01, byte(c.TriesLeft())},
					apdu.Template(0xA1, []byte{0x8C, 0x06, 0xF3, 0x00, 0x00, 0x13, 0xFF, 0x00}))
			case ok && len(want) >= 2 && want[0] == 0x7F && want[1] == 0x41:
				part = apdu.Template(0x7F41, []byte{0x80, 0x01, byte(len(c.PIN))}, []byte{0x81, 0x01, 0x04})
			default:
				return sw(apdu.SWRefDataNotFound), true
			}
			return c.Respond(apdu.Template(0x70, apdu.AppendTLV(nil, apdu.Tag(0xBF8100|cpsPINRef), part))), true
		case cmd.Ins == apdu.InsMSE && cmd.P1 == 0x41 && cmd.P2 == 0xAA:
			// Hash template (SHA-1 10, SHA-256 40): accepted, as IAS-ECC
			// cards do; this card hashes nothing itself (PSO HASH is refused).
			if a, ok, _ := apdu.Find(cmd.Data, 0x80); !ok || len(a) != 1 || (a[0] != 0x10 && a[0] != 0x40) {
				return sw(apdu.SWRefDataNotFound), true
			}
			return sw(apdu.SWOK), true
		case cmd.Ins == apdu.InsMSE && cmd.P1 == 0x41 && (cmd.P2 == 0xB6 || cmd.P2 == 0xA4):
			a, okA, _ := apdu.Find(cmd.Data, 0x80)
			r, okR, _ := apdu.Find(cmd.Data, 0x84)
			if !okA || !okR || len(a) != 1 || len(r) != 1 {
				return sw(apdu.SWWrongData), true
			}
			switch {
			case cmd.P2 == 0xB6 && r[0] == sigRef && (a[0] == cpsAlgSHA256 || a[0] == cpsAlgSHA1):
			case cmd.P2 == 0xA4 && r[0] == CPSPrivAut && a[0] == cpsAlgRSAPKCS:
			default:
				env = 0
				return sw(apdu.SWRefDataNotFound), true
			}
			env, keyRef, alg = cmd.P2, r[0], a[0]
			return sw(apdu.SWOK), true
		case cmd.Ins == apdu.InsPSO && cmd.P1 == 0x9E && cmd.P2 == 0x9A:
			if !c.Verified() {
				return sw(apdu.SWSecurityStatus), true
			}
			if env != 0xB6 || keyRef != sigRef {
				return sw(apdu.SWConditions), true
			}
			h := crypto.SHA256
			if alg == cpsAlgSHA1 {
				h = crypto.SHA1
			}
			if len(cmd.Data) != h.Size() {
				return sw(apdu.SWWrongData), true
			}
			sig, err := rsa.SignPKCS1v15(nil, k.sign, h, cmd.Data)
			if err != nil {
				return sw(apdu.SWNoPreciseDiagnosis), true
			}
			if pinEachSignature {
				c.verified = false
			}
			return c.Respond(sig), true
		case cmd.Ins == apdu.InsInternalAuth && cmd.P1 == 0x00 && cmd.P2 == 0x00:
			if !c.Verified() {
				return sw(apdu.SWSecurityStatus), true
			}
			if env != 0xA4 || keyRef != CPSPrivAut {
				return sw(apdu.SWConditions), true
			}
			if len(cmd.Data) == 0 || len(cmd.Data) > k.auth.Size()-11 {
				return sw(apdu.SWWrongData), true
			}
			sig, err := rsa.SignPKCS1v15(nil, k.auth, 0, cmd.Data)
			if err != nil {
				return sw(apdu.SWNoPreciseDiagnosis), true
			}
			return c.Respond(sig), true
		}
		return nil, false
	}
}

// Cards returns every virtual card profile by name: the generic demo card,
// the Vitale cards, a Vitale 1, a CPS2ter, and the CPS cards with keys and
// certificates from ca.
func Cards(ca *IGCSante) map[string]func() (Card, error) {
	m := map[string]func() (Card, error){
		"demo":    func() (Card, error) { return DemoCard(), nil },
		"vitale1": func() (Card, error) { return &FuncCard{Answer: Vitale1ATR}, nil },
		"cps2ter": func() (Card, error) { return &FuncCard{Answer: CPS2terATR}, nil },
		"cps4":    func() (Card, error) { return &FuncCard{Answer: CPS4ATR}, nil },
	}
	for _, p := range VitaleProfiles {
		m[p.Name] = func() (Card, error) { return VitaleCard(p), nil }
	}
	for _, p := range CPSProfiles {
		m[p.Name] = func() (Card, error) { return ca.CPSCard(p) }
	}
	return m
}

func randSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		panic(fmt.Sprintf("hwtest: random serial: %v", err))
	}
	return n
}

// Establishment certificate usages (ANS doctrine): ORG AUTH_CLI
// authenticates the legal entity as a TLS client, ORG SIGN signs (VIHF,
// XAdES).
const (
	OrgAuthCli = "AUTH_CLI"
	OrgSign    = "SIGN"
)

// OrgCertificate issues a test establishment certificate for key (which may
// sit on a SoftHSM token) to the legal entity finessEJ.
func (ca *IGCSante) OrgCertificate(key crypto.Signer, usage, finessEJ, name string) (*x509.Certificate, error) {
	tmpl := &x509.Certificate{
		SerialNumber: randSerial(),
		Subject: pkix.Name{CommonName: finessEJ + "/" + name, Organization: []string{name}, OrganizationalUnit: []string{"ORG " + usage},
			Country: []string{"FR"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(3 * 365 * 24 * time.Hour),
	}
	switch usage {
	case OrgAuthCli:
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	case OrgSign:
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
	default:
		return nil, fmt.Errorf("hwtest: establishment certificate usage %q", usage)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// UnlockedSigner returns a virtual card of profile with its PIN verified,
// as its crypto.Signer (through the cps package, over a direct transport)
// and its signature certificate: what a kiosk holds when it signs an event.
func (ca *IGCSante) UnlockedSigner(name string) (crypto.Signer, *x509.Certificate, error) {
	var p *CPSProfile
	for i := range CPSProfiles {
		if CPSProfiles[i].Name == name {
			p = &CPSProfiles[i]
		}
	}
	if p == nil {
		return nil, nil, fmt.Errorf("hwtest: no CPS profile %q", name)
	}
	vc, err := ca.CPSCard(*p)
	if err != nil {
		return nil, nil, err
	}
	vc.Reset()
	c, err := cps.Open(&Direct{Card: vc}, vc.ATR())
	if err != nil {
		return nil, nil, err
	}
	ctx := context.Background()
	if err := c.Verify(ctx, []byte(p.PIN)); err != nil {
		return nil, nil, err
	}
	key, err := c.Signer(ctx)
	if err != nil {
		return nil, nil, err
	}
	cert, err := c.Certificate(ctx, true)
	return key, cert, err
}
