package bridge

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"dmpkiosk/bridge/sih"
	"dmpkiosk/firmware/event"
	"dmpkiosk/hwtest"
	"dmpkiosk/ins"
)

// journalSuite is what every Journal must do; each implementation runs it.
func journalSuite(t *testing.T, open func(t *testing.T) Journal) {
	ctx := context.Background()
	rec := func(id, device string, seq int64) Record {
		return Record{ID: id, Device: device, Seq: seq, Site: "750712184", Unit: "ACCUEIL", Type: "dmp.consent",
			Received: time.Now(), Payload: []byte(`{"id":"` + id + `"}`)}
	}

	t.Run("idempotent by id, sequence enforced", func(t *testing.T) {
		j := open(t)
		if _, dup, err := j.Accept(ctx, rec("e1", "kiosk-1", 1)); err != nil || dup {
			t.Fatalf("accept: %v %v", dup, err)
		}
		got, dup, err := j.Accept(ctx, rec("e1", "kiosk-1", 1))
		if err != nil || !dup || got.State != StateVerified {
			t.Fatalf("redelivery: %+v %v %v", got, dup, err)
		}
		if _, _, err := j.Accept(ctx, rec("e0", "kiosk-1", 1)); !errors.Is(err, ErrReplay) {
			t.Fatalf("same sequence, new id: %v", err)
		}
		if _, _, err := j.Accept(ctx, rec("eX", "kiosk-1", 0)); !errors.Is(err, ErrReplay) {
			t.Fatalf("older sequence: %v", err)
		}
		if _, _, err := j.Accept(ctx, rec("f1", "kiosk-2", 1)); err != nil {
			t.Fatalf("another device: %v", err)
		}
		if _, err := j.Get(ctx, "nope"); !errors.Is(err, ErrUnknown) {
			t.Fatalf("unknown id: %v", err)
		}
	})

	t.Run("a refused event is kept, never claimed nor retried", func(t *testing.T) {
		j := open(t)
		r := rec("r1", "kiosk-1", 5)
		r.State, r.Message, r.LastError = StateRefused, "Demande trop ancienne", "too-old: signed 8 days ago"
		if got, dup, err := j.Accept(ctx, r); err != nil || dup || got.State != StateRefused {
			t.Fatalf("accept refused: %+v %v %v", got, dup, err)
		}
		// Its sequence is the device's: an older one is a replay.
		if _, _, err := j.Accept(ctx, rec("r0", "kiosk-1", 4)); !errors.Is(err, ErrReplay) {
			t.Fatalf("a sequence below the refused one: %v", err)
		}
		if claimed, err := j.Claim(ctx, time.Now(), 10); err != nil || len(claimed) != 0 {
			t.Fatalf("claimed a refused event: %+v %v", claimed, err)
		}
		_ = j.Retry(ctx, "r1")
		got, err := j.Get(ctx, "r1")
		if err != nil || got.State != StateRefused || got.Message != r.Message || got.LastError != r.LastError {
			t.Fatalf("after a retry: %+v %v", got, err)
		}
		// A verified event's fields cannot be set by its caller.
		v := rec("v1", "kiosk-1", 6)
		v.Message = "forged"
		if got, _, err := j.Accept(ctx, v); err != nil || got.State != StateVerified || got.Message != "" {
			t.Fatalf("accept verified: %+v %v", got, err)
		}
		if list, _, err := j.List(ctx, EventFilter{State: StateRefused, Limit: 10}); err != nil || len(list) != 1 || list[0].ID != "r1" {
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
		for _, got := range func() []Record {
			one, err := j.Get(ctx, "e1")
			if err != nil {
				t.Fatal(err)
			}
			list, _, err := j.List(ctx, EventFilter{})
			if err != nil || len(list) != 1 {
				t.Fatalf("list: %v %v", list, err)
			}
			return []Record{one, list[0]}
		}() {
			if got.Context != "bedside" || !got.Signed.Equal(r.Signed) || !got.Authorize || got.Oppositions != 2 || got.Identity != "qualifiée" {
				t.Errorf("read back: %+v", got)
			}
		}
	})

	t.Run("lists filtered and paged", func(t *testing.T) {
		j := open(t)
		day := time.Date(2026, 10, 5, 12, 0, 0, 0, paris)
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
		ids := func(f EventFilter) string {
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
		for f, want := range map[*EventFilter]string{
			{Site: "750712184", Limit: 2}:                                  "6:e8,e7",
			{Site: "750712184", Limit: 2, Offset: 4}:                       "6:e2,e1",
			{Unit: "URGENCES"}:                                             "3:e6,e3,e0",
			{From: day.AddDate(0, 0, 2), To: day.AddDate(0, 0, 4)}:         "2:e3,e2",
			{State: StateVerified, Site: "130784234", From: day, Limit: 1}: "3:e6",
			{State: StateDead}:                                             "0:",
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
			queued, err := j.SIHEnqueue(ctx, SIHMessage{ID: "gam/" + e.id, Receiver: "gam", Event: e.id, Patient: e.patient, State: SIHQuery,
				Payload: []byte(`{}`), Created: base.Add(time.Duration(i) * time.Second)})
			if err != nil || !queued {
				t.Fatal(queued, err)
			}
		}
		if queued, err := j.SIHEnqueue(ctx, SIHMessage{ID: "gam/e1", Receiver: "gam", Event: "e1", Patient: "p1", State: SIHQuery, Payload: []byte(`{}`), Created: base}); err != nil || queued {
			t.Fatalf("queued twice: %v %v", queued, err)
		}
		ids := func() string {
			due, err := j.SIHDue(ctx, "gam", time.Now(), 10)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, m := range due {
				out = append(out, m.Event)
			}
			return strings.Join(out, ",")
		}
		if got := ids(); got != "e1,e3" { // e2 waits behind e1, its patient's
			t.Fatalf("due: %s", got)
		}
		m, err := j.SIHGet(ctx, "gam/e1")
		if err != nil {
			t.Fatal(err)
		}
		m.State, m.IPP, m.Control, m.Message = SIHSend, "000042", "C1", []byte("MSH|...")
		if err := j.SIHSave(ctx, m, "sih.written", "control=C1"); err != nil {
			t.Fatal(err)
		}
		if got, _ := j.SIHGet(ctx, "gam/e1"); got.IPP != "000042" || string(got.Message) != "MSH|..." || got.State != SIHSend {
			t.Fatalf("saved: %+v", got)
		}
		m.State = SIHDone
		j.SIHSave(ctx, m, "sih.ack", "code=AA")
		if got := ids(); got != "e2,e3" {
			t.Fatalf("due after e1: %s", got)
		}
		if l, _ := j.SIHList(ctx, SIHDone, 10); len(l) != 1 || l[0].Event != "e1" {
			t.Fatalf("done: %+v", l)
		}
		if _, err := j.SIHGet(ctx, "gam/nope"); !errors.Is(err, ErrUnknown) {
			t.Fatalf("unknown entry: %v", err)
		}
		// The patients a GAM told of: found by INS, else by traits; told
		// again, updated, not doubled.
		for _, a := range []sih.Admitted{
			{IPP: "1", INS: "279035121518989", INSOID: ins.OIDNIR, BirthName: "PAT-TROIS", FirstName: "DOMINIQUE", BirthDate: "19790328", Sex: "F"},
			{IPP: "2", BirthName: "MARTIN", FirstName: "PAUL", BirthDate: "19750612", Sex: "M"},
			{IPP: "3", BirthName: "MARTIN", FirstName: "PAUL", BirthDate: "19750612", Sex: "M"},
			{IPP: "2", BirthName: "MARTIN", FirstName: "PAUL", BirthDate: "19750612", Sex: "M"},
		} {
			if err := j.SIHKnow(ctx, "gam", a); err != nil {
				t.Fatal(err)
			}
		}
		find := func(p sih.Patient) string {
			ipps, err := j.SIHFind(ctx, "gam", p)
			if err != nil {
				t.Fatal(err)
			}
			return strings.Join(ipps, ",")
		}
		byINS := sih.Patient{INS: &event.INS{Value: "279035121518989", OID: ins.OIDNIR}, Traits: ins.Traits{BirthName: "AUTRE"}}
		martin := sih.Patient{Traits: ins.Traits{BirthName: "MARTIN", FirstNames: []string{"PAUL"}, Sex: "M", BirthDate: "19750612"}}
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

	t.Run("identities purged after the retention, counts and audit kept", func(t *testing.T) {
		j := open(t)
		old := time.Now().Add(-100 * 24 * time.Hour)
		mk := func(id string, seq int64, at time.Time) Record {
			r := rec(id, "kiosk-1", seq)
			r.Received, r.Payload = at, []byte(`{"patient":{"traits":{"birth_name":"MARTIN"}}}`)
			return r
		}
		for i, r := range []Record{mk("old-done", 1, old), mk("old-dead", 2, old), mk("new-done", 3, time.Now())} {
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
		refused.State, refused.LastError = StateRefused, "site: x"
		if _, _, err := j.Accept(ctx, refused); err != nil {
			t.Fatal(err)
		}
		if _, _, err := j.KeepLookup(ctx, LookupRecord{ID: "old-lookup", Device: "kiosk-1", Received: old, Outcome: "found", INS: "175067511203371", OID: ins.OIDNIR, Answer: []byte(`{"traits":{}}`)}); err != nil {
			t.Fatal(err)
		}
		q := IndicatorQuery{From: old.Add(-time.Hour), To: time.Now().Add(time.Hour), By: "range"}
		before, _ := j.Indicators(ctx, q)
		if err := j.Purge(ctx, time.Now().Add(-DefaultRetention)); err != nil {
			t.Fatal(err)
		}
		for id, purged := range map[string]bool{"old-done": true, "old-refused": true, "old-dead": false, "new-done": false} {
			r, err := j.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(r.Payload) == string(PurgedPayload); got != purged {
				t.Errorf("%s: purged %v, want %v", id, got, purged)
			}
		}
		if l, _ := j.Lookup(ctx, "old-lookup"); l.INS != "" || string(l.Answer) != string(PurgedPayload) || l.Outcome != "found" {
			t.Errorf("the old lookup: %+v", l)
		}
		after, _ := j.Indicators(ctx, q)
		if fmt.Sprint(before) != fmt.Sprint(after) {
			t.Errorf("the counts changed:\n%v\n%v", before, after)
		}
		if n, broken, err := j.VerifyAudit(ctx); err != nil || broken != 0 || n == 0 {
			t.Fatalf("audit after the purge: %d %d %v", n, broken, err)
		}
		// Purged again: nothing more, no error.
		if err := j.Purge(ctx, time.Now().Add(-DefaultRetention)); err != nil {
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
		if err != nil || len(claimed) != 3 || claimed[0].State != StateProcessing || claimed[0].Attempts != 1 {
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
		if r, _ := j.Get(ctx, "e1"); r.State != StateDone || r.Outcome != "authorized" {
			t.Fatalf("done: %+v", r)
		}
		if c, _ := j.Claim(ctx, now, 10); len(c) != 0 {
			t.Fatalf("a failed event was claimed before its next attempt")
		}
		if c, _ := j.Claim(ctx, now.Add(2*time.Minute), 10); len(c) != 1 || c[0].ID != "e2" || c[0].Attempts != 2 {
			t.Fatalf("retry: %+v", c)
		}
		dead, _, err := j.List(ctx, EventFilter{State: StateDead, Limit: 10})
		if err != nil || len(dead) != 1 || dead[0].LastError != "DMPIdentityCertificationFailure" {
			t.Fatalf("dead letters: %+v %v", dead, err)
		}
		if err := j.Retry(ctx, "e3"); err != nil {
			t.Fatal(err)
		}
		if err := j.Retry(ctx, "e1"); !errors.Is(err, ErrUnknown) {
			t.Fatalf("retrying a done event: %v", err)
		}
		// A bridge stopped while processing: the events go back to the queue.
		if n, err := j.Recover(ctx); err != nil || n != 1 {
			t.Fatalf("recover: %d %v", n, err)
		}
		if r, _ := j.Get(ctx, "e2"); r.State != StateVerified {
			t.Fatalf("after recover: %s", r.State)
		}
		at := time.Now()
		ins, err := j.Indicators(ctx, IndicatorQuery{From: at.Add(-time.Hour), To: at.Add(time.Hour), By: "range"})
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
		if all, _, _ := j.List(ctx, EventFilter{State: StateVerified, Limit: 1000}); len(all) != 400 {
			t.Fatalf("%d events stored of 400", len(all))
		}
		if n, broken, _ := j.VerifyAudit(ctx); n != 400 || broken != 0 {
			t.Fatalf("audit %d broken %d", n, broken)
		}
	})
}

func TestSQLiteJournal(t *testing.T) { journalSuite(t, openSQLiteForTest) }

// openSQLiteForTest opens a journal of its own for a test.
func openSQLiteForTest(t *testing.T) Journal {
	j, err := OpenSQLite(filepath.Join(t.TempDir(), "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// The audit trail cannot be changed through the database's normal paths,
// and a change made behind them is found.
func TestSQLiteAuditTamper(t *testing.T) {
	ctx := context.Background()
	j, err := OpenSQLite(filepath.Join(t.TempDir(), "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for i := 0; i < 5; i++ {
		if err := j.Audit(ctx, "event.rejected", fmt.Sprint("kiosk-", i), "replay"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := j.db.Exec(`UPDATE audit SET detail = 'nothing' WHERE seq = 3`); err == nil {
		t.Fatal("the audit trail accepted an update")
	}
	if _, err := j.db.Exec(`DELETE FROM audit WHERE seq = 2`); err == nil {
		t.Fatal("the audit trail accepted a delete")
	}
	// Someone with the file drops the guard and rewrites a record.
	if _, err := j.db.Exec(`DROP TRIGGER audit_append_only_u`); err != nil {
		t.Fatal(err)
	}
	if _, err := j.db.Exec(`UPDATE audit SET detail = 'nothing' WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	n, broken, err := j.VerifyAudit(ctx)
	if err != nil || n != 2 || broken != 3 {
		t.Fatalf("tampered chain: %d good links, broken at %d, %v", n, broken, err)
	}
}

func TestPostgresJournal(t *testing.T) { journalSuite(t, postgresForTest(hwtest.StartPostgres(t))) }

func TestPostgresIndicators(t *testing.T) {
	indicatorSuite(t, postgresForTest(hwtest.StartPostgres(t)))
}

// postgresForTest opens, for each call, a journal in a database of its own
// on pg.
func postgresForTest(pg *hwtest.Postgres) func(t *testing.T) Journal {
	n := 0
	return func(t *testing.T) Journal {
		n++
		ctx := context.Background()
		admin, err := OpenPostgres(ctx, pg.DSN, "setup")
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("journal_%d", n)
		if _, err := admin.pool.Exec(ctx, "CREATE DATABASE "+name); err != nil {
			t.Fatal(err)
		}
		admin.Close()
		j, err := OpenPostgres(ctx, strings.Replace(pg.DSN, "/postgres?", "/"+name+"?", 1), "bridge-1")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { j.Close() })
		return j
	}
}
