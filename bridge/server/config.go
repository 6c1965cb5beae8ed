package server

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/ThalesGroup/crypto11"

	"dmpkiosk/bridge"
	"dmpkiosk/bridge/dmp"
	"dmpkiosk/bridge/feed"
	"dmpkiosk/bridge/insi"
	"dmpkiosk/bridge/journal"
	"dmpkiosk/bridge/sih"
	"dmpkiosk/firmware/event"
	"dmpkiosk/provisioning"
)

// config is bridge.toml. Relative paths are relative to the file.
type Config struct {
	// Version is the software's, as the command was built (not in the file).
	Version string   `toml:"-"`
	ID      string   `toml:"id"`
	Broker  string   `toml:"broker"`
	KioskCA string   `toml:"kiosk_ca"`
	CRL     string   `toml:"crl"`
	Cert    string   `toml:"cert"`
	Key     string   `toml:"key"`
	EncKey  string   `toml:"enc_key"`
	CardCA  []string `toml:"card_ca"` // IGC-Santé authorities of the professionals' cards
	// MaxAge is how old an event may be when it arrives (7 days when
	// zero); ClockSkew how far ahead of the bridge's clock (5 minutes).
	MaxAge      duration `toml:"max_age"`
	ClockSkew   duration `toml:"clock_skew"`
	Workers     int      `toml:"workers"`
	MaxAttempts int      `toml:"max_attempts"`
	Backoff     duration `toml:"backoff"`
	// MaxEventBytes bounds a sealed event, refused before decryption
	// (events.DefaultMaxEventBytes, 64 KiB, when zero).
	MaxEventBytes int `toml:"max_event_bytes"`
	// KioskRate (events a second) and KioskBurst bound each kiosk
	// (ratelimit.DefaultKioskRate, DefaultKioskBurst when zero).
	KioskRate  float64 `toml:"kiosk_rate"`
	KioskBurst int     `toml:"kiosk_burst"`
	Journal    struct {
		Driver string `toml:"driver"` // sqlite (default) or postgres
		Path   string `toml:"path"`
		DSN    string `toml:"dsn"`
		// Retention is how long the patients' identities are kept after an
		// event is done (journal.DefaultRetention, 90 days, when zero).
		Retention duration `toml:"retention"`
	} `toml:"journal"`
	Admin struct {
		Listen       string `toml:"listen"`
		Cert         string `toml:"cert"`
		Key          string `toml:"key"`
		ClientCA     string `toml:"client_ca"`     // client certificates instead of a password
		PasswordFile string `toml:"password_file"` // user "admin"
	} `toml:"admin"`
	DMP  DMPConfig  `toml:"dmp"`
	INSi INSiConfig `toml:"insi"`
	SIH  SIHConfig  `toml:"sih"`
	// Feed: the hospital's documents for the DMP (bridge/feed), taken on
	// an MLLP listener when listen is set and sent to the DMP in the name of
	// the establishment of finess (its geographic FINESS).
	Feed struct {
		Listen string `toml:"listen"`
		FINESS string `toml:"finess"`
		// Rules: which documents go to the DMP and their default
		// visibility ([feed.rules], bridge/feed/rules.go).
		Rules feed.Rules `toml:"rules"`
		// Identities: "held" (the default: a document's INS must be a
		// qualified identity the establishment holds, from its GAM or
		// INSi) or "message" (its message's PID-3 alone, for a sender
		// whose GAM does not tell the bridge of its patients).
		Identities string `toml:"identities"`
		// Senders: where each sending application takes its business
		// acknowledgements (ZAM^Z01), one [[feed.sender]] each.
		Senders []struct {
			Application string `toml:"application"`
			Address     string `toml:"address"`
		} `toml:"sender"`
	} `toml:"feed"`

	dir string
}

// SIHConfig is whom the bridge tells in the hospital's information system
// (bridge/sih): optional; one [[sih.receiver]] per GAM.
type SIHConfig struct {
	Application string `toml:"application"` // MSH-3 ("DMPKIOSK" when empty)
	Facility    string `toml:"facility"`    // MSH-4: the establishment
	Test        bool   `toml:"test"`        // MSH-11 T
	// For receivers with tls = true: their authority, and the bridge's
	// client certificate when they ask for one.
	ServerCA    string   `toml:"server_ca"`
	Cert        string   `toml:"cert"`
	Key         string   `toml:"key"`
	Wait        duration `toml:"wait"`
	Backoff     duration `toml:"backoff"`
	MaxAttempts int      `toml:"max_attempts"`
	// Listen is the bridge's MLLP listener for the GAMs' own messages:
	// their ADT messages place their patients in the units (the bedside
	// tablets' lists) and, for receivers with match = "admissions", give
	// the patients the IPPs are found among.
	Listen    string         `toml:"listen"`
	Receivers []sih.Receiver `toml:"receiver"`
}

