package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/ThalesGroup/crypto11"

	"dmpkiosk/bridge/dmp"
	"dmpkiosk/provisioning"
)

// config is bridge.toml. Relative paths are relative to the file.
type config struct {
	ID          string   `toml:"id"`
	Broker      string   `toml:"broker"`
	KioskCA     string   `toml:"kiosk_ca"`
	CRL         string   `toml:"crl"`
	Cert        string   `toml:"cert"`
	Key         string   `toml:"key"`
	EncKey      string   `toml:"enc_key"`
	CardCA      []string `toml:"card_ca"` // IGC-Santé authorities of the professionals' cards
	Window      duration `toml:"window"`
	Workers     int      `toml:"workers"`
	MaxAttempts int      `toml:"max_attempts"`
	Backoff     duration `toml:"backoff"`
	Journal     struct {
		Driver string `toml:"driver"` // sqlite (default) or postgres
		Path   string `toml:"path"`
		DSN    string `toml:"dsn"`
	} `toml:"journal"`
	Admin struct {
		Listen       string `toml:"listen"`
		Cert         string `toml:"cert"`
		Key          string `toml:"key"`
		ClientCA     string `toml:"client_ca"`     // client certificates instead of a password
		PasswordFile string `toml:"password_file"` // user "admin"
	} `toml:"admin"`
	DMP dmpConfig `toml:"dmp"`

	dir string
}

// dmpConfig is how the bridge reaches the DMP and with which keys.
type dmpConfig struct {
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
	// UnreadableAttempts: tries of an event whose DMP answer cannot be
	// read before it goes to the dead letters (3 when zero).
	UnreadableAttempts int `toml:"unreadable_attempts"`
}

type duration struct{ time.Duration }

func (d *duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	d.Duration = v
	return err
}

func loadConfig(path string) (*config, error) {
	c := &config{Window: duration{10 * time.Minute}, Workers: 4, MaxAttempts: 8, Backoff: duration{2 * time.Second}}
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
	if c.Journal.Driver != "sqlite" && c.Journal.Driver != "postgres" {
		return nil, fmt.Errorf("%s: journal.driver %q (sqlite or postgres)", path, c.Journal.Driver)
	}
	if c.Admin.Listen != "" && (c.Admin.Cert == "" || c.Admin.Key == "" || (c.Admin.ClientCA == "" && c.Admin.PasswordFile == "")) {
		return nil, fmt.Errorf("%s: the admin web needs cert, key and client_ca or password_file", path)
	}
	return c, nil
}

func (c *config) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}

func (c *config) pool(paths ...string) (*x509.CertPool, error) {
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

func (c *config) encKey() (*ecdsa.PrivateKey, error) {
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

func (c *config) brokerTLS(roots *x509.CertPool) (*tls.Config, error) {
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
func (d *dmpConfig) credentials(c *config) (sign, auth dmp.Credentials, release func(), err error) {
	release = func() {}
	load := func(certPath, key string) (dmp.Credentials, error) {
		chain, err := provisioning.LoadCertificates(c.path(certPath))
		if err != nil {
			return dmp.Credentials{}, err
		}
		var k crypto.Signer
		if d.PKCS11 == "" {
			k, err = provisioning.LoadKeyFile(c.path(key))
		}
		return dmp.Credentials{Key: k, Chain: chain}, err
	}
	if sign, err = load(d.SignCert, d.SignKey); err != nil {
		return
	}
	if auth, err = load(d.AuthCert, d.AuthKey); err != nil {
		return
	}
	if d.PKCS11 == "" {
		return
	}
	ctx, err := crypto11.Configure(&crypto11.Config{Path: d.PKCS11, TokenLabel: d.Token, Pin: os.Getenv("PKCS11_PIN")})
	if err != nil {
		return sign, auth, release, fmt.Errorf("opening the PKCS#11 token %q: %w", d.Token, err)
	}
	release = func() { ctx.Close() }
	for _, x := range []struct {
		cred  *dmp.Credentials
		label string
	}{{&sign, d.SignKey}, {&auth, d.AuthKey}} {
		k, ferr := ctx.FindKeyPair(nil, []byte(x.label))
		if ferr != nil || k == nil {
			release()
			return sign, auth, func() {}, fmt.Errorf("no key %q on the token %q", x.label, d.Token)
		}
		x.cred.Key = k
	}
	return sign, auth, release, nil
}

func (d *dmpConfig) client(c *config, sign, auth dmp.Credentials) (*dmp.Client, error) {
	cfg, err := d.clientConfig(c, sign, auth)
	if err != nil {
		return nil, err
	}
	return dmp.NewClient(cfg), nil
}

// clientConfig is the DMP client's configuration. Every exchange is kept
// in trace_dir when it is set; an answer that cannot be read is kept in
// any case (in trace_dir, else in dmp-unreadable/ beside the
// configuration), for the IT team and the DMP's support to read.
func (d *dmpConfig) clientConfig(c *config, sign, auth dmp.Credentials) (dmp.Config, error) {
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
