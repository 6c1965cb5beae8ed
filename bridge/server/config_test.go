package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dmpkiosk/firmware/event"
)

const minimal = `id = "bridge-1"
broker = "ssl://localhost:8883"
kiosk_ca = "ca.pem"
crl = "crl.pem"
cert = "bridge.pem"
key = "bridge.key"
enc_key = "bridge-enc.key"
card_ca = ["igc.pem"]
`

const minimalDMP = `[dmp]
url = "https://localhost/si-dmp-server/v2/services/"
sign_cert = "s.pem"
auth_cert = "a.pem"
sign_key = "s"
auth_key = "a"
`

func load(t *testing.T, top, dmp string) (*Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bridge.toml")
	if err := os.WriteFile(path, []byte(minimal+top+minimalDMP+dmp), 0o600); err != nil {
		t.Fatal(err)
	}
	return LoadConfig(path)
}

func TestConfigRegimeAndLimits(t *testing.T) {
	c, err := load(t, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if c.DMP.Regime != event.RegimeCurrent || c.MaxEventBytes != 0 || c.KioskRate != 0 {
		t.Errorf("defaults: regime %q, max %d, rate %v", c.DMP.Regime, c.MaxEventBytes, c.KioskRate)
	}
	if c, err := load(t, "max_event_bytes = 32768\nkiosk_rate = 0.5\nkiosk_burst = 10\n", "regime = \"legacy\"\n"); err != nil ||
		c.DMP.Regime != event.RegimeLegacy || c.MaxEventBytes != 32768 || c.KioskRate != 0.5 || c.KioskBurst != 10 {
		t.Errorf("set: %+v, %v", c, err)
	}
	for name, cfg := range map[string][2]string{
		"regime":          {"", "regime = \"ancien\"\n"},
		"max_event_bytes": {"max_event_bytes = 1048576\n", ""},
	} {
		if _, err := load(t, cfg[0], cfg[1]); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// The documents' flow: its FINESS is needed with its listener, each
// sender with its address; they reach the wiring.
func TestConfigFeed(t *testing.T) {
	const feed = "[feed]\nlisten = \"127.0.0.1:0\"\nfiness = \"750712184\"\n[feed.rules]\ntypes = [\"11490-0\"]\ninvisible_units = [\"PSY\"]\n" +
		"[[feed.sender]]\napplication = \"RIS-Y\"\naddress = \"ris:2575\"\n"
	c, err := load(t, "", "\n"+feed)
	if err != nil {
		t.Fatal(err)
	}
	if f := c.feedConfig(nil); f == nil || f.FINESS != "750712184" || f.Senders["RIS-Y"] != "ris:2575" || f.SourceID == "" ||
		f.Rules.Types[0] != "11490-0" || f.Rules.InvisibleUnits[0] != "PSY" || f.MessageIdentity {
		t.Errorf("feed: %+v", f)
	}
	for name, bad := range map[string]string{
		"feed.finess":     "[feed]\nlisten = \"127.0.0.1:0\"\n",
		"feed.sender":     "[feed]\nlisten = \"127.0.0.1:0\"\nfiness = \"750712184\"\n[[feed.sender]]\napplication = \"RIS-Y\"\n",
		"feed.rules":      "[feed]\nlisten = \"127.0.0.1:0\"\nfiness = \"750712184\"\n[feed.rules]\nunits = [\"A\"]\nexclude_units = [\"A\"]\n",
		"feed.identities": "[feed]\nidentities = \"trust\"\n",
	} {
		if _, err := load(t, "", "\n"+bad); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if c, _ := load(t, "", ""); c.feedConfig(nil) != nil {
		t.Error("a feed without its listener")
	}
}
