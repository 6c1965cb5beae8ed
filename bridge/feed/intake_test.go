package feed

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"dmpkiosk/bridge/hl7"
	"dmpkiosk/bridge/journal"
	"dmpkiosk/bridge/journal/journaltest"
	"dmpkiosk/hwtest"
)

// published reads one of ANS's example messages as published, its
// segments ended by CR as a sender writes them (the files end them by LF).
func published(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.ReplaceAll(bytes.TrimRight(b, "\n"), []byte("\n"), []byte("\r"))
}

// official is one of ANS's example messages with the two known defects
// of its CDA corrected (testdata/SOURCES.md: no setId, a patient's family
// name of qualifier SP, which the structuration-minimale rules refuse):
// a setId added, the SP name taken out; nothing else changed.
func official(t testing.TB, name string) []byte {
	t.Helper()
	m := published(t, name)
	var cda []byte
	edit(m, "OBX", func(f []string) []string {
		if f[2] == "ED" && strings.Contains(f[5], "^Base64^") && !strings.Contains(f[3], "MetaDMPMSS") {
			cda, _ = base64.StdEncoding.DecodeString(f[5][strings.LastIndex(f[5], "^")+1:])
		}
		return f
	})
	if cda == nil {
		return m
	}
	fixed := strings.Replace(string(cda), "<versionNumber", `<setId root="1.2.250.1.71.4.2.2.120456789.1"/><versionNumber`, 1)
	fixed = regexp.MustCompile(`<family qualifier="SP">PAT-TROIS</family>\s*`).ReplaceAllString(fixed, "")
	return withCDA(m, []byte(fixed))
}

// edit rewrites the segments of msg that start with seg through f.
func edit(msg []byte, seg string, f func(fields []string) []string) []byte {
	lines := strings.Split(string(msg), "\r")
	for i, l := range lines {
		if strings.HasPrefix(l, seg+"|") {
			lines[i] = strings.Join(f(strings.Split(l, "|")), "|")
		}
	}
	return []byte(strings.Join(lines, "\r"))
}

// set sets field n of the first segment seg (MSH counted as HL7 does).
func set(msg []byte, seg string, n int, v string) []byte {
	done := false
	return edit(msg, seg, func(f []string) []string {
		if done {
			return f
		}
		done = true
		if seg == "MSH" {
			n--
		}
		for len(f) <= n {
			f = append(f, "")
		}
		f[n] = v
		return f
	})
}

// withCDA puts cda, base64, in the document's OBX.
func withCDA(msg, cda []byte) []byte {
	return edit(msg, "OBX", func(f []string) []string {
		if f[2] == "ED" && strings.Contains(f[5], "^Base64^") && !strings.Contains(f[3], "MetaDMPMSS") {
			f[5] = "^text^XML^Base64^" + base64.StdEncoding.EncodeToString(cda)
		}
		return f
	})
}

func drop(msg []byte, seg, prefix string) []byte {
	var out []string
	for _, l := range strings.Split(string(msg), "\r") {
		if !strings.HasPrefix(l, seg+"|"+prefix) {
			out = append(out, l)
		}
	}
	return []byte(strings.Join(out, "\r"))
}

// ackOf reads an acknowledgement: MSA-1, MSA-2, ERR-3.1, ERR-5.1.
func ackOf(t *testing.T, b []byte) (code, control, errCode, app string) {
	t.Helper()
	m, err := hl7.Parse(b)
	if err != nil {
		t.Fatalf("acknowledgement unreadable: %v\n%q", err, b)
	}
	msa, _ := m.Seg("MSA", 0)
	e, _ := m.Seg("ERR", 0)
	return msa.Get(1, 1), msa.Get(2, 1), e.Get(3, 1), e.Get(5, 1)
}