// check refuses receivers the bridge could not tell.
func (s SIHConfig) check() error {
	seen := map[string]bool{}
	for i, r := range s.Receivers {
		switch {
		case r.Name == "" || r.Address == "" || r.Application == "":
			return fmt.Errorf("sih.receiver %d: name, address and application are needed", i+1)
		case seen[r.Name]:
			return fmt.Errorf("sih.receiver %q twice", r.Name)
		case r.IPP.Namespace == "" && r.IPP.UniversalID == "":
			return fmt.Errorf("sih.receiver %q: its IPP domain (ipp.namespace, ipp.universal_id)", r.Name)
		case r.Charset != "" && r.Charset != sih.UTF8 && r.Charset != sih.Latin1:
			return fmt.Errorf("sih.receiver %q: charset %q (%q or %q)", r.Name, r.Charset, sih.UTF8, sih.Latin1)
		case r.TLS && s.ServerCA == "":
			return fmt.Errorf("sih.receiver %q takes TLS: sih.server_ca is needed", r.Name)
		case r.Match != "" && r.Match != sih.MatchPDQ && r.Match != sih.MatchAdmissions:
			return fmt.Errorf("sih.receiver %q: match %q (%q or %q)", r.Name, r.Match, sih.MatchPDQ, sih.MatchAdmissions)
		case r.Match == sih.MatchAdmissions && s.Listen == "":
			return fmt.Errorf("sih.receiver %q is matched from its admissions: sih.listen is needed", r.Name)
		}
		seen[r.Name] = true
	}
	return nil
}

// Bridge is the service's configuration of it (nil without receivers).
func (s SIHConfig) bridge(c *Config) (*sih.DeliveryConfig, error) {
	if len(s.Receivers) == 0 {
		return nil, nil
	}
	app := s.Application
	if app == "" {
		app = "DMPKIOSK"
	}
	out := &sih.DeliveryConfig{Sender: sih.Sender{Application: app, Facility: s.Facility, Test: s.Test}, Receivers: s.Receivers,
		Wait: s.Wait.Duration, Backoff: s.Backoff.Duration, MaxAttempts: s.MaxAttempts, Listen: s.Listen}
	if s.ServerCA != "" {
		roots, err := c.pool(s.ServerCA)
		if err != nil {
			return nil, err
		}
		out.TLS = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}
		if s.Cert != "" {
			cert, err := tls.LoadX509KeyPair(c.path(s.Cert), c.path(s.Key))
			if err != nil {
				return nil, fmt.Errorf("sih certificate: %w", err)
			}
			out.TLS.Certificates = []tls.Certificate{cert}
		}
	}
	return out, nil
}

// DMPConfig is how the bridge reaches the DMP and with which keys.
type DMPConfig struct {
	URL      string   `toml:"url"`
	ServerCA string   `toml:"server_ca"`
	SignCert string   `toml:"sign_cert"`
	AuthCert string   `toml:"auth_cert"`
	SignKey  string   `toml:"sign_key"` // key files, or labels on the PKCS#11 token
	AuthKey  string   `toml:"auth_key"`
	PKCS11   string   `toml:"pkcs11_module"`
	Token    string   `toml:"pkcs11_token"`
	Sector   string   `toml:"sector"`
	Mode     string   `toml:"mode"`
	Timeout  duration `toml:"timeout"`
	TraceDir string   `toml:"trace_dir"` // homologation traces: every request and response
	LPS      dmp.LPS  `toml:"lps"`
	// StructureName is the establishment's name in a creation (TD1.1);
	// the ORG SIGN certificate's organization when empty.
	StructureName string `toml:"structure_name"`
	// StaffRole is the VIHF role of staff whose card has no profession
	// code (CPE); unset, their events are refused before any DMP call.
	StaffRole dmp.Role `toml:"staff_role"`
	// TestEnvironment marks the HL7 messages for the DMP's test platform.
	TestEnvironment bool `toml:"test_environment"`
	// Regime is the rules the DMP runs under ("current" when empty, as
	// since July 2021); an event made under the other is refused.
	Regime string `toml:"regime"`
	// UnreadableAttempts: tries of an event whose DMP answer cannot be
	// read before it goes to the dead letters (3 when zero).
	UnreadableAttempts int `toml:"unreadable_attempts"`
	// AcceptRecovered lets an INS récupérée (INSi's, no document compared)
	// be enough for the authorization in the current regime; the default
	// is qualifiée only, the identity rules' for sharing an INS.
	AcceptRecovered bool `toml:"accept_recovered"`
}

