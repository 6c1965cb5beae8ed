// Command dmpsim runs the DMP simulator (bridge/dmp/dmpsim): the DMP's web
// services for the bridge's transactions over mutual TLS, with its state in
// SQLite, pre-loaded with the virtual Vitale cards' fictitious patients,
// and latency and fault injection. "init" makes the demo's keys: the
// simulator's server certificate and the establishment's ORG SIGN and
// ORG AUTH_CLI certificates from the test IGC-Santé authority, their keys
// in files or on a PKCS#11 token.
package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/ThalesGroup/crypto11"

	"dmpkiosk/bridge/dmp"
	"dmpkiosk/bridge/dmp/dmpsim"
	"dmpkiosk/cmd/internal/cli"
	"dmpkiosk/hwtest/cards"
	"dmpkiosk/hwtest/patients"
	"dmpkiosk/provisioning"
)

var commands = map[string]cli.Command{
	"serve": {Summary: "serve the simulated DMP web services over mutual TLS", Run: runServe},
	"init":  {Summary: "make the simulator's server certificate and the establishment's ORG certificates", Run: runInit},
}

func main() { cli.Main("dmpsim", "simulateur du DMP", commands) }

func runServe(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := cli.Flags("dmpsim", "serve", stderr)
	dir := fs.String("dir", "demo/dmp", "the files of init (server.pem, server.key) and the database")
	igc := fs.String("org-ca", "demo/igc-sante/igc-sante.pem", "the IGC-Santé authority of the establishments' certificates")
	listen := fs.String("listen", "127.0.0.1:9443", "address of the services")
	control := fs.String("control", "", "loopback address of the control API (fault injection, state); none when empty")
	regime := fs.String("regime", dmpsim.Current, "legacy (creation allowed) or current (since July 2021)")
	latency := fs.Duration("latency", 0, "added to every answer")
	errRate := fs.Float64("error-rate", 0, "share of requests answered by a transient fault")
	toRate := fs.Float64("timeout-rate", 0, "share of requests never answered")
	demoDocs := fs.String("demo-documents", "", "put documents from elsewhere in the DMP of the demo patient of this NIR (13 digits): a structured lettre de liaison, a CR de biologie, a CR d'imagerie")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	ca, err := provisioning.LoadCertificate(*igc)
	if err != nil {
		return err
	}
	people, err := patients.DMP()
	if err != nil {
		return err
	}
	sim, err := dmpsim.New(dmpsim.Options{DB: filepath.Join(*dir, "dmp-"+*regime+".db"), Regime: *regime, OrgRoots: provisioning.NewPool(ca),
		People: people, Latency: *latency, ErrorRate: *errRate, TimeoutRate: *toRate})
	if err != nil {
		return err
	}
	defer sim.Close()
	if *demoDocs != "" {
		if err := preloadDemo(ctx, sim, *demoDocs); err != nil {
			return err
		}
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(*dir, "server.pem"), filepath.Join(*dir, "server.key"))
	if err != nil {
		return fmt.Errorf("server certificate (dmpsim init makes it): %w", err)
	}
	l, err := tls.Listen("tcp", *listen, sim.TLSConfig(cert))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "dmpsim: https://%s%s (%s regime)\n", l.Addr(), dmpsim.Path, *regime)
	if *control != "" {
		cl, err := net.Listen("tcp", *control)
		if err != nil {
			return err
		}
		if ip := cl.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
			cl.Close()
			return errors.New("the control API listens on loopback only")
		}
		srv := &http.Server{Handler: controlAPI(sim), ReadHeaderTimeout: 5 * time.Second}
		go func() { <-ctx.Done(); srv.Close() }()
		go srv.Serve(cl)
		fmt.Fprintf(stdout, "dmpsim: control http://%s/\n", cl.Addr())
	}
	return sim.Serve(ctx, l)
}

// controlAPI lets tests and the demo inject faults and read the state.
func controlAPI(sim *dmpsim.Sim) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /inject", func(w http.ResponseWriter, r *http.Request) {
		what := r.URL.Query()["fault"]
		if len(what) == 0 {
			http.Error(w, "fault=<subcode>|timeout|truncate", http.StatusBadRequest)
			return
		}
		sim.Inject(what...)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /dmp", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		d, err := sim.Record(r.Context(), dmp.PatientID{Root: q.Get("root"), Extension: q.Get("extension")}, q.Get("structure"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		json.NewEncoder(w).Encode(d)
	})
	mux.HandleFunc("GET /trace", func(w http.ResponseWriter, r *http.Request) {
		tr, err := sim.Trace(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		json.NewEncoder(w).Encode(tr)
	})
	return mux
}

