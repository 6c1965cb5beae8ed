package provisioning

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// Device contexts and DMP regimes a bundle may name.
var (
	Contexts = []string{"admission", "bedside", "consultation-exit"}
	Regimes  = []string{"legacy", "current"}
)

var finessPattern = regexp.MustCompile(`^[0-9][0-9AB][0-9]{7}$`)

// DeviceConfig is the kiosk's configuration file (kiosk.toml) as a bundle
// writes it; the kiosk issue adds display, pins and timeouts to it.
type DeviceConfig struct {
	DeviceID string `toml:"device_id"`
	Site     string `toml:"site"` // geographic FINESS of the emitting site
	Unit     string `toml:"unit"`
	Context  string `toml:"context"`
	Regime   string `toml:"regime"`
	Broker   struct {
		URL  string `toml:"url"`
		CA   string `toml:"ca"`
		Cert string `toml:"cert"`
		Key  string `toml:"key"` // stays where kiosk enroll made it
	} `toml:"broker"`
	BridgeKey string `toml:"bridge_key"` // the bridge's event-encryption public key
}

// Check validates the fields a bundle carries.
func (c *DeviceConfig) Check() error {
	switch {
	case !ValidID(c.DeviceID):
		return ErrBadID
	case !finessPattern.MatchString(c.Site):
		return fmt.Errorf("provisioning: site %q is not a geographic FINESS (9 characters)", c.Site)
	case strings.TrimSpace(c.Unit) == "":
		return errors.New("provisioning: the unit is required")
	case !slices.Contains(Contexts, c.Context):
		return fmt.Errorf("provisioning: context %q, want one of %v", c.Context, Contexts)
	case !slices.Contains(Regimes, c.Regime):
		return fmt.Errorf("provisioning: regime %q, want one of %v", c.Regime, Regimes)
	case !strings.HasPrefix(c.Broker.URL, "ssl://") && !strings.HasPrefix(c.Broker.URL, "tls://"):
		return fmt.Errorf("provisioning: broker URL %q must use TLS (ssl://host:port)", c.Broker.URL)
	}
	return nil
}

// WriteBundle writes a device's configuration bundle into dir: kiosk.toml,
// the kiosk CA (ca.pem), the device certificate (device.pem) and the
// bridge's event-encryption public key (bridge-enc.pub.pem). keyPath is
// where the device key lives on the device.
func (ca *CA) WriteBundle(dir string, cfg DeviceConfig, cert *x509.Certificate, bridgePubPEM []byte, keyPath string) error {
	if cert.Subject.CommonName != cfg.DeviceID {
		return fmt.Errorf("provisioning: certificate names %q, bundle is for %q", cert.Subject.CommonName, cfg.DeviceID)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return fmt.Errorf("%w: %v", ErrNotIssuedBy, err)
	}
	if _, err := ParseEncryptionKey(bridgePubPEM); err != nil {
		return err
	}
	// The site is the certificate's: the bridge believes nothing else.
	site, ok := SiteOf(cert)
	if !ok {
		return fmt.Errorf("provisioning: the certificate of %s names no site (provision sign --site --unit)", cfg.DeviceID)
	}
	cfg.Site, cfg.Unit = site.FINESS, site.Unit
	cfg.Broker.CA, cfg.Broker.Cert, cfg.Broker.Key, cfg.BridgeKey = "ca.pem", "device.pem", keyPath, "bridge-enc.pub.pem"
	if err := cfg.Check(); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("# dmpkiosk kiosk configuration, written by `provision bundle`.\n")
	if err := toml.NewEncoder(&b).Encode(cfg); err != nil {
		return err
	}
	caPEM, err := os.ReadFile(ca.CertPath())
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{
		"kiosk.toml": []byte(b.String()), "ca.pem": caPEM, "bridge-enc.pub.pem": bridgePubPEM,
		"device.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
	} {
		if err := writeAtomic(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// NewEncryptionKey makes the bridge's event-encryption key pair (P-256, for
// JWE ECDH-ES+A256KW): the private key in dir/bridge-enc.key (0600), the
// public one in dir/bridge-enc.pub.pem, which bundles carry to the kiosks.
func NewEncryptionKey(dir string) (pubPEM []byte, err error) {
	k, err := newP256File(filepath.Join(dir, encKeyFile))
	if err != nil {
		return nil, err
	}
	pder, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		return nil, err
	}
	pubPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pder})
	return pubPEM, writeAtomic(filepath.Join(dir, encPubFile), pubPEM, 0o644)
}

// ParseEncryptionKey reads the bridge's event-encryption public key and
// checks it is a P-256 key usable for ECDH.
func ParseEncryptionKey(pubPEM []byte) (*ecdsa.PublicKey, error) {
	blk, _ := pem.Decode(pubPEM)
	if blk == nil {
		return nil, errors.New("provisioning: the bridge encryption key is not PEM")
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	ek, ok := k.(*ecdsa.PublicKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, errors.New("provisioning: the bridge encryption key must be EC P-256")
	}
	if _, err := ek.ECDH(); err != nil {
		return nil, err
	}
	return ek, nil
}
