// Command provision runs the hospital's kiosk CA: it initialises it, signs
// the kiosks' and bridges' certificate requests, writes the kiosks'
// configuration bundles and the broker policy, and revokes a kiosk in one
// step.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	"dmpkiosk/cmd/internal/cli"
	"dmpkiosk/firmware/event"
	"dmpkiosk/provisioning"
)

var commands = map[string]cli.Command{
	"init":    {Summary: "create the kiosk CA", Run: runInit},
	"sign":    {Summary: "check a certificate request and issue the certificate", Run: runSign},
	"bundle":  {Summary: "write a kiosk's configuration bundle", Run: runBundle},
	"revoke":  {Summary: "revoke every certificate of a kiosk or bridge and publish the CRL", Run: runRevoke},
	"crl":     {Summary: "refresh the CRL (run daily: it expires after 7 days)", Run: runCRL},
	"list":    {Summary: "list what the CA issued", Run: runList},
	"policy":  {Summary: "write the mosquitto listener configuration and its access policy", Run: runPolicy},
	"server":  {Summary: "issue a TLS server certificate (broker, simulators)", Run: runServer},
	"enc-key": {Summary: "make the bridge's event-encryption key pair", Run: runEncKey},
}

func main() {
	cli.Main("provision", "autorité des bornes DMP de l'établissement", commands)
}

// parseOpen parses a command's flags, then opens the CA they name.
func parseOpen(fs *flag.FlagSet, args []string, dir *string) (*provisioning.CA, error) {
	if err := cli.Parse(fs, args); err != nil {
		return nil, err
	}
	return provisioning.OpenCA(*dir)
}

func caFlag(fs *flag.FlagSet) *string {
	return fs.String("ca", "pki", "the CA directory")
}

func runInit(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := cli.Flags("provision", "init", stderr)
	dir := caFlag(fs)
	name := fs.String("name", "", "the CA's common name")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	ca, err := provisioning.InitCA(*dir, *name)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "kiosk CA created in %s (%s)\n", ca.Dir, ca.Cert.Subject.CommonName)
	return nil
}

func runSign(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := cli.Flags("provision", "sign", stderr)
	dir := caFlag(fs)
	id := fs.String("id", "", "the id the certificate must name (checked against the request)")
	role := fs.String("role", "kiosk", "kiosk or bridge")
	csrPath := fs.String("csr", "", "the certificate request")
	out := fs.String("out", "", "certificate file (default: next to the request, .pem)")
	var site provisioning.KioskSite
	fs.StringVar(&site.FINESS, "site", "", "a kiosk's: the geographic FINESS of its site")
	fs.StringVar(&site.Unit, "unit", "", "a kiosk's: the unit (service) where it is installed")
	ca, err := parseOpen(fs, args, dir)
	if err != nil {
		return err
	}
	csr, err := os.ReadFile(*csrPath)
	if err != nil {
		return err
	}
	var cert *x509.Certificate
	switch provisioning.Role(*role) {
	case provisioning.RoleKiosk:
		cert, err = ca.SignKiosk(csr, *id, site)
	default:
		if site != (provisioning.KioskSite{}) {
			return errors.New("--site and --unit are a kiosk's")
		}
		cert, err = ca.Sign(csr, *id, provisioning.Role(*role))
	}
	if err != nil {
		return err
	}
	if *out == "" {
		*out = strings.TrimSuffix(*csrPath, filepath.Ext(*csrPath)) + ".pem"
	}
	if err := provisioning.WriteCertificate(*out, cert); err != nil {
		return err
	}
	where := ""
	if s, ok := provisioning.SiteOf(cert); ok {
		where = " at " + s.String()
	}
	fmt.Fprintf(stdout, "certificate for %s (%s%s) until %s: %s\n", *id, *role, where, cert.NotAfter.Format("2006-01-02"), *out)
	return nil
}

func runBundle(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := cli.Flags("provision", "bundle", stderr)
	dir := caFlag(fs)
	var cfg provisioning.DeviceConfig
	certPath := fs.String("cert", "", "the device certificate (provision sign)")
	bridgeKey := fs.String("bridge-key", "", "the bridge's event-encryption public key (provision enc-key)")
	keyPath := fs.String("key-path", "/etc/dmpkiosk/device.key", "where the device key is on the device")
	out := fs.String("out", "", "bundle directory")
	fs.StringVar(&cfg.Broker.URL, "broker", "", "broker URL, ssl://host:port")
	fs.StringVar(&cfg.Context, "context", "admission", strings.Join(provisioning.Contexts, ", "))
	fs.StringVar(&cfg.Regime, "regime", event.RegimeCurrent, strings.Join(provisioning.Regimes, ", "))
	ca, err := parseOpen(fs, args, dir)
	if err != nil {
		return err
	}
	cert, err := provisioning.LoadCertificate(*certPath)
	if err != nil {
		return err
	}
	pub, err := os.ReadFile(*bridgeKey)
	if err != nil {
		return err
	}
	cfg.DeviceID = cert.Subject.CommonName
	if err := ca.WriteBundle(*out, cfg, cert, pub, *keyPath); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "bundle for %s in %s\n", cfg.DeviceID, *out)
	return nil
}

