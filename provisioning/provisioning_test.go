package provisioning

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func newCA(t *testing.T) *CA {
	t.Helper()
	ca, err := InitCA(filepath.Join(t.TempDir(), "ca"), "")
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

var testSite = KioskSite{FINESS: "750712184", Unit: "ACCUEIL"}

// sign signs a kiosk's request for testSite, a bridge's as it is.
func sign(ca *CA, csr []byte, id string, role Role) (*x509.Certificate, error) {
	if role == RoleKiosk {
		return ca.SignKiosk(csr, id, testSite)
	}
	return ca.Sign(csr, id, role)
}

func TestKioskSite(t *testing.T) {
	ca, err := InitCA(filepath.Join(t.TempDir(), "ca"), "")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := NewKeyFile(filepath.Join(t.TempDir(), "k.key"))
	csr, _ := CSR(key, "kiosk-1")
	if _, err := ca.Sign(csr, "kiosk-1", RoleKiosk); !errors.Is(err, ErrCSR) {
		t.Errorf("a kiosk signed without its site: %v", err)
	}
	for _, bad := range []KioskSite{{"75071218", "ACCUEIL"}, {"750712184", " "}, {"750712184", strings.Repeat("U", 65)}} {
		if _, err := ca.SignKiosk(csr, "kiosk-1", bad); err == nil {
			t.Errorf("site %+v accepted", bad)
		}
	}
	site := KioskSite{FINESS: "2A0000012", Unit: "Médecine interne"}
	cert, err := ca.SignKiosk(csr, "kiosk-1", site)
	if err != nil {
		t.Fatal(err)
	}
	who, err := IdentityOf(cert, nil)
	if err != nil || who != (Identity{ID: "kiosk-1", Role: RoleKiosk, Site: site}) {
		t.Fatalf("identity %+v, %v", who, err)
	}
	if is := ca.Issued(); len(is) != 1 || is[0].Site != "2A0000012/Médecine interne" {
		t.Errorf("index %+v", is)
	}
	// A certificate without the extension, or with one that cannot be
	// read, names no site.
	bridge := enroll(t, ca, "bridge-1", RoleBridge)
	if s, ok := SiteOf(bridge); ok {
		t.Errorf("a bridge's certificate names %v", s)
	}
	cert.Extensions = []pkix.Extension{{Id: OIDKioskSite, Value: []byte{0x30, 0x03, 0x13, 0x01}}}
	if s, ok := SiteOf(cert); ok {
		t.Errorf("a truncated extension read as %v", s)
	}
}

func enroll(t *testing.T, ca *CA, id string, role Role) *x509.Certificate {
	t.Helper()
	key, err := NewKeyFile(filepath.Join(t.TempDir(), id+".key"))
	if err != nil {
		t.Fatal(err)
	}
	csr, err := CSR(key, id)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := sign(ca, csr, id, role)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestInitCAFiles(t *testing.T) {
	ca := newCA(t)
	for name, want := range map[string]os.FileMode{caKeyFile: 0o600, caCertFile: 0o644, indexFile: 0o600, crlFile: 0o644} {
		st, err := os.Stat(filepath.Join(ca.Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %o, want %o", name, st.Mode().Perm(), want)
		}
	}
	if st, _ := os.Stat(ca.Dir); st.Mode().Perm() != 0o700 {
		t.Errorf("CA directory mode %o", st.Mode().Perm())
	}
	if _, err := InitCA(ca.Dir, ""); !errors.Is(err, ErrCAExists) {
		t.Errorf("second init: %v", err)
	}
	again, err := OpenCA(ca.Dir)
	if err != nil || !again.Cert.Equal(ca.Cert) {
		t.Fatalf("reopen: %v", err)
	}
	if _, err := OpenCA(t.TempDir()); !errors.Is(err, ErrNoCA) {
		t.Errorf("open an empty directory: %v", err)
	}
}

func TestSignChecksTheRequest(t *testing.T) {
	ca := newCA(t)
	cert := enroll(t, ca, "kiosk-12", RoleKiosk)
	if cert.Subject.CommonName != "kiosk-12" || cert.Subject.OrganizationalUnit[0] != "kiosk" {
		t.Fatalf("subject %v", cert.Subject)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	mk := func(tmpl *x509.CertificateRequest, signer any) []byte {
		der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, signer)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	}
	good := mk(&x509.CertificateRequest{Subject: pkix.Name{CommonName: "kiosk-13"}}, key)
	tampered := append([]byte(nil), good...)
	blk, _ := pem.Decode(tampered)
	blk.Bytes[len(blk.Bytes)-5] ^= 0xFF
	tampered = pem.EncodeToMemory(blk)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	cases := []struct {
		name string
		csr  []byte
		id   string
		role Role
		want error
	}{
		{"a CSR naming another device", good, "kiosk-14", RoleKiosk, ErrCSR},
		{"an existing kiosk id asked for as a bridge", mk(&x509.CertificateRequest{Subject: pkix.Name{CommonName: "kiosk-12"}}, key), "kiosk-12", RoleBridge, ErrIDTaken},
		{"an id already held by another key", mk(&x509.CertificateRequest{Subject: pkix.Name{CommonName: "kiosk-12"}}, key), "kiosk-12", RoleKiosk, ErrIDTaken},
		{"extra subject attributes", mk(&x509.CertificateRequest{Subject: pkix.Name{CommonName: "kiosk-13", OrganizationalUnit: []string{"bridge"}}}, key), "kiosk-13", RoleKiosk, ErrCSR},
		{"a SAN", mk(&x509.CertificateRequest{Subject: pkix.Name{CommonName: "kiosk-13"}, DNSNames: []string{"evil"}}, key), "kiosk-13", RoleKiosk, ErrCSR},
		{"a tampered signature", tampered, "kiosk-13", RoleKiosk, ErrCSR},
		{"an RSA key", mk(&x509.CertificateRequest{Subject: pkix.Name{CommonName: "kiosk-13"}}, rsaKey), "kiosk-13", RoleKiosk, ErrCSR},
		{"a P-384 key", mk(&x509.CertificateRequest{Subject: pkix.Name{CommonName: "kiosk-13"}}, p384), "kiosk-13", RoleKiosk, ErrCSR},
		{"an id with a topic separator", good, "kiosk/13", RoleKiosk, ErrBadID},
		{"an id with a wildcard", good, "kiosk-+", RoleKiosk, ErrBadID},
		{"garbage", []byte("not a CSR"), "kiosk-13", RoleKiosk, ErrCSR},
	}
	for _, c := range cases {
		if _, err := sign(ca, c.csr, c.id, c.role); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// The same key may be re-enrolled (certificate renewal).
	if _, err := sign(ca, good, "kiosk-13", RoleKiosk); err != nil {
		t.Fatal(err)
	}
	if _, err := sign(ca, good, "kiosk-13", RoleKiosk); err != nil {
		t.Fatalf("renewal with the same key: %v", err)
	}
}

func TestRevocation(t *testing.T) {
	ca := newCA(t)
	a := enroll(t, ca, "kiosk-a", RoleKiosk)
	b := enroll(t, ca, "kiosk-b", RoleKiosk)
	rev, err := LoadRevocations(ca.CRLPath(), ca.Cert)
	if err != nil {
		t.Fatal(err)
	}
	if err := rev.Check(a); err != nil {
		t.Fatal(err)
	}
	if err := ca.Revoke("kiosk-a"); err != nil {
		t.Fatal(err)
	}
	if err := ca.Revoke("kiosk-z"); !errors.Is(err, ErrUnknownID) {
		t.Fatalf("revoking an unknown id: %v", err)
	}
	if changed, err := rev.Reload(); err != nil || !changed {
		t.Fatalf("reload: %v %v", changed, err)
	}
	if err := rev.Check(a); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked kiosk: %v", err)
	}
	if err := rev.Check(b); err != nil {
		t.Fatalf("other kiosk: %v", err)
	}
	who, err := VerifyClient([]*x509.Certificate{b}, ca.Pool(), rev)
	if err != nil || who != (Identity{ID: "kiosk-b", Role: RoleKiosk, Site: testSite}) {
		t.Fatalf("identity %+v %v", who, err)
	}
	if _, err := VerifyClient([]*x509.Certificate{a}, ca.Pool(), rev); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked identity: %v", err)
	}
	// A CRL from another CA is refused and the one in force stays.
	other := newCA(t)
	crl, _ := os.ReadFile(other.CRLPath())
	if err := os.WriteFile(ca.CRLPath(), crl, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := rev.Reload(); err == nil {
		t.Fatal("a foreign CRL was accepted")
	}
	if err := rev.Check(a); !errors.Is(err, ErrRevoked) {
		t.Fatal("the CRL in force was dropped")
	}
	// A stale CRL refuses everyone.
	rev.now = func() time.Time { return time.Now().Add(30 * 24 * time.Hour) }
	if err := rev.Check(b); !errors.Is(err, ErrCRLStale) {
		t.Fatalf("stale CRL: %v", err)
	}
}

func TestPolicy(t *testing.T) {
	a := Identity{ID: "kiosk-a", Role: RoleKiosk}
	br := Identity{ID: "bridge-1", Role: RoleBridge}
	cases := []struct {
		who   Identity
		topic string
		write bool
		want  bool
	}{
		{a, "kiosk/kiosk-a/events", true, true},
		{a, "kiosk/kiosk-a/status", true, true},
		{a, "kiosk/kiosk-a/results", false, true},
		{a, "kiosk/kiosk-a/cmd", false, true},
		{a, "kiosk/kiosk-b/events", true, false},
		{a, "kiosk/kiosk-a/results", true, false},
		{a, "kiosk/kiosk-b/results", false, false},
		{a, "kiosk/+/results", false, false},
		{a, "kiosk/#", false, false},
		{a, "#", false, false},
		{a, "kiosk/kiosk-a/events", false, false},
		{a, "$share/bridges/kiosk/+/events", false, false},
		{a, "bridge/+/status", false, true},
		{a, "bridge/bridge-1/status", true, false},
		{br, "bridge/bridge-1/status", true, true},
		{br, "bridge/bridge-2/status", true, false},
		{a, "$share/bridges/kiosk/kiosk-a/events", false, false},
		{a, "$share/x/kiosk/kiosk-a/results", false, false},
		{br, "$share/others/kiosk/+/events", false, false},
		{br, "$share/bridges", false, false},
		{br, "$share/bridges/kiosk/+/events", false, true},
		{br, "kiosk/+/events", false, true},
		{br, "kiosk/kiosk-a/events", false, true},
		{br, "kiosk/+/status", false, true},
		{br, "kiosk/#", false, false},
		{br, "kiosk/kiosk-a/results", true, true},
		{br, "kiosk/kiosk-a/cmd", true, true},
		{br, "kiosk/+/results", true, false},
		{br, "kiosk/kiosk-a/events", true, false},
		{br, "kiosk/+/results", false, false},
		// INSi lookups: a kiosk asks on its own topic only, and cannot read
		// another's; the bridges take them in their group.
		{a, "kiosk/kiosk-a/insi", true, true},
		{a, "kiosk/kiosk-b/insi", true, false},
		{a, "kiosk/kiosk-a/insi", false, false},
		{a, "kiosk/+/insi", false, false},
		{a, "$share/bridges/kiosk/+/insi", false, false},
		{br, "$share/bridges/kiosk/+/insi", false, true},
		{br, "kiosk/kiosk-a/insi", true, false},
	}
	for _, c := range cases {
		if got := Allowed(c.who, c.topic, c.write); got != c.want {
			t.Errorf("%s %s write=%v: %v, want %v", c.who.ID, c.topic, c.write, got, c.want)
		}
	}
	raw, err := MosquittoDynsec([]string{"kiosk-b", "kiosk-a"}, []string{"bridge-1"})
	if err != nil {
		t.Fatal(err)
	}
	var d Dynsec
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	roles := map[string][]DynsecACL{}
	for _, r := range d.Roles {
		roles[r.Name] = r.ACLs
	}
	has := func(role, typ, topic string) bool {
		return slices.Contains(roles[role], DynsecACL{typ, topic, true})
	}
	for _, c := range []struct {
		role, typ, topic string
		want             bool
	}{
		{"kiosk:kiosk-a", "publishClientSend", "kiosk/kiosk-a/events", true},
		{"kiosk:kiosk-a", "subscribeLiteral", "kiosk/kiosk-a/results", true},
		{"kiosk:kiosk-a", "publishClientReceive", "kiosk/kiosk-a/results", true},
		{"kiosk:kiosk-a", "subscribeLiteral", "kiosk/kiosk-b/results", false},
		{"kiosk:kiosk-b", "publishClientSend", "kiosk/kiosk-b/status", true},
		{"bridge", "subscribePattern", "$share/bridges/kiosk/+/events", true},
		{"bridge", "publishClientReceive", "kiosk/+/events", true},
		{"bridge", "publishClientSend", "kiosk/+/results", true},
		{"bridge", "publishClientSend", "kiosk/+/events", false},
	} {
		if got := has(c.role, c.typ, c.topic); got != c.want {
			t.Errorf("%s %s %s: %v, want %v", c.role, c.typ, c.topic, got, c.want)
		}
	}
	// Every kiosk role has nothing with a wildcard but the bridges'
	// status, and nothing shared.
	for name, acls := range roles {
		for _, a := range acls {
			if strings.HasPrefix(name, "kiosk:") && a.Topic != BridgeStatusFilter && (strings.ContainsAny(a.Topic, "+#") || strings.HasPrefix(a.Topic, "$")) {
				t.Errorf("%s: %+v", name, a)
			}
		}
	}
	if !has("kiosk:kiosk-a", "subscribePattern", BridgeStatusFilter) || !has("bridge:bridge-1", "publishClientSend", "bridge/bridge-1/status") ||
		has("bridge", "publishClientSend", "bridge/%u/status") {
		t.Errorf("bridge status rules: %+v", roles)
	}
	if len(d.Clients) != 3 || d.DefaultACLAccess["subscribe"] || d.DefaultACLAccess["publishClientSend"] || d.DefaultACLAccess["publishClientReceive"] {
		t.Errorf("clients %+v, defaults %v", d.Clients, d.DefaultACLAccess)
	}
	if _, err := MosquittoDynsec(nil, []string{"bridge 1"}); !errors.Is(err, ErrBadID) {
		t.Errorf("bad bridge id: %v", err)
	}
	if _, err := MosquittoDynsec([]string{"x"}, []string{"x"}); !errors.Is(err, ErrIDTaken) {
		t.Errorf("an id both kiosk and bridge: %v", err)
	}
	if got := EnrolledKiosks([]Issued{{ID: "k2", Role: RoleKiosk}, {ID: "k1", Role: RoleKiosk}, {ID: "k1", Role: RoleKiosk}, {ID: "b", Role: RoleBridge}, {ID: "k3", Role: RoleKiosk, Revoked: time.Now()}}); !slices.Equal(got, []string{"k1", "k2"}) {
		t.Errorf("enrolled kiosks: %v", got)
	}
}
