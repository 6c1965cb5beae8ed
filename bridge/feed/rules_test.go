package feed

import (
	"context"
	"strings"
	"testing"
	"time"

	"dmpkiosk/bridge/journal"
	"dmpkiosk/bridge/journal/journaltest"
)

// The establishment's rules: a type or unit not listed, or an excluded
// unit, holds the document (said why), a marker in the title sends it
// anyway; a unit's documents invisible to the patient by default unless
// the message says otherwise; rules that cannot be meant are refused.
func TestRules(t *testing.T) {
	r := Rules{Types: []string{"11490-0", "11502-2"}, ExcludeUnits: []string{"PSY-ADO"}, Marker: "à adresser au DMP",
		InvisibleUnits: []string{"PSY"}, Statuses: []string{"AU", "LA"}}
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		typ, unit, title, status string
		send                     bool
	}{
		{"11502-2", "LABO", "Compte rendu", "AU", true},
		{"11502-2", "LABO", "Compte rendu", "", true},
		{"11502-2", "LABO", "Compte rendu provisoire", "IP", false},
		{"18748-4", "RADIO", "Radio de hanche", "AU", false},
		{"18748-4", "RADIO", "Radio de hanche — À adresser au DMP", "LA", true},
		{"11490-0", "PSY-ADO", "Lettre de liaison — à adresser au DMP", "AU", false},
	} {
		if ok, why := r.sends(c.typ, c.unit, c.title, c.status); ok != c.send || !ok && why == "" {
			t.Errorf("%+v: %v %q", c, ok, why)
		}
	}
	if !r.invisible("11490-0", "PSY") || r.invisible("11490-0", "MED") {
		t.Error("default visibility")
	}
	for _, bad := range []Rules{{Units: []string{"A"}, ExcludeUnits: []string{"A"}}, {Types: []string{""}}, {InvisibleUnits: []string{"X", "X"}}} {
		if err := bad.Check(); err == nil {
			t.Errorf("%+v taken", bad)
		}
	}

	// Through the worker: the golden document (11502-2) from a unit the
	// rules make invisible, the message saying nothing of it, is sent
	// invisible to the patient; another type is held.
	sim, client := simDMP(t)
	j := journaltest.OpenSQLite(t)
	ctx := context.Background()
	drop := func(msg []byte, flag string) []byte {
		var out []string
		for _, l := range strings.Split(string(msg), "\r") {
			if !strings.Contains(l, "|"+flag+"^") {
				out = append(out, l)
			}
		}
		return []byte(strings.Join(out, "\r"))
	}
	msg := set(drop(drop(goldenMessage(t, "R1"), "INVISIBLE_PATIENT"), "INVISIBLE_REP_LEGAUX"), "PV1", 3, "PSY")
	if code, _, e, _ := ackOf(t, (&Intake{Journal: j}).Handle(ctx, msg)); code != "AA" {
		t.Fatalf("intake: %s %s", code, e)
	}
	if _, _, err := client.SetAuthorization(ctx, whoAuthorizes(), "AJOUT"); err != nil {
		t.Fatal(err)
	}
	w := &Worker{Journal: j, DMP: client, FINESS: testFINESS, SourceID: "1.2.250.1.999.1.1", Rules: r}
	l, _ := j.DocClaim(ctx, time.Now(), 1)
	if len(l) != 1 {
		t.Fatal("nothing to work")
	}
	w.Work(ctx, l[0])
	if d, _ := j.Document(ctx, "RIS-Y/Organisation-Y/R1"); d.State != journal.DocSent {
		t.Fatalf("R1: %s %s", d.State, d.Error)
	}
	docs, _ := sim.Documents(ctx, dominique)
	found := false
	for _, e := range docs {
		if e.TypeCode == "11502-2" {
			found = strings.Join(e.Confidentiality, " ") == "N INVISIBLE_PATIENT"
		}
	}
	if !found {
		t.Errorf("not sent invisible to the patient: %d entries", len(docs))
	}
	w.Rules.Types = []string{"11490-0"}
	msg2 := set(goldenMessage(t, "R2"), "PV1", 3, "PSY")
	(&Intake{Journal: j}).Handle(ctx, msg2)
	l, _ = j.DocClaim(ctx, time.Now(), 1)
	if len(l) != 1 {
		t.Fatal("R2 not claimed")
	}
	w.Work(ctx, l[0])
	if d, _ := j.Document(ctx, "RIS-Y/Organisation-Y/R2"); d.State != journal.DocHeld || !strings.Contains(d.Error, "règles") {
		t.Fatalf("R2: %s %s", d.State, d.Error)
	}
	// Released by the staff: sent whatever the rules say.
	if err := j.DocRelease(ctx, "RIS-Y/Organisation-Y/R2", "admin:martine"); err != nil {
		t.Fatal(err)
	}
	l, _ = j.DocClaim(ctx, time.Now(), 1)
	if len(l) != 1 || l[0].ReleasedBy != "admin:martine" {
		t.Fatalf("the released document: %+v", l)
	}
	w.Work(ctx, l[0])
	// The same document as R1: the DMP answers that it has it, which
	// proves it was sent, not held; TD3.1 shows it is this very one.
	if d, _ := j.Document(ctx, "RIS-Y/Organisation-Y/R2"); d.State != journal.DocSent {
		t.Fatalf("R2 released: %s %s", d.State, d.Error)
	}
}
