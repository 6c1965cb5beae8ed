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
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"dmpkiosk/bridge"
	"dmpkiosk/bridge/dmp"
	"dmpkiosk/cmd/internal/cli"
	"dmpkiosk/firmware/event"
	"dmpkiosk/provisioning"
	"dmpkiosk/provisioning/broker"
)

var commands = map[string]cli.Command{
	"run":          {Summary: "consume, verify, journal and process the kiosks' events (DMP), serve the admin web", Run: runBridge},
	"dmp-request":  {Summary: "dmp-request --dry-run: print the signed SOAP request of a DMP transaction", Run: runDMPRequest},
	"insi-request": {Summary: "insi-request --dry-run: print an INSi request for given traits; without --dry-run, send it", Run: runINSIRequest},
	"enroll":       cli.Enroll("bridge", "bridge"),
	"broker":       {Summary: "run the embedded MQTT broker (TLS, client certificates, policy, CRL)", Run: runBroker},
	"audit":        {Summary: "audit verify: check the journal's hash-chained audit trail", Run: runAudit},
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

func runBridge(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := cli.Flags("bridge", "run", stderr)
	path := fs.String("config", "bridge.toml", "the bridge's configuration")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	c, err := loadConfig(*path)
	if err != nil {
		return err
	}
	caCert, err := provisioning.LoadCertificate(c.path(c.KioskCA))
	if err != nil {
		return fmt.Errorf("kiosk CA: %w", err)
	}
	rev, err := provisioning.LoadRevocations(c.path(c.CRL), caCert)
	if err != nil {
		return err
	}
	cardCA, err := c.pool(c.CardCA...)
	if err != nil {
		return fmt.Errorf("card authorities: %w", err)
	}
	enc, err := c.encKey()
	if err != nil {
		return err
	}
	kioskCA := provisioning.NewPool(caCert)
	tlsCfg, err := c.brokerTLS(kioskCA)
	if err != nil {
		return fmt.Errorf("bridge certificate: %w", err)
	}
	j, closeJournal, err := c.openJournal(ctx)
	if err != nil {
		return err
	}
	defer closeJournal()
	sign, auth, closeToken, err := c.DMP.credentials(c)
	if err != nil {
		return fmt.Errorf("DMP keys: %w", err)
	}
	defer closeToken()
	client, err := c.DMP.client(c, sign, auth)
	if err != nil {
		return err
	}
	fleet := bridge.NewFleet()
	svc := bridge.NewService(bridge.ServiceConfig{BrokerURL: c.Broker, TLS: tlsCfg, ClientID: c.ID,
		Verifier: &bridge.Verifier{EncKey: enc, KioskCA: kioskCA, Revocations: rev, CardCA: cardCA, Window: c.Window.Duration,
			Chains: event.NewChainCache()},
		Journal: j, Processor: &dmp.Processor{Client: client, Audit: j.Audit, UnreadableAttempts: c.DMP.UnreadableAttempts}, Workers: c.Workers, MaxAttempts: c.MaxAttempts,
		Backoff: c.Backoff.Duration, Logger: log, Fleet: fleet})
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	go func() { errc <- svc.Run(ctx) }()
	if c.Admin.Listen != "" {
		srv, err := adminServer(c, &bridge.Admin{Journal: j, Service: svc, Fleet: fleet, Ready: svc.Ready})
		if err != nil {
			return err
		}
		l, err := tls.Listen("tcp", c.Admin.Listen, srv.TLSConfig)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "admin: https://%s/\n", l.Addr())
		go func() { <-ctx.Done(); srv.Close() }()
		go func() {
			if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	fmt.Fprintf(stdout, "bridge %s: consuming %s\n", c.ID, c.Broker)
	if err := reloadCRL(ctx, errc, log, "bridge", func() error { _, err := rev.Reload(); return err }); err != nil {
		return err
	}
	return <-errc
}

// reloadCRL reloads the CRL on SIGHUP and every crlCheckEvery until ctx
// ends (nil) or errc reports a failure (returned).
func reloadCRL(ctx context.Context, errc <-chan error, log *slog.Logger, who string, reload func() error) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	tick := time.NewTicker(crlCheckEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			return err
		case <-hup:
		case <-tick.C:
		}
		if err := reload(); err != nil {
			log.Error(who+": CRL reload failed, keeping the previous one", "error", err)
		}
	}
}

// adminServer is the admin web over TLS: with client certificates of the
// configured authority, or a password.
func adminServer(c *config, a *bridge.Admin) (*http.Server, error) {
	cert, err := tls.LoadX509KeyPair(c.path(c.Admin.Cert), c.path(c.Admin.Key))
	if err != nil {
		return nil, fmt.Errorf("admin certificate: %w", err)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if c.Admin.PasswordFile != "" {
		pw, err := os.ReadFile(c.path(c.Admin.PasswordFile))
		if err != nil {
			return nil, err
		}
		a.Password = strings.TrimSpace(string(pw))
		if len(a.Password) < 12 {
			return nil, errors.New("admin password: at least 12 characters")
		}
	} else {
		roots, err := c.pool(c.Admin.ClientCA)
		if err != nil {
			return nil, err
		}
		tc.ClientAuth, tc.ClientCAs = tls.VerifyClientCertIfGiven, roots
	}
	return &http.Server{Handler: a.Handler(), TLSConfig: tc, ReadHeaderTimeout: 10 * time.Second}, nil
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
	return reloadCRL(ctx, nil, log, "broker", b.Reload)
}
