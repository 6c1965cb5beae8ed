package hwtest

import (
	"crypto"
	"crypto/elliptic"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ThalesGroup/crypto11"
)

// SoftHSMModule is where Debian's softhsm2 installs its PKCS#11 module.
const SoftHSMModule = "/usr/lib/softhsm/libsofthsm2.so"

// Token is a SoftHSM token created for one test in a private directory, open
// through PKCS#11 as the production code opens a real HSM or smart card.
type Token struct {
	Label  string
	PIN    string
	Module string
	Conf   string // the SOFTHSM2_CONF file naming the private token directory
	Ctx    *crypto11.Context
}

// NewSoftHSM initialises a fresh token and logs in to it. SOFTHSM2_CONF is set
// for the test, so tests that use it cannot run in parallel with each other.
func NewSoftHSM(t testing.TB, label string) *Token {
	t.Helper()
	util := LookPath(t, "softhsm2-util", "softhsm2")
	if _, err := os.Stat(SoftHSMModule); err != nil {
		Missing(t, "the SoftHSM PKCS#11 module", "softhsm2")
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tk := &Token{Label: label, PIN: "1234", Module: SoftHSMModule, Conf: conf}
	t.Setenv("SOFTHSM2_CONF", conf)
	out, err := exec.Command(util, "--init-token", "--free", "--label", label, "--pin", tk.PIN, "--so-pin", "5678").CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	tk.Ctx, err = crypto11.Configure(&crypto11.Config{Path: tk.Module, TokenLabel: label, Pin: tk.PIN})
	if err != nil {
		t.Fatalf("opening SoftHSM token %q through PKCS#11: %v", label, err)
	}
	t.Cleanup(func() { _ = tk.Ctx.Close() })
	return tk
}

// ECDSASigner generates a P-256 key pair on the token and returns its private
// half as a crypto.Signer; the key never leaves the token.
func (tk *Token) ECDSASigner(t testing.TB, id string) crypto.Signer {
	t.Helper()
	s, err := tk.Ctx.GenerateECDSAKeyPairWithLabel([]byte(id), []byte(id), elliptic.P256())
	if err != nil {
		t.Fatalf("generating an ECDSA key on the token: %v", err)
	}
	return s
}

// RSASigner generates an RSA key pair on the token.
func (tk *Token) RSASigner(t testing.TB, id string, bits int) crypto.Signer {
	t.Helper()
	s, err := tk.Ctx.GenerateRSAKeyPairWithLabel([]byte(id), []byte(id), bits)
	if err != nil {
		t.Fatalf("generating an RSA key on the token: %v", err)
	}
	return s
}
