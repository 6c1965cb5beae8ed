package bridge

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// SQLiteJournal is the default journal: one SQLite file, WAL and
// synchronous=FULL. Accepts arriving together are written in one
// transaction (group commit), so durability is paid once per batch.
type SQLiteJournal struct {
	db      *sql.DB
	accepts chan acceptReq
	done    chan struct{}
}

type acceptReq struct {
	r     Record
	reply chan acceptRes
}

type acceptRes struct {
	stored Record
	dup    bool
	err    error
}

const sqliteSchema = `
CREATE TABLE IF NOT EXISTS events (
	id TEXT PRIMARY KEY, device TEXT NOT NULL, seq INTEGER NOT NULL, site TEXT NOT NULL, unit TEXT NOT NULL,
	type TEXT NOT NULL, received INTEGER NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL DEFAULT 0, outcome TEXT NOT NULL DEFAULT '', message TEXT NOT NULL DEFAULT '',
	last_error TEXT NOT NULL DEFAULT '', payload BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS events_due ON events (state, next_attempt);
CREATE TABLE IF NOT EXISTS devices (device TEXT PRIMARY KEY, last_seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, kind TEXT NOT NULL,
	ref TEXT NOT NULL, detail TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS audit_append_only_u BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_append_only_d BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
`

// OpenSQLite opens (or creates) the journal at path.
func OpenSQLite(path string) (*SQLiteJournal, error) {
	// Write transactions take the lock when they begin (IMMEDIATE), so that a
	// journal locked by another writer is waited for (busy_timeout), not
	// failed when a read turns into a write.
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(sqliteSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	j := &SQLiteJournal{db: db, accepts: make(chan acceptReq, 256), done: make(chan struct{})}
	go j.writer()
	return j, nil
}

// Close stops the writer and closes the database.
func (j *SQLiteJournal) Close() error {
	close(j.accepts)
	<-j.done
	return j.db.Close()
}

// maxBatch bounds a group commit.
const maxBatch = 128

// writer takes the accepts waiting and commits them together.
func (j *SQLiteJournal) writer() {
	defer close(j.done)
	for first := range j.accepts {
		batch := []acceptReq{first}
	drain:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-j.accepts:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		j.commitBatch(batch)
	}
}

func (j *SQLiteJournal) commitBatch(batch []acceptReq) {
	ctx := context.Background()
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		for _, r := range batch {
			r.reply <- acceptRes{err: err}
		}
		return
	}
	res := make([]acceptRes, len(batch))
	for i, req := range batch {
		res[i] = acceptTx(ctx, tx, req.r)
	}
	if err := tx.Commit(); err != nil {
		for i := range res {
			res[i] = acceptRes{err: err}
		}
	}
	for i, req := range batch {
		req.reply <- res[i]
	}
}

// acceptTx decides one accept inside the batch's transaction; a replay or
// a duplicate writes nothing.
func acceptTx(ctx context.Context, tx *sql.Tx, r Record) acceptRes {
	if stored, err := getRecord(ctx, tx, r.ID); err == nil {
		return acceptRes{stored: stored, dup: true}
	} else if !errors.Is(err, ErrUnknown) {
		return acceptRes{err: err}
	}
	var last int64
	switch err := tx.QueryRowContext(ctx, `SELECT last_seq FROM devices WHERE device = ?`, r.Device).Scan(&last); {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return acceptRes{err: err}
	}
	if r.Seq <= last {
		return acceptRes{err: fmt.Errorf("%w: %d after %d from %s", ErrReplay, r.Seq, last, r.Device)}
	}
	r.State = StateVerified
	if _, err := tx.ExecContext(ctx, `INSERT INTO events (id, device, seq, site, unit, type, received, state, payload)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, r.Device, r.Seq, r.Site, r.Unit, r.Type, r.Received.UnixMilli(), r.State, r.Payload); err != nil {
		return acceptRes{err: err}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO devices (device, last_seq) VALUES (?, ?)
		ON CONFLICT (device) DO UPDATE SET last_seq = excluded.last_seq`, r.Device, r.Seq); err != nil {
		return acceptRes{err: err}
	}
	if err := appendAudit(ctx, tx, "event.accepted", r.ID, fmt.Sprintf("device=%s seq=%d type=%s", r.Device, r.Seq, r.Type)); err != nil {
		return acceptRes{err: err}
	}
	return acceptRes{stored: r}
}

// Accept implements Journal.
func (j *SQLiteJournal) Accept(ctx context.Context, r Record) (Record, bool, error) {
	req := acceptReq{r: r, reply: make(chan acceptRes, 1)}
	select {
	case j.accepts <- req:
	case <-ctx.Done():
		return Record{}, false, ctx.Err()
	}
	res := <-req.reply
	return res.stored, res.dup, res.err
}

type queryer interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

const recordCols = `id, device, seq, site, unit, type, received, state, attempts, next_attempt, outcome, message, last_error, payload`

func scanRecord(row interface{ Scan(...any) error }) (Record, error) {
	var r Record
	var received, next int64
	err := row.Scan(&r.ID, &r.Device, &r.Seq, &r.Site, &r.Unit, &r.Type, &received, &r.State, &r.Attempts, &next,
		&r.Outcome, &r.Message, &r.LastError, &r.Payload)
	r.Received, r.NextAttempt = time.UnixMilli(received), time.UnixMilli(next)
	return r, err
}

