package hwtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"dmpkiosk/provisioning"
)

// Site is a hospital for a test: a kiosk CA, enrolled kiosks and a bridge
// (bridge-1), a broker server certificate and the bridge's event-encryption
// key — everything provisioning makes, made by provisioning.
type Site struct {
	CA     *provisioning.CA
	Creds  map[string]tls.Certificate
	Server tls.Certificate
	EncKey *ecdsa.PrivateKey
	Dir    string
	// Kiosks is the site its kiosks are enrolled at: DefaultKioskSite
	// unless a test changes it before enrolling one.
	Kiosks provisioning.KioskSite
}

// EnrolledAgo is how long before the test NewSite's credentials were
// issued.
const EnrolledAgo = 30 * 24 * time.Hour

// DefaultKioskSite is where the test kiosks are: the site and unit the
// tests' kiosk configurations name.
var DefaultKioskSite = provisioning.KioskSite{FINESS: "750712184", Unit: "ACCUEIL"}

// NewSite provisions a site with the given kiosk ids and bridge-1.
func NewSite(t testing.TB, kiosks ...string) *Site {
	t.Helper()
	return NewSiteAt(t, DefaultKioskSite, kiosks...)
}

// NewSiteAt is NewSite with the kiosks enrolled at where (site and unit).
func NewSiteAt(t testing.TB, where provisioning.KioskSite, kiosks ...string) *Site {
	t.Helper()
	dir := t.TempDir()
	ca, err := provisioning.InitCASince(filepath.Join(dir, "ca"), "", time.Now().Add(-EnrolledAgo))
	if err != nil {
		t.Fatal(err)
	}
	s := &Site{CA: ca, Creds: map[string]tls.Certificate{}, Dir: dir, Kiosks: where}
	// Enrolled a month ago, as a site in service: an offline kiosk's
	// events of the last days are judged by certificates valid then.
	ca.Now = func() time.Time { return time.Now().Add(-EnrolledAgo) }
	for _, id := range kiosks {
		s.Creds[id] = s.Enroll(t, id, provisioning.RoleKiosk)
	}
	s.Creds["bridge-1"] = s.Enroll(t, "bridge-1", provisioning.RoleBridge)
	ca.Now = time.Now
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert, err := ca.IssueServer(key.Public(), "localhost", []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s.Server = tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
	if _, err := provisioning.NewEncryptionKey(dir); err != nil {
		t.Fatal(err)
	}
	k, err := provisioning.LoadKeyFile(filepath.Join(dir, "bridge-enc.key"))
	if err != nil {
		t.Fatal(err)
	}
	s.EncKey = k.(*ecdsa.PrivateKey)
	return s
}

// Enroll makes a key and a certificate for id through a CSR.
func (s *Site) Enroll(t testing.TB, id string, role provisioning.Role) tls.Certificate {
	t.Helper()
	key, err := provisioning.NewKeyFile(filepath.Join(s.CA.Dir, "..", id+"-"+string(role)+".key"))
	if err != nil {
		t.Fatal(err)
	}
	csr, err := provisioning.CSR(key, id)
	if err != nil {
		t.Fatal(err)
	}
	var cert *x509.Certificate
	if role == provisioning.RoleKiosk {
		cert, err = s.CA.SignKiosk(csr, id, s.Kiosks)
	} else {
		cert, err = s.CA.Sign(csr, id, role)
	}
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
}

// TLS is a client configuration for a credential of the site.
func (s *Site) TLS(cred tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{cred}, RootCAs: s.CA.Pool(), ServerName: "localhost", MinVersion: tls.VersionTLS12}
}

// StartMosquitto runs real mosquitto with the site's generated listener
// configuration and policy (provisioning.MosquittoConfig, MosquittoDynsec)
// for the kiosks and bridges enrolled so far.
func (s *Site) StartMosquitto(t testing.TB) *Mosquitto {
	t.Helper()
	return StartMosquittoWith(t, func(d string, port int) string {
		keyDER, err := x509.MarshalPKCS8PrivateKey(s.Server.PrivateKey)
		if err != nil {
			t.Fatal(err)
		}
		files := map[string][]byte{
			"server.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Server.Certificate[0]}),
			"server.key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		}
		for name, src := range map[string]string{"ca.pem": s.CA.CertPath(), "crl.pem": s.CA.CRLPath()} {
			b, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			files[name] = b
		}
		dynsec, err := provisioning.MosquittoDynsec(provisioning.EnrolledKiosks(s.CA.Issued()), provisioning.Enrolled(s.CA.Issued(), provisioning.RoleBridge))
		if err != nil {
			t.Fatal(err)
		}
		files["dynsec.json"] = dynsec
		plugin := provisioning.DynsecPlugin()
		if _, err := os.Stat(plugin); err != nil {
			t.Fatalf("mosquitto's dynamic-security plugin (package mosquitto): %v", err)
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(d, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return provisioning.MosquittoConfig{Bind: "127.0.0.1", Port: port,
			CAFile: filepath.Join(d, "ca.pem"), CertFile: filepath.Join(d, "server.pem"), KeyFile: filepath.Join(d, "server.key"),
			CRLFile: filepath.Join(d, "crl.pem"), DynsecPlugin: plugin, DynsecFile: filepath.Join(d, "dynsec.json")}.String()
	})
}

// CopyCRL puts the site's current CRL where the broker reads it.
func (s *Site) CopyCRL(t testing.TB, m *Mosquitto) {
	t.Helper()
	b, err := os.ReadFile(s.CA.CRLPath())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(m.Dir(), "crl.pem"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}
