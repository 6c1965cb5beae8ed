// Package journaltest is the conformance suite every journal backend runs
// (Exercise), and the journals and generated data the tests of the flows
// and of the admin web use. Production never imports it.
package journaltest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"dmpkiosk/bridge/insi"
	"dmpkiosk/bridge/journal"
	"dmpkiosk/firmware/event"
	"dmpkiosk/hwtest"
	"dmpkiosk/ins"
	"dmpkiosk/provisioning"
)

// Exercise is what every journal must do; each backend runs it, each
// test on a journal of its own from open.
func Exercise(t *testing.T, open func(t *testing.T) journal.Store) {
	ctx := context.Background()
	rec := func(id, device string, seq int64) journal.Record {
		return journal.Record{ID: id, Device: device, Seq: seq, Site: "750712184", Unit: "ACCUEIL", Type: "dmp.consent",
			Received: time.Now(), Payload: []byte(`{"id":"` + id + `"}`)}
	}

	t.Run("idempotent by id, sequence enforced", func(t *testing.T) {
		j := open(t)
		if _, dup, err := j.Accept(ctx, rec("e1", "kiosk-1", 1)); err != nil || dup {
			t.Fatalf("accept: %v %v", dup, err)
		}
		got, dup, err := j.Accept(ctx, rec("e1", "kiosk-1", 1))
		if err != nil || !dup || got.State != journal.StateVerified {
			t.Fatalf("redelivery: %+v %v %v", got, dup, err)
		}
		if _, _, err := j.Accept(ctx, rec("e0", "kiosk-1", 1)); !errors.Is(err, journal.ErrReplay) {
			t.Fatalf("same sequence, new id: %v", err)
		}
		if _, _, err := j.Accept(ctx, rec("eX", "kiosk-1", 0)); !errors.Is(err, journal.ErrReplay) {
			t.Fatalf("older sequence: %v", err)
		}
		if _, _, err := j.Accept(ctx, rec("f1", "kiosk-2", 1)); err != nil {
			t.Fatalf("another device: %v", err)
		}
		if _, err := j.Get(ctx, "nope"); !errors.Is(err, journal.ErrUnknown) {
			t.Fatalf("unknown id: %v", err)
		}
	})

	t.Run("a refused event is kept, never claimed nor retried", func(t *testing.T) {
		j := open(t)
		r := rec("r1", "kiosk-1", 5)
		r.State, r.Message, r.LastError = journal.StateRefused, "Demande trop ancienne", "too-old: signed 8 days ago"
		if got, dup, err := j.Accept(ctx, r); err != nil || dup || got.State != journal.StateRefused {
			t.Fatalf("accept refused: %+v %v %v", got, dup, err)
		}
		// Its sequence is the device's: an older one is a replay.
		if _, _, err := j.Accept(ctx, rec("r0", "kiosk-1", 4)); !errors.Is(err, journal.ErrReplay) {
			t.Fatalf("a sequence below the refused one: %v", err)
		}
		if claimed, err := j.Claim(ctx, time.Now(), 10); err != nil || len(claimed) != 0 {
			t.Fatalf("claimed a refused event: %+v %v", claimed, err)
		}
		_ = j.Retry(ctx, "r1")
		got, err := j.Get(ctx, "r1")
		if err != nil || got.State != journal.StateRefused || got.Message != r.Message || got.LastError != r.LastError {
			t.Fatalf("after a retry: %+v %v", got, err)
		}
		// A verified event's fields cannot be set by its caller.
		v := rec("v1", "kiosk-1", 6)
		v.Message = "forged"
		if got, _, err := j.Accept(ctx, v); err != nil || got.State != journal.StateVerified || got.Message != "" {
			t.Fatalf("accept verified: %+v %v", got, err)
		}
		if list, _, err := j.List(ctx, journal.EventFilter{State: journal.StateRefused, Limit: 10}); err != nil || len(list) != 1 || list[0].ID != "r1" {
			t.Fatalf("refused list: %+v %v", list, err)
		}
	})

	t.Run("what the infocentre counts is read back", func(t *testing.T) {
		j := open(t)
		r := rec("e1", "kiosk-1", 1)
		r.Context, r.Signed, r.Authorize, r.Oppositions, r.Identity = "bedside", r.Received.Add(-time.Hour).Truncate(time.Millisecond), true, 2, "qualifiée"
		if _, _, err := j.Accept(ctx, r); err != nil {
			t.Fatal(err)
		}
		for _, got := range func() []journal.Record {
			one, err := j.Get(ctx, "e1")
			if err != nil {
				t.Fatal(err)
			}
			list, _, err := j.List(ctx, journal.EventFilter{})
			if err != nil || len(list) != 1 {
				t.Fatalf("list: %v %v", list, err)
			}
			return []journal.Record{one, list[0]}
		}() {
			if got.Context != "bedside" || !got.Signed.Equal(r.Signed) || !got.Authorize || got.Oppositions != 2 || got.Identity != "qualifiée" {
				t.Errorf("read back: %+v", got)
			}
		}
	})

	t.Run("lists filtered and paged", func(t *testing.T) {
		j := open(t)
		day := time.Date(2026, 10, 5, 12, 0, 0, 0, provisioning.Paris)
		for i := range 9 {
			r := rec(fmt.Sprintf("e%d", i), "kiosk-1", int64(i+1))
			r.Received = day.AddDate(0, 0, i)
			if i%3 == 0 {
				r.Site, r.Unit = "130784234", "URGENCES"
			}
			if _, _, err := j.Accept(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		ids := func(f journal.EventFilter) string {
			list, total, err := j.List(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, r := range list {
				out = append(out, r.ID)
			}
			return fmt.Sprintf("%d:%s", total, strings.Join(out, ","))
		}
		for f, want := range map[*journal.EventFilter]string{
			{Site: "750712184", Limit: 2}:                                          "6:e8,e7",
			{Site: "750712184", Limit: 2, Offset: 4}:                               "6:e2,e1",
			{Unit: "URGENCES"}:                                                     "3:e6,e3,e0",
			{From: day.AddDate(0, 0, 2), To: day.AddDate(0, 0, 4)}:                 "2:e3,e2",
			{State: journal.StateVerified, Site: "130784234", From: day, Limit: 1}: "3:e6",
			{State: journal.StateDead}:                                             "0:",
		} {
			if got := ids(*f); got != want {
				t.Errorf("%+v: %s, want %s", *f, got, want)
			}
		}
	})

	t.Run("the information system's outbox, in order per patient", func(t *testing.T) {
		j := open(t)
		base := time.Now().Add(-time.Minute)
		for i, e := range []struct{ id, patient string }{{"e1", "p1"}, {"e2", "p1"}, {"e3", "p2"}} {
			queued, err := j.SIHEnqueue(ctx, journal.SIHMessage{ID: "gam/" + e.id, Receiver: "gam", Event: e.id, Patient: e.patient, State: journal.SIHQuery,
				Payload: []byte(`{}`), Created: base.Add(time.Duration(i) * time.Second)})
			if err != nil || !queued {
				t.Fatal(queued, err)
			}
		}
		if queued, err := j.SIHEnqueue(ctx, journal.SIHMessage{ID: "gam/e1", Receiver: "gam", Event: "e1", Patient: "p1", State: journal.SIHQuery, Payload: []byte(`{}`), Created: base}); err != nil || queued {
			t.Fatalf("queued twice: %v %v", queued, err)
		}
		claim := func(at time.Time) string {
			due, err := j.SIHClaim(ctx, "gam", at, 10)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, m := range due {
				out = append(out, m.Event)
			}
			return strings.Join(out, ",")
		}
		if got := claim(time.Now()); got != "e1,e3" { // e2 waits behind e1, its patient's
			t.Fatalf("claimed: %s", got)
		}
		if got := claim(time.Now()); got != "" {
			t.Fatalf("claimed again under their lease: %s", got)
		}
		m, err := j.SIHGet(ctx, "gam/e1")
		if err != nil {
			t.Fatal(err)
		}
		m.State, m.IPP, m.Control, m.Message = journal.SIHSend, "000042", "C1", []byte("MSH|...")
		if err := j.SIHSave(ctx, m, "sih.written", "control=C1"); err != nil {
			t.Fatal(err)
		}
		if got, _ := j.SIHGet(ctx, "gam/e1"); got.IPP != "000042" || string(got.Message) != "MSH|..." || got.State != journal.SIHSend {
			t.Fatalf("saved: %+v", got)
		}
		m.State = journal.SIHDone
		j.SIHSave(ctx, m, "sih.ack", "code=AA")
		if got := claim(time.Now()); got != "e2" { // e3 is still under its lease
			t.Fatalf("claimed after e1: %s", got)
		}
		// A sender that died: its entries go to another once their lease
		// has ended, in order.
		if got := claim(time.Now().Add(6 * time.Minute)); got != "e2,e3" {
			t.Fatalf("claimed after the leases: %s", got)
		}
		if l, _ := j.SIHList(ctx, journal.SIHDone, 10); len(l) != 1 || l[0].Event != "e1" {
			t.Fatalf("done: %+v", l)
		}
		if _, err := j.SIHGet(ctx, "gam/nope"); !errors.Is(err, journal.ErrUnknown) {
			t.Fatalf("unknown entry: %v", err)
		}
		// The patients a GAM told of: found by INS, else by traits; told
		// again, updated, not doubled.
		for _, a := range []journal.GAMPatient{
			{IPP: "1", INS: "279035121518989", INSOID: ins.OIDNIR, BirthName: "PAT-TROIS", FirstName: "DOMINIQUE", BirthDate: "19790328", Sex: "F"},
			{IPP: "2", BirthName: "MARTIN", FirstName: "PAUL", BirthDate: "19750612", Sex: "M"},
			{IPP: "3", BirthName: "MARTIN", FirstName: "PAUL", BirthDate: "19750612", Sex: "M"},
			{IPP: "2", BirthName: "MARTIN", FirstName: "PAUL", BirthDate: "19750612", Sex: "M"},
		} {
			if err := j.SIHKnow(ctx, "gam", a); err != nil {
				t.Fatal(err)
			}
		}
		find := func(p journal.GAMPatient) string {
			ipps, err := j.SIHFind(ctx, "gam", p)
			if err != nil {
				t.Fatal(err)
			}
			return strings.Join(ipps, ",")
		}
		byINS := journal.GAMPatient{INS: "279035121518989", INSOID: ins.OIDNIR, BirthName: "AUTRE"}
		martin := journal.GAMPatient{BirthName: "MARTIN", FirstName: "PAUL", Sex: "M", BirthDate: "19750612"}
		if got := find(byINS); got != "1" {
			t.Errorf("by INS: %s", got)
		}
		if got := find(martin); got != "2,3" {
			t.Errorf("by traits: %s", got)
		}
		if got, _ := j.SIHFind(ctx, "other", martin); len(got) != 0 {
			t.Errorf("another receiver's patients: %v", got)
		}
	})

	t.Run("claims: under a lease, taken over after it, given back at start", func(t *testing.T) {
		j := open(t)
		for i, id := range []string{"c1", "c2"} {
			if _, _, err := j.Accept(ctx, rec(id, "kiosk-1", int64(i+1))); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := j.SIHEnqueue(ctx, journal.SIHMessage{ID: "gam/c1", Receiver: "gam", Event: "c1", Patient: "p1", State: journal.SIHQuery,
			Payload: []byte(`{}`), Created: time.Now()}); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		first, err := j.Claim(ctx, now, 1)
		if err != nil || len(first) != 1 || first[0].ID != "c1" || first[0].State != journal.StateProcessing || first[0].Attempts != 1 {
			t.Fatalf("first claim: %+v %v", first, err)
		}
		if again, _ := j.Claim(ctx, now, 5); len(again) != 1 || again[0].ID != "c2" {
			t.Fatalf("claimed under another's lease: %+v", again)
		}
		if late, _ := j.Claim(ctx, now.Add(6*time.Minute), 5); len(late) != 2 || late[0].ID != "c1" || late[0].Attempts != 2 {
			t.Fatalf("after the leases ended: %+v", late)
		}
		if m, _ := j.SIHClaim(ctx, "gam", now, 5); len(m) != 1 {
			t.Fatalf("GAM entry not claimed: %+v", m)
		}
		if m, _ := j.SIHClaim(ctx, "gam", now, 5); len(m) != 0 {
			t.Fatalf("GAM entry claimed twice: %+v", m)
		}
		// The bridge starts again: what it held is given back at once.
		n, err := j.Recover(ctx)
		if err != nil || n != 3 {
			t.Fatalf("recovered %d, %v (want the two events and the GAM entry)", n, err)
		}
		if back, _ := j.Claim(ctx, now, 5); len(back) != 2 {
			t.Fatalf("events after recovery: %+v", back)
		}
		if m, _ := j.SIHClaim(ctx, "gam", now, 5); len(m) != 1 {
			t.Fatalf("GAM entry after recovery: %+v", m)
		}
	})

	t.Run("documents kept once, read back whole, listed without their body", func(t *testing.T) {
		j := open(t)
		cda := []byte("<ClinicalDocument xmlns=\"urn:hl7-org:v3\"/>")
		d := journal.Document{ID: "RIS-Y/Organisation-Y/015", Received: time.Now(), Kind: "T02", UniqueID: "1.2.250.1.71.4.2.2.1",
			INS: "279035121518989", INSOID: "1.2.250.1.213.1.4.10", TypeCode: "18748-4", Unit: "UFNEPH", Sender: "801234564895",
			Meta: []byte(`{"flags":{"DESTDMP":true}}`), CDA: cda}
		if dup, err := j.KeepDocument(ctx, d); err != nil || dup {
			t.Fatalf("keep: %v %v", dup, err)
		}
		again := d
		again.CDA = []byte("another body")
		if dup, err := j.KeepDocument(ctx, again); err != nil || !dup {
			t.Fatalf("kept twice: %v %v", dup, err)
		}
		got, err := j.Document(ctx, d.ID)
		if err != nil || string(got.CDA) != string(cda) || got.State != journal.DocReceived || got.INS != d.INS || got.Unit != "UFNEPH" ||
			string(got.Meta) != string(d.Meta) || got.Received.UnixMilli() != d.Received.UnixMilli() {
			t.Fatalf("read back: %+v %v", got, err)
		}
		if _, err := j.Document(ctx, "nope"); !errors.Is(err, journal.ErrUnknown) {
			t.Fatalf("unknown document: %v", err)
		}
		l, err := j.DocumentList(ctx, journal.DocReceived, 10)
		if err != nil || len(l) != 1 || l[0].ID != d.ID || len(l[0].CDA) != 0 {
			t.Fatalf("list: %+v %v", l, err)
		}
		if audit, _ := j.AuditOf(ctx, "document.received"); len(audit) != 1 || strings.Contains(audit[0].Detail, d.INS) {
			t.Fatalf("audit: %+v", audit)
		}
	})

	t.Run("a refused document sent again, its acknowledgement following the new outcome", func(t *testing.T) {
		j := open(t)
		d := journal.Document{ID: "RIS-Y/Organisation-Y/016", Received: time.Now(), Kind: "T02", UniqueID: "1.2.3", INS: "279035121518989",
			INSOID: "1.2.250.1.213.1.4.10", Meta: []byte("{}"), CDA: []byte("<x/>")}
		if _, err := j.KeepDocument(ctx, d); err != nil {
			t.Fatal(err)
		}
		if err := j.DocRetry(ctx, d.ID, "admin"); !errors.Is(err, journal.ErrUnknown) {
			t.Fatalf("a document not refused sent again: %v", err)
		}
		d.State, d.Attempts, d.Error = journal.DocRefused, 20, "le DMP ne répond pas"
		if err := j.DocSave(ctx, d, "document.refused", "gave up"); err != nil {
			t.Fatal(err)
		}
		no := journal.Ack{ID: d.ID, Sender: "RIS-Y", Created: time.Now(), Message: []byte("MSH|^~\\&|A\rOBX|1|CWE|ACK_RECEPTION_DMP||016|N^^expandedYes-NoIndicator\rERR||||E|DMPKIOSK_GAVE_UP^le DMP ne répond pas^DMP_ERROR_CODE\r")}
		for i := 0; i < 2; i++ {
			if err := j.AckEnqueue(ctx, no); err != nil {
				t.Fatal(err)
			}
		}
		a, _ := j.AckGet(ctx, d.ID)
		a.State = journal.AckDone
		if err := j.AckSave(ctx, a, "zam.done", ""); err != nil {
			t.Fatal(err)
		}
		if err := j.DocRetry(ctx, d.ID, "admin:martine"); err != nil {
			t.Fatal(err)
		}
		if got, _ := j.Document(ctx, d.ID); got.State != journal.DocReceived || got.Attempts != 0 || got.Error != "" {
			t.Fatalf("sent again: %+v", got)
		}
		if audit, _ := j.AuditOf(ctx, "document.retried"); len(audit) != 1 || !strings.Contains(audit[0].Detail, "admin:martine") {
			t.Fatalf("audit: %+v", audit)
		}
		// The same N again leaves the acknowledgement done; a Y makes it due.
		if err := j.AckEnqueue(ctx, no); err != nil {
			t.Fatal(err)
		}
		if a, _ := j.AckGet(ctx, d.ID); a.State != journal.AckDone {
			t.Fatalf("the same outcome queued again: %s", a.State)
		}
		yes := journal.Ack{ID: d.ID, Sender: "RIS-Y", Created: time.Now(), Message: []byte("MSH|^~\\&|A\rOBX|1|CWE|ACK_RECEPTION_DMP||016|Y^^expandedYes-NoIndicator\r")}
		if err := j.AckEnqueue(ctx, yes); err != nil {
			t.Fatal(err)
		}
		if a, _ := j.AckGet(ctx, d.ID); a.State != journal.AckDue || string(a.Message) != string(yes.Message) {
			t.Fatalf("a new outcome: %s %q", a.State, a.Message)
		}
		// Not yet tried: not failing; tried and not taken: listed, with
		// why; taken: no longer.
		if l, err := j.AckFailing(ctx, 10); err != nil || len(l) != 0 {
			t.Fatalf("failing before any attempt: %+v %v", l, err)
		}
		a, _ = j.AckGet(ctx, d.ID)
		a.Attempts, a.Next, a.Error = 1, time.Now().Add(time.Minute), "connexion refusée"
		if err := j.AckSave(ctx, a, "zam.retry", "attempt=1"); err != nil {
			t.Fatal(err)
		}
		if l, err := j.AckFailing(ctx, 10); err != nil || len(l) != 1 || l[0].ID != d.ID || l[0].Error != "connexion refusée" || l[0].Attempts != 1 {
			t.Fatalf("failing: %+v %v", l, err)
		}
		a.State = journal.AckDone
		if err := j.AckSave(ctx, a, "zam.sent", "attempt=2"); err != nil {
			t.Fatal(err)
		}
		if l, err := j.AckFailing(ctx, 10); err != nil || len(l) != 0 {
			t.Fatalf("failing once taken: %+v %v", l, err)
		}
	})

	t.Run("the units' inpatients: admitted, transferred, discharged", func(t *testing.T) {
		j := open(t)
		p := func(ipp, name string) journal.GAMPatient {
			return journal.GAMPatient{IPP: ipp, BirthName: name, FirstName: "X", BirthDate: "19800101", Sex: "F"}
		}
		moves := []journal.WardPatient{{GAMPatient: p("1", "DURAND"), Unit: "CARDIO", Room: "102"},
			{GAMPatient: p("2", "MARTIN"), Unit: "CARDIO", Room: "101", Bed: "A"}, {GAMPatient: p("3", "PETIT"), Unit: "PNEUMO", Room: "201"}}
		moves[0].INS, moves[0].INSOID = "180026912304567", "1.2.250.1.213.1.4.8"
		for _, m := range moves {
			if err := j.WardMove(ctx, "gam", m); err != nil {
				t.Fatal(err)
			}
		}
		names := func(unit string) string {
			t.Helper()
			l, err := j.WardList(ctx, unit)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, w := range l {
				out = append(out, w.BirthName+"@"+w.Room+w.Bed)
			}
			return strings.Join(out, " ")
		}
		if got := names("CARDIO"); got != "MARTIN@101A DURAND@102" {
			t.Fatalf("CARDIO: %s", got)
		}
		if l, _ := j.WardList(ctx, "CARDIO"); l[1].INS != "180026912304567" || l[0].INS != "" {
			t.Fatalf("the INS: %+v", l)
		}
		moved := moves[0]
		moved.Unit, moved.Room = "PNEUMO", "202"
		if err := j.WardMove(ctx, "gam", moved); err != nil {
			t.Fatal(err)
		}
		if err := j.WardLeave(ctx, "gam", "2"); err != nil {
			t.Fatal(err)
		}
		if err := j.WardLeave(ctx, "gam", "unknown"); err != nil {
			t.Fatalf("an unknown patient leaving: %v", err)
		}
		if got, pneumo := names("CARDIO"), names("PNEUMO"); got != "" || pneumo != "PETIT@201 DURAND@202" {
			t.Fatalf("after the transfer and the discharge: CARDIO %q, PNEUMO %q", got, pneumo)
		}
	})

	t.Run("an INS held: a GAM's qualified patient or an INSi lookup found", func(t *testing.T) {
		j := open(t)
		held := func(ins, oid string) bool {
			t.Helper()
			ok, err := j.INSHeld(ctx, ins, oid)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if held("279035121518989", "1.2.250.1.213.1.4.10") || held("", "") {
			t.Fatal("held before anyone told of it")
		}
		if err := j.SIHKnow(ctx, "gam", journal.GAMPatient{IPP: "000003", INS: "279035121518989", INSOID: "1.2.250.1.213.1.4.10"}); err != nil {
			t.Fatal(err)
		}
		if !held("279035121518989", "1.2.250.1.213.1.4.10") || held("279035121518989", "1.2.250.1.213.1.4.8") {
			t.Fatal("a GAM's qualified patient")
		}
		for id, outcome := range map[string]string{"lk-found": "found", "lk-other": "not_found"} {
			if _, _, err := j.KeepLookup(ctx, journal.LookupRecord{ID: id, Device: "kiosk-1", Received: time.Now(), Outcome: outcome,
				INS: "175067511203371", OID: "1.2.250.1.213.1.4.8", Answer: []byte(`{}`)}); err != nil {
				t.Fatal(err)
			}
		}
		if !held("175067511203371", "1.2.250.1.213.1.4.8") {
			t.Fatal("an INSi lookup found")
		}
	})

	t.Run("documents worked one at a time per patient, in order, under a lease", func(t *testing.T) {
		j := open(t)
		base := time.Now().Add(-time.Minute)
		for i, d := range []struct{ id, ins string }{{"d1", "1"}, {"d2", "1"}, {"d3", "2"}} {
			if _, err := j.KeepDocument(ctx, journal.Document{ID: d.id, Received: base.Add(time.Duration(i) * time.Second), Kind: "T02",
				INS: d.ins, CDA: []byte("<x/>")}); err != nil {
				t.Fatal(err)
			}
		}
		ids := func(l []journal.Document) string {
			var out []string
			for _, d := range l {
				out = append(out, d.ID)
			}
			return strings.Join(out, ",")
		}
		l, err := j.DocClaim(ctx, time.Now(), 10)
		if err != nil || ids(l) != "d1,d3" || string(l[0].CDA) != "<x/>" {
			t.Fatalf("claimed %s %v", ids(l), err)
		}
		if again, _ := j.DocClaim(ctx, time.Now(), 10); len(again) != 0 {
			t.Fatalf("claimed under their lease: %s", ids(again))
		}
		d := l[0]
		d.State, d.Attempts, d.Next, d.Error = journal.DocWaiting, 1, time.Now().Add(time.Hour), "en attente d'autorisation"
		if err := j.DocSave(ctx, d, "document.waiting", "authorization=NON_EXISTE"); err != nil {
			t.Fatal(err)
		}
		if got, _ := j.Document(ctx, "d1"); got.State != journal.DocWaiting || got.Attempts != 1 || got.Error == "" {
			t.Fatalf("saved: %+v", got)
		}
		// d2 waits behind d1, its patient's, even once d1 waits.
		if l, _ := j.DocClaim(ctx, time.Now(), 10); len(l) != 0 {
			t.Fatalf("claimed behind a waiting one: %s", ids(l))
		}
		// The authorization recorded: d1 is due at once, not in an hour.
		if err := j.DocWake(ctx, "1"); err != nil {
			t.Fatal(err)
		}
		if err := j.DocWake(ctx, "nobody"); err != nil {
			t.Fatalf("waking nothing: %v", err)
		}
		if l, _ := j.DocClaim(ctx, time.Now(), 10); ids(l) != "d1" {
			t.Fatalf("after the authorization: %s", ids(l))
		}
		d.State = journal.DocSent
		j.DocSave(ctx, d, "document.sent", "")
		if l, _ := j.DocClaim(ctx, time.Now(), 10); ids(l) != "d2" {
			t.Fatalf("after d1: %s", ids(l))
		}
		// Held, then released (who kept) or discarded; only a held one.
		d2, _ := j.Document(ctx, "d2")
		d2.State = journal.DocHeld
		j.DocSave(ctx, d2, "document.held", "rules")
		if err := j.DocRelease(ctx, "d2", "admin:martine"); err != nil {
			t.Fatal(err)
		}
		if got, _ := j.Document(ctx, "d2"); got.State != journal.DocReceived || got.ReleasedBy != "admin:martine" {
			t.Fatalf("released: %+v", got)
		}
		if err := j.DocDiscard(ctx, "d2", "admin:martine"); !errors.Is(err, journal.ErrUnknown) {
			t.Fatalf("discarding a document not held: %v", err)
		}
		// Counted for the infocentre by unit, type and state.
		q := journal.IndicatorQuery{From: base.Add(-time.Hour), To: time.Now().Add(time.Hour), By: "range"}
		counts, err := j.DocumentCounts(ctx, q)
		got := map[string]int{}
		for _, c := range counts {
			got[c.State] += c.Count
		}
		if err != nil || got[journal.DocSent] != 1 || got[journal.DocReceived] != 2 || len(got) != 2 {
			t.Fatalf("counts: %+v %v", counts, err)
		}
	})

	t.Run("identities purged after the retention, counts and audit kept", func(t *testing.T) {
		j := open(t)
		old := time.Now().Add(-100 * 24 * time.Hour)
		mk := func(id string, seq int64, at time.Time) journal.Record {
			r := rec(id, "kiosk-1", seq)
			r.Received, r.Payload = at, []byte(`{"patient":{"traits":{"birth_name":"MARTIN"}}}`)
			return r
		}
		for i, r := range []journal.Record{mk("old-done", 1, old), mk("old-dead", 2, old), mk("new-done", 3, time.Now())} {
			if _, _, err := j.Accept(ctx, r); err != nil {
				t.Fatal(err)
			}
			claimed, err := j.Claim(ctx, time.Now(), 1)
			if err != nil || len(claimed) != 1 {
				t.Fatal(claimed, err)
			}
			if i == 1 {
				err = j.Fail(ctx, r.ID, "DMP down", time.Time{}, true)
			} else {
				err = j.Finish(ctx, r.ID, "authorized", "ok")
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		refused := mk("old-refused", 4, old)
		refused.State, refused.LastError = journal.StateRefused, "site: x"
		if _, _, err := j.Accept(ctx, refused); err != nil {
			t.Fatal(err)
		}
		if _, _, err := j.KeepLookup(ctx, journal.LookupRecord{ID: "old-lookup", Device: "kiosk-1", Received: old, Outcome: "found", INS: "175067511203371", OID: ins.OIDNIR, Answer: []byte(`{"traits":{}}`)}); err != nil {
			t.Fatal(err)
		}
		// Documents: an old one sent, an old one still waiting, a new one
		// sent; and the acknowledgement of the old sent one.
		for _, d := range []journal.Document{{ID: "doc-old-sent", Received: old}, {ID: "doc-old-waiting", Received: old}, {ID: "doc-new-sent", Received: time.Now()}} {
			d.Kind, d.INS, d.INSOID, d.Meta, d.CDA = "T02", "279035121518989", "1.2.250.1.213.1.4.10", []byte(`{"IPP":"42"}`), []byte("<ClinicalDocument/>")
			if _, err := j.KeepDocument(ctx, d); err != nil {
				t.Fatal(err)
			}
			d.State = journal.DocSent
			if d.ID == "doc-old-waiting" {
				d.State = journal.DocWaiting
			}
			if err := j.DocSave(ctx, d, "document."+d.State, ""); err != nil {
				t.Fatal(err)
			}
		}
		if err := j.AckEnqueue(ctx, journal.Ack{ID: "doc-old-sent", Sender: "RIS-Y", Message: []byte("MSH|..."), Created: old}); err != nil {
			t.Fatal(err)
		}
		a, _ := j.AckGet(ctx, "doc-old-sent")
		a.State = journal.AckDone
		j.AckSave(ctx, a, "zam.sent", "")
		q := journal.IndicatorQuery{From: old.Add(-time.Hour), To: time.Now().Add(time.Hour), By: "range"}
		before, _ := j.Indicators(ctx, q)
		if err := j.Purge(ctx, time.Now().Add(-journal.DefaultRetention)); err != nil {
			t.Fatal(err)
		}
		for id, purged := range map[string]bool{"old-done": true, "old-refused": true, "old-dead": false, "new-done": false} {
			r, err := j.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(r.Payload) == string(journal.PurgedPayload); got != purged {
				t.Errorf("%s: purged %v, want %v", id, got, purged)
			}
		}
		if l, _ := j.Lookup(ctx, "old-lookup"); l.INS != "" || string(l.Answer) != string(journal.PurgedPayload) || l.Outcome != "found" {
			t.Errorf("the old lookup: %+v", l)
		}
		for id, purged := range map[string]bool{"doc-old-sent": true, "doc-old-waiting": false, "doc-new-sent": false} {
			d, err := j.Document(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(d.CDA) == 0 && d.INS == "" && string(d.Meta) == string(journal.PurgedPayload); got != purged || d.State == "" {
				t.Errorf("%s: purged %v, want %v (%+v)", id, got, purged, d)
			}
		}
		if a, _ := j.AckGet(ctx, "doc-old-sent"); string(a.Message) != string(journal.PurgedPayload) {
			t.Errorf("the old acknowledgement kept its message: %q", a.Message)
		}
		after, _ := j.Indicators(ctx, q)
		if fmt.Sprint(before) != fmt.Sprint(after) {
			t.Errorf("the counts changed:\n%v\n%v", before, after)
		}
		if n, broken, err := j.VerifyAudit(ctx); err != nil || broken != 0 || n == 0 {
			t.Fatalf("audit after the purge: %d %d %v", n, broken, err)
		}
		// Purged again: nothing more, no error.
		if err := j.Purge(ctx, time.Now().Add(-journal.DefaultRetention)); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("marks", func(t *testing.T) {
		j := open(t)
		if ok, err := j.Marked(ctx, "e1", "dmp.create.sent"); err != nil || ok {
			t.Fatalf("unmarked: %v %v", ok, err)
		}
		for range 2 { // marking twice is marking once
			if err := j.Mark(ctx, "e1", "dmp.create.sent"); err != nil {
				t.Fatal(err)
			}
		}
		if ok, err := j.Marked(ctx, "e1", "dmp.create.sent"); err != nil || !ok {
			t.Fatalf("marked: %v %v", ok, err)
		}
		if ok, _ := j.Marked(ctx, "e2", "dmp.create.sent"); ok {
			t.Fatal("another event marked")
		}
	})

	t.Run("states", func(t *testing.T) {
		j := open(t)
		for i := 1; i <= 3; i++ {
			if _, _, err := j.Accept(ctx, rec(fmt.Sprint("e", i), "kiosk-1", int64(i))); err != nil {
				t.Fatal(err)
			}
		}
		now := time.Now()
		claimed, err := j.Claim(ctx, now, 10)
		if err != nil || len(claimed) != 3 || claimed[0].State != journal.StateProcessing || claimed[0].Attempts != 1 {
			t.Fatalf("claim: %+v %v", claimed, err)
		}
		if again, _ := j.Claim(ctx, now, 10); len(again) != 0 {
			t.Fatalf("claimed twice: %d", len(again))
		}
		if err := j.Finish(ctx, "e1", "authorized", "Autorisation enregistrée"); err != nil {
			t.Fatal(err)
		}
		if err := j.Fail(ctx, "e2", "DMP injoignable", now.Add(time.Minute), false); err != nil {
			t.Fatal(err)
		}
		if err := j.Fail(ctx, "e3", "DMPIdentityCertificationFailure", now, true); err != nil {
			t.Fatal(err)
		}
		if r, _ := j.Get(ctx, "e1"); r.State != journal.StateDone || r.Outcome != "authorized" {
			t.Fatalf("done: %+v", r)
		}
		if c, _ := j.Claim(ctx, now, 10); len(c) != 0 {
			t.Fatalf("a failed event was claimed before its next attempt")
		}
		if c, _ := j.Claim(ctx, now.Add(2*time.Minute), 10); len(c) != 1 || c[0].ID != "e2" || c[0].Attempts != 2 {
			t.Fatalf("retry: %+v", c)
		}
		dead, _, err := j.List(ctx, journal.EventFilter{State: journal.StateDead, Limit: 10})
		if err != nil || len(dead) != 1 || dead[0].LastError != "DMPIdentityCertificationFailure" {
			t.Fatalf("dead letters: %+v %v", dead, err)
		}
		if err := j.Retry(ctx, "e3"); err != nil {
			t.Fatal(err)
		}
		if err := j.Retry(ctx, "e1"); !errors.Is(err, journal.ErrUnknown) {
			t.Fatalf("retrying a done event: %v", err)
		}
		// A bridge stopped while processing: the events go back to the queue.
		if n, err := j.Recover(ctx); err != nil || n != 1 {
			t.Fatalf("recover: %d %v", n, err)
		}
		if r, _ := j.Get(ctx, "e2"); r.State != journal.StateVerified {
			t.Fatalf("after recover: %s", r.State)
		}
		at := time.Now()
		ins, err := j.Indicators(ctx, journal.IndicatorQuery{From: at.Add(-time.Hour), To: at.Add(time.Hour), By: "range"})
		if err != nil || len(ins) != 1 || ins[0].Completed != 1 || ins[0].Site != "750712184" {
			t.Fatalf("indicators: %+v %v", ins, err)
		}
	})

	t.Run("audit chain", func(t *testing.T) {
		j := open(t)
		if _, _, err := j.Accept(ctx, rec("e1", "kiosk-1", 1)); err != nil {
			t.Fatal(err)
		}
		if err := j.Audit(ctx, "event.rejected", "kiosk-9", "revoked"); err != nil {
			t.Fatal(err)
		}
		n, broken, err := j.VerifyAudit(ctx)
		if err != nil || n != 2 || broken != 0 {
			t.Fatalf("verify: %d %d %v", n, broken, err)
		}
	})

	t.Run("the same event accepted by two bridges at once", func(t *testing.T) {
		// A redelivery after a bridge was killed can reach the other one
		// while the first is still storing it: one stores it, the other
		// sees a redelivery — never a replayed sequence.
		j := open(t)
		for s := 1; s <= 40; s++ {
			r := rec(fmt.Sprintf("x-%d", s), "kiosk-1", int64(s))
			var wg sync.WaitGroup
			dups := make(chan bool, 2)
			errs := make(chan error, 2)
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, dup, err := j.Accept(ctx, r)
					if err != nil {
						errs <- err
					}
					dups <- dup
				}()
			}
			wg.Wait()
			close(errs)
			close(dups)
			for err := range errs {
				t.Fatalf("event %d: %v", s, err)
			}
			if a, b := <-dups, <-dups; a == b {
				t.Fatalf("event %d: dup %v and %v", s, a, b)
			}
		}
	})

	t.Run("concurrent accepts", func(t *testing.T) {
		j := open(t)
		var wg sync.WaitGroup
		errs := make(chan error, 400)
		for d := 0; d < 8; d++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for s := 1; s <= 50; s++ {
					if _, _, err := j.Accept(ctx, rec(fmt.Sprintf("d%d-%d", d, s), fmt.Sprintf("kiosk-%d", d), int64(s))); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if all, _, _ := j.List(ctx, journal.EventFilter{State: journal.StateVerified, Limit: 1000}); len(all) != 400 {
			t.Fatalf("%d events stored of 400", len(all))
		}
		if n, broken, _ := j.VerifyAudit(ctx); n != 400 || broken != 0 {
			t.Fatalf("audit %d broken %d", n, broken)
		}
	})
	t.Run("indicators", func(t *testing.T) { indicatorSuite(t, open) })
}

// GenEvent is one event of a generated month, and what became of it.
type GenEvent struct {
	Rec     journal.Record
	State   string // done, refused or dead
	Outcome string
	Reason  string
}

// MonthOfEvents generates a month of events over two sites, two units and
// the three contexts, processed, refused and given up, some of them
// queued offline, and stores them in j as the service would.
func MonthOfEvents(t *testing.T, j journal.Store, start time.Time, n int) []GenEvent {
	t.Helper()
	ctx := context.Background()
	rnd := rand.New(rand.NewPCG(1, 2))
	seq := map[string]int64{}
	var out []GenEvent
	var at time.Time
	for i := range n {
		// In time order, as they arrive.
		at = start.Add(time.Duration(i) * 30 * 24 * time.Hour / time.Duration(n)).Add(time.Duration(rnd.IntN(60000)) * time.Millisecond).Truncate(time.Millisecond)
		device := fmt.Sprintf("kiosk-%d", rnd.IntN(4))
		seq[device]++
		g := GenEvent{Rec: journal.Record{ID: fmt.Sprintf("ev-%04d", i), Device: device, Seq: seq[device],
			Site: []string{"750712184", "130784234"}[rnd.IntN(2)], Unit: []string{"ACCUEIL", "URGENCES"}[rnd.IntN(2)],
			Context: []string{"admission", "bedside", "consultation-exit"}[rnd.IntN(3)], Type: event.TypeConsent,
			Received: at, Signed: at.Add(-time.Duration(rnd.IntN(20)) * time.Second), Authorize: rnd.IntN(4) != 0,
			Oppositions: rnd.IntN(3), Payload: []byte(`{}`),
			Identity: []string{"", "provisoire", "récupérée", "qualifiée", "qualifiée"}[rnd.IntN(5)]}}
		if rnd.IntN(5) == 0 { // queued offline, up to three hours
			g.Rec.Signed = at.Add(-time.Duration(2+rnd.IntN(180)) * time.Minute)
		}
		switch r := rnd.IntN(10); {
		case r < 7:
			g.State, g.Outcome = journal.StateDone, []string{event.OutcomeCreated, event.OutcomeExists, event.OutcomeAuthorized, event.OutcomeRefused}[rnd.IntN(4)]
		case r < 9:
			g.State, g.Reason = journal.StateRefused, []string{journal.RejectTooOld, journal.RejectSite, journal.RejectRegime}[rnd.IntN(3)]
			g.Rec.State, g.Rec.Message, g.Rec.LastError = journal.StateRefused, "refusée", g.Reason+": event "+g.Rec.ID
		default:
			g.State = journal.StateDead
		}
		if _, _, err := j.Accept(ctx, g.Rec); err != nil {
			t.Fatal(err)
		}
		if g.State == journal.StateDone || g.State == journal.StateDead {
			claimed, err := j.Claim(ctx, at.Add(time.Hour), 1)
			if err != nil || len(claimed) != 1 || claimed[0].ID != g.Rec.ID {
				t.Fatalf("claim %s: %+v %v", g.Rec.ID, claimed, err)
			}
			if g.State == journal.StateDone {
				err = j.Finish(ctx, g.Rec.ID, g.Outcome, "ok")
			} else {
				err = j.Fail(ctx, g.Rec.ID, "DMP refused", time.Time{}, true)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, g)
	}
	return out
}

// expected computes the indicators from the generated events themselves,
// as the infocentre defines them.
func expected(evs []GenEvent, q journal.IndicatorQuery) map[[4]string]journal.Indicator {
	loc, _ := time.LoadLocation("Europe/Paris")
	out := map[[4]string]journal.Indicator{}
	for _, g := range evs {
		r := g.Rec
		if r.Received.Before(q.From) || !r.Received.Before(q.To) || q.Site != "" && r.Site != q.Site || q.Context != "" && r.Context != q.Context {
			continue
		}
		local := r.Received.In(loc)
		period := local.Format("2006-01-02")
		switch q.By {
		case "week":
			y, w := local.ISOWeek()
			period = fmt.Sprintf("%d-S%02d", y, w)
		case "month":
			period = local.Format("2006-01")
		case "range":
			period = q.From.In(loc).Format("2006-01-02") + " au " + q.To.Add(-time.Millisecond).In(loc).Format("2006-01-02")
		}
		k := [4]string{period, r.Site, r.Unit, r.Context}
		in, ok := out[k]
		if !ok {
			in = journal.Indicator{Period: period, Site: r.Site, Unit: r.Unit, Context: r.Context, RefusedBy: map[string]int{}, ByStatus: map[string]int{}}
		}
		switch g.State {
		case journal.StateDone:
			in.Completed++
			if g.Outcome == event.OutcomeCreated {
				in.Created++
				in.Oppositions += r.Oppositions
			}
			if g.Outcome == event.OutcomeExists {
				in.Existing++
			}
			if r.Identity != "" {
				in.ByStatus[r.Identity]++
			}
			if !r.Authorize {
				in.Withdrawn++
			} else if g.Outcome != event.OutcomeRefused {
				in.Authorized++
			}
		case journal.StateRefused:
			in.Refused++
			in.RefusedBy[g.Reason]++
		case journal.StateDead:
			in.Dead++
		}
		if wait := r.Received.Sub(r.Signed); wait > journal.OfflineAfter {
			in.Offline++
			in.OfflineMax = max(in.OfflineMax, wait)
			in.OfflineTotal += wait
		}
		out[k] = in
	}
	return out
}

func indicatorSuite(t *testing.T, open func(t *testing.T) journal.Store) {
	j := open(t)
	loc, _ := time.LoadLocation("Europe/Paris")
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, loc) // the month holds the change to winter time
	evs := MonthOfEvents(t, j, start, 600)
	ctx := context.Background()
	for _, q := range []journal.IndicatorQuery{
		{From: start, To: start.AddDate(0, 1, 0), By: "day"},
		{From: start, To: start.AddDate(0, 1, 0), By: "week"},
		{From: start, To: start.AddDate(0, 1, 0), By: "month"},
		{From: start.AddDate(0, 0, 7), To: start.AddDate(0, 0, 14), By: "range"},
		{From: start, To: start.AddDate(0, 1, 0), By: "week", Site: "130784234", Context: "bedside"},
	} {
		name := fmt.Sprintf("%s %s–%s %s %s", q.By, q.From.Format("01-02"), q.To.Format("01-02"), q.Site, q.Context)
		got, err := j.Indicators(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := expected(evs, q)
		if len(got) != len(want) || len(got) == 0 {
			t.Fatalf("%s: %d lines, want %d", name, len(got), len(want))
		}
		for _, in := range got {
			w := want[[4]string{in.Period, in.Site, in.Unit, in.Context}]
			if fmt.Sprint(in) != fmt.Sprint(w) {
				t.Errorf("%s:\n got %+v\nwant %+v", name, in, w)
			}
			if in.Qualified() != w.ByStatus["qualifiée"] || in.IdentityKnown() != w.ByStatus["provisoire"]+w.ByStatus["récupérée"]+w.ByStatus["qualifiée"] {
				t.Errorf("%s: %d qualified of %d known, want %v", name, in.Qualified(), in.IdentityKnown(), w.ByStatus)
			}
		}
	}
	insiLookupsCheck(t, j)
	kioskLookupsCheck(t, j, start)
	if _, err := j.Indicators(ctx, journal.IndicatorQuery{From: start, To: start, By: "day"}); err == nil {
		t.Error("an empty range was answered")
	}
	if _, err := j.Indicators(ctx, journal.IndicatorQuery{From: start, To: start.AddDate(0, 1, 0), By: "year"}); err == nil {
		t.Error("an unknown period was answered")
	}
}

// insiLookupsCheck audits INSi calls as the bridge's observer does and
// counts them back by outcome; other audit links are not counted.
func insiLookupsCheck(t *testing.T, j journal.Store) {
	t.Helper()
	var calls insi.Calls
	observe := calls.Observer(j.Audit, nil)
	want := map[[3]string]int{}
	outcomes := []string{"00", "00", "00", "01", "02", "insi_102", "transport"}
	for i := range 40 {
		c := insi.Call{Operation: []string{"rechercherInsAvecCarteVitale", "rechercherInsAvecTraitsIdentite"}[i%2],
			Mode: insi.Manu, Outcome: outcomes[i%len(outcomes)], MessageID: fmt.Sprintf("msg-%d", i), Elapsed: time.Duration(i) * time.Millisecond}
		if i%3 == 0 {
			c.Mode = insi.Auto
		}
		observe(c)
		want[[3]string{c.Operation, c.Mode.String(), c.Outcome}]++
	}
	if err := j.Audit(context.Background(), "event.accepted", "ev-x", "device=k seq=1 type=dmp.consent in 3"); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	got, err := j.INSiLookups(context.Background(), journal.IndicatorQuery{From: now.Add(-time.Hour), To: now.Add(time.Hour), By: "range"})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, l := range got {
		k := [3]string{l.Operation, l.Mode, l.Outcome}
		if want[k] != l.Count {
			t.Errorf("INSi %v: %d, audited %d", k, l.Count, want[k])
		}
		total += l.Count
	}
	if total != 40 || len(got) != len(want) {
		t.Errorf("INSi lookups: %d in %d lines, want 40 in %d: %+v", total, len(got), len(want), got)
	}
}

// kioskLookupsCheck keeps a week of the kiosks' lookups and counts them
// back by day, site and outcome.
func kioskLookupsCheck(t *testing.T, j journal.Store, start time.Time) {
	t.Helper()
	ctx := context.Background()
	want := map[[4]string]int{}
	outcomes := []string{event.LookupFound, event.LookupFound, event.LookupNotFound, event.LookupSeveral, event.LookupUnavailable}
	for i := range 70 {
		at := start.Add(time.Duration(i) * 7 * 24 * time.Hour / 70)
		l := journal.LookupRecord{ID: fmt.Sprintf("lk-%03d", i), Device: "kiosk-1", Site: []string{"750712184", "130784234"}[i%2], Unit: "ACCUEIL",
			Received: at, Outcome: outcomes[i%len(outcomes)], Answer: []byte(`{}`)}
		if _, dup, err := j.KeepLookup(ctx, l); err != nil || dup {
			t.Fatal(dup, err)
		}
		want[[4]string{at.In(provisioning.Paris).Format("2006-01-02"), l.Site, l.Unit, l.Outcome}]++
	}
	if _, dup, err := j.KeepLookup(ctx, journal.LookupRecord{ID: "lk-000", Device: "kiosk-2", Received: start, Outcome: event.LookupFound, Answer: []byte(`{}`)}); err != nil || !dup {
		t.Fatalf("a known lookup id kept again: %v %v", dup, err)
	}
	if l, err := j.Lookup(ctx, "lk-000"); err != nil || l.Device != "kiosk-1" {
		t.Fatalf("lookup: %+v %v", l, err)
	}
	got, err := j.KioskLookups(ctx, journal.IndicatorQuery{From: start, To: start.AddDate(0, 0, 7), By: "day"})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, l := range got {
		if want[[4]string{l.Period, l.Site, l.Unit, l.Outcome}] != l.Count {
			t.Errorf("kiosk lookups %+v, kept %d", l, want[[4]string{l.Period, l.Site, l.Unit, l.Outcome}])
		}
		total += l.Count
	}
	if total != 70 || len(got) != len(want) {
		t.Errorf("kiosk lookups: %d in %d lines, want 70 in %d", total, len(got), len(want))
	}
}

// OpenSQLite opens a SQLite journal of its own for a test.
func OpenSQLite(t testing.TB) journal.Store {
	t.Helper()
	j, err := journal.OpenSQLite(filepath.Join(t.TempDir(), "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// Postgres opens, for each call, a journal in a database of its own on
// pg, owned by bridge-1.
func Postgres(pg *hwtest.Postgres) func(t *testing.T) journal.Store {
	n := 0
	return func(t *testing.T) journal.Store {
		t.Helper()
		n++
		return openPostgres(t, newDatabase(t, pg, fmt.Sprintf("journal_%d", n)), "bridge-1")
	}
}

// PostgresPair opens two bridges' journals, bridge-1's and bridge-2's, on
// one database of its own on pg.
func PostgresPair(t *testing.T, pg *hwtest.Postgres, name string) (journal.Store, journal.Store) {
	t.Helper()
	dsn := newDatabase(t, pg, name)
	return openPostgres(t, dsn, "bridge-1"), openPostgres(t, dsn, "bridge-2")
}

// newDatabase creates the database name on pg and returns its DSN.
func newDatabase(t *testing.T, pg *hwtest.Postgres, name string) string {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Exec(ctx, "CREATE DATABASE "+name)
	c.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Replace(pg.DSN, "/postgres?", "/"+name+"?", 1)
}

func openPostgres(t *testing.T, dsn, owner string) journal.Store {
	t.Helper()
	j, err := journal.OpenPostgres(context.Background(), dsn, owner)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}
