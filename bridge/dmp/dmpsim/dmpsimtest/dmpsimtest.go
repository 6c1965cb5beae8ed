// Package dmpsimtest runs the DMP simulator for the tests of the packages
// that talk to the DMP: the simulator over TLS with the establishment's
// keys from the test IGC-Santé, its answers held to the official schemas,
// and a client configured for it. Production never imports it.
package dmpsimtest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"net"
	"path/filepath"
	"testing"
	"time"

	"dmpkiosk/bridge/dmp"
	"dmpkiosk/bridge/dmp/dmpsim"
	"dmpkiosk/hwtest"
	"dmpkiosk/hwtest/cards"
)

// Start runs the simulator (current regime) knowing people, and returns
// it with a client configured with the establishment CHU TEST's keys. At
// the test's end it fails the test for any answer the official schemas
// refuse.
func Start(t testing.TB, people ...dmpsim.Person) (*dmpsim.Sim, *dmp.Client) {
	t.Helper()
	igc, err := cards.NewIGCSante()
	if err != nil {
		t.Fatal(err)
	}
	key := func() *rsa.PrivateKey { k, _ := rsa.GenerateKey(rand.Reader, 2048); return k }
	signKey, authKey := key(), key()
	signCert, err := igc.OrgCertificate(signKey, cards.OrgSign, "750712001", "CHU TEST")
	if err != nil {
		t.Fatal(err)
	}
	authCert, err := igc.OrgCertificate(authKey, cards.OrgAuthCli, "750712001", "CHU TEST")
	if err != nil {
		t.Fatal(err)
	}
	sim, err := dmpsim.New(dmpsim.Options{DB: filepath.Join(t.TempDir(), "dmp.db"), Regime: dmpsim.Current, OrgRoots: igc.Pool(), CheckAnswers: true,
		People: people})
	if err != nil {
		t.Fatal(err)
	}
	srv := hwtest.NewCA(t, "DMP server CA")
	l, err := tls.Listen("tcp", "127.0.0.1:0", sim.TLSConfig(srv.ServerRSA(t, "localhost").TLS()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sim.Serve(ctx, l); close(done) }()
	t.Cleanup(func() {
		cancel()
		sim.Close()
		<-done
		for _, e := range sim.AnswerErrors() {
			t.Errorf("the simulator wrote an answer the official schemas refuse: %s", e)
		}
	})
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return sim, dmp.NewClient(dmp.Config{BaseURL: "https://localhost:" + port + dmpsim.Path,
		Sign: dmp.Credentials{Key: signKey, Chain: []*x509.Certificate{signCert}}, Auth: dmp.Credentials{Key: authKey, Chain: []*x509.Certificate{authCert}},
		ServerRoots: srv.Pool(), LPS: dmp.LPS{ID: "dmpkiosk", Name: "dmpkiosk", Version: "test", Homologation: "HOMOLOG-TEST"}, Timeout: 10 * time.Second})
}
