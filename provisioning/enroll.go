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
	"path/filepath"

	"github.com/ThalesGroup/crypto11"
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
	return newP256File(path)
}

// newP256File generates a P-256 key into path (PKCS#8, mode 0600) unless
// a file is there already.
func newP256File(path string) (*ecdsa.PrivateKey, error) {
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

// PKCS11 names a token that holds the device key instead of a file.
type PKCS11 struct {
	Module string // path of the PKCS#11 module
	Token  string // token label
	PIN    string // user PIN; read from the environment by the commands
}

// Enroll makes a device's (or a bridge's) key — in dir/name.key, or on a
// PKCS#11 token under the label id — and writes the certificate request
// dir/name.csr for the CA. It returns the CSR path.
func Enroll(dir, name, id string, token *PKCS11) (string, error) {
	if !ValidID(id) {
		return "", ErrBadID
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return "", err
	}
	var key crypto.Signer
	var err error
	if token != nil {
		ctx, cerr := crypto11.Configure(&crypto11.Config{Path: token.Module, TokenLabel: token.Token, Pin: token.PIN})
		if cerr != nil {
			return "", fmt.Errorf("provisioning: opening the PKCS#11 token %q: %w", token.Token, cerr)
		}
		defer ctx.Close()
		if existing, ferr := ctx.FindKeyPair(nil, []byte(id)); ferr == nil && existing != nil {
			key = existing
		} else if key, err = ctx.GenerateECDSAKeyPairWithLabel([]byte(id), []byte(id), elliptic.P256()); err != nil {
			return "", fmt.Errorf("provisioning: generating the key on the token: %w", err)
		}
	} else if key, err = NewKeyFile(filepath.Join(dir, name+".key")); err != nil {
		return "", err
	}
	csr, err := CSR(key, id)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, name+".csr")
	return path, writeAtomic(path, csr, 0o644)
}
