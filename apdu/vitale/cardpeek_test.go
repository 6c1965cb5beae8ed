//go:build cgo

package vitale_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"dmpkiosk/apdu"
	"dmpkiosk/apdu/pcsc"
	"dmpkiosk/apdu/vitale"
	"dmpkiosk/hwtest"
	"dmpkiosk/hwtest/cards"
)

// cardpeek (Debian's 0.8.4, whose vitale_2.lua was written by dumping
// real cards) is the second reader of the virtual Vitale cards: through
// real pcscd it reads each profile in console mode and saves what it found;
// its beneficiaries, matched by position as the kiosk's reader matches
// them, must be the kiosk's, and the APDUs it sent must be the kiosk's.
func TestCardpeekReadsTheVirtualVitale(t *testing.T) {
	bin := hwtest.LookPath(t, "cardpeek", "cardpeek")
	home := t.TempDir()
	scripts := initCardpeek(t, bin, home)
	d := hwtest.StartPCSCD(t)
	ctx := context.Background()
	for _, p := range cards.VitaleProfiles {
		t.Run(p.Name, func(t *testing.T) {
			in, err := cards.Insert(ctx, hwtest.SlotAddr(0), cards.VitaleCard(p))
			if err != nil {
				t.Fatal(err)
			}
			defer func() { in.Remove(); _ = d.WaitCard(ctx, 0, false) }()
			if err := d.WaitCard(ctx, 0, true); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "card.xml")
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(cctx, bin, "-c", "-r", "pcsc://"+hwtest.Reader(0),
				"-e", fmt.Sprintf("dofile(%q); ui.save_view(%q); os.exit(0)", "vitale_2.lua", out))
			cmd.Dir, cmd.Env = scripts, append(os.Environ(), "HOME="+home)
			log, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("cardpeek: %v\n%s", err, tailOf(log))
			}
			raw, err := os.ReadFile(out)
			if err != nil {
				t.Fatalf("cardpeek saved nothing: %v\n%s", err, tailOf(log))
			}
			theirs := cardpeekBeneficiaries(t, raw)

			pc, err := pcsc.Establish()
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Release()
			k, err := pc.Connect(ctx, hwtest.Reader(0))
			if err != nil {
				t.Fatal(err)
			}
			defer k.Close()
			rec := &cards.Recorder{Next: k}
			ours, err := vitale.APDUReader{T: rec}.ReadVitale(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(theirs) != len(ours.Beneficiaries) {
				t.Fatalf("cardpeek found %d beneficiaries, the kiosk %d", len(theirs), len(ours.Beneficiaries))
			}
			for i, b := range ours.Beneficiaries {
				got := [4]string{b.Surname, b.FirstName, b.BirthDate, b.NIR}
				if got != theirs[i] {
					t.Errorf("beneficiary %d: the kiosk read %q, cardpeek %q", i, got, theirs[i])
				}
			}
			// The same APDUs, but for the directory cardpeek reads twice
			// (its POINTERS entry under VITALE): as multisets, since Lua's
			// pairs() visits the applications in no fixed order.
			sent := cardpeekAPDUs(log)
			mine := foldAPDUs(rec.Sent)
			dir := []string{"00A4020002200100", "00B0000000"}
			for _, a := range dir {
				if i := slices.Index(sent, a); i >= 0 {
					sent = slices.Delete(sent, i, i+1)
				}
			}
			slices.Sort(sent)
			slices.Sort(mine)
			if !slices.Equal(sent, mine) {
				t.Errorf("APDUs:\nkiosk    %q\ncardpeek %q", mine, sent)
			}
		})
	}
}

// initCardpeek has cardpeek create its ~/.cardpeek (scripts included) on a
// first run, which then waits at a prompt: it is stopped once the scripts
// are there.
func initCardpeek(t *testing.T, bin, home string) string {
	t.Helper()
	scripts := filepath.Join(home, ".cardpeek", "scripts")
	cmd := exec.Command(bin, "-c", "-e", "os.exit(0)")
	cmd.Env = append(os.Environ(), "HOME="+home)
	cmd.Stdin = strings.NewReader("1\n")
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(scripts, "vitale_2.lua")); err == nil {
			if _, err := os.Stat(filepath.Join(home, ".cardpeek", "version")); err == nil {
				time.Sleep(200 * time.Millisecond) // the archive's last files
				return scripts
			}
		}
	}
	t.Fatal("cardpeek did not create its scripts directory")
	return ""
}

