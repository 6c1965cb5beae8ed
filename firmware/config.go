package firmware

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/BurntSushi/toml"

	"dmpkiosk/display"
	"dmpkiosk/display/lang"
	"dmpkiosk/firmware/event"
	"dmpkiosk/provisioning"
)

// Config is the kiosk's one configuration file (kiosk.toml): what
// `provision bundle` writes, and the device's hardware, storage and
// timings. Relative paths are relative to the file.
type Config struct {
	provisioning.DeviceConfig
	Outbox         string           `toml:"outbox"`
	OutboxCapacity int              `toml:"outbox_capacity"`
	SessionTimeout duration         `toml:"session_timeout"`
	ResultWait     duration         `toml:"result_wait"`
	Readers        []string         `toml:"readers"` // reader-name patterns, slot 0 then slot 1; empty: any
	WebListen      string           `toml:"web_listen"`
	Display        display.Hardware `toml:"display"`
	// INSiLookup: the identity is looked up at INSi through the bridge
	// once the beneficiary is chosen (true when the file does not say);
	// INSiWait is how long the desk waits for the answer before going on
	// with a provisional identity (12 s by default; the bridge then looks
	// it up itself).
	INSiLookup bool     `toml:"insi_lookup"`
	INSiWait   duration `toml:"insi_wait"`
	// StaySignedIn: the professional's card stays in and its PIN is
	// verified once for the patients who follow (true when the file does
	// not say); the kiosk locks — the PIN again — when the card is
	// removed, after LockIdle without use (15 min) and at LockAt ("HH:MM",
	// optional) each day.
	StaySignedIn bool     `toml:"stay_signed_in"`
	LockIdle     duration `toml:"lock_idle"`
	LockAt       string   `toml:"lock_at"`
	// InfoPages: before the consent questions the patient reads the DMP
	// information in pages, in the language they choose (true when the
	// file does not say). InfoCatalogs is a directory of the
	// establishment's message catalogs (gotext's JSON): another language,
	// or its own page (establishment.title, establishment.body).
	InfoPages    bool   `toml:"info_pages"`
	InfoCatalogs string `toml:"info_catalogs"`
	// DMPWait: how long the bedside tablet waits for the DMP's answer
	// through the bridge (60 s when the file does not say).
	DMPWait duration `toml:"dmp_wait"`
	// Receipt: the patient's receipt (session_receipt.go).
	Receipt ReceiptConfig `toml:"receipt"`

	dir   string
	langs *lang.Set
}

// Languages are the patient's languages: the built-in ones and the
// establishment's catalogs.
func (c *Config) Languages() *lang.Set {
	if c.langs == nil {
		c.langs = lang.Builtin()
	}
	return c.langs
}

type duration = provisioning.Duration

