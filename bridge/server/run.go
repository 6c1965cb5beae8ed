package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"dmpkiosk/bridge"
	"dmpkiosk/bridge/admin"
	"dmpkiosk/bridge/dmp"
	"dmpkiosk/bridge/events"
	"dmpkiosk/bridge/insi"
	"dmpkiosk/bridge/journal"
	"dmpkiosk/firmware/event"
	"dmpkiosk/provisioning"
)

// Run wires the bridge from its configuration and runs it until ctx ends:
// the event service (broker, verifier, journal, DMP processor), the admin
// web when configured, the CRL reloaded on SIGHUP and periodically.
func Run(ctx context.Context, c *Config, stdout io.Writer, log *slog.Logger) error {
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
	j, closeJournal, err := c.OpenJournal(ctx)
	if err != nil {
		return err
	}
	defer closeJournal()
	sign, auth, closeToken, err := c.DMP.Credentials(c)
	if err != nil {
		return fmt.Errorf("DMP keys: %w", err)
	}
	defer closeToken()
	client, err := c.DMP.client(c, sign, auth)
	if err != nil {
		return err
	}
	// Identity vigilance: in the current regime no DMP transaction without
	// a qualified identity; INSi, when configured, for the kiosks'
	// lookups and the bridge's own (INSI-AUTO).
	identity := bridge.IdentityConfig{Require: true, AcceptRecovered: c.DMP.AcceptRecovered, Wait: c.INSi.LookupWait.Duration}
	var svc *bridge.Service
	if c.INSi.URL != "" {
		icfg, release, err := c.INSiClientConfig()
		if err != nil {
			return err
		}
		defer release()
		icfg.Observe = func(call insi.Call) { svc.Metrics.INSi.Observer(j.Audit, log)(call) }
		identity.INSi = insi.NewClient(icfg)
	}
	sihCfg, err := c.SIH.bridge(c)
	if err != nil {
		return err
	}
	fleet := admin.NewFleet()
	fleet.Regime = c.DMP.Regime
	fleet.Trust = func(der []byte) (provisioning.Identity, error) {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return provisioning.Identity{}, err
		}
		return provisioning.VerifyClient([]*x509.Certificate{cert}, kioskCA, rev)
	}
	svc = bridge.NewService(bridge.ServiceConfig{Identity: identity, SIH: sihCfg, Feed: c.feedConfig(client), Consult: client, BrokerURL: c.Broker, TLS: tlsCfg, ClientID: c.ID,
		Verifier: &events.Verifier{EncKey: enc, KioskCA: kioskCA, Revocations: rev, CardCA: cardCA, MaxAge: c.MaxAge.Duration, Skew: c.ClockSkew.Duration,
			Regime: c.DMP.Regime, MaxBytes: c.MaxEventBytes, Chains: event.NewChainCache()},
		KioskRate: c.KioskRate, KioskBurst: c.KioskBurst,
		Journal: j, Processor: &dmp.Processor{Client: client, Audit: j.Audit, Marks: j, UnreadableAttempts: c.DMP.UnreadableAttempts}, Workers: c.Workers, MaxAttempts: c.MaxAttempts,
		Backoff: c.Backoff.Duration, Logger: log, Fleet: fleet})
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	go func() { errc <- svc.Run(ctx) }()
	if c.Admin.Listen != "" {
		srv, err := adminServer(c, svc.Admin())
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
	// The identities older than the retention are purged at start and
	// every day.
	go func() {
		tick := time.NewTicker(24 * time.Hour)
		defer tick.Stop()
		for {
			if err := j.Purge(ctx, time.Now().Add(-c.Retention())); err != nil {
				log.Error("bridge: purging the identities past their retention", "error", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	fmt.Fprintf(stdout, "bridge %s: consuming %s\n", c.ID, c.Broker)
	// Under systemd (Type=notify): ready once the journal is open and the
	// service started; the watchdog is fed while the journal answers.
	_ = provisioning.Notify("READY=1")
	go provisioning.Watchdog(ctx, func() bool {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := j.Get(ctx, "watchdog")
		return errors.Is(err, journal.ErrUnknown)
	})
	if err := ReloadCRL(ctx, errc, log, "bridge", func() error { _, err := rev.Reload(); return err }); err != nil {
		return err
	}
	return <-errc
}

// ReloadCRL reloads the CRL on SIGHUP and every crlCheckEvery until ctx
// ends (nil) or errc reports a failure (returned).
func ReloadCRL(ctx context.Context, errc <-chan error, log *slog.Logger, who string, reload func() error) error {
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
func adminServer(c *Config, a *admin.Admin) (*http.Server, error) {
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