// INSiConfig is how the bridge reaches INSi (establishment mode): optional.
type INSiConfig struct {
	URL      string `toml:"url"`
	ServerCA string `toml:"server_ca"`
	// The INSI-MANU certificate authenticates lookups a professional
	// starts, INSI-AUTO those the bridge starts on its own; keys are files
	// or labels on the PKCS#11 token.
	ManuCert string `toml:"manu_cert"`
	ManuKey  string `toml:"manu_key"`
	AutoCert string `toml:"auto_cert"`
	AutoKey  string `toml:"auto_key"`
	PKCS11   string `toml:"pkcs11_module"`
	Token    string `toml:"pkcs11_token"`
	// IDAM is the software's CNDA authorisation number.
	IDAM string `toml:"idam"`
	// InstanceFile keeps the installation's UUID, made on first use
	// ("insi-instance" beside the configuration when empty).
	InstanceFile string   `toml:"instance_file"`
	Timeout      duration `toml:"timeout"`
	// LookupWait bounds a kiosk's lookup (lookup.DefaultLookupWait, 10 s,
	// when zero); the kiosks wait a little longer (insi_wait, 12 s).
	LookupWait duration `toml:"lookup_wait"`
}

type duration = provisioning.Duration

func LoadConfig(path string) (*Config, error) {
	c := &Config{Workers: 4, MaxAttempts: 8, Backoff: duration{Duration: 2 * time.Second}}
	c.Journal.Driver = "sqlite"
	c.Journal.Path = "journal.db"
	md, err := toml.DecodeFile(path, c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("%s: unknown keys %v", path, und)
	}
	c.dir = filepath.Dir(path)
	var missing []string
	for k, v := range map[string]string{"id": c.ID, "broker": c.Broker, "kiosk_ca": c.KioskCA, "crl": c.CRL, "cert": c.Cert,
		"key": c.Key, "enc_key": c.EncKey, "dmp.url": c.DMP.URL, "dmp.sign_cert": c.DMP.SignCert, "dmp.auth_cert": c.DMP.AuthCert,
		"dmp.sign_key": c.DMP.SignKey, "dmp.auth_key": c.DMP.AuthKey} {
		if v == "" {
			missing = append(missing, k)
		}
	}
	if len(c.CardCA) == 0 {
		missing = append(missing, "card_ca")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: missing %s", path, strings.Join(missing, ", "))
	}
	if i := c.INSi; i.URL != "" && (i.ManuCert == "" || i.ManuKey == "" || i.AutoCert == "" || i.AutoKey == "" || i.IDAM == "") {
		return nil, fmt.Errorf("%s: insi needs manu_cert, manu_key, auto_cert, auto_key and idam with its url", path)
	}
	if c.MaxEventBytes < 0 || c.MaxEventBytes > provisioning.MaxPacketBytes-4096 {
		return nil, fmt.Errorf("%s: max_event_bytes %d: the brokers take packets of at most %d bytes", path, c.MaxEventBytes, provisioning.MaxPacketBytes)
	}
	if c.DMP.Regime == "" {
		c.DMP.Regime = event.RegimeCurrent
	}
	if !slices.Contains(provisioning.Regimes, c.DMP.Regime) {
		return nil, fmt.Errorf("%s: dmp.regime %q, want one of %v", path, c.DMP.Regime, provisioning.Regimes)
	}
	if c.Journal.Driver != "sqlite" && c.Journal.Driver != "postgres" {
		return nil, fmt.Errorf("%s: journal.driver %q (sqlite or postgres)", path, c.Journal.Driver)
	}
	if err := c.SIH.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if f := c.Feed; f.Listen != "" && (len(f.FINESS) != 9 || strings.Trim(f.FINESS, "0123456789AB") != "") {
		return nil, fmt.Errorf("%s: feed.finess %q: the establishment's geographic FINESS (9 characters) is needed with feed.listen", path, f.FINESS)
	}
	if i := c.Feed.Identities; i != "" && i != "held" && i != "message" {
		return nil, fmt.Errorf("%s: feed.identities %q: held or message", path, i)
	}
	if err := c.Feed.Rules.Check(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for i, s := range c.Feed.Senders {
		if s.Application == "" || s.Address == "" {
			return nil, fmt.Errorf("%s: feed.sender %d: application and address are needed", path, i+1)
		}
	}
	if c.Admin.Listen != "" && (c.Admin.Cert == "" || c.Admin.Key == "" || (c.Admin.ClientCA == "" && c.Admin.PasswordFile == "")) {
		return nil, fmt.Errorf("%s: the admin web needs cert, key and client_ca or password_file", path)
	}
	return c, nil
}

// OpenJournal opens the journal the configuration names.
func (c *Config) OpenJournal(ctx context.Context) (journal.Store, func(), error) {
	if c.Journal.Driver == "postgres" {
		pg, err := journal.OpenPostgres(ctx, c.Journal.DSN, c.ID)
		if err != nil {
			return nil, nil, err
		}
		return pg, func() { pg.Close() }, nil
	}
	sq, err := journal.OpenSQLite(c.path(c.Journal.Path))
	if err != nil {
		return nil, nil, err
	}
	return sq, func() { sq.Close() }, nil
}

// JournalPath is the SQLite journal's file.
func (c *Config) JournalPath() string { return c.path(c.Journal.Path) }

// Retention is how long identities are kept after an event is done.
func (c *Config) Retention() time.Duration {
	if c.Journal.Retention.Duration > 0 {
		return c.Journal.Retention.Duration
	}
	return journal.DefaultRetention
}

func (c *Config) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}

