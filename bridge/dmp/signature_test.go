package dmp_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"dmpkiosk/bridge/dmp"
	"dmpkiosk/bridge/dmp/dmpsim"
	"dmpkiosk/hwtest"
)

// orgSign is an RSA key and its certificate, as an establishment's ORG
// SIGN is.
func orgSign(t *testing.T) dmp.Credentials {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(4242), Subject: pkix.Name{CommonName: "CH DE TEST ORG SIGN", Organization: []string{"CH DE TEST"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageContentCommitment}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return dmp.Credentials{Key: key, Chain: []*x509.Certificate{cert}}
}

// The lot's signature: xmlsec1, an implementation of XML-DSig
// independent of this one, verifies its core (SignedInfo, the Manifest's
// and the SignedProperties' digests, the RSA signature); the Manifest's
// digest of the document is the SHA-256 of the CDA canonicalised by
// xmllint (C14N 1.0 with comments); a signature altered after the fact
// does not verify.
func TestLotSignatureVerifies(t *testing.T) {
	hwtest.LookPath(t, "xmlsec1", "xmlsec1")
	xmllint := hwtest.LookPath(t, "xmllint", "libxml2-utils")
	cda, h := golden(t)
	sig, err := dmp.SignLot(orgSign(t), "1.2.250.1.999.1.1.3.1", h.UniqueID, cda, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	verify := func(p string) error { return dmpsim.VerifySignatureFile(context.Background(), p) }
	if err := verify(write("sig.xml", sig)); err != nil {
		t.Fatalf("xmlsec1 does not verify the lot's signature: %v\n%s", err, sig)
	}
	canonical, err := exec.Command(xmllint, "--c14n", write("cda.xml", cda)).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(canonical)
	doc := etree.NewDocument()
	doc.ReadFromBytes(sig)
	ref := doc.FindElement("//Manifest/Reference[@URI='urn:oid:" + h.UniqueID + "']/DigestValue")
	if ref == nil || ref.Text() != base64.StdEncoding.EncodeToString(want[:]) {
		t.Fatalf("the Manifest's digest of the CDA is not its canonical form's (xmllint --c14n)")
	}
	if mine, _ := dmp.CanonicalDocument(cda); string(mine) != string(canonical) {
		t.Error("the canonical form differs from xmllint's")
	}
	if doc.FindElement("//SignatureProperty[@Id='purposeOfSignature']").Text() != dmp.PurposeSource ||
		doc.FindElement("//SignedProperties/SignedSignatureProperties/SignaturePolicyIdentifier/SignaturePolicyImplied") == nil {
		t.Error("purpose or policy missing")
	}
	// Altered: the signing time moved, the Manifest pointed elsewhere.
	for name, edit := range map[string]func(string) string{
		"signing time": func(s string) string {
			return strings.Replace(s, "<xad:SigningTime>", "<xad:SigningTime>1", 1)
		},
		"manifest": func(s string) string { return strings.Replace(s, "urn:oid:"+h.UniqueID, "urn:oid:1.2.3", 1) },
	} {
		if err := verify(write("altered.xml", []byte(edit(string(sig))))); err == nil {
			t.Errorf("%s altered, still verified", name)
		}
	}
}