type cpNode struct {
	Attrs []struct {
		Name  string `xml:"name,attr"`
		Value string `xml:",chardata"`
	} `xml:"attr"`
	Nodes []cpNode `xml:"node"`
}

func (n *cpNode) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name == name {
			return a.Value
		}
	}
	return ""
}

// bytes of a "val" attribute, written "8:<hex>".
func (n *cpNode) val(t *testing.T) []byte {
	v := n.attr("val")
	_, h, _ := strings.Cut(v, ":")
	b, err := hex.DecodeString(h)
	if err != nil {
		t.Fatalf("cardpeek value %q: %v", v, err)
	}
	return b
}

// cardpeekBeneficiaries takes, from cardpeek's saved tree, its 65
// templates with a name (80/81/82) and those with a NIR (93), each in the
// order of the applications' directory references then of the files, and
// matches them by position.
func cardpeekBeneficiaries(t *testing.T, raw []byte) [][4]string {
	t.Helper()
	var root struct {
		Nodes []cpNode `xml:"node"`
	}
	if err := xml.Unmarshal(bytes.Replace(raw, []byte(`type="UTF-8"`), []byte(`encoding="UTF-8"`), 1), &root); err != nil {
		t.Fatal(err)
	}
	apps := map[string][]*cpNode{}
	var walk func(n *cpNode, app string)
	walk = func(n *cpNode, app string) {
		if n.attr("classname") == "application" {
			app = n.attr("id")
		}
		if n.attr("classname") == "item" && n.attr("id") == "65" {
			apps[app] = append(apps[app], n)
			return
		}
		for i := range n.Nodes {
			walk(&n.Nodes[i], app)
		}
	}
	for i := range root.Nodes {
		walk(&root.Nodes[i], "")
	}
	var ids [][3]string
	var nirs []string
	for _, app := range []string{"#D2500000024D465F564954414C45", "#D250000002564954414C45"} {
		for _, n := range apps[app] {
			f := map[string]string{}
			for i := range n.Nodes {
				c := &n.Nodes[i]
				f[c.attr("id")] = strings.TrimSpace(apdu.Latin1(c.val(t)))
			}
			if nir, ok := f["93"]; ok {
				nirs = append(nirs, nir)
			}
			if f["80"] != "" || f["81"] != "" {
				ids = append(ids, [3]string{f["80"], f["81"], f["82"]})
			}
		}
	}
	out := make([][4]string, len(ids))
	for i, id := range ids {
		out[i] = [4]string{id[0], id[1], id[2], ""}
		if i < len(nirs) {
			out[i][3] = nirs[i]
		}
	}
	return out
}

var sendLine = regexp.MustCompile(`send: ([0-9A-F]+)(\(\.\.\.\))?`)

// cardpeekAPDUs are the commands cardpeek logged, without its GET
// RESPONSEs and its resends after 6C xx (kept as the first READ BINARY).
func cardpeekAPDUs(log []byte) []string {
	var out []string
	for _, m := range sendLine.FindAllSubmatch(log, -1) {
		out = append(out, cut16(string(m[1])))
	}
	return fold(out)
}

// cut16 keeps a command's first 16 bytes: cardpeek logs no more of a
// longer one.
func cut16(h string) string {
	if len(h) > 32 {
		return h[:32]
	}
	return h
}

// foldAPDUs writes the kiosk's commands as cardpeek logs them (hex, cut
// to 16 bytes) and folds them the same way.
func foldAPDUs(sent []string) []string {
	var out []string
	for _, a := range sent {
		out = append(out, cut16(strings.ReplaceAll(a, " ", "")))
	}
	return fold(out)
}

func fold(cmds []string) []string {
	var out []string
	for _, c := range cmds {
		switch {
		case strings.HasPrefix(c, "00C0"):
		case strings.HasPrefix(c, "00B0") && len(out) > 0 && out[len(out)-1][:8] == c[:8]:
		default:
			out = append(out, c)
		}
	}
	return out
}

func tailOf(b []byte) string {
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}
