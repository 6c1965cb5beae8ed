package provisioning

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"time"
)

// Role is what a certificate lets its holder be on the broker.
type Role string

// Roles. The role travels in the certificate's OU, the id in its CN.
const (
	RoleKiosk  Role = "kiosk"
	RoleBridge Role = "bridge"
)

// Files of a CA directory. The key is readable by its owner only.
const (
	caCertFile  = "ca.pem"
	caKeyFile   = "ca.key"
	indexFile   = "index.json"
	crlFile     = "crl.pem"
	encKeyFile  = "bridge-enc.key"
	encPubFile  = "bridge-enc.pub.pem"
	certLife    = 2 * 365 * 24 * time.Hour
	crlLife     = 7 * 24 * time.Hour
	caCommon    = "dmpkiosk kiosk CA"
	keyFileMode = 0o600
	dirMode     = 0o700
)

// Errors a caller branches on.
var (
	ErrBadID       = errors.New("provisioning: device id must be 1–63 characters a-z, 0-9 and '-', starting with a letter or digit")
	ErrCSR         = errors.New("provisioning: certificate request refused")
	ErrIDTaken     = errors.New("provisioning: id already issued to another key or role")
	ErrUnknownID   = errors.New("provisioning: no certificate issued to that id")
	ErrNoCA        = errors.New("provisioning: no CA in that directory (provision init)")
	ErrCAExists    = errors.New("provisioning: a CA already exists in that directory")
	ErrNotIssuedBy = errors.New("provisioning: certificate not issued by this CA")
)

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// ValidID reports whether s may name a device or a bridge: it becomes an
// MQTT user name and a topic level, so no '/', '+', '#' or upper case.
func ValidID(s string) bool { return idPattern.MatchString(s) }

// Issued is one certificate the CA issued.
type Issued struct {
	ID        string    `json:"id"`
	Role      Role      `json:"role"`
	Serial    string    `json:"serial"` // hex
	KeySHA256 string    `json:"key_sha256"`
	NotAfter  time.Time `json:"not_after"`
	Revoked   time.Time `json:"revoked,omitzero"`
	Site      string    `json:"site,omitempty"` // a kiosk's: FINESS/unit
}

// CA is the hospital's kiosk CA (ECDSA P-256), kept in a directory with
// restrictive modes: ca.key, ca.pem, index.json (what was issued, what was
// revoked) and crl.pem.
type CA struct {
	Dir  string
	Cert *x509.Certificate
	key  crypto.Signer

	// Now is the CA's clock (time.Now); tests set it to issue certificates
	// already expired.
	Now func() time.Time

	mu    sync.Mutex
	index struct {
		CRLNumber int64    `json:"crl_number"`
		Issued    []Issued `json:"issued"`
	}
}

// InitCA creates a CA in dir, which must not hold one already.
func InitCA(dir, name string) (*CA, error) { return InitCASince(dir, name, time.Now()) }

