package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"dmpkiosk/hwtest"
	"dmpkiosk/provisioning"
)

var bins = map[string]string{}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "provision-bins-")
	if err != nil {
		panic(err)
	}
	for _, name := range []string{"provision", "kiosk", "bridge"} {
		bins[name] = filepath.Join(dir, name)
		if out, err := exec.Command("go", "build", "-o", bins[name], "dmpkiosk/cmd/"+name).CombinedOutput(); err != nil {
			os.Stderr.Write(out)
			panic(err)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func run(t *testing.T, env []string, name string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bins[name], args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return out.String(), cmd.ProcessState.ExitCode()
}

func must(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, code := run(t, nil, name, args...)
	if code != 0 {
		t.Fatalf("%s %s: exit %d\n%s", name, strings.Join(args, " "), code, out)
	}
	return out
}

func TestProvisioningFlow(t *testing.T) {
	tmp := t.TempDir()
	ca, dev, br, bundle, mq := filepath.Join(tmp, "pki"), filepath.Join(tmp, "device"), filepath.Join(tmp, "bridge"), filepath.Join(tmp, "bundle"), filepath.Join(tmp, "mosquitto")
	must(t, "provision", "init", "--ca", ca)
	must(t, "kiosk", "enroll", "--id", "kiosk-1", "--dir", dev)
	if st, err := os.Stat(filepath.Join(dev, "device.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("device key: %v %v", st, err)
	}
	// A request signed for kiosk-1 cannot become kiosk-2's certificate.
	if out, code := run(t, nil, "provision", "sign", "--ca", ca, "--id", "kiosk-2", "--site", "750712184", "--unit", "ACCUEIL", "--csr", filepath.Join(dev, "device.csr")); code != 1 || !strings.Contains(out, "refused") {
		t.Fatalf("forged name: exit %d\n%s", code, out)
	}
	if out, code := run(t, nil, "provision", "sign", "--ca", ca, "--id", "kiosk-1", "--csr", filepath.Join(dev, "device.csr")); code != 1 || !strings.Contains(out, "FINESS") {
		t.Fatalf("a kiosk without its site: exit %d\n%s", code, out)
	}
	must(t, "provision", "sign", "--ca", ca, "--id", "kiosk-1", "--site", "750712184", "--unit", "URGENCES", "--csr", filepath.Join(dev, "device.csr"))
	must(t, "bridge", "enroll", "--id", "bridge-1", "--dir", br)
	must(t, "provision", "sign", "--ca", ca, "--id", "bridge-1", "--role", "bridge", "--csr", filepath.Join(br, "bridge.csr"))
	must(t, "provision", "enc-key", "--out", br)
	must(t, "provision", "bundle", "--ca", ca, "--cert", filepath.Join(dev, "device.pem"), "--bridge-key", filepath.Join(br, "bridge-enc.pub.pem"),
		"--broker", "ssl://broker.chu.example:8883", "--context", "admission", "--regime", "legacy", "--out", bundle)
	var cfg provisioning.DeviceConfig
	if _, err := toml.DecodeFile(filepath.Join(bundle, "kiosk.toml"), &cfg); err != nil {
		t.Fatal(err)
	}
	// The site and unit are the certificate's.
	if cfg.DeviceID != "kiosk-1" || cfg.Site != "750712184" || cfg.Unit != "URGENCES" || cfg.Regime != "legacy" || cfg.Broker.URL != "ssl://broker.chu.example:8883" || cfg.BridgeKey != "bridge-enc.pub.pem" {
		t.Fatalf("bundle config %+v", cfg)
	}
	for _, f := range []string{"ca.pem", "device.pem", "bridge-enc.pub.pem"} {
		if _, err := os.Stat(filepath.Join(bundle, f)); err != nil {
			t.Fatal(err)
		}
	}
	if out, code := run(t, nil, "provision", "bundle", "--ca", ca, "--cert", filepath.Join(dev, "device.pem"), "--bridge-key", filepath.Join(br, "bridge-enc.pub.pem"),
		"--broker", "tcp://broker:1883", "--out", filepath.Join(tmp, "b2")); code != 1 || !strings.Contains(out, "TLS") {
		t.Fatalf("a bundle without TLS: exit %d\n%s", code, out)
	}
	must(t, "provision", "policy", "--ca", ca, "--bridges", "bridge-1", "--out", mq)
	dynsec, _ := os.ReadFile(filepath.Join(mq, "dynsec.json"))
	conf, _ := os.ReadFile(filepath.Join(mq, "mosquitto.conf"))
	var policy provisioning.Dynsec
	if err := json.Unmarshal(dynsec, &policy); err != nil {
		t.Fatal(err)
	}
	var clients []string
	for _, c := range policy.Clients {
		clients = append(clients, c.Username)
	}
	// The enrolled kiosk is known to the broker, as is the bridge.
	if !slices.Equal(clients, []string{"kiosk-1", "bridge-1"}) || !strings.Contains(string(conf), "use_username_as_clientid true") ||
		!strings.Contains(string(conf), "crlfile") || !strings.Contains(string(conf), "plugin_opt_config_file "+filepath.Join(mq, "dynsec.json")) {
		t.Fatalf("policy:\n%s\n%s", dynsec, conf)
	}

	// Revocation reaches the CRL.
	must(t, "provision", "revoke", "--ca", ca, "kiosk-1")
	cert, err := provisioning.LoadCertificate(filepath.Join(dev, "device.pem"))
	if err != nil {
		t.Fatal(err)
	}
	crlPEM, _ := os.ReadFile(filepath.Join(ca, "crl.pem"))
	blk, _ := pem.Decode(crlPEM)
	crl, err := x509.ParseRevocationList(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range crl.RevokedCertificateEntries {
		found = found || e.SerialNumber.Cmp(cert.SerialNumber) == 0
	}
	if !found {
		t.Fatal("the revoked certificate is not in the CRL")
	}
	if out := must(t, "provision", "list", "--ca", ca); !strings.Contains(out, "revoked") || !strings.Contains(out, "bridge-1") {
		t.Fatalf("list:\n%s", out)
	}
}

// A kiosk whose key lives on a PKCS#11 token (SoftHSM here, a TPM or secure
// element on the appliance) enrolls without a key file.
func TestEnrollOnToken(t *testing.T) {
	tk := hwtest.NewSoftHSM(t, "kiosk")
	tmp := t.TempDir()
	ca, dev := filepath.Join(tmp, "pki"), filepath.Join(tmp, "device")
	must(t, "provision", "init", "--ca", ca)
	args := []string{"enroll", "--id", "kiosk-7", "--dir", dev, "--pkcs11-module", tk.Module, "--pkcs11-token", tk.Label}
	if out, code := run(t, nil, "kiosk", args...); code != 2 || !strings.Contains(out, "PKCS11_PIN") {
		t.Fatalf("no PIN in the environment: exit %d\n%s", code, out)
	}
	if out, code := run(t, []string{"PKCS11_PIN=" + tk.PIN}, "kiosk", args...); code != 0 {
		t.Fatalf("enroll on the token: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dev, "device.key")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a key file was written although the key is on the token")
	}
	must(t, "provision", "sign", "--ca", ca, "--id", "kiosk-7", "--site", "750712184", "--unit", "ACCUEIL", "--csr", filepath.Join(dev, "device.csr"))
	// The certificate's key is the token's.
	cert, err := provisioning.LoadCertificate(filepath.Join(dev, "device.pem"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := tk.Ctx.FindKeyPair(nil, []byte("kiosk-7"))
	if err != nil || signer == nil {
		t.Fatalf("key on the token: %v", err)
	}
	if pub, ok := signer.Public().(*ecdsa.PublicKey); !ok || !pub.Equal(cert.PublicKey) {
		t.Fatal("the certificate does not hold the token's key")
	}
}