func runInit(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := cli.Flags("dmpsim", "init", stderr)
	dir := fs.String("dir", "demo/dmp", "where to write the certificates (and key files)")
	igcDir := fs.String("igc", "demo/igc-sante", "the test IGC-Santé authority (created when absent)")
	ej := fs.String("finess-ej", "750712001", "the legal entity's FINESS")
	name := fs.String("name", "CHU DEMO", "the establishment's name")
	module := fs.String("pkcs11-module", "", "keep the establishment's keys on this PKCS#11 module's token (PIN from PKCS11_PIN)")
	token := fs.String("token", "", "the token's label")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	if err := serverCertificate(*dir); err != nil {
		return err
	}
	igc, err := cards.LoadOrCreateIGCSante(*igcDir)
	if err != nil {
		return err
	}
	var p11 *crypto11.Context
	if *module != "" {
		if p11, err = crypto11.Configure(&crypto11.Config{Path: *module, TokenLabel: *token, Pin: os.Getenv("PKCS11_PIN")}); err != nil {
			return fmt.Errorf("opening the PKCS#11 token %q: %w", *token, err)
		}
		defer p11.Close()
	}
	for _, k := range []struct{ label, usage string }{{"org-sign", cards.OrgSign}, {"org-auth", cards.OrgAuthCli}} {
		certPath := filepath.Join(*dir, k.label+".pem")
		if _, err := os.Stat(certPath); err == nil {
			continue
		}
		var key crypto.Signer
		if p11 != nil {
			if key, err = p11.GenerateRSAKeyPairWithLabel([]byte(k.label), []byte(k.label), 2048); err != nil {
				return fmt.Errorf("generating %s on the token: %w", k.label, err)
			}
		} else {
			rk, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				return err
			}
			der, _ := x509.MarshalPKCS8PrivateKey(rk)
			if err := os.WriteFile(filepath.Join(*dir, k.label+".key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
				return err
			}
			key = rk
		}
		cert, err := igc.OrgCertificate(key, k.usage, *ej, *name)
		if err != nil {
			return err
		}
		if err := provisioning.WriteCertificate(certPath, cert); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "dmpsim: server and establishment certificates in %s\n", *dir)
	return nil
}

// serverCertificate makes a CA and an RSA server certificate for
// localhost (the DMP's suites are ECDHE-RSA), unless they exist.
func serverCertificate(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "server.pem")); err == nil {
		return nil
	}
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "DMP simulator CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(5, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(2, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
	if err != nil {
		return err
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	if err := os.WriteFile(filepath.Join(dir, "server.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "server-ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "server.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// preloadDemo puts the demo patient's documents from elsewhere in their
// DMP: ANS's structured lettre de liaison, ANS's golden level-1 document
// as a CR de biologie, and a CR d'imagerie, from another establishment.
func preloadDemo(ctx context.Context, sim *dmpsim.Sim, nir string) error {
	known, err := patients.INSi()
	if err != nil {
		return err
	}
	for _, p := range known {
		if p.INS.Number != nir {
			continue
		}
		now := time.Now()
		for i, d := range []struct {
			structured bool
			spec       patients.DocumentSpec
		}{
			{true, patients.DocumentSpec{TypeCode: "11490-0", TypeLabel: "Lettre de liaison à la sortie d'un établissement de soins",
				Title: "Lettre de liaison à la sortie (CH voisin)", Time: now.AddDate(0, -2, 0)}},
			{false, patients.DocumentSpec{TypeCode: "11502-2", TypeLabel: "CR d'examens biologiques", Title: "Bilan biologique (laboratoire de ville)",
				Time: now.AddDate(0, 0, -20)}},
			{false, patients.DocumentSpec{TypeCode: "18748-4", TypeLabel: "CR d'imagerie médicale", Title: "Radiographie du thorax (cabinet de radiologie)",
				Time: now.AddDate(0, 0, -7)}},
		} {
			d.spec.ID = fmt.Sprintf("1.2.250.1.999.2.%s.%d", nir, i+1)
			build := patients.DemoCDA
			if d.structured {
				build = patients.DemoStructuredCDA
			}
			cda, err := build(p, d.spec)
			if err != nil {
				return err
			}
			if err := sim.Preload(ctx, dmp.PatientID{Root: p.INS.OID, Extension: p.INS.Number + p.INS.Key}, "1130099999", cda); err != nil {
				return fmt.Errorf("dmpsim: preloading the demo documents: %w", err)
			}
		}
		return nil
	}
	return fmt.Errorf("dmpsim: no demo patient of NIR %s", nir)
}