// ANS's first sending and its replacement are kept as they came, and
// acknowledged AA once kept; a message sent again is acknowledged again
// and kept once; T04 and ORU^R01 (built from the same message) are read
// as the profile says.
func TestIntakeOfficialMessages(t *testing.T) {
	j := journaltest.OpenSQLite(t)
	in := &Intake{Journal: j}
	ctx := context.Background()
	t02 := official(t, "MDM_T02_INIT_N1.er7")
	if code, control, e, _ := ackOf(t, in.Handle(ctx, t02)); code != "AA" || control != "015" || e != "" {
		t.Fatalf("T02: %s %s %s", code, control, e)
	}
	d, err := j.Document(ctx, "RIS-Y/Organisation-Y/015")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := hl7.Parse(t02)
	s, _ := Parse(m)
	if d.Kind != "T02" || d.UniqueID != "1.2.250.1.71.4.2.2.120456789.71024000081" || d.INS != "279035121518989" ||
		d.INSOID != "1.2.250.1.213.1.4.10" || d.TypeCode != "18748-4" || d.Unit != "UFNEPH" || d.Sender != "801234564895" ||
		!bytes.Equal(d.CDA, s.CDA) || !bytes.HasPrefix(d.CDA, []byte("<ClinicalDocument")) {
		t.Fatalf("kept: %+v (%d bytes)", d, len(d.CDA))
	}
	for _, want := range []string{`"INVISIBLE_PATIENT":true`, `"MASQUE_PS":false`, `"DESTDMP":true`, `"ID":"300017985"`, `"IPP":""`, `"Class":"I"`} {
		if !strings.Contains(string(d.Meta), want) {
			t.Errorf("meta %s lacks %s", d.Meta, want)
		}
	}
	// Sent again (no acknowledgement came back): AA, kept once.
	if code, _, _, _ := ackOf(t, in.Handle(ctx, t02)); code != "AA" {
		t.Fatalf("T02 again: %s", code)
	}
	if l, _ := j.DocumentList(ctx, "", 10); len(l) != 1 {
		t.Fatalf("kept %d times", len(l))
	}
	// ANS's replacement reuses its original's control id (015): another
	// document under a control id kept is refused, not taken as sent again.
	if code, _, e, _ := ackOf(t, in.Handle(ctx, official(t, "MDM_T10_RPLC_N1.er7"))); code != "AE" || e != codeApplication {
		t.Fatalf("T10 under T02's control id: %s %s", code, e)
	}
	// The replacement alone; its acknowledgement as ANS's example writes
	// it: every field of MSH and MSA but the time and the control id the
	// same (MSH-3, the acknowledging application, is the bridge's name).
	ack := (&Intake{Journal: journaltest.OpenSQLite(t)}).Handle(ctx, official(t, "MDM_T10_RPLC_N1.er7"))
	if code, _, e, _ := ackOf(t, ack); code != "AA" {
		t.Fatalf("T10: %s %s", code, e)
	}
	ours, _ := hl7.Parse(ack)
	theirs, _ := hl7.Parse(official(t, "ACK_T10.er7"))
	for _, seg := range []string{"MSH", "MSA"} {
		o, _ := ours.Seg(seg, 0)
		e, _ := theirs.Seg(seg, 0)
		for f := 1; f < max(len(o.Fields), len(e.Fields)); f++ {
			if seg == "MSH" && (f == 3 || f == 7 || f == 10) {
				continue
			}
			if o.Field(f) != e.Field(f) {
				t.Errorf("%s-%d: %q, ANS's example %q", seg, f, o.Field(f), e.Field(f))
			}
		}
	}
	t10 := set(official(t, "MDM_T10_RPLC_N1.er7"), "MSH", 10, "016")
	if code, _, e, _ := ackOf(t, in.Handle(ctx, t10)); code != "AA" {
		t.Fatalf("T10 under its own control id: %s %s", code, e)
	}
	if d, _ := j.Document(ctx, "RIS-Y/Organisation-Y/016"); d.Kind != "T10" || d.Replaces != "1.2.250.1.71.4.2.2.120456789.71024000081" ||
		d.UniqueID != "1.2.250.1.71.4.2.2.120456789.71024000082" {
		t.Fatalf("T10 kept: %+v", d)
	}
	// The deletion, and the same document as ORU^R01 (no TXA: its id is
	// the CDA's).
	t04 := set(set(set(t02, "MSH", 9, "MDM^T04^MDM_T02"), "MSH", 10, "017"), "OBX", 11, "D")
	if code, _, e, _ := ackOf(t, in.Handle(ctx, t04)); code != "AA" {
		t.Fatalf("T04: %s %s", code, e)
	}
	oru := drop(set(set(set(t02, "MSH", 9, "ORU^R01^ORU_R01"), "MSH", 10, "018"), "MSH", 12, "2.5"), "TXA", "")
	ack = in.Handle(ctx, oru)
	if code, _, e, _ := ackOf(t, ack); code != "AA" || !strings.Contains(string(ack), "ACK^R01^ACK") || !strings.Contains(string(ack), "|2.5|") {
		t.Fatalf("ORU: %s %s\n%q", code, e, ack)
	}
	if d, _ := j.Document(ctx, "RIS-Y/Organisation-Y/018"); d.Kind != "R01/F" || d.UniqueID != "1.2.250.1.71.4.2.2.120456789.71024000081" {
		t.Fatalf("ORU kept: %+v", d)
	}
}

