package firmware

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const deviceTOML = `device_id = "kiosk-1"
site = "750712184"
unit = "ACCUEIL"
context = "admission"
regime = "current"
bridge_key = "bridge-enc.pub.pem"

[broker]
url = "ssl://localhost:8883"
`

func loadTOML(t *testing.T, top string, files map[string]string) (*Config, error) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755)
		os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644)
	}
	path := filepath.Join(dir, "kiosk.toml")
	os.WriteFile(path, []byte(top+"\n"+deviceTOML), 0o644)
	return LoadConfig(path)
}

// The information and the receipt when the file says nothing: the pages
// shown, in the built-in languages, no receipt; the establishment's
// catalogs and a printer as written; what cannot serve refused at start,
// saying which key.
func TestConfigInformationAndReceipt(t *testing.T) {
	c, err := loadTOML(t, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.InfoPages || len(c.Languages().Tags()) != 4 || c.Receipt.Printer != "" || c.Receipt.Paper != 80 {
		t.Fatalf("defaults: pages %v, %d languages, receipt %+v", c.InfoPages, len(c.Languages().Tags()), c.Receipt)
	}
	c, err = loadTOML(t, `info_catalogs = "lang"
receipt = { printer = "tcp:10.1.2.3:9100", paper = 58, code_page = 19, establishment = "CHU" }`,
		map[string]string{"lang/fr.json": `{"language":"fr","messages":[{"id":"establishment.title","translation":"Chez nous"},{"id":"establishment.body","translation":"Hall A."}]}`})
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Languages().Pages(c.Languages().Tags()[0]); len(p) != 6 || p[5].Title != "Chez nous" {
		t.Fatalf("the establishment's page: %+v", p)
	}
	for top, want := range map[string]string{
		`receipt = { printer = "lpt1" }`:                              "usb:/dev/usb/lp0",
		`receipt = { printer = "tcp:h:9100", paper = 76 }`:            "58 ou 80",
		`receipt = { printer = "usb:/dev/usb/lp0", code_page = 437 }`: "code_page",
		`info_catalogs = "absent"`:                                    "info_catalogs",
		`receipt = { printer = "page", colour = true }`:               "unknown key",
	} {
		if _, err := loadTOML(t, top, nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", top, err, want)
		}
	}
}
