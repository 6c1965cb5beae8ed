package sih

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"dmpkiosk/bridge/hl7"
	"dmpkiosk/bridge/journal/journaltest"
	"dmpkiosk/firmware/event"
	"dmpkiosk/hwtest"
	"dmpkiosk/ins"
)

var (
	testSender   = Sender{Application: "DMPKIOSK", Facility: "750712184"}
	testReceiver = Receiver{Name: "gam", Application: "GAM", Facility: "CHU-TEST", ZFA: true,
		IPP: Domain{Namespace: "CHU-TEST", UniversalID: "1.2.250.1.999.1", Type: "ISO"}}
	at = time.Date(2026, 3, 6, 11, 11, 54, 0, time.UTC)
)

// The test patient of ANS's examples, qualified at the desk.
func dominique() Patient {
	return Patient{IPP: "000003", Traits: ins.Traits{BirthName: "PAT-TROIS", FirstName: "DOMINIQUE", FirstNames: []string{"DOMINIQUE"},
		Sex: "F", BirthDate: "19790328", BirthPlace: "63220"}, Identity: ins.Identity{Status: ins.Qualifiee},
		INS: &event.INS{Value: "279035121518989", OID: "1.2.250.1.213.1.4.10"}, INSiDate: time.Date(2021, 12, 1, 9, 0, 0, 0, time.UTC), Document: "id-card",
		DMP: DMPAnswers{Status: "ACTIF", At: at, Informed: true, Consultation: true}}
}

