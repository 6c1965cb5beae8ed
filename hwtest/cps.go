package hwtest

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
}

// CPS3ATR is the CPS3 contact ATR (T=0, WI=42).
var CPS3ATR = []byte{0x3B, 0xAC, 0x00, 0x40, 0x2A, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x00, 0x03, 0x10, 0x00, 0x90, 0x00}

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

func bcdDate(s string) []byte { // AAAAMMJJ → YYYYMMDDhhmmss in BCD
	b := make([]byte, 7)
	for i := 0; i < 4; i++ {
		b[i] = (s[2*i]-'0')<<4 | (s[2*i+1] - '0')
	}
	return b
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
	subject := pkix.Name{CommonName: p.NationalID, Country: []string{"FR"}, Organization: []string{"dmpkiosk tests"},
		ExtraNames: []pkix.AttributeTypeAndValue{
			{Type: []int{2, 5, 4, 4}, Value: p.Surname},    // SN
			{Type: []int{2, 5, 4, 42}, Value: p.FirstName}, // GN
			{Type: []int{2, 5, 4, 12}, Value: p.Profession},
		}}
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

// CPSCard lays a profile out as a virtual CPS3 card following
// cps.ReferenceLayout, with keys and certificates from this authority.
func (ca *IGCSante) CPSCard(p CPSProfile) (*ISOCard, error) {
	k, err := ca.keys(p)
	if err != nil {
		return nil, err
	}
	l := cps.ReferenceLayout
	pan := []byte{0x80, 0x25, 0x00, 0x00, 0x01}
	for i := 0; i < 10; i += 2 {
		pan = append(pan, (p.Serial[i]-'0')<<4|(p.Serial[i+1]-'0'))
	}
	validity := apdu.Template(0xEC, apdu.AppendTLV(nil, 0x81, bcdDate(p.NotBefore)), apdu.AppendTLV(nil, 0x82, bcdDate(p.NotAfter)))
	var id []byte
	for _, f := range []struct {
		tag apdu.Tag
		v   string
	}{{0x80, p.CardType}, {0x81, p.IDType}, {0x82, p.NationalID}, {0x83, p.Surname}, {0x84, p.FirstName}, {0x85, p.Profession}, {0x86, p.Specialty}} {
		id = apdu.AppendTLV(id, f.tag, latin1Bytes(f.v))
	}
	pin := []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}
	copy(pin, p.PIN)
	card := &ISOCard{
		Answer: CPS3ATR,
		MF: &File{FID: 0x3F00, Children: []*File{
			{FID: 0xD003, Data: apdu.AppendTLV(nil, 0x5A, pan)},
			{FID: 0xD010, Data: validity},
			{FID: 0x5000, AID: l.AID, Children: []*File{
				{FID: l.IdentityFID, Data: apdu.Template(0xE1, id)},
				{FID: l.SignCertFID, Data: k.signCert},
				{FID: l.AuthCertFID, Data: k.authCert},
			}},
		}},
		PIN: pin, PINRef: l.PINRef, MaxTries: 3, Blocked: p.Blocked,
		FCIWith61: true, WrongLe6C: true,
	}
	var keyRef, alg byte
	var hash []byte
	card.Extra = func(c *ISOCard, cmd apdu.Command) ([]byte, bool) {
		switch {
		case cmd.Ins == 0x22 && cmd.P1 == 0x41 && cmd.P2 == 0xB6:
			a, okA, _ := apdu.Find(cmd.Data, 0x80)
			r, okR, _ := apdu.Find(cmd.Data, 0x84)
			if !okA || !okR || len(a) != 1 || len(r) != 1 || r[0] != l.SignKeyRef || a[0] != l.SignAlgorithm {
				return sw(apdu.SWRefDataNotFound), true
			}
			alg, keyRef, hash = a[0], r[0], nil
			return sw(apdu.SWOK), true
		case cmd.Ins == 0x2A && cmd.P1 == 0x90 && cmd.P2 == 0xA0:
			h, ok, _ := apdu.Find(cmd.Data, 0x90)
			if !ok || len(h) != 32 {
				return sw(apdu.SWWrongData), true
			}
			hash = append([]byte(nil), h...)
			return sw(apdu.SWOK), true
		case cmd.Ins == 0x2A && cmd.P1 == 0x9E && cmd.P2 == 0x9A:
			if !c.Verified() {
				return sw(apdu.SWSecurityStatus), true
			}
			if keyRef == 0 || alg == 0 || hash == nil {
				return sw(apdu.SWConditions), true
			}
			sig, err := rsa.SignPKCS1v15(nil, k.sign, crypto.SHA256, hash)
			hash = nil
			if err != nil {
				return sw(apdu.SWNoPreciseDiagnosis), true
			}
			return c.Respond(sig), true
		}
		return nil, false
	}
	return card, nil
}

// Cards returns every virtual card profile by name: the generic demo card,
// the Vitale cards, a Vitale 1, a CPS2ter, and the CPS cards with keys and
// certificates from ca.
func Cards(ca *IGCSante) map[string]func() (Card, error) {
	m := map[string]func() (Card, error){
		"demo":    func() (Card, error) { return DemoCard(), nil },
		"vitale1": func() (Card, error) { return &FuncCard{Answer: Vitale1ATR}, nil },
		"cps2ter": func() (Card, error) { return &FuncCard{Answer: CPS2terATR}, nil },
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
	c, err := cps.Open(&Direct{Card: vc}, vc.ATR(), cps.ReferenceLayout)
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
