package event

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"dmpkiosk/hwtest/cards"
	"dmpkiosk/ins"
	"dmpkiosk/provisioning"
)

var (
	igcOnce sync.Once
	igc     *cards.IGCSante
)

type fixture struct {
	device, card Signer
	bridge       *ecdsa.PrivateKey
	kioskCA      *x509.CertPool
	cardCA       *x509.CertPool
}

func cardSigner(t testing.TB, profile string) Signer {
	t.Helper()
	igcOnce.Do(func() {
		var err error
		if igc, err = cards.NewIGCSante(); err != nil {
			t.Fatal(err)
		}
	})
	key, cert, err := igc.UnlockedSigner(profile)
	if err != nil {
		t.Fatal(err)
	}
	return Signer{Key: key, Chain: []*x509.Certificate{cert}}
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ca, err := provisioning.InitCA(filepath.Join(t.TempDir(), "ca"), "")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := provisioning.NewKeyFile(filepath.Join(t.TempDir(), "device.key"))
	csr, _ := provisioning.CSR(key, "kiosk-1")
	cert, err := ca.SignKiosk(csr, "kiosk-1", provisioning.KioskSite{FINESS: "750712184", Unit: "ACCUEIL"})
	if err != nil {
		t.Fatal(err)
	}
	bridge, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f := &fixture{device: Signer{Key: key, Chain: []*x509.Certificate{cert}}, card: cardSigner(t, "cps-medecin"), bridge: bridge, kioskCA: ca.Pool()}
	f.cardCA = igc.Pool()
	return f
}

func sample() *Event {
	yes := true
	return &Event{
		Type: TypeCreate, ID: "0190f1c2-0000-7000-8000-000000000001", Device: "kiosk-1",
		Site: Site{FINESS: "750712184", Unit: "ACCUEIL"}, Context: "admission", Regime: "legacy",
		Time: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC), Seq: 7,
		Patient: Patient{INS: &INS{Value: "180026912304567", OID: ins.OIDNIR}, INSC: "0992265510818874860560",
			Traits: ins.Traits{BirthName: "DURAND", FirstName: "JEAN-PIERRE", FirstNames: []string{"JEAN-PIERRE"}, Sex: "M", BirthDate: "19800215"}},
		Professional: Professional{NationalID: "810100456789", NationalIDType: "RPPS", CardType: "CPS", Surname: "LEROY", FirstName: "SOPHIE", Profession: "10"},
		Consent:      Consent{Informed: true, Creation: &yes, Authorization: true},
	}
}

func TestSealOpen(t *testing.T) {
	f := newFixture(t)
	e := sample()
	jwe, err := Seal(e, f.device, f.card, &f.bridge.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	// Neither the broker nor a stolen SD card sees the identity.
	if strings.Contains(jwe, "DURAND") || strings.Contains(jwe, "180026912304567") {
		t.Fatal("the sealed event shows the identity")
	}
	o, err := Open(jwe, f.bridge, f.kioskCA, f.cardCA, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(o.Event)
	want, _ := json.Marshal(e)
	if string(got) != string(want) {
		t.Fatalf("opened %s\nwant %s", got, want)
	}
	if o.DeviceCert.Subject.CommonName != "kiosk-1" || o.CardCert.Subject.CommonName != "810100456789" {
		t.Fatalf("signers %s, %s", o.DeviceCert.Subject, o.CardCert.Subject)
	}
}

func TestOpenRefuses(t *testing.T) {
	f := newFixture(t)
	jwe, err := Seal(sample(), f.device, f.card, &f.bridge.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, err := Open(jwe, other, f.kioskCA, f.cardCA, time.Now()); !errors.Is(err, ErrUndecryptable) {
		t.Errorf("another bridge's key: %v", err)
	}
	parts := strings.Split(jwe, ".")
	ct := []byte(parts[3])
	ct[5] ^= 1
	parts[3] = string(ct)
	if _, err := Open(strings.Join(parts, "."), f.bridge, f.kioskCA, f.cardCA, time.Now()); err == nil {
		t.Error("an altered ciphertext opened")
	}
	if _, err := Open("not a jwe", f.bridge, f.kioskCA, f.cardCA, time.Now()); !errors.Is(err, ErrMalformed) {
		t.Errorf("garbage: %v", err)
	}
	// A device certificate from another CA.
	foreign := newFixture(t)
	if _, err := Open(jwe, f.bridge, foreign.kioskCA, f.cardCA, time.Now()); !errors.Is(err, ErrChain) {
		t.Errorf("foreign kiosk CA: %v", err)
	}
	// An expired card.
	exp := cardSigner(t, "cps-expiree")
	jweExp, err := Seal(sample(), f.device, exp, &f.bridge.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(jweExp, f.bridge, f.kioskCA, f.cardCA, time.Now()); !errors.Is(err, ErrChain) {
		t.Errorf("expired card: %v", err)
	}
	// A card key that does not match the (valid) certificate it presents.
	mixed := Signer{Key: f.card.Key, Chain: cardSigner(t, "cpf-interne").Chain}
	jweMix, err := Seal(sample(), f.device, mixed, &f.bridge.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(jweMix, f.bridge, f.kioskCA, f.cardCA, time.Now()); !errors.Is(err, ErrSignature) {
		t.Errorf("mismatched card certificate: %v", err)
	}
	// A payload changed after signing, re-encrypted to the bridge.
	payload, _ := json.Marshal(sample())
	jws, _ := SignBoth(payload, f.device, f.card)
	var g generalJWS
	json.Unmarshal(jws, &g)
	changed := sample()
	changed.Consent.Authorization = false
	cp, _ := json.Marshal(changed)
	g.Payload = base64.RawURLEncoding.EncodeToString(cp)
	if _, err := Open(encrypt(t, g, &f.bridge.PublicKey), f.bridge, f.kioskCA, f.cardCA, time.Now()); !errors.Is(err, ErrSignature) {
		t.Errorf("altered payload: %v", err)
	}
	// One signature only, or the two swapped.
	json.Unmarshal(jws, &g)
	only := generalJWS{Payload: g.Payload, Signatures: g.Signatures[:1]}
	if _, err := Open(encrypt(t, only, &f.bridge.PublicKey), f.bridge, f.kioskCA, f.cardCA, time.Now()); !errors.Is(err, ErrSignature) {
		t.Errorf("device signature only: %v", err)
	}
	swapped := generalJWS{Payload: g.Payload, Signatures: []signatureObj{g.Signatures[1], g.Signatures[0]}}
	if _, err := Open(encrypt(t, swapped, &f.bridge.PublicKey), f.bridge, f.kioskCA, f.cardCA, time.Now()); !errors.Is(err, ErrSignature) {
		t.Errorf("swapped signatures: %v", err)
	}
}

func encrypt(t *testing.T, g generalJWS, pub *ecdsa.PublicKey) string {
	t.Helper()
	b, _ := json.Marshal(g)
	enc, _ := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.ECDH_ES_A256KW, Key: pub}, nil)
	obj, err := enc.Encrypt(b)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := obj.CompactSerialize()
	return s
}

// Whatever arrives on the events topic, Open verifies it or refuses it;
// it never panics. Seeded with a sealed event and parts of it.
func FuzzOpen(f *testing.F) {
	fx := newFixture(f)
	jwe, err := Seal(sample(), fx.device, fx.card, &fx.bridge.PublicKey)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(jwe)
	f.Add(jwe[:len(jwe)/2])
	f.Add("a.b.c.d.e")
	at := time.Date(2026, 11, 22, 10, 1, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = Open(s, fx.bridge, fx.kioskCA, fx.cardCA, at)
	})
}