// The A31 carries what PAM FR 2.11 says, in the shapes of ANS's example
// (the same patient): PID-3's IPP and INS, PID-5, the birth place, PID-32,
// ZFD and ZFA.
func TestA31(t *testing.T) {
	b, err := A31(testSender, testReceiver, "CTRL0001", at, dominique())
	if err != nil {
		t.Fatal(err)
	}
	m, err := hl7.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	msh, _ := m.Seg("MSH", 0)
	pid, _ := m.Seg("PID", 0)
	zfd, _ := m.Seg("ZFD", 0)
	zfa, _ := m.Seg("ZFA", 0)
	pv1, _ := m.Seg("PV1", 0)
	for _, c := range []struct{ name, got, want string }{
		{"MSH-9", msh.Field(9), "ADT^A31^ADT_A05"},
		{"MSH-10", msh.Field(10), "CTRL0001"},
		{"MSH-12", msh.Field(12), "2.5^FRA^2.11"},
		{"MSH-15", msh.Field(15), ""}, // original acknowledgement mode
		{"MSH-17", msh.Field(17), "FRA"},
		{"MSH-18", msh.Field(18), "UNICODE UTF-8"},
		{"MSH-21", msh.Field(21), "2.11^IHE_FRANCE-2.11-PAM"},
		{"PID-3", pid.Field(3), "000003^^^CHU-TEST&1.2.250.1.999.1&ISO^PI~279035121518989^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.10&ISO^INS^^20211201"},
		{"PID-5", pid.Field(5), "PAT-TROIS^DOMINIQUE^DOMINIQUE^^^^L"},
		{"PID-7", pid.Field(7), "19790328"},
		{"PID-8", pid.Field(8), "F"},
		{"PID-11", pid.Field(11), "^^^^^^BDL^^63220"},
		{"PID-32", pid.Field(32), "VALI"},
		{"PV1", strings.Join(pv1.Fields, "|"), "PV1|1|N"},
		{"ZFD", strings.Join(zfd.Fields, "|"), "ZFD||||N|CV|20211201|CN|"},
		{"ZFA", strings.Join(zfa.Fields, "|"), "ZFA|ACTIF|20260306121154|||||||INO|20260306121154|IC|20260306121154"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	// ANS's example writes the INS the same way (its date aside).
	ex, err := os.ReadFile("testdata/consentement-dmp_ConsentementConsultation_NonOppositionAlimentation.er7")
	if err != nil {
		t.Fatal(err)
	}
	em, err := hl7.Parse(ex)
	if err != nil {
		t.Fatal(err)
	}
	epid, _ := em.Seg("PID", 0)
	ours, theirs := hl7.Reps(pid.Field(3))[1], hl7.Reps(epid.Field(3))[1]
	for _, c := range []int{1, 4, 5} {
		if hl7.Comp(ours, c) != hl7.Comp(theirs, c) {
			t.Errorf("PID-3 INS component %d: %q, ANS %q", c, hl7.Comp(ours, c), hl7.Comp(theirs, c))
		}
	}
	if epid.Field(32) != pid.Field(32) || hl7.Comp(hl7.Reps(epid.Field(11))[1], 7) != "BDL" {
		t.Errorf("PID-32 %q against ANS's %q", pid.Field(32), epid.Field(32))
	}

	// Not qualified: no INS; douteuse: PROV and DOUT; no ZFA for a
	// receiver that does not take it (never an empty Z segment).
	p := dominique()
	p.Identity = ins.Identity{Status: ins.Provisoire, Doubtful: true}
	p.INS = nil
	r := testReceiver
	r.ZFA = false
	b, _ = A31(testSender, r, "CTRL0002", at, p)
	m, _ = hl7.Parse(b)
	pid, _ = m.Seg("PID", 0)
	if pid.Field(3) != "000003^^^CHU-TEST&1.2.250.1.999.1&ISO^PI" || pid.Field(32) != "PROV~DOUT" {
		t.Errorf("provisional: PID-3 %q PID-32 %q", pid.Field(3), pid.Field(32))
	}
	if _, ok := m.Seg("ZFA", 0); ok {
		t.Error("a ZFA for a receiver that does not take it")
	}
}

// A receiver in ISO 8859-1 gets the bytes in 8859-1, not only the header;
// a name with a separator in it is escaped.
func TestA31Latin1AndEscapes(t *testing.T) {
	p := dominique()
	p.Traits.BirthName, p.Traits.FirstNames, p.Traits.FirstName = "LEFÈVRE", []string{"ANNE^MARIE"}, "ANNE^MARIE"
	r := testReceiver
	r.Charset = Latin1
	b, err := A31(testSender, r, "CTRL0003", at, p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("LEF\xc8VRE")) || bytes.Contains(b, []byte("LEFÈVRE")) || !bytes.Contains(b, []byte("|8859/1|")) {
		t.Fatalf("not 8859-1: %q", b)
	}
	if !bytes.Contains(b, []byte(`ANNE\S\MARIE`)) {
		t.Errorf("a ^ in a name is not escaped: %q", b)
	}
}

// The PDQ query asks by traits, or by INS when the GAM knows it, and
// only the IPP domain back; the answer's IPPs are read.
func TestQBPAndMatches(t *testing.T) {
	b, _ := QBP(testSender, testReceiver, "Q1", "TAG1", at, dominique(), false)
	m, _ := hl7.Parse(b)
	qpd, _ := m.Seg("QPD", 0)
	if qpd.Field(3) != "@PID.5.1.1^PAT-TROIS~@PID.5.2^DOMINIQUE~@PID.7.1^19790328~@PID.8^F" || qpd.Field(8) != "^^^CHU-TEST&1.2.250.1.999.1&ISO" {
		t.Errorf("QPD %q", strings.Join(qpd.Fields, "|"))
	}
	b, _ = QBP(testSender, testReceiver, "Q2", "TAG2", at, dominique(), true)
	m, _ = hl7.Parse(b)
	qpd, _ = m.Seg("QPD", 0)
	if qpd.Field(3) != "@PID.3.1^279035121518989~@PID.3.4.2^1.2.250.1.213.1.4.10" {
		t.Errorf("QPD by INS %q", qpd.Field(3))
	}
	rsp := "MSH|^~\\&|GAM|CHU-TEST|DMPKIOSK||20260306||RSP^K22^RSP_K21|R1|P|2.5\rMSA|AA|Q1\rQAK|TAG1|OK\r" +
		"PID|1||000003^^^CHU-TEST&1.2.250.1.999.1&ISO^PI~X^^^OTHER&1.2.3&ISO^PI||PAT-TROIS^DOMINIQUE\rPID|2||000777^^^CHU-TEST&1.2.250.1.999.1&ISO^PI\r"
	ack, ipps, err := Matches(testReceiver, []byte(rsp))
	if err != nil || !ack.Accepted() || strings.Join(ipps, ",") != "000003,000777" {
		t.Fatalf("matches: %+v %v %v", ack, ipps, err)
	}
	// The GAM's words may name the patient: its codes are kept, and the
	// length of its text, never the text.
	a, err := ParseAck([]byte("MSH|^~\\&|GAM||||x||ACK|A1|P|2.5\rMSA|AR|CTRL0001\rERR|||204^Unknown key identifier^HL70357|E||||E160 : IPP 000042 de MARTIN PAUL inconnu\r"))
	if err != nil || a.Accepted() || a.Control != "CTRL0001" || a.Error != "204 (texte de la GAM non conservé, 62 caractères)" {
		t.Fatalf("ack: %+v %v", a, err)
	}
	if a, _ := ParseAck([]byte("MSH|^~\\&|GAM||||x||ACK|A1|P|2.5\rMSA|AE|CTRL0002|Patient MARTIN inconnu\r")); a.Error != "(texte de la GAM non conservé, 22 caractères)" {
		t.Fatalf("MSA-3 only: %q", a.Error)
	}
}

// Debian's python3-hl7, an independent parser, reads every message the
// bridge writes and finds the fields PAM FR asks for.
func TestMessagesParseWithPythonHL7(t *testing.T) {
	python := hwtest.LookPath(t, "/usr/bin/python3", "python3-hl7")
	if out, err := exec.Command(python, "-c", "import hl7").CombinedOutput(); err != nil {
		t.Fatalf("python3-hl7 (Debian package python3-hl7): %v %s", err, out)
	}
	dir := t.TempDir()
	a31, _ := A31(testSender, testReceiver, "CTRL0001", at, dominique())
	qbp, _ := QBP(testSender, testReceiver, "Q1", "TAG1", at, dominique(), false)
	os.WriteFile(filepath.Join(dir, "a31.er7"), a31, 0o644)
	os.WriteFile(filepath.Join(dir, "qbp.er7"), qbp, 0o644)
	script := `
import hl7, sys
a = hl7.parse(open(sys.argv[1], encoding="utf-8", newline="").read())
q = hl7.parse(open(sys.argv[2], encoding="utf-8", newline="").read())
print(a["MSH.F9.R1.C2"], a["MSH.F10"], a["MSH.F12.R1.C3"], a["PID.F3.R1.C5"], a["PID.F3.R2.C1"], a["PID.F3.R2.C4.S2"], a["PID.F3.R2.C5"],
      a["PID.F5.R1.C1"], a["PID.F5.R1.C3"], a["PID.F5.R1.C7"], a["PID.F7"], a["PID.F8"], a["PID.F11.R1.C7"], a["PID.F11.R1.C9"], a["PID.F32"],
      a["ZFD.F5"], a["ZFD.F6"], a["ZFD.F7"], a["ZFA.F1"], a["ZFA.F9"], a["ZFA.F11"], q["MSH.F9.R1.C2"], q["QPD.F3.R1.C2"], q["RCP.F1"])
`
	out, err := exec.Command(python, "-c", script, filepath.Join(dir, "a31.er7"), filepath.Join(dir, "qbp.er7")).CombinedOutput()
	if err != nil {
		t.Fatalf("python3-hl7: %v\n%s", err, out)
	}
	want := "A31 CTRL0001 2.11 PI 279035121518989 1.2.250.1.213.1.4.10 INS PAT-TROIS DOMINIQUE L 19790328 F BDL 63220 VALI CV 20211201 CN ACTIF INO IC Q22 PAT-TROIS I"
	if got := strings.TrimSpace(string(out)); got != want {
		t.Errorf("python3-hl7 reads\n%s\nwant\n%s", got, want)
	}
}

// Debian's python3-hl7 MLLP server, an independent peer, takes the
// bridge's framing and its acknowledgement is read back.
func TestExchangeWithPythonMLLP(t *testing.T) {
	python := hwtest.LookPath(t, "/usr/bin/python3", "python3-hl7")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	script := `
import asyncio, sys, hl7
from hl7.mllp import start_hl7_server
async def process(reader, writer):
    try:
        while not writer.is_closing():
            msg = await reader.readmessage()
            print("got", msg["MSH.F9.R1.C2"], msg["MSH.F10"], msg["PID.F3.R2.C1"], flush=True)
            writer.writemessage(msg.create_ack())
            await writer.drain()
    except asyncio.IncompleteReadError:
        pass
    finally:
        writer.close()
async def main():
    async with await start_hl7_server(process, host="127.0.0.1", port=int(sys.argv[1])) as server:
        print("ready", flush=True)
        await server.serve_forever()
asyncio.run(main())
`
	cmd := exec.Command(python, "-c", script, strconv.Itoa(port))
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := bufio.NewScanner(out)
	if !lines.Scan() || lines.Text() != "ready" {
		t.Fatalf("the python3-hl7 server did not start: %q", lines.Text())
	}
	msg, _ := A31(testSender, testReceiver, "CTRL0009", at, dominique())
	answer, err := Exchange(context.Background(), fmt.Sprintf("127.0.0.1:%d", port), nil, msg, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := AckFrom(testReceiver, answer)
	if err != nil || !ack.Accepted() || ack.Control != "CTRL0009" {
		t.Fatalf("python3-hl7's ack %q: %+v %v", answer, ack, err)
	}
	if !lines.Scan() || lines.Text() != "got A31 CTRL0009 279035121518989" {
		t.Errorf("python3-hl7 read %q", lines.Text())
	}
}

// A GAM's admission gives the patient's INS only when PID-32 says the
// identity is qualified (VALI); PROV, DOUT or nothing: no INS kept.
func TestAdmittedOfQualifiedOnly(t *testing.T) {
	r := Receiver{IPP: Domain{Namespace: "CHU-X"}}
	for pid32, want := range map[string]string{"VALI": "279035121518989", "PROV~DOUT": "", "": "", "VALI~CDV": "279035121518989"} {
		pid := make([]string, 33)
		pid[0], pid[3] = "PID", "000003^^^CHU-X&000897406&N^PI~279035121518989^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.10&ISO^INS"
		pid[5], pid[7], pid[8], pid[32] = "PAT-TROIS^DOMINIQUE", "19790328", "F", pid32
		m, err := hl7.Parse([]byte("MSH|^~\\&|GAM|CHU-X|DMPKIOSK|CHU-X|20261207||ADT^A01^ADT_A01|1|P|2.5\r" + strings.Join(pid, "|") + "\r"))
		if err != nil {
			t.Fatal(err)
		}
		a, ok := AdmittedOf(r, m)
		if !ok || a.IPP != "000003" || a.INS != want {
			t.Errorf("PID-32 %q: %+v %v", pid32, a, ok)
		}
	}
}

// A GAM's ADT messages place its patients in the units (for the bedside
// tablets' lists): admitted, transferred, discharged, the cancellation of
// a discharge, a merge; from a GAM no receiver names, refused.
func TestWardFromADT(t *testing.T) {
	j := journaltest.OpenSQLite(t)
	r := Receiver{Name: "gam", Application: "GAM", IPP: Domain{Namespace: "CHU-X"}}
	d := NewDelivery(DeliveryConfig{Receivers: []Receiver{r}}, j, nil)
	adt := func(trigger, ipp, place, extra string) (string, string) {
		t.Helper()
		pid := make([]string, 33)
		pid[0], pid[3] = "PID", ipp+"^^^CHU-X&000897406&N^PI~279035121518989^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.10&ISO^INS"
		pid[5], pid[7], pid[8], pid[32] = "PAT-TROIS^DOMINIQUE", "19790328", "F", "VALI"
		m, err := hl7.Parse([]byte("MSH|^~\\&|GAM|CHU-X|DMPKIOSK|CHU-X|20261207||ADT^" + trigger + "^ADT_A01|1|P|2.5\r" + strings.Join(pid, "|") +
			"\rPV1|1|I|" + place + "\r" + extra))
		if err != nil {
			t.Fatal(err)
		}
		code, _, text := d.onGAMMessage(m)
		return code, text
	}
	list := func(unit string) string {
		t.Helper()
		l, err := j.WardList(context.Background(), unit)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, w := range l {
			out = append(out, w.IPP+"@"+w.Room+w.Bed+"/"+w.INS)
		}
		return strings.Join(out, " ")
	}
	for _, step := range []struct {
		trigger, ipp, place, extra, cardio, pneumo string
	}{
		{"A01", "100001", "CARDIO^12^A", "", "100001@12A/279035121518989", ""},
		{"A01", "100002", "CARDIO^14", "", "100001@12A/279035121518989 100002@14/279035121518989", ""},
		{"A02", "100001", "PNEUMO^3", "", "100002@14/279035121518989", "100001@3/279035121518989"},
		{"A03", "100002", "CARDIO^14", "", "", "100001@3/279035121518989"},
		{"A13", "100002", "CARDIO^14", "", "100002@14/279035121518989", "100001@3/279035121518989"},
		{"A40", "100002", "", "MRG|100001^^^CHU-X&000897406&N^PI\r", "100002@14/279035121518989", ""},
	} {
		if code, text := adt(step.trigger, step.ipp, step.place, step.extra); code != "AA" {
			t.Fatalf("%s: %s %s", step.trigger, code, text)
		}
		if c, p := list("CARDIO"), list("PNEUMO"); c != step.cardio || p != step.pneumo {
			t.Fatalf("after %s %s: CARDIO %q, PNEUMO %q", step.trigger, step.ipp, c, p)
		}
	}
	other := NewDelivery(DeliveryConfig{Receivers: []Receiver{{Name: "x", Application: "AUTRE", IPP: Domain{Namespace: "CHU-X"}}}}, j, nil)
	m, _ := hl7.Parse([]byte("MSH|^~\\&|GAM|CHU-X|DMPKIOSK|CHU-X|20261207||ADT^A01^ADT_A01|1|P|2.5\rPID|||1^^^CHU-X&1&N^PI\rPV1|1|I|CARDIO\r"))
	if code, _, _ := other.onGAMMessage(m); code != "AR" {
		t.Errorf("a GAM no receiver names: %s", code)
	}
}
