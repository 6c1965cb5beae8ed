package provisioning

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// CSR returns a PEM certificate request naming id, signed by key: what a
// kiosk sends to be enrolled. The key may sit in a file or on a PKCS#11
// token; it never leaves the device.
func CSR(key crypto.Signer, id string) ([]byte, error) {
	if !ValidID(id) {
		return nil, ErrBadID
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: id}}, key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// NewKeyFile generates a P-256 key in path (mode 0600), refusing to replace
// an existing one: a device keeps its key for life, re-enrolment reuses it.
func NewKeyFile(path string) (crypto.Signer, error) {
	if _, err := os.Stat(path); err == nil {
		return nil, fmt.Errorf("provisioning: %s exists; remove it to make a new key", path)
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return k, writePEM(path, "PRIVATE KEY", der, keyFileMode)
}

// LoadKeyFile reads a PKCS#8 (or SEC 1 EC) private key, refusing a file
// that others may read.
func LoadKeyFile(path string) (crypto.Signer, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("provisioning: %s is readable by others (mode %o): chmod 600 it", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("provisioning: %s is not PEM", path)
	}
	if k, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
		return nil, errors.New("provisioning: key cannot sign")
	}
	return x509.ParseECPrivateKey(blk.Bytes)
}
