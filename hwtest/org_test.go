package hwtest

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"dmpkiosk/hwtest/cards"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The establishment's ORG AUTH_CLI and ORG SIGN test certificates, their
// keys on a SoftHSM token: a mutual TLS handshake with the AUTH_CLI key and
// a signature with the SIGN key, both through PKCS#11.
func TestOrgCertificatesOnSoftHSM(t *testing.T) {
	ca, err := cards.NewIGCSante()
	if err != nil {
		t.Fatal(err)
	}
	tk := NewSoftHSM(t, "etablissement")
	authKey := tk.RSASigner(t, "org-auth-cli", 2048)
	signKey := tk.RSASigner(t, "org-sign", 2048)
	authCert, err := ca.OrgCertificate(authKey, cards.OrgAuthCli, "750712184", "CHU TEST")
	if err != nil {
		t.Fatal(err)
	}
	signCert, err := ca.OrgCertificate(signKey, cards.OrgSign, "750712184", "CHU TEST")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.OrgCertificate(signKey, "OTHER", "750712184", "CHU TEST"); err == nil {
		t.Fatal("an unknown usage was issued")
	}

	// Mutual TLS: the server sees the AUTH_CLI certificate, chained to the
	// authority.
	srvCA := NewCA(t, "server CA")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.TLS.PeerCertificates[0].Subject.OrganizationalUnit[0])
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool(),
		Certificates: []tls.Certificate{srvCA.Server(t, "localhost").TLS()}}
	srv.StartTLS()
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: srvCA.Pool(), MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{authCert.Raw}, PrivateKey: authKey, Leaf: authCert}},
	}}}
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatalf("mutual TLS with the PKCS#11 key: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ORG AUTH_CLI" {
		t.Fatalf("server saw %q", body)
	}

	// A signature by the SIGN key verifies with its certificate.
	digest := sha256.Sum256([]byte("<saml:Assertion/>"))
	sig, err := signKey.Sign(nil, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPKCS1v15(signCert.PublicKey.(*rsa.PublicKey), crypto.SHA256, digest[:], sig); err != nil {
		t.Fatal(err)
	}
	if _, err := signCert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatal(err)
	}
	t.Logf("rig: ORG AUTH_CLI (mutual TLS) and ORG SIGN (signature) keys on SoftHSM work through PKCS#11")
}
