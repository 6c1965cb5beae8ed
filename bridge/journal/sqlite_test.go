package journal

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

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

// A journal made before the infocentre gains its columns when opened, and
// keeps its events; what it did not record (the patient's answer, the
// signing time) is counted as not known, not as a withdrawal or a wait.
func TestSQLiteMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE events (id TEXT PRIMARY KEY, device TEXT NOT NULL, seq INTEGER NOT NULL, site TEXT NOT NULL,
		unit TEXT NOT NULL, type TEXT NOT NULL, received INTEGER NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
		next_attempt INTEGER NOT NULL DEFAULT 0, outcome TEXT NOT NULL DEFAULT '', message TEXT NOT NULL DEFAULT '',
		last_error TEXT NOT NULL DEFAULT '', payload BLOB NOT NULL);
		INSERT INTO events (id, device, seq, site, unit, type, received, state, outcome, payload)
		VALUES ('old-1', 'kiosk-1', 1, '750712184', 'ACCUEIL', 'dmp.consent', 1790000000000, 'done', 'authorized', '{}')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	j, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if r, err := j.Get(context.Background(), "old-1"); err != nil || r.State != StateDone {
		t.Fatalf("the old event: %+v %v", r, err)
	}
	got, err := j.Indicators(context.Background(), IndicatorQuery{From: time.UnixMilli(1789000000000), To: time.UnixMilli(1791000000000), By: "range"})
	if err != nil || len(got) != 1 || got[0].Completed != 1 || got[0].Authorized != 0 || got[0].Withdrawn != 0 || got[0].Offline != 0 {
		t.Fatalf("indicators of the old journal: %+v %v", got, err)
	}
}
