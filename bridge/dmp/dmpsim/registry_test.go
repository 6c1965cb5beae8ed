package dmpsim

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"dmpkiosk/bridge/dmp"
)

// The simulator checks a lot's signature with xmlsec1 and xmllint, not
// with the bridge's code: a signature of the document holds; the
// document changed after signing, or the signature altered, does not.
func TestCheckSignature(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ORG SIGN"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert, _ := x509.ParseCertificate(der)
	cda, err := os.ReadFile("../testdata/cda/DOC_NON_STRUCTURE_CDA-R2-N1.xml")
	if err != nil {
		t.Fatal(err)
	}
	sig, err := dmp.SignLot(dmp.Credentials{Key: key, Chain: []*x509.Certificate{cert}}, "1.2.3.4", "1.3.6.1.4.1.19376.1.2.20.12345.1.1", cda, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if why := checkSignature(ctx, sig, "1.3.6.1.4.1.19376.1.2.20.12345.1.1", cda); why != "" {
		t.Fatalf("a good signature refused: %s", why)
	}
	changed := []byte(strings.Replace(string(cda), "Compte rendu d'examens biologiques", "Compte rendu modifié", 1))
	if why := checkSignature(ctx, sig, "1.3.6.1.4.1.19376.1.2.20.12345.1.1", changed); !strings.Contains(why, "empreinte") {
		t.Errorf("a document changed after signing: %q", why)
	}
	altered := []byte(strings.Replace(string(sig), "urn:oid:1.2.3.4", "urn:oid:1.2.3.5", 1))
	if why := checkSignature(ctx, altered, "1.3.6.1.4.1.19376.1.2.20.12345.1.1", cda); !strings.Contains(why, "signature") {
		t.Errorf("an altered signature: %q", why)
	}
}