// Every message that cannot be taken gets AE or AR with the code that
// says why (HL7 table 0357, and the receiver's 903 for a CDA without an
// INS), and nothing is kept.
func TestIntakeRefusals(t *testing.T) {
	t02 := official(t, "MDM_T02_INIT_N1.er7")
	m, _ := hl7.Parse(t02)
	s, _ := Parse(m)
	cda := s.CDA
	noINS := regexp.MustCompile(`<id extension="279035121518989" root="1.2.250.1.213.1.4.10"></id>`).ReplaceAll(cda, []byte(`<id extension="6270289770738693" root="2.25.308558515749272265601084678280819623195.3.2.1"/>`))
	withExt := bytes.Replace(cda, []byte(`<id root="1.2.250.1.71.4.2.2.120456789.71024000081"></id>`),
		[]byte(`<id root="1.2.250.1.71.4.2.2.120456789" extension="71024000081"></id>`), 1)
	invalid := bytes.Replace(cda, []byte("<title>"), []byte("<inconnu/><title>"), 1)
	if bytes.Equal(noINS, cda) || bytes.Equal(withExt, cda) || bytes.Equal(invalid, cda) {
		t.Fatal("the variants did not change the CDA")
	}
	for _, c := range []struct {
		name           string
		msg            []byte
		ack, code, app string
	}{
		{"garbage", []byte("hello\r"), "AR", "100", ""},
		{"an admission", set(t02, "MSH", 9, "ADT^A01^ADT_A01"), "AR", codeMessageType, ""},
		{"an unknown event", set(t02, "MSH", 9, "MDM^T99^MDM_T02"), "AR", codeEvent, ""},
		{"HL7 2.3", set(t02, "MSH", 12, "2.3"), "AR", codeVersion, ""},
		{"no control id", set(t02, "MSH", 10, ""), "AE", codeMissing, ""},
		{"no document", drop(t02, "OBX", "1|ED|18748-4"), "AE", codeMissing, ""},
		{"not base64", edit(t02, "OBX", func(f []string) []string {
			if f[1] == "1" {
				f[5] = "^text^XML^Base64^@@@not base64@@@"
			}
			return f
		}), "AE", codeDataType, ""},
		{"not encoded in base64", set(t02, "OBX", 5, "^text^XML^A^PENs"), "AE", codeDataType, ""},
		{"not XML", withCDA(t02, []byte("%PDF-1.4 not a CDA")), "AE", codeApplication, ""},
		{"XML but not a CDA", withCDA(t02, []byte(`<html xmlns="http://www.w3.org/1999/xhtml"/>`)), "AE", codeApplication, ""},
		{"a CDA without an INS", withCDA(t02, noINS), "AE", codeApplication, "903"},
		{"a CDA the schema refuses", withCDA(t02, invalid), "AE", codeApplication, ""},
		{"another patient's INS in PID-3", edit(t02, "PID", func(f []string) []string {
			f[3] = strings.Replace(f[3], "279035121518989", "180026912304527", 1)
			return f
		}), "AE", codeApplication, "904"},
		{"an id with an extension", withCDA(set(t02, "TXA", 12, ""), withExt), "AE", codeApplication, ""},
		{"TXA-12 another document's", set(t02, "TXA", 12, "1.2.3.4"), "AE", codeApplication, ""},
		{"no sender", drop(t02, "PRT", "|UC||SB"), "AE", codeMissing, ""},
		{"a flag neither Y nor N", edit(t02, "OBX", func(f []string) []string {
			if strings.HasPrefix(f[3], "DESTDMP^") {
				f[5] = "O^^expandedYes-NoIndicator"
			}
			return f
		}), "AE", codeTable, ""},
		{"a T02 whose status is deleted", set(t02, "OBX", 11, "D"), "AE", codeTable, ""},
		{"a T10 without the replaced id", set(set(official(t, "MDM_T10_RPLC_N1.er7"), "TXA", 13, ""), "MSH", 10, "99"), "AE", codeMissing, ""},
	} {
		j := journaltest.OpenSQLite(t)
		b := (&Intake{Journal: j}).Handle(context.Background(), c.msg)
		code, _, e, app := ackOf(t, b)
		if code != c.ack || e != c.code || app != c.app {
			t.Errorf("%s: %s %s %s, want %s %s %s\n%q", c.name, code, e, app, c.ack, c.code, c.app, b)
		}
		if l, _ := j.DocumentList(context.Background(), "", 10); len(l) != 0 {
			t.Errorf("%s: kept", c.name)
		}
		if e != "" && !strings.Contains(string(b), "|E|") {
			t.Errorf("%s: ERR without its severity: %q", c.name, b)
		}
	}
}