// LoadConfig reads and checks a configuration file.
func LoadConfig(path string) (*Config, error) {
	c := &Config{OutboxCapacity: 1000, SessionTimeout: duration{Duration: 2 * time.Minute}, ResultWait: duration{Duration: 20 * time.Second},
		INSiLookup: true, INSiWait: duration{Duration: 12 * time.Second}, StaySignedIn: true, LockIdle: duration{Duration: 15 * time.Minute},
		InfoPages: true, Receipt: ReceiptConfig{Paper: 80}}
	c.Display.Display = "web"
	md, err := toml.DecodeFile(path, c)
	if err != nil {
		return nil, fmt.Errorf("configuration %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("configuration %s: unknown key %s", path, und[0])
	}
	c.dir = filepath.Dir(path)
	if c.Outbox == "" {
		c.Outbox = "outbox.db"
	}
	if err := c.DeviceConfig.Check(); err != nil {
		return nil, fmt.Errorf("configuration %s: %w", path, err)
	}
	if err := c.Display.Check(); err != nil {
		return nil, fmt.Errorf("configuration %s: %w", path, err)
	}
	if c.Display.Display == "web" && c.WebListen == "" {
		c.WebListen = "127.0.0.1:8080"
	}
	if c.LockAt != "" {
		if _, err := time.Parse("15:04", c.LockAt); err != nil {
			return nil, fmt.Errorf("configuration %s: lock_at %q, want HH:MM", path, c.LockAt)
		}
	}
	if c.Receipt.Printer != "" && c.Receipt.Printer != "page" {
		if _, err := OpenReceipts(c.Receipt, nil, nil); err != nil {
			return nil, fmt.Errorf("configuration %s: %w", path, err)
		}
	}
	if c.InfoCatalogs != "" {
		if err := c.Languages().Load(c.Path(c.InfoCatalogs)); err != nil {
			return nil, fmt.Errorf("configuration %s: info_catalogs: %w", path, err)
		}
	}
	if c.SessionTimeout.Duration < 10*time.Second || c.OutboxCapacity < 1 {
		return nil, fmt.Errorf("configuration %s: session_timeout at least 10s, outbox_capacity at least 1", path)
	}
	return c, nil
}

// Path resolves a path of the configuration.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}

// Credentials are the device's key material, loaded from the files the
// configuration names.
type Credentials struct {
	TLS       *tls.Config
	Device    event.Signer
	BridgeKey *ecdsa.PublicKey
}

// LoadCredentials reads the device certificate and key, the kiosk CA and
// the bridge's encryption key.
func (c *Config) LoadCredentials() (*Credentials, error) {
	key, err := provisioning.LoadKeyFile(c.Path(c.Broker.Key))
	if err != nil {
		return nil, fmt.Errorf("device key: %w", err)
	}
	cert, err := provisioning.LoadCertificate(c.Path(c.Broker.Cert))
	if err != nil {
		return nil, fmt.Errorf("device certificate: %w", err)
	}
	if cert.Subject.CommonName != c.DeviceID {
		return nil, fmt.Errorf("device certificate names %q, configuration says %q", cert.Subject.CommonName, c.DeviceID)
	}
	// The bridge believes the site the certificate names and refuses
	// events claiming another: a kiosk configured elsewhere would have
	// every event refused, so it does not start.
	if site, ok := provisioning.SiteOf(cert); !ok {
		return nil, errors.New("device certificate names no site: enroll the kiosk again (provision sign --site --unit)")
	} else if site.FINESS != c.Site || site.Unit != c.Unit {
		return nil, fmt.Errorf("device certificate enrolls the kiosk at %s, configuration says %s/%s", site, c.Site, c.Unit)
	}
	ca, err := provisioning.LoadCertificate(c.Path(c.Broker.CA))
	if err != nil {
		return nil, fmt.Errorf("kiosk CA: %w", err)
	}
	pub, err := os.ReadFile(c.Path(c.BridgeKey))
	if err != nil {
		return nil, fmt.Errorf("bridge key: %w", err)
	}
	bridge, err := provisioning.ParseEncryptionKey(pub)
	if err != nil {
		return nil, err
	}
	return &Credentials{
		TLS: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}},
			RootCAs: provisioning.NewPool(ca), MinVersion: tls.VersionTLS12},
		Device:    event.Signer{Key: key, Chain: []*x509.Certificate{cert}},
		BridgeKey: bridge,
	}, nil
}

// CheckBroker opens a TLS connection to the broker with the device
// certificate: it proves the broker is reachable and accepts this kiosk.
func (c *Config) CheckBroker(creds *Credentials, timeout time.Duration) error {
	u, err := url.Parse(c.Broker.URL)
	if err != nil {
		return err
	}
	conf := creds.TLS.Clone()
	conf.ServerName = u.Hostname()
	d := &net.Dialer{Timeout: timeout}
	conn, err := tls.DialWithDialer(d, "tcp", u.Host, conf)
	if err != nil {
		return err
	}
	return conn.Close()
}
