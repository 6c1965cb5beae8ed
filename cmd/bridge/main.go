// Command bridge is the hospital side of dmpkiosk: it verifies the kiosks'
// events, keeps them in a durable journal and performs the DMP and INSi
// transactions.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"dmpkiosk/bridge"
	"dmpkiosk/cmd/internal/cli"
	"dmpkiosk/provisioning"
	"dmpkiosk/provisioning/broker"
)

var commands = map[string]cli.Command{
	"run":    {Summary: "consume, verify and process kiosk events (not built yet)", Run: runBridge},
	"enroll": cli.Enroll("bridge", "bridge"),
	"broker": {Summary: "run the embedded MQTT broker (TLS, client certificates, policy, CRL)", Run: runBroker},
	"audit":  {Summary: "audit verify: check the journal's hash-chained audit trail", Run: runAudit},
}

// errBrokenChain makes the exit status 1 when the audit chain is broken.
var errBrokenChain = errors.New("audit chain broken")

func runAudit(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		return fmt.Errorf("%w: bridge audit verify --journal FILE", cli.ErrUsage)
	}
	fs := cli.Flags("bridge", "audit verify", stderr)
	path := fs.String("journal", "journal.db", "the SQLite journal")
	if err := cli.Parse(fs, args[1:]); err != nil {
		return err
	}
	if _, err := os.Stat(*path); err != nil {
		return err
	}
	j, err := bridge.OpenSQLite(*path)
	if err != nil {
		return err
	}
	defer j.Close()
	n, broken, err := j.VerifyAudit(ctx)
	if err != nil {
		return err
	}
	if broken != 0 {
		fmt.Fprintf(stdout, "audit chain broken at link %d (%d links before it hold)\n", broken, n)
		return errBrokenChain
	}
	fmt.Fprintf(stdout, "audit chain intact: %d links\n", n)
	return nil
}

func main() {
	cli.Main("bridge", "passerelle hospitalière DMP", commands)
}

// The bridge's consumer, journal and DMP client come with their own issues;
// until then "run" says so rather than pretending to work.
func runBridge(context.Context, []string, io.Reader, io.Writer, io.Writer) error {
	return errors.New("the bridge service is not built yet: consumer, journal and DMP client are pending")
}

// crlCheckEvery is how often the broker looks for a new CRL besides SIGHUP.
const crlCheckEvery = 30 * time.Second

func runBroker(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := cli.Flags("bridge", "broker", stderr)
	pki := fs.String("ca", "pki", "the kiosk CA directory (ca.pem, crl.pem)")
	listen := fs.String("listen", "127.0.0.1:8883", "address to listen on")
	certPath := fs.String("cert", "server.pem", "the broker's certificate (provision server)")
	keyPath := fs.String("key", "server.key", "the broker's key")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	caCert, err := provisioning.LoadCertificate(filepath.Join(*pki, "ca.pem"))
	if err != nil {
		return err
	}
	rev, err := provisioning.LoadRevocations(filepath.Join(*pki, "crl.pem"), caCert)
	if err != nil {
		return err
	}
	srv, err := tls.LoadX509KeyPair(*certPath, *keyPath)
	if err != nil {
		return err
	}
	roots := provisioning.NewPool(caCert)
	b, err := broker.Start(broker.Options{Addr: *listen, Roots: roots, Server: srv, Revocations: rev, Logger: log})
	if err != nil {
		return err
	}
	defer b.Close()
	fmt.Fprintf(stdout, "broker: %s\n", b.URL())
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	tick := time.NewTicker(crlCheckEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
		case <-tick.C:
		}
		if err := b.Reload(); err != nil {
			log.Error("broker: CRL reload failed, keeping the previous one", "error", err)
		}
	}
}
