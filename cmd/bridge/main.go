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
	"path/filepath"
	"strings"

	"dmpkiosk/bridge/admin"
	"dmpkiosk/bridge/journal"
	"dmpkiosk/bridge/server"
	"dmpkiosk/cmd/internal/cli"
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
	"indicators":   {Summary: "export the infocentre's indicators (CSV for spreadsheets, or JSON) for a range of days", Run: runIndicators},
}

func runIndicators(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := cli.Flags("bridge", "indicators", stderr)
	config := fs.String("config", "bridge.toml", "the bridge's configuration (its journal)")
	from := fs.String("from", "", "first day, AAAA-MM-JJ")
	to := fs.String("to", "", "last day, AAAA-MM-JJ (included)")
	by := fs.String("by", "month", strings.Join(journal.Periods, ", "))
	site := fs.String("site", "", "one site (geographic FINESS)")
	unit := fs.String("unit", "", "one unit")
	ctxName := fs.String("context", "", "one context: admission, bedside, consultation-exit")
	format := fs.String("format", "csv", "csv or json")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	q, err := journal.ParseIndicatorQuery(*from, *to, *by, *site, *unit, *ctxName)
	if err != nil {
		return fmt.Errorf("%w: %v", cli.ErrUsage, err)
	}
	c, err := server.LoadConfig(*config)
	if err != nil {
		return err
	}
	j, closeJ, err := c.OpenJournal(ctx)
	if err != nil {
		return err
	}
	defer closeJ()
	return admin.ExportIndicators(ctx, j, "cli", q, *format, stdout)
}

// errBrokenChain makes the exit status 1 when the audit chain is broken.
var errBrokenChain = errors.New("audit chain broken")

func runAudit(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	const usage = "bridge audit verify --journal FILE | --postgres DSN | --config bridge.toml"
	if len(args) == 0 || args[0] != "verify" {
		return fmt.Errorf("%w: %s", cli.ErrUsage, usage)
	}
	fs := cli.Flags("bridge", "audit verify", stderr)
	path := fs.String("journal", "", "a SQLite journal")
	dsn := fs.String("postgres", "", "a PostgreSQL journal (its connection string)")
	config := fs.String("config", "", "the journal bridge.toml names")
	if err := cli.Parse(fs, args[1:]); err != nil {
		return err
	}
	var j journal.Store
	switch {
	case (*path != "") == (*dsn != "") && (*path != "" || *config == "") || *config != "" && (*path != "" || *dsn != ""):
		return fmt.Errorf("%w: %s (one of them)", cli.ErrUsage, usage)
	case *path != "":
		if _, err := os.Stat(*path); err != nil {
			return err
		}
		sq, err := journal.OpenSQLite(*path)
		if err != nil {
			return err
		}
		j = sq
	case *dsn != "":
		pg, err := journal.OpenPostgres(ctx, *dsn, "audit-verify")
		if err != nil {
			return err
		}
		j = pg
	default:
		c, err := server.LoadConfig(*config)
		if err != nil {
			return err
		}
		cj, closeJ, err := c.OpenJournal(ctx)
		if err != nil {
			return err
		}
		defer closeJ()
		j = nopClose{cj}
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

// nopClose is a journal its opener closes.
type nopClose struct{ journal.Store }

func (nopClose) Close() error { return nil }

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
	c, err := server.LoadConfig(*path)
	if err != nil {
		return err
	}
	c.Version = cli.Version
	return server.Run(ctx, c, stdout, log)
}

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
	_ = provisioning.Notify("READY=1") // under systemd, Type=notify
	go provisioning.Watchdog(ctx, func() bool { return true })
	return server.ReloadCRL(ctx, nil, log, "broker", b.Reload)
}