// InitCASince is InitCA for a CA whose certificate is valid from since
// (a test site that has been in service for a while).
func InitCASince(dir, name string, since time.Time) (*CA, error) {
	if _, err := os.Stat(filepath.Join(dir, caKeyFile)); err == nil {
		return nil, ErrCAExists
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, dirMode); err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	if name == "" {
		name = caCommon
	}
	tmpl := &x509.Certificate{
		SerialNumber: newSerial(), Subject: pkix.Name{CommonName: name, Organization: []string{"dmpkiosk"}},
		NotBefore: since.Add(-time.Hour), NotAfter: since.Add(20 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := writePEM(filepath.Join(dir, caKeyFile), "PRIVATE KEY", kder, keyFileMode); err != nil {
		return nil, err
	}
	if err := writePEM(filepath.Join(dir, caCertFile), "CERTIFICATE", der, 0o644); err != nil {
		return nil, err
	}
	ca, err := OpenCA(dir)
	if err != nil {
		return nil, err
	}
	return ca, ca.writeCRL()
}

// OpenCA loads the CA kept in dir.
func OpenCA(dir string) (*CA, error) {
	cert, err := LoadCertificate(filepath.Join(dir, caCertFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoCA
	}
	if err != nil {
		return nil, err
	}
	kb, err := os.ReadFile(filepath.Join(dir, caKeyFile))
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(kb)
	if blk == nil {
		return nil, fmt.Errorf("provisioning: %s is not PEM", caKeyFile)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	ca := &CA{Dir: dir, Cert: cert, key: k.(crypto.Signer), Now: time.Now}
	if b, err := os.ReadFile(filepath.Join(dir, indexFile)); err == nil {
		if err := json.Unmarshal(b, &ca.index); err != nil {
			return nil, fmt.Errorf("provisioning: %s: %w", indexFile, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return ca, nil
}

// CertPath is where the CA certificate is.
func (ca *CA) CertPath() string { return filepath.Join(ca.Dir, caCertFile) }

// CRLPath is where the current CRL is.
func (ca *CA) CRLPath() string { return filepath.Join(ca.Dir, crlFile) }

// Pool holds the CA certificate alone.
func (ca *CA) Pool() *x509.CertPool { return NewPool(ca.Cert) }

// Sign checks a PEM or DER certificate request and issues a certificate
// naming id with role: the request must be signed by its key, name exactly
// id in its CN and nothing else (no SAN, no other attribute), use a P-256
// ECDSA key (or RSA 2048+ for a bridge's TLS key), and id must not belong to
// another key or role.
// A kiosk's certificate names its site: sign it with SignKiosk.
func (ca *CA) Sign(csrBytes []byte, id string, role Role) (*x509.Certificate, error) {
	if role == RoleKiosk {
		return nil, fmt.Errorf("%w: a kiosk's certificate names its site (SignKiosk)", ErrCSR)
	}
	return ca.sign(csrBytes, id, role, nil)
}

// SignKiosk is Sign for a kiosk installed at site, which its certificate
// carries (OIDKioskSite).
func (ca *CA) SignKiosk(csrBytes []byte, id string, site KioskSite) (*x509.Certificate, error) {
	if err := site.Check(); err != nil {
		return nil, err
	}
	return ca.sign(csrBytes, id, RoleKiosk, &site)
}

func (ca *CA) sign(csrBytes []byte, id string, role Role, site *KioskSite) (*x509.Certificate, error) {
	if !ValidID(id) {
		return nil, ErrBadID
	}
	if role != RoleKiosk && role != RoleBridge {
		return nil, fmt.Errorf("%w: role %q", ErrCSR, role)
	}
	if blk, _ := pem.Decode(csrBytes); blk != nil {
		csrBytes = blk.Bytes
	}
	csr, err := x509.ParseCertificateRequest(csrBytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCSR, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: its signature does not verify: %v", ErrCSR, err)
	}
	s := csr.Subject
	if s.CommonName != id {
		return nil, fmt.Errorf("%w: it names %q, not %q", ErrCSR, s.CommonName, id)
	}
	if len(s.Names) != 1 || len(csr.DNSNames)+len(csr.EmailAddresses)+len(csr.IPAddresses)+len(csr.URIs) != 0 || len(csr.Extensions) != 0 {
		return nil, fmt.Errorf("%w: it asks for more than its name", ErrCSR)
	}
	switch pub := csr.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: ECDSA keys must be P-256", ErrCSR)
		}
	default:
		return nil, fmt.Errorf("%w: key type %T", ErrCSR, pub)
	}
	fp := keyFingerprint(csr.RawSubjectPublicKeyInfo)
	ca.mu.Lock()
	defer ca.mu.Unlock()
	for _, is := range ca.index.Issued {
		if is.ID == id && (is.Role != role || is.KeySHA256 != fp && is.Revoked.IsZero()) {
			return nil, fmt.Errorf("%w: %s", ErrIDTaken, id)
		}
	}
	now := ca.Now()
	tmpl := &x509.Certificate{
		SerialNumber: newSerial(),
		Subject:      pkix.Name{CommonName: id, OrganizationalUnit: []string{string(role)}, Organization: []string{"dmpkiosk"}},
		NotBefore:    now.Add(-5 * time.Minute), NotAfter: now.Add(certLife),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if role == RoleBridge {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if site != nil {
		ext, err := site.extension()
		if err != nil {
			return nil, err
		}
		tmpl.ExtraExtensions = []pkix.Extension{ext}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, csr.PublicKey, ca.key)
	if err != nil {
		return nil, err
	}
	cert, _ := x509.ParseCertificate(der)
	is := Issued{ID: id, Role: role, Serial: cert.SerialNumber.Text(16), KeySHA256: fp, NotAfter: cert.NotAfter}
	if site != nil {
		is.Site = site.String()
	}
	ca.index.Issued = append(ca.index.Issued, is)
	if err := ca.saveIndex(); err != nil {
		return nil, err
	}
	return cert, nil
}

// IssueServer issues a TLS server certificate (the broker's, the DMP
// simulator's) for the given DNS names and addresses.
func (ca *CA) IssueServer(pub crypto.PublicKey, name string, dns []string, ips []net.IP) (*x509.Certificate, error) {
	now := ca.Now()
	tmpl := &x509.Certificate{
		SerialNumber: newSerial(), Subject: pkix.Name{CommonName: name, OrganizationalUnit: []string{"server"}, Organization: []string{"dmpkiosk"}},
		NotBefore: now.Add(-5 * time.Minute), NotAfter: now.Add(certLife),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: dns, IPAddresses: ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// Revoke revokes every certificate issued to id and rewrites the CRL.
func (ca *CA) Revoke(id string) error {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	found := false
	for i := range ca.index.Issued {
		if ca.index.Issued[i].ID == id {
			found = true
			if ca.index.Issued[i].Revoked.IsZero() {
				ca.index.Issued[i].Revoked = ca.Now()
			}
		}
	}
	if !found {
		return fmt.Errorf("%w: %s", ErrUnknownID, id)
	}
	if err := ca.saveIndex(); err != nil {
		return err
	}
	return ca.writeCRLLocked()
}

// Issued lists what the CA issued.
func (ca *CA) Issued() []Issued {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	return slices.Clone(ca.index.Issued)
}

// RefreshCRL rewrites the CRL with a new validity window; run it more often
// than the CRL lifetime (7 days), or the CRL goes stale and every client is
// refused.
func (ca *CA) RefreshCRL() error {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	return ca.writeCRLLocked()
}

func (ca *CA) writeCRL() error {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	return ca.writeCRLLocked()
}

func (ca *CA) writeCRLLocked() error {
	var entries []x509.RevocationListEntry
	for _, is := range ca.index.Issued {
		if is.Revoked.IsZero() {
			continue
		}
		n, ok := new(big.Int).SetString(is.Serial, 16)
		if !ok {
			return fmt.Errorf("provisioning: index serial %q", is.Serial)
		}
		entries = append(entries, x509.RevocationListEntry{SerialNumber: n, RevocationTime: is.Revoked})
	}
	ca.index.CRLNumber++
	now := ca.Now()
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(ca.index.CRLNumber), ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(crlLife),
		RevokedCertificateEntries: entries,
	}, ca.Cert, ca.key)
	if err != nil {
		return err
	}
	if err := ca.saveIndex(); err != nil {
		return err
	}
	return writePEM(filepath.Join(ca.Dir, crlFile), "X509 CRL", der, 0o644)
}

func (ca *CA) saveIndex() error {
	b, err := json.MarshalIndent(ca.index, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(ca.Dir, indexFile), b, keyFileMode)
}