func getRecord(ctx context.Context, q queryer, id string) (Record, error) {
	r, err := scanRecord(q.QueryRowContext(ctx, `SELECT `+recordCols+` FROM events WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, ErrUnknown
	}
	return r, err
}

// Get implements Journal.
func (j *SQLiteJournal) Get(ctx context.Context, id string) (Record, error) {
	return getRecord(ctx, j.db, id)
}

// Claim implements Journal.
func (j *SQLiteJournal) Claim(ctx context.Context, now time.Time, n int) ([]Record, error) {
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT `+recordCols+` FROM events
		WHERE state = ? OR (state = ? AND next_attempt <= ?) ORDER BY received LIMIT ?`,
		StateVerified, StateFailed, now.UnixMilli(), n)
	if err != nil {
		return nil, err
	}
	var out []Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, r)
	}
	rows.Close()
	for i := range out {
		out[i].State = StateProcessing
		out[i].Attempts++
		if _, err := tx.ExecContext(ctx, `UPDATE events SET state = ?, attempts = attempts + 1 WHERE id = ?`, StateProcessing, out[i].ID); err != nil {
			return nil, err
		}
	}
	return out, tx.Commit()
}

func (j *SQLiteJournal) update(ctx context.Context, audit [3]string, q string, args ...any) error {
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrUnknown
	}
	if err := appendAudit(ctx, tx, audit[0], audit[1], audit[2]); err != nil {
		return err
	}
	return tx.Commit()
}

// Finish implements Journal.
func (j *SQLiteJournal) Finish(ctx context.Context, id, outcome, message string) error {
	return j.update(ctx, [3]string{"event.done", id, "outcome=" + outcome},
		`UPDATE events SET state = ?, outcome = ?, message = ?, last_error = '' WHERE id = ?`, StateDone, outcome, message, id)
}

// Fail implements Journal.
func (j *SQLiteJournal) Fail(ctx context.Context, id, lastErr string, next time.Time, dead bool) error {
	state, kind := StateFailed, "event.failed"
	if dead {
		state, kind = StateDead, "event.dead"
	}
	return j.update(ctx, [3]string{kind, id, lastErr},
		`UPDATE events SET state = ?, last_error = ?, next_attempt = ? WHERE id = ?`, state, lastErr, next.UnixMilli(), id)
}

// Recover implements Journal.
func (j *SQLiteJournal) Recover(ctx context.Context) (int, error) {
	res, err := j.db.ExecContext(ctx, `UPDATE events SET state = ? WHERE state = ?`, StateVerified, StateProcessing)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// Retry implements Journal.
func (j *SQLiteJournal) Retry(ctx context.Context, id string) error {
	return j.update(ctx, [3]string{"deadletter.retry", id, ""},
		`UPDATE events SET state = ?, next_attempt = 0, attempts = 0 WHERE id = ? AND state = ?`, StateVerified, id, StateDead)
}

// List implements Journal.
func (j *SQLiteJournal) List(ctx context.Context, state string, limit int) ([]Record, error) {
	rows, err := j.db.QueryContext(ctx, `SELECT `+recordCols+` FROM events WHERE state = ? OR ? = '' ORDER BY received DESC LIMIT ?`, state, state, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Audit implements Journal.
func (j *SQLiteJournal) Audit(ctx context.Context, kind, ref, detail string) error {
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := appendAudit(ctx, tx, kind, ref, detail); err != nil {
		return err
	}
	return tx.Commit()
}

// chainHash links an audit entry to the one before it.
func chainHash(prev string, seq int64, at int64, kind, ref, detail string) string {
	h := sha256.New()
	for _, part := range []string{prev, strconv.FormatInt(seq, 10), strconv.FormatInt(at, 10), kind, ref, detail} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func appendAudit(ctx context.Context, tx *sql.Tx, kind, ref, detail string) error {
	var seq int64
	prev := ""
	switch err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).Scan(&seq, &prev); {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return err
	}
	seq++
	at := time.Now().UnixMilli()
	_, err := tx.ExecContext(ctx, `INSERT INTO audit (seq, at, kind, ref, detail, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		seq, at, kind, ref, detail, prev, chainHash(prev, seq, at, kind, ref, detail))
	return err
}

// VerifyAudit implements Journal.
func (j *SQLiteJournal) VerifyAudit(ctx context.Context) (int, int64, error) {
	rows, err := j.db.QueryContext(ctx, `SELECT seq, at, kind, ref, detail, prev, hash FROM audit ORDER BY seq`)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	return walkChain(rows.Next, rows.Scan, rows.Err)
}

// walkChain checks the links of an audit trail read in order: it returns
// the number of links that hold and the first that does not (0 if none).
func walkChain(next func() bool, scan func(...any) error, end func() error) (int, int64, error) {
	prev, n, want := "", 0, int64(1)
	for next() {
		var e AuditEntry
		var at int64
		if err := scan(&e.Seq, &at, &e.Kind, &e.Ref, &e.Detail, &e.Prev, &e.Hash); err != nil {
			return n, 0, err
		}
		if e.Seq != want || e.Prev != prev || e.Hash != chainHash(prev, e.Seq, at, e.Kind, e.Ref, e.Detail) {
			return n, e.Seq, nil
		}
		prev, want = e.Hash, e.Seq+1
		n++
	}
	return n, 0, end()
}

// Usage implements Journal.
func (j *SQLiteJournal) Usage(ctx context.Context) ([]Usage, error) {
	rows, err := j.db.QueryContext(ctx, `SELECT site, unit, strftime('%Y-%m-%d', received / 1000, 'unixepoch'), outcome, count(*)
		FROM events WHERE state = ? GROUP BY 1, 2, 3, 4 ORDER BY 3, 1, 2, 4`, StateDone)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Usage
	for rows.Next() {
		var u Usage
		if err := rows.Scan(&u.Site, &u.Unit, &u.Day, &u.Action, &u.Count); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}
