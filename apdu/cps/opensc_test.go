//go:build cgo

package cps_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"dmpkiosk/apdu/cps"
	"dmpkiosk/apdu/pcsc"
	"dmpkiosk/hwtest"
	"dmpkiosk/hwtest/cards"
)

// OpenSC (Debian's 0.23, written with real CPx cards) is the independent
// judge of the virtual CPS3: through real pcscd and vpcd it must recognise
// the card, list its PIN, keys and certificates as a real CPS3v3 shows
// them, log in and sign with CPS_PRIV_AUT. What it lists is also compared
// with what the kiosk's reader took from the same card.
func TestOpenSCReadsTheVirtualCPS3(t *testing.T) {
	tool := hwtest.LookPath(t, "pkcs15-tool", "opensc")
	p11tool := hwtest.LookPath(t, "pkcs11-tool", "opensc")
	module := "/usr/lib/" + map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH] + "-linux-gnu/opensc-pkcs11.so"
	if _, err := os.Stat(module); err != nil {
		hwtest.Missing(t, module, "opensc-pkcs11")
	}
	d := hwtest.StartPCSCD(t)
	ctx := context.Background()
	p := profile(t, "cps-medecin")
	vc, err := testCA(t).CPSCard(p)
	if err != nil {
		t.Fatal(err)
	}
	in, err := cards.Insert(ctx, hwtest.SlotAddr(0), vc)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Remove()
	if err := d.WaitCard(ctx, 0, true); err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) (string, error) {
		out, err := exec.Command(name, args...).CombinedOutput()
		return string(out), err
	}

	name, err := run("opensc-tool", "-r", "0", "-n")
	if err != nil || strings.TrimSpace(name) != "IAS-ECC" {
		t.Fatalf("opensc-tool -n: %q %v", name, err)
	}
	dump, err := run(tool, "-r", "0", "-D")
	if err != nil {
		t.Fatalf("pkcs15-tool -D: %v\n%s", err, dump)
	}
	// As a real CPS3v3 shows itself to OpenSC (OpenSC issue #2267).
	for _, want := range []string{
		"PKCS#15 Card [CPS3v3-" + p.Serial + "]", "Manufacturer ID: ASIP SANTE",
		"Private RSA Key [CPS_PRIV_SIG]", "Usage          : [0x200], nonRepudiation", "Access Rules   : pso_cds:01;",
		"Key ref        : 129 (0x81)", "Path           : e828bd080f8025000001ff0010::", "ID             : e828bd080f8025000001ff001001",
		"Private RSA Key [CPS_PRIV_AUT]", "Usage          : [0x06], decrypt, sign", "Access Rules   : pso_decrypt:01; int_auth:01;",
		"Key ref        : 130 (0x82)", "ID             : e828bd080f8025000001ff001002",
		"ModLength      : 2048",
		"Reference      : 1 (0x01)", "Type           : ascii-numeric",
		"Data object 'CPS_ID_CARD'", "Data object 'CPS_NAME_PS'", "Data object 'CPS_INFO_PS'", "Data object 'CPS_ACTIVITY_01_PS'",
	} {
		if !strings.Contains(dump, want) {
			t.Errorf("pkcs15-tool -D lacks %q", want)
		}
	}
	pins, err := run(tool, "-r", "0", "--list-pins")
	if err != nil || !strings.Contains(pins, "Length         : min_len:4, max_len:8, stored_len:8") || !strings.Contains(pins, "Pad char       : 0xFF") {
		t.Errorf("pkcs15-tool --list-pins: %v\n%s", err, pins)
	}

	// The kiosk's reader, on the same card through the same pcscd, finds
	// what OpenSC found.
	pc, err := pcsc.Establish()
	if err != nil {
		t.Fatal(err)
	}
	k, err := pc.Connect(ctx, hwtest.Reader(0))
	if err != nil {
		t.Fatal(err)
	}
	c, err := cps.Open(k, k.ATR())
	if err != nil {
		t.Fatal(err)
	}
	desc, err := c.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	authCert, err := c.Certificate(ctx, false)
	k.Close()
	pc.Release()
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range desc.Keys {
		block := regexp.MustCompile(`(?s)Private RSA Key \[` + regexp.QuoteMeta(key.Label) + `\].*?\n\tID\s*:\s*([0-9a-f]+)`).FindStringSubmatch(dump)
		ref := fmt.Sprintf("Key ref        : %d (0x%x)", key.Reference, key.Reference)
		if block == nil || block[1] != key.ID || !strings.Contains(dump, ref) {
			t.Errorf("the reader's key %+v is not OpenSC's", key)
		}
	}
	if desc.PIN.Reference != 1 || !strings.Contains(dump, fmt.Sprintf("stored_len:%d", desc.PIN.StoredLen)) ||
		!strings.Contains(dump, fmt.Sprintf("Pad char       : 0x%02X", desc.PIN.PadChar)) {
		t.Errorf("the reader's PIN %+v is not OpenSC's", desc.PIN)
	}

	// Log in and sign with CPS_PRIV_AUT; the signature verifies against
	// the authentication certificate the kiosk's reader found.
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	digest := sha256.Sum256([]byte("connexion"))
	// CKM_RSA_PKCS over a SHA-256 DigestInfo: what INTERNAL AUTHENTICATE signs.
	digestInfo := append([]byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}, digest[:]...)
	if err := os.WriteFile(data, digestInfo, 0o600); err != nil {
		t.Fatal(err)
	}
	sigPath := filepath.Join(dir, "sig")
	out, err := run(p11tool, "--module", module, "--slot-index", "0", "--login", "--pin", p.PIN, "--sign",
		"--mechanism", "RSA-PKCS", "--id", "e828bd080f8025000001ff001002", "--input-file", data, "--output-file", sigPath)
	if err != nil {
		t.Fatalf("pkcs11-tool --sign with CPS_PRIV_AUT: %v\n%s", err, out)
	}
	sig, err := os.ReadFile(sigPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPKCS1v15(authCert.PublicKey.(*rsa.PublicKey), crypto.SHA256, digest[:], sig); err != nil {
		t.Fatalf("OpenSC's CPS_PRIV_AUT signature does not verify: %v", err)
	}

	// Expected failure: Debian's OpenSC cannot sign with CPS_PRIV_SIG (it
	// hashes on the card with PSO HASH and cannot compute the intermediate
	// state; OpenSC PR #2506). A future OpenSC that can sign is noticed here.
	if err := os.WriteFile(data, []byte("consentement"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = run(p11tool, "--module", module, "--slot-index", "0", "--login", "--pin", p.PIN, "--sign",
		"--mechanism", "SHA256-RSA-PKCS", "--id", "e828bd080f8025000001ff001001", "--input-file", data, "--output-file", sigPath)
	if err == nil {
		sig, _ := os.ReadFile(sigPath)
		t.Errorf("OpenSC now signs with CPS_PRIV_SIG (%s): make this a positive test of the signature key", hex.EncodeToString(sig[:min(8, len(sig))]))
	} else if !bytes.Contains([]byte(out), []byte("C_Sign")) {
		t.Errorf("OpenSC failed otherwise than in signing with CPS_PRIV_SIG:\n%s", out)
	}
	if vc.TriesLeft() != 3 {
		t.Errorf("OpenSC's logins used PIN tries: %d left", vc.TriesLeft())
	}
}
