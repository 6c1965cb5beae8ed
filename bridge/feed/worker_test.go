package feed

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"dmpkiosk/bridge/dmp"
	"dmpkiosk/bridge/dmp/dmpsim"
	"dmpkiosk/bridge/dmp/dmpsim/dmpsimtest"
	"dmpkiosk/bridge/journal"
	"dmpkiosk/bridge/journal/journaltest"
	"dmpkiosk/firmware/event"
)

const testFINESS = "750712184"

var dominique = dmp.PatientID{Root: "1.2.250.1.213.1.4.10", Extension: "279035121518989"}

// simDMP runs the DMP simulator, knowing PAT-TROIS DOMINIQUE (her DMP
// open, the establishment not authorized), and a client of it with the
// establishment's keys.
func simDMP(t testing.TB) (*dmpsim.Sim, *dmp.Client) {
	t.Helper()
	return dmpsimtest.Start(t, dmpsim.Person{IDs: []dmp.PatientID{dominique},
		Demographics: dmp.Demographics{BirthName: "PAT-TROIS", FirstName: "DOMINIQUE", Sex: "F", BirthDate: "19790328"}})
}

// goldenMessage is ANS's first sending carrying ANS's golden level-1
// document (the same patient) in place of its own CDA.
func goldenMessage(t testing.TB, control string) []byte {
	t.Helper()
	cda, err := os.ReadFile("../dmp/testdata/cda/DOC_NON_STRUCTURE_CDA-R2-N1.xml")
	if err != nil {
		t.Fatal(err)
	}
	return set(withCDA(set(official(t, "MDM_T02_INIT_N1.er7"), "TXA", 12, ""), cda), "MSH", 10, control)
}