func runRevoke(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := cli.Flags("provision", "revoke", stderr)
	dir := caFlag(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: provision revoke [--ca DIR] ID", cli.ErrUsage)
	}
	ca, err := provisioning.OpenCA(*dir)
	if err != nil {
		return err
	}
	if err := ca.Revoke(fs.Arg(0)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s revoked; CRL: %s (the bridge reloads it; copy it to mosquitto's crlfile and restart it)\n", fs.Arg(0), ca.CRLPath())
	return nil
}

func runCRL(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := cli.Flags("provision", "crl", stderr)
	dir := caFlag(fs)
	ca, err := parseOpen(fs, args, dir)
	if err != nil {
		return err
	}
	if err := ca.RefreshCRL(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "CRL refreshed: %s\n", ca.CRLPath())
	return nil
}

func runList(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := cli.Flags("provision", "list", stderr)
	dir := caFlag(fs)
	ca, err := parseOpen(fs, args, dir)
	if err != nil {
		return err
	}
	for _, is := range ca.Issued() {
		state := "valid"
		if !is.Revoked.IsZero() {
			state = "revoked " + is.Revoked.Format("2006-01-02 15:04")
		}
		fmt.Fprintf(stdout, "%-20s %-7s until %s  %s  serial %s\n", is.ID, is.Role, is.NotAfter.Format("2006-01-02"), state, is.Serial)
	}
	return nil
}

func runPolicy(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := cli.Flags("provision", "policy", stderr)
	dir := caFlag(fs)
	out := fs.String("out", "mosquitto", "directory for mosquitto.conf and dynsec.json")
	bridges := fs.String("bridges", "", "comma-separated bridge ids")
	bind := fs.String("bind", "0.0.0.0", "listener address")
	port := fs.Int("port", 8883, "listener port")
	cert := fs.String("cert", "server.pem", "broker certificate (provision server)")
	key := fs.String("key", "server.key", "broker key")
	plugin := fs.String("dynsec-plugin", provisioning.DynsecPlugin(), "mosquitto's dynamic-security plugin on the broker's machine")
	ca, err := parseOpen(fs, args, dir)
	if err != nil {
		return err
	}
	var ids []string
	if *bridges != "" {
		ids = strings.Split(*bridges, ",")
	}
	kiosks := provisioning.EnrolledKiosks(ca.Issued())
	dynsec, err := provisioning.MosquittoDynsec(kiosks, ids)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	conf := provisioning.MosquittoConfig{Bind: *bind, Port: *port, CAFile: abs(ca.CertPath()), CertFile: abs(*cert), KeyFile: abs(*key),
		CRLFile: abs(ca.CRLPath()), DynsecPlugin: *plugin, DynsecFile: abs(filepath.Join(*out, "dynsec.json"))}
	if err := os.WriteFile(filepath.Join(*out, "dynsec.json"), dynsec, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, "mosquitto.conf"), []byte(conf.String()), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "mosquitto listener and policy in %s (%d kiosks, %d bridges)\n", *out, len(kiosks), len(ids))
	// The plugin reads its file when mosquitto starts, not on SIGHUP.
	fmt.Fprintln(stdout, "restart mosquitto to apply it (kiosks keep their events meanwhile)")
	return nil
}

func runServer(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := cli.Flags("provision", "server", stderr)
	dir := caFlag(fs)
	name := fs.String("name", "localhost", "server DNS name")
	ip := fs.String("ip", "127.0.0.1", "server IP address (empty for none)")
	out := fs.String("out", ".", "directory for server.pem and server.key")
	ca, err := parseOpen(fs, args, dir)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	var ips []net.IP
	if *ip != "" {
		ips = append(ips, net.ParseIP(*ip))
	}
	cert, err := ca.IssueServer(key.Public(), *name, []string{*name}, ips)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, "server.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	if err := provisioning.WriteCertificate(filepath.Join(*out, "server.pem"), cert); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "server certificate for %s in %s\n", *name, *out)
	return nil
}

func runEncKey(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := cli.Flags("provision", "enc-key", stderr)
	out := fs.String("out", ".", "directory for bridge-enc.key and bridge-enc.pub.pem")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return err
	}
	if _, err := provisioning.NewEncryptionKey(*out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "bridge event-encryption key pair in %s (give bridge-enc.pub.pem to provision bundle)\n", *out)
	return nil
}
