// Command insisim runs the INSi simulator (bridge/insi/insisim) over
// mutual TLS: the public test identities, the service's faults, latency,
// and a loopback control API to inject faults.
package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"dmpkiosk/bridge/insi/insisim"
	"dmpkiosk/cmd/internal/cli"
	"dmpkiosk/hwtest/cards"
	"dmpkiosk/hwtest/patients"
	"dmpkiosk/provisioning"
)

var commands = map[string]cli.Command{
	"serve": {Summary: "serve the simulated INSi teleservice over mutual TLS", Run: runServe},
	"init":  {Summary: "make the simulator's server certificate and the establishment's INSI-MANU and INSI-AUTO certificates", Run: runInit},
}

// runInit issues, from the test IGC-Santé authority, the simulator's
// server certificate (localhost) and the establishment's INSi
// certificates (CN INSI-MANU and INSI-AUTO, OU the structure), as PEM
// files in dir.
func runInit(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := cli.Flags("insisim", "init", stderr)
	dir := fs.String("dir", "demo/insi", "where the files go")
	igc := fs.String("igc", "demo/igc-sante", "the test IGC-Santé authority's directory (created when absent)")
	structure := fs.String("structure", "1750712184", "the structure's identifier (the certificates' OU)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	ca, err := cards.LoadOrCreateIGCSante(*igc)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	for _, c := range []struct {
		file, cn string
		server   bool
	}{{"server", "localhost", true}, {"insi-manu", "INSI-MANU", false}, {"insi-auto", "INSI-AUTO", false}} {
		keyPath := filepath.Join(*dir, c.file+".key")
		_ = os.Remove(keyPath) // init makes the files afresh
		key, err := provisioning.NewKeyFile(keyPath)
		if err != nil {
			return err
		}
		serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
		tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: c.cn, OrganizationalUnit: []string{*structure}, Country: []string{"FR"}},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(3 * 365 * 24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
		if c.server {
			tmpl.Subject.OrganizationalUnit = nil
			tmpl.ExtKeyUsage, tmpl.DNSNames, tmpl.IPAddresses = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
		if err != nil {
			return err
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return err
		}
		if err := provisioning.WriteCertificate(filepath.Join(*dir, c.file+".pem"), cert); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "insisim: certificates in %s (server, insi-manu, insi-auto) from the authority in %s\n", *dir, *igc)
	return nil
}

func main() { cli.Main("insisim", "simulateur du téléservice INSi", commands) }

func runServe(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := cli.Flags("insisim", "serve", stderr)
	listen := fs.String("listen", "127.0.0.1:9444", "address of the service (path /lps)")
	certPath := fs.String("cert", "", "PEM: the server's certificate")
	keyPath := fs.String("key", "", "PEM: its key")
	clientCA := fs.String("client-ca", "", "PEM: the authority of the establishments' INSi certificates")
	mode := fs.String("mode", insisim.Qualification, "qualification (unknown people: insi_102) or production (unknown people: CR 01)")
	idams := fs.String("idam", "", "accepted software authorisation numbers, comma separated (any when empty)")
	latency := fs.Duration("latency", -1, "added to every answer (default: drawn from 0.15–0.9 s)")
	control := fs.String("control", "", "loopback address of the control API (POST /fault?kind=timeout|desir_1020|http500|insi_102)")
	check := fs.Bool("check", false, "validate every request and answer against the official schemas (needs xmllint)")
	vitale := fs.Bool("vitale-people", true, "know the virtual Vitale cards' patients too (children with an INS of their own)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *certPath == "" || *keyPath == "" || *clientCA == "" {
		return fmt.Errorf("%w: --cert, --key and --client-ca are required", cli.ErrUsage)
	}
	opts := insisim.Options{Mode: *mode}
	if *vitale {
		people, err := patients.INSi()
		if err != nil {
			return err
		}
		opts.People = people
	}
	if *idams != "" {
		opts.IDAMs = strings.Split(*idams, ",")
	}
	if *latency >= 0 {
		d := *latency
		opts.Latency = func() time.Duration { return d }
	}
	if *check {
		v, err := insisim.OpenValidator()
		if err != nil {
			return err
		}
		opts.Check = v.Validate
	}
	sim := insisim.New(opts)
	pair, err := tls.LoadX509KeyPair(*certPath, *keyPath)
	if err != nil {
		return err
	}
	cas, err := provisioning.LoadCertificates(*clientCA)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/lps", sim)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair},
			ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: provisioning.NewPool(cas...)}}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	if *control != "" {
		cl, err := net.Listen("tcp", *control)
		if err != nil {
			return err
		}
		if ip := cl.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
			cl.Close()
			return fmt.Errorf("%w: the control API listens on loopback only", cli.ErrUsage)
		}
		cm := http.NewServeMux()
		cm.HandleFunc("POST /fault", func(w http.ResponseWriter, r *http.Request) {
			sim.Inject(r.URL.Query().Get("kind"))
			w.WriteHeader(http.StatusNoContent)
		})
		cs := &http.Server{Handler: cm, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = cs.Serve(cl) }()
		defer cs.Close()
	}
	fmt.Fprintf(stdout, "insisim: https://%s/lps (%s mode)\n", l.Addr(), *mode)
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.ServeTLS(l, "", ""); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