// A document taken from the hospital's systems goes to the DMP: while the
// patient has not authorized the establishment it waits (said so); once
// the authorization is recorded it is sent, and the simulator's registry
// holds it under the patient's INS with the confidentiality the message
// asked; the same patient's next document waits behind it; the sender's
// choice not to send (DESTDMP N) holds it; a new version replaces it
// (RPLC to the entry TD3.1 finds), the same version sent again is
// recognised by TD3.1 and not sent twice, another document under its id
// is refused; a deletion takes the establishment's document out (TD3.3c)
// and one of a document not in the DMP is refused.
func TestWorkerFeedsTheDMP(t *testing.T) {
	sim, client := simDMP(t)
	j := journaltest.OpenSQLite(t)
	in := &Intake{Journal: j}
	ctx := context.Background()
	for _, msg := range [][]byte{goldenMessage(t, "G1"),
		edit(goldenMessage(t, "G2"), "OBX", func(f []string) []string {
			if strings.HasPrefix(f[3], "DESTDMP^") {
				f[5] = "N^^expandedYes-NoIndicator"
			}
			return f
		})} {
		if code, _, e, _ := ackOf(t, in.Handle(ctx, msg)); code != "AA" {
			t.Fatalf("intake: %s %s", code, e)
		}
	}
	now := time.Now()
	w := &Worker{Journal: j, DMP: client, FINESS: testFINESS, SourceID: "1.2.250.1.999.1.1", Now: func() time.Time { return now }}
	step := func() {
		t.Helper()
		l, err := j.DocClaim(ctx, now, 1)
		if err != nil || len(l) != 1 {
			t.Fatalf("claim: %d %v", len(l), err)
		}
		w.Work(ctx, l[0])
	}
	step() // G1: not authorized
	g1, _ := j.Document(ctx, "RIS-Y/Organisation-Y/G1")
	if g1.State != journal.DocWaiting || !strings.Contains(g1.Error, "autorisation") {
		t.Fatalf("G1 before the authorization: %+v", g1.State)
	}
	// G2, the same patient's, waits behind G1.
	if l, _ := j.DocClaim(ctx, now, 1); len(l) != 0 {
		t.Fatalf("G2 claimed before G1: %s", l[0].ID)
	}
	// The patient authorizes the establishment (a kiosk's consent, TD0.3).
	if _, _, err := client.SetAuthorization(ctx, whoAuthorizes(), dmp.ActionAdd); err != nil {
		t.Fatal(err)
	}
	now = now.Add(16 * time.Minute)
	step()
	if g1, _ := j.Document(ctx, "RIS-Y/Organisation-Y/G1"); g1.State != journal.DocSent {
		t.Fatalf("G1 after the authorization: %s %s", g1.State, g1.Error)
	}
	// Its business acknowledgement, Y, is owed to the sender.
	if a, err := j.AckGet(ctx, "RIS-Y/Organisation-Y/G1"); err != nil || a.Sender != "RIS-Y" || a.State != journal.AckDue ||
		!strings.Contains(string(a.Message), "|G1|Y^^expandedYes-NoIndicator|") {
		t.Fatalf("acknowledgement: %+v %v", a, err)
	}
	step() // G2: DESTDMP N
	if g2, _ := j.Document(ctx, "RIS-Y/Organisation-Y/G2"); g2.State != journal.DocHeld || !strings.Contains(g2.Error, "DESTDMP") {
		t.Fatalf("G2: %+v %s", g2.State, g2.Error)
	}
	docs, err := sim.Documents(ctx, dominique)
	if err != nil || len(docs) != 2 {
		t.Fatalf("the DMP holds %d entries, %v", len(docs), err)
	}
	var sent *dmpsim.Entry
	for i := range docs {
		if docs[i].UniqueID == "1.3.6.1.4.1.19376.1.2.20.12345.1.1" {
			sent = &docs[i]
		}
	}
	if sent == nil || strings.Join(sent.Confidentiality, " ") != "N INVISIBLE_PATIENT INVISIBLE_REPRESENTANTS_LEGAUX" {
		t.Fatalf("the document in the DMP: %v", sent != nil)
	}
	// Version 2 replaces it (MDM^T10): the DMP deprecates the first.
	golden := sent.CDA
	v2, err := dmpsim.Revise(golden, sent.UniqueID+".2")
	if err != nil {
		t.Fatal(err)
	}
	t10 := func(control string, cda []byte) []byte {
		m := set(set(set(official(t, "MDM_T10_RPLC_N1.er7"), "MSH", 10, control), "TXA", 12, ""), "TXA", 13, sent.UniqueID)
		return withCDA(m, cda)
	}
	state := func(control string) journal.Document {
		t.Helper()
		d, err := j.Document(ctx, "RIS-Y/Organisation-Y/"+control)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, m := range [][]byte{t10("G3", v2), t10("G4", v2)} {
		if code, _, e, _ := ackOf(t, in.Handle(ctx, m)); code != "AA" {
			t.Fatalf("T10: %s %s", code, e)
		}
	}
	step()
	if g3 := state("G3"); g3.State != journal.DocSent {
		t.Fatalf("T10: %s %s", g3.State, g3.Error)
	}
	docs, _ = sim.Documents(ctx, dominique)
	status := map[string]string{}
	for _, d := range docs {
		status[d.UniqueID] = d.Status
	}
	if status[sent.UniqueID] != "Deprecated" || status[sent.UniqueID+".2"] != "Approved" {
		t.Fatalf("after the replacement: %v", status)
	}
	// The same version sent again under another control id: the DMP has
	// it, TD3.1 shows it is this very document, so it is not sent twice
	// and the sender is told Y.
	step()
	if g4 := state("G4"); g4.State != journal.DocSent {
		t.Fatalf("the same version again: %s %s", g4.State, g4.Error)
	}
	if a, _ := j.AckGet(ctx, "RIS-Y/Organisation-Y/G4"); !strings.Contains(string(a.Message), "|G4|Y^^expandedYes-NoIndicator|") {
		t.Fatalf("its acknowledgement: %s", a.Message)
	}
	// Another document under version 2's id is refused.
	other := []byte(strings.Replace(string(v2), "<title>", "<title>AUTRE ", 1))
	if code, _, e, _ := ackOf(t, in.Handle(ctx, t10("G5", other))); code != "AA" {
		t.Fatalf("T10: %s %s", code, e)
	}
	step()
	if g5 := state("G5"); g5.State != journal.DocRefused || !strings.Contains(g5.Error, "autre document") {
		t.Fatalf("another document under the same id: %s %s", g5.State, g5.Error)
	}
	// Deletion (MDM^T04) of version 2, then of a document not in the DMP.
	t04 := func(control string, cda []byte) []byte {
		return withCDA(set(set(set(set(official(t, "MDM_T02_INIT_N1.er7"), "MSH", 9, "MDM^T04^MDM_T02"), "MSH", 10, control), "OBX", 11, "D"),
			"TXA", 12, ""), cda)
	}
	for _, m := range [][]byte{t04("G6", v2), t04("G7", []byte(strings.Replace(string(golden), sent.UniqueID, sent.UniqueID+".99", 1)))} {
		if code, _, e, _ := ackOf(t, in.Handle(ctx, m)); code != "AA" {
			t.Fatalf("T04: %s %s", code, e)
		}
	}
	step()
	if g6 := state("G6"); g6.State != journal.DocSent {
		t.Fatalf("T04: %s %s", g6.State, g6.Error)
	}
	docs, _ = sim.Documents(ctx, dominique)
	for _, d := range docs {
		if d.UniqueID == sent.UniqueID+".2" && d.Status != "Deleted" {
			t.Fatalf("version 2 after T04: %s", d.Status)
		}
	}
	step()
	if g7 := state("G7"); g7.State != journal.DocRefused || !strings.Contains(g7.Error, "absent du DMP") {
		t.Fatalf("T04 of a document not in the DMP: %s %s", g7.State, g7.Error)
	}
	if a, _ := j.AckGet(ctx, "RIS-Y/Organisation-Y/G7"); !strings.Contains(string(a.Message), "|G7|N^^expandedYes-NoIndicator|") {
		t.Fatalf("its acknowledgement: %s", a.Message)
	}
	// Deletions are not documents sent in the infocentre's counts.
	counts, err := j.DocumentCounts(ctx, journal.IndicatorQuery{From: now.Add(-time.Hour), To: now.Add(time.Hour), By: "range"})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, c := range counts {
		total += c.Count
	}
	if total != 5 {
		t.Errorf("%d documents counted, want 5 (G1–G5): %+v", total, counts)
	}
}

// whoAuthorizes is the doctor at the desk recording DOMINIQUE's
// authorization of the establishment.
func whoAuthorizes() dmp.Who {
	pro := event.Professional{NationalID: "810100456789", NationalIDType: "RPPS", CardType: "CPS", Surname: "LEROY", FirstName: "SOPHIE", Profession: "10"}
	return dmp.Who{Professional: pro, FINESS: testFINESS, Patient: dominique}
}

// The DMP's rules on confidentiality, before any call: a minor's document
// under a secret connection goes only invisible to the legal
// representatives (refused when the sender said otherwise, made so when
// it said nothing); a document of R confidentiality is held for a
// professional.
func TestWorkerConfidentialityRules(t *testing.T) {
	sim, client := simDMP(t)
	j := journaltest.OpenSQLite(t)
	in := &Intake{Journal: j}
	ctx := context.Background()
	if _, _, err := client.SetAuthorization(ctx, whoAuthorizes(), dmp.ActionAdd); err != nil {
		t.Fatal(err)
	}
	cda, err := os.ReadFile("../dmp/testdata/cda/DOC_NON_STRUCTURE_CDA-R2-N1.xml")
	if err != nil {
		t.Fatal(err)
	}
	child := []byte(strings.Replace(string(cda), `<birthTime value="19790328"/>`, `<birthTime value="20150328"/>`, 1))
	restricted := []byte(strings.Replace(string(cda), `<confidentialityCode code="N"`, `<confidentialityCode code="R"`, 1))
	msg := func(control string, doc []byte) []byte {
		return withCDA(set(goldenMessage(t, control), "TXA", 12, ""), doc)
	}
	for _, m := range [][]byte{
		edit(msg("C1", child), "OBX", func(f []string) []string {
			if strings.HasPrefix(f[3], "INVISIBLE_REP_LEGAUX^") {
				f[5] = "N^^expandedYes-NoIndicator"
			}
			return f
		}),
		drop(msg("C2", child), "OBX", "4|CWE|INVISIBLE_REP_LEGAUX"),
		msg("C3", restricted),
	} {
		if code, _, e, _ := ackOf(t, in.Handle(ctx, m)); code != "AA" {
			t.Fatalf("intake: %s %s", code, e)
		}
	}
	w := &Worker{Journal: j, DMP: client, FINESS: testFINESS, SourceID: "1.2.250.1.999.1.1"}
	for i := 0; i < 3; i++ {
		l, err := j.DocClaim(ctx, time.Now(), 1)
		if err != nil || len(l) != 1 {
			t.Fatalf("claim: %d %v", len(l), err)
		}
		w.Work(ctx, l[0])
	}
	state := func(c string) journal.Document { d, _ := j.Document(ctx, "RIS-Y/Organisation-Y/"+c); return d }
	if d := state("C1"); d.State != journal.DocRefused || !strings.Contains(d.Error, "mineur") {
		t.Errorf("a minor's document visible to the legal representatives: %s %s", d.State, d.Error)
	}
	if d := state("C2"); d.State != journal.DocSent {
		t.Errorf("a minor's document, nothing said: %s %s", d.State, d.Error)
	}
	if d := state("C3"); d.State != journal.DocHeld || !strings.Contains(d.Error, "confidentialité R") {
		t.Errorf("R: %s %s", d.State, d.Error)
	}
	docs, _ := sim.Documents(ctx, dominique)
	if len(docs) != 2 || !strings.Contains(strings.Join(docs[0].Confidentiality, " ")+strings.Join(docs[1].Confidentiality, " "), "INVISIBLE_REPRESENTANTS_LEGAUX") {
		t.Errorf("in the DMP: %+v", docs)
	}
}