// failingStore fails as a full disk does.
type failingStore struct{}

func (failingStore) KeepDocument(context.Context, journal.Document) (bool, error) {
	return false, errors.New("disk I/O error: no space left on device")
}

func (failingStore) Document(context.Context, string) (journal.Document, error) {
	return journal.Document{}, journal.ErrUnknown
}

// A journal that cannot keep the document: AE, so that the sender sends
// it again; never AA.
func TestIntakeJournalFails(t *testing.T) {
	b := (&Intake{Journal: failingStore{}}).Handle(context.Background(), official(t, "MDM_T02_INIT_N1.er7"))
	if code, _, e, _ := ackOf(t, b); code != "AE" || e != codeApplication || strings.Contains(string(b), "no space") {
		t.Fatalf("%s %s\n%q", code, e, b)
	}
}

// Over MLLP, in ISO 8859-15 as well as UTF-8: the acknowledgement comes
// back framed, in the message's character set, and Debian's python3-hl7,
// an independent parser, reads it.
func TestIntakeOverMLLP(t *testing.T) {
	j := journaltest.OpenSQLite(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go (&Intake{Journal: j, Name: "DMPKIOSK"}).Serve(ctx, l)
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	exchange := func(msg []byte) []byte {
		t.Helper()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if err := hl7.WriteFrame(c, msg); err != nil {
			t.Fatal(err)
		}
		ack, err := hl7.ReadFrame(r, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		return ack
	}
	t02 := official(t, "MDM_T02_INIT_N1.er7")
	ack := exchange(t02)
	if code, control, _, _ := ackOf(t, ack); code != "AA" || control != "015" {
		t.Fatalf("%q", ack)
	}
	// ISO 8859-15: "Masqué" written in Latin-9, a refusal's text
	// ("évènement") back in it.
	latin := set(set(t02, "MSH", 18, "8859/15"), "MSH", 10, "L1")
	latin = bytes.ReplaceAll(latin, []byte("Masqué"), []byte("Masqu\xe9"))
	latin = set(latin, "MSH", 9, "MDM^T99^MDM_T02")
	lack := exchange(latin)
	if !bytes.Contains(lack, []byte("|8859/15")) || !bytes.Contains(lack, []byte("|AR|L1")) {
		t.Fatalf("latin acknowledgement %q", lack)
	}
	if !bytes.Contains(lack, []byte("\xe9")) || bytes.Contains(lack, []byte("é")) {
		t.Errorf("the acknowledgement is not in ISO 8859-15: %q", lack)
	}

	python := hwtest.LookPath(t, "/usr/bin/python3", "python3-hl7")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ack.er7"), ack, 0o644)
	refused := (&Intake{Journal: j}).Handle(ctx, set(t02, "MSH", 9, "MDM^T99^MDM_T02"))
	os.WriteFile(filepath.Join(dir, "refused.er7"), refused, 0o644)
	script := `
import hl7, sys
a = hl7.parse(open(sys.argv[1], encoding="utf-8", newline="").read())
r = hl7.parse(open(sys.argv[2], encoding="utf-8", newline="").read())
print(a["MSH.F9.R1.C1"], a["MSH.F9.R1.C2"], a["MSH.F5"], a["MSH.F12"], a["MSA.F1"], a["MSA.F2"],
      r["MSA.F1"], r["ERR.F2.R1.C1"], r["ERR.F3.R1.C1"], r["ERR.F3.R1.C3"], r["ERR.F4"])
`
	out, err := exec.Command(python, "-c", script, filepath.Join(dir, "ack.er7"), filepath.Join(dir, "refused.er7")).CombinedOutput()
	if err != nil {
		t.Fatalf("python3-hl7: %v\n%s", err, out)
	}
	if got, want := strings.TrimSpace(string(out)), "ACK T02 RIS-Y 2.6 AA 015 AR MSH 201 HL70357 E"; got != want {
		t.Errorf("python3-hl7 reads\n%s\nwant\n%s", got, want)
	}
}

// ANS's example message as published carries a CDA that breaks two
// structuration-minimale rules (its SOURCES.md): it is refused AE, the
// rules named for the sender's team, and nothing is kept.
func TestIntakeNamesTheStructureRules(t *testing.T) {
	j := journaltest.OpenSQLite(t)
	in := &Intake{Journal: j}
	ctx := context.Background()
	ack := in.Handle(ctx, published(t, "MDM_T02_INIT_N1.er7"))
	code, _, e, _ := ackOf(t, ack)
	if code != "AE" || e != "207" || !strings.Contains(string(ack), "SM-SETID (setId absent)") || !strings.Contains(string(ack), "SM-FAMILY-QUALIFIER") {
		t.Fatalf("%s %s\n%q", code, e, ack)
	}
	if _, err := j.Document(ctx, "RIS-Y/Organisation-Y/015"); err == nil {
		t.Fatal("a refused document was kept")
	}
}

// With the establishment's identities checked, a document for a patient
// the establishment holds no qualified identity of is refused 902 and not
// kept; once its GAM told of her with her INS qualified, it is taken.
func TestIntakeKnownIdentities(t *testing.T) {
	j := journaltest.OpenSQLite(t)
	in := &Intake{Journal: j, Identities: j}
	ctx := context.Background()
	t02 := official(t, "MDM_T02_INIT_N1.er7")
	ack := in.Handle(ctx, t02)
	if code, _, e, app := ackOf(t, ack); code != "AE" || e != "207" || app != "902" {
		t.Fatalf("an unknown patient: %s %s %s\n%q", code, e, app, ack)
	}
	if _, err := j.Document(ctx, "RIS-Y/Organisation-Y/015"); err == nil {
		t.Fatal("kept")
	}
	if err := j.SIHKnow(ctx, "gam", journal.GAMPatient{IPP: "000003", INS: "279035121518989", INSOID: "1.2.250.1.213.1.4.10"}); err != nil {
		t.Fatal(err)
	}
	if code, _, e, app := ackOf(t, in.Handle(ctx, t02)); code != "AA" {
		t.Fatalf("a patient the GAM told of: %s %s %s", code, e, app)
	}
}

// A CDA carrying a big PDF (a text node beyond libxml2's default 10 MB)
// is taken; one whose XML breaks inside that text is refused with the
// parser's word and line, not the document's content.
func TestIntakeBigDocument(t *testing.T) {
	cda, err := os.ReadFile("../dmp/testdata/cda/DOC_NON_STRUCTURE_CDA-R2-N1.xml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(cda)
	start := strings.Index(s, `representation="B64">`) + len(`representation="B64">`)
	end := strings.Index(s[start:], "</text>") + start
	body := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("%PDF-1.4 DOMINIQUE PAT-TROIS "), 12<<20/29))
	big := s[:start] + body + s[end:]
	ctx := context.Background()
	j := journaltest.OpenSQLite(t)
	in := &Intake{Journal: j}
	if code, _, e, _ := ackOf(t, in.Handle(ctx, withCDA(set(goldenMessage(t, "BIG1"), "TXA", 12, ""), []byte(big)))); code != "AA" {
		t.Fatalf("a 12 MB PDF: %s %s", code, e)
	}
	broken := s[:start] + body[:len(body)/2] + "<" + body[len(body)/2:] + s[end:]
	ack := in.Handle(ctx, withCDA(set(goldenMessage(t, "BIG2"), "TXA", 12, ""), []byte(broken)))
	if code, _, _, _ := ackOf(t, ack); code != "AE" || bytes.Contains(ack, []byte(body[len(body)/2-40:len(body)/2])) {
		t.Fatalf("a broken one: %q", ack[:min(len(ack), 2000)])
	}
}