func (c *Config) pool(paths ...string) (*x509.CertPool, error) {
	var certs []*x509.Certificate
	for _, p := range paths {
		cs, err := provisioning.LoadCertificates(c.path(p))
		if err != nil {
			return nil, err
		}
		certs = append(certs, cs...)
	}
	return provisioning.NewPool(certs...), nil
}

func (c *Config) encKey() (*ecdsa.PrivateKey, error) {
	k, err := provisioning.LoadKeyFile(c.path(c.EncKey))
	if err != nil {
		return nil, fmt.Errorf("event decryption key: %w", err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New("event decryption key: not a P-256 key")
	}
	return ek, nil
}

func (c *Config) brokerTLS(roots *x509.CertPool) (*tls.Config, error) {
	cert, err := provisioning.LoadCertificate(c.path(c.Cert))
	if err != nil {
		return nil, err
	}
	key, err := provisioning.LoadKeyFile(c.path(c.Key))
	if err != nil {
		return nil, err
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots,
		Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}}}, nil
}

// dmpCredentials loads the establishment's ORG SIGN and ORG AUTH_CLI keys
// and certificates: from the PKCS#11 token when one is named (PIN from
// PKCS11_PIN), else from key files. release closes the token.
func (d *DMPConfig) Credentials(c *Config) (sign, auth dmp.Credentials, release func(), err error) {
	keys, release, err := c.keyPairs(d.PKCS11, d.Token, keyRef{d.SignCert, d.SignKey}, keyRef{d.AuthCert, d.AuthKey})
	if err != nil {
		return sign, auth, release, err
	}
	return dmp.Credentials(keys[0]), dmp.Credentials(keys[1]), release, nil
}

// keyPair is a certificate chain and its key.
type keyPair struct {
	Key   crypto.Signer
	Chain []*x509.Certificate
}

// keyRef names a certificate file and its key: a key file, or a label on
// the PKCS#11 token.
type keyRef struct{ cert, key string }

// keyPairs loads certificates and their keys: from the PKCS#11 token when
// a module is named (PIN from PKCS11_PIN), else from key files. release
// closes the token.
func (c *Config) keyPairs(module, token string, refs ...keyRef) ([]keyPair, func(), error) {
	release := func() {}
	out := make([]keyPair, len(refs))
	for i, r := range refs {
		chain, err := provisioning.LoadCertificates(c.path(r.cert))
		if err != nil {
			return nil, release, err
		}
		out[i].Chain = chain
		if module == "" {
			if out[i].Key, err = provisioning.LoadKeyFile(c.path(r.key)); err != nil {
				return nil, release, err
			}
		}
	}
	if module == "" {
		return out, release, nil
	}
	ctx, err := crypto11.Configure(&crypto11.Config{Path: module, TokenLabel: token, Pin: os.Getenv("PKCS11_PIN")})
	if err != nil {
		return nil, release, fmt.Errorf("opening the PKCS#11 token %q: %w", token, err)
	}
	release = func() { ctx.Close() }
	for i, r := range refs {
		k, ferr := ctx.FindKeyPair(nil, []byte(r.key))
		if ferr != nil || k == nil {
			release()
			return nil, func() {}, fmt.Errorf("no key %q on the token %q", r.key, token)
		}
		out[i].Key = k
	}
	return out, release, nil
}

