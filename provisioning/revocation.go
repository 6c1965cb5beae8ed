package provisioning

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// Errors of certificate checks.
var (
	ErrRevoked  = errors.New("provisioning: certificate revoked")
	ErrCRLStale = errors.New("provisioning: the CRL is past its next update: refusing every certificate until it is refreshed")
)

// Revocations is the kiosk CA's CRL as the bridge and the embedded broker
// use it. Reload rereads the file when it changed; a CRL past its next
// update fails closed.
type Revocations struct {
	path string
	ca   *x509.Certificate
	now  func() time.Time

	mu      sync.RWMutex
	raw     []byte
	revoked map[string]bool
	next    time.Time
}

// LoadRevocations reads the CRL at path, checking it was signed by ca.
func LoadRevocations(path string, ca *x509.Certificate) (*Revocations, error) {
	r := &Revocations{path: path, ca: ca, now: time.Now}
	if _, err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload rereads the CRL; changed reports a new content. A bad new CRL is
// an error and the previous one stays in force.
func (r *Revocations) Reload() (changed bool, err error) {
	b, err := os.ReadFile(r.path)
	if err != nil {
		return false, err
	}
	r.mu.RLock()
	same := bytes.Equal(b, r.raw)
	r.mu.RUnlock()
	if same {
		return false, nil
	}
	der := b
	if blk, _ := pem.Decode(b); blk != nil {
		der = blk.Bytes
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return false, fmt.Errorf("provisioning: CRL %s: %w", r.path, err)
	}
	if err := crl.CheckSignatureFrom(r.ca); err != nil {
		return false, fmt.Errorf("provisioning: CRL %s not signed by the kiosk CA: %w", r.path, err)
	}
	revoked := make(map[string]bool, len(crl.RevokedCertificateEntries))
	for _, e := range crl.RevokedCertificateEntries {
		revoked[e.SerialNumber.Text(16)] = true
	}
	r.mu.Lock()
	r.raw, r.revoked, r.next = b, revoked, crl.NextUpdate
	r.mu.Unlock()
	return true, nil
}

// Check refuses a revoked certificate, and every certificate while the CRL
// is stale.
func (r *Revocations) Check(cert *x509.Certificate) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.now().After(r.next) {
		return ErrCRLStale
	}
	if r.revoked[cert.SerialNumber.Text(16)] {
		return fmt.Errorf("%w: %s", ErrRevoked, cert.Subject.CommonName)
	}
	return nil
}

// IdentityOf reads who an already verified certificate names (CN = id, OU
// = role, a kiosk's site) and checks it against the CRL.
func IdentityOf(leaf *x509.Certificate, rev *Revocations) (Identity, error) {
	if rev != nil {
		if err := rev.Check(leaf); err != nil {
			return Identity{}, err
		}
	}
	id := Identity{ID: leaf.Subject.CommonName}
	if len(leaf.Subject.OrganizationalUnit) == 1 {
		id.Role = Role(leaf.Subject.OrganizationalUnit[0])
	}
	if !ValidID(id.ID) || (id.Role != RoleKiosk && id.Role != RoleBridge) {
		return Identity{}, fmt.Errorf("provisioning: certificate names %q with role %q", id.ID, id.Role)
	}
	if id.Role == RoleKiosk {
		id.Site, _ = SiteOf(leaf)
	}
	return id, nil
}

// Identity is who a client certificate names.
type Identity struct {
	ID   string
	Role Role
	Site KioskSite // a kiosk's, from its certificate; zero if it names none
}

// VerifyClient checks a client certificate chain against the kiosk CA and
// the CRL, and returns the identity it names (CN = id, OU = role).
func VerifyClient(chain []*x509.Certificate, roots *x509.CertPool, rev *Revocations) (Identity, error) {
	if len(chain) == 0 {
		return Identity{}, errors.New("provisioning: no client certificate")
	}
	leaf := chain[0]
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return Identity{}, fmt.Errorf("%w: %v", ErrNotIssuedBy, err)
	}
	return IdentityOf(leaf, rev)
}
