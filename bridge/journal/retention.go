package journal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// Retention: the journal keeps the patients' identities only for the
// configured period after an event is done (the events' payloads, the
// lookups' answers, the information system's messages, the GAMs'
// patients, the documents' bodies and acknowledgements); what the infocentre counts (the columns beside the payload)
// and the audit trail — the access traces, which hold no identity — stay.

// PurgedPayload is what an event's payload becomes once its identity is
// purged.
var PurgedPayload = []byte(`{"purged":true}`)

// DefaultRetention is how long identities are kept after an event is done
// (inferred: the time for identity staff to match an identity by hand and
// for a patient to question a consent recorded at the desk; the patient's
// record itself is the DPI's and the DMP's, not the bridge's).
const DefaultRetention = 90 * 24 * time.Hour

// purge replaces the identities older than before; dead letters keep
// theirs until they are dealt with. It is audited.
func purge(ctx context.Context, db sqlJournal, before time.Time) error {
	at := before.UnixMilli()
	steps := []struct{ what, q string }{
		{"events", `UPDATE events SET payload = ? WHERE state IN ('done', 'refused') AND received < ? AND payload <> ?`},
		{"lookups", `UPDATE lookups SET answer = ?, ins = '', oid = '' WHERE received < ? AND answer <> ?`},
		{"sih", `UPDATE sih_outbox SET payload = ?, message = ? WHERE state = 'done' AND created < ? AND payload <> ?`},
		{"gam", `DELETE FROM sih_patients WHERE updated < ?`},
		// The documents settled (sent, refused, held): their body, what
		// the message said of the patient and their INS; their type,
		// unit, state and dates stay for the infocentre.
		{"documents", `UPDATE documents SET meta = ?, cda = ?, ins = '', ins_oid = '' WHERE state IN ('sent', 'refused', 'held')
			AND received < ? AND meta <> ?`},
		{"zam", `UPDATE zam_outbox SET message = ? WHERE state = 'done' AND created < ? AND message <> ?`},
	}
	for _, s := range steps {
		var args []any
		switch s.what {
		case "events", "lookups", "zam":
			args = []any{PurgedPayload, at, PurgedPayload}
		case "documents":
			args = []any{PurgedPayload, []byte{}, at, PurgedPayload}
		case "sih":
			args = []any{PurgedPayload, []byte{}, at, PurgedPayload}
		default:
			args = []any{at}
		}
		err := db.update(ctx, [3]string{"journal.purge", s.what, "identities before " + before.UTC().Format(time.RFC3339)}, bind(db, s.q), args...)
		if err != nil && !errors.Is(err, ErrUnknown) { // ErrUnknown: nothing to purge
			return fmt.Errorf("journal: purging the %s: %w", s.what, err)
		}
	}
	return nil
}

// Purge implements Store.
func (s sharedSQL) Purge(ctx context.Context, before time.Time) error {
	return purge(ctx, s.db, before)
}

// Backup writes a consistent copy of the journal to path while it runs
// (SQLite's VACUUM INTO, a read of one snapshot); path must not exist.
func (j *SQLiteJournal) Backup(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("journal backup: %s exists", path)
	}
	_, err := j.db.ExecContext(ctx, `VACUUM INTO ?`, path)
	return err
}

// RestoreSQLite puts a backup in the journal's place (the bridge stopped):
// the backup must open as a journal this bridge knows and its audit chain
// must hold; the journal it replaces is kept beside it (.replaced).
func RestoreSQLite(ctx context.Context, backup, journal string) (links int, err error) {
	j, err := OpenSQLite(backup)
	if err != nil {
		return 0, fmt.Errorf("journal restore: %w", err)
	}
	links, broken, err := j.VerifyAudit(ctx)
	j.Close()
	if err != nil || broken != 0 {
		return links, fmt.Errorf("journal restore: the backup's audit chain does not hold (link %d): %v", broken, err)
	}
	tmp := journal + ".restoring"
	b, err := os.ReadFile(backup)
	if err != nil {
		return links, err
	}
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return links, err
	}
	if _, err := os.Stat(journal); err == nil {
		if err := os.Rename(journal, journal+".replaced"); err != nil {
			return links, err
		}
	}
	for _, side := range []string{"-wal", "-shm"} {
		os.Remove(journal + side)
	}
	return links, os.Rename(tmp, journal)
}