// INSiClientConfig is the INSi client's configuration: the INSI-MANU and
// INSI-AUTO keys, the installation's UUID (made once and kept).
func (c *Config) INSiClientConfig() (insi.Config, func(), error) {
	i := c.INSi
	cfg := insi.Config{Endpoint: i.URL, IDAM: i.IDAM, Version: c.Version, Timeout: i.Timeout.Duration}
	keys, release, err := c.keyPairs(i.PKCS11, i.Token, keyRef{i.ManuCert, i.ManuKey}, keyRef{i.AutoCert, i.AutoKey})
	if err != nil {
		return cfg, release, fmt.Errorf("INSi keys: %w", err)
	}
	cfg.Manu, cfg.Auto = insi.Credentials(keys[0]), insi.Credentials(keys[1])
	if i.ServerCA != "" {
		if cfg.ServerRoots, err = c.pool(i.ServerCA); err != nil {
			release()
			return cfg, func() {}, err
		}
	}
	file := i.InstanceFile
	if file == "" {
		file = "insi-instance"
	}
	if cfg.Instance, err = instanceID(c.path(file)); err != nil {
		release()
		return cfg, func() {}, err
	}
	return cfg, release, nil
}

// instanceID reads the installation's UUID, making it on first use.
func instanceID(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		if id := strings.TrimSpace(string(b)); len(id) == 36 {
			return id, nil
		}
		return "", fmt.Errorf("%s: not an installation UUID", path)
	}
	id := insi.NewUUID()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if b, rerr := os.ReadFile(path); rerr == nil { // made meanwhile
			return strings.TrimSpace(string(b)), nil
		}
		return "", err
	}
	defer f.Close()
	_, err = f.WriteString(id + "\n")
	return id, err
}

func (d *DMPConfig) client(c *Config, sign, auth dmp.Credentials) (*dmp.Client, error) {
	cfg, err := d.ClientConfig(c, sign, auth)
	if err != nil {
		return nil, err
	}
	return dmp.NewClient(cfg), nil
}

// ClientConfig is the DMP client's configuration. Every exchange is kept
// in trace_dir when it is set; an answer that cannot be read is kept in
// any case (in trace_dir, else in dmp-unreadable/ beside the
// configuration), for the IT team and the DMP's support to read.
func (d *DMPConfig) ClientConfig(c *Config, sign, auth dmp.Credentials) (dmp.Config, error) {
	cfg := dmp.Config{BaseURL: d.URL, Sign: sign, Auth: auth, LPS: d.LPS, Sector: d.Sector, Mode: d.Mode, Timeout: d.Timeout.Duration,
		StructureName: d.StructureName, StaffRole: d.StaffRole, TestEnvironment: d.TestEnvironment}
	if d.ServerCA != "" {
		roots, err := c.pool(d.ServerCA)
		if err != nil {
			return cfg, err
		}
		cfg.ServerRoots = roots
	}
	dir := c.path(d.TraceDir)
	if d.TraceDir == "" {
		dir = c.path("dmp-unreadable")
	}
	cfg.Trace = func(x dmp.Exchange) {
		if d.TraceDir == "" && !x.Unreadable {
			return
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return
		}
		base := filepath.Join(dir, time.Now().UTC().Format("20060102T150405.000")+"-"+x.Transaction+"-"+strings.TrimPrefix(x.RequestID, "urn:uuid:"))
		_ = os.WriteFile(base+"-request.xml", x.Request, 0o600)
		_ = os.WriteFile(base+"-response.xml", x.Response, 0o600)
	}
	return cfg, nil
}

// feedConfig is the documents' flow: nil without feed.listen.
func (c *Config) feedConfig(client *dmp.Client) *bridge.FeedConfig {
	if c.Feed.Listen == "" {
		return nil
	}
	source := c.DMP.LPS.DeviceOID
	if source == "" {
		source = dmp.DefaultDeviceOID
	}
	senders := map[string]string{}
	for _, s := range c.Feed.Senders {
		senders[s.Application] = s.Address
	}
	return &bridge.FeedConfig{Listen: c.Feed.Listen, DMP: client, FINESS: c.Feed.FINESS, SourceID: source, Senders: senders, Rules: c.Feed.Rules,
		MessageIdentity: c.Feed.Identities == "message"}
}
