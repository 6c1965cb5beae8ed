package journal

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// SQLiteJournal is the default journal: one SQLite file, WAL and
// synchronous=FULL. Every write (accepts, claims, outcomes, audit links)
// goes through one writer that commits whatever is waiting in one
// transaction (group commit), so durability is paid once per batch; each
// write has its own savepoint, so one that fails leaves the others whole.
type SQLiteJournal struct {
	sharedSQL
	db     *sql.DB
	writes chan writeOp
	done   chan struct{}
	stmts  sync.Map // query → *sql.Stmt, prepared once per connection
}

// writeOp is one write: do runs inside the batch's transaction.
type writeOp struct {
	do    func(ctx context.Context, tx wtx) error
	reply chan error
}

// wtx is the writer's transaction, running prepared statements.
type wtx struct {
	tx *sql.Tx
	j  *SQLiteJournal
}

func (t wtx) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	st, ok := t.j.stmts.Load(q)
	if !ok {
		p, err := t.j.db.PrepareContext(ctx, q)
		if err != nil {
			return nil, err
		}
		if st, ok = t.j.stmts.LoadOrStore(q, p); ok {
			p.Close()
		}
	}
	return t.tx.StmtContext(ctx, st.(*sql.Stmt)), nil
}

func (t wtx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := t.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (t wtx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := t.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (t wtx) QueryRowContext(ctx context.Context, q string, args ...any) rowScanner {
	st, err := t.stmt(ctx, q)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

type rowScanner interface{ Scan(...any) error }

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

const sqliteSchema = `
CREATE TABLE IF NOT EXISTS events (
	id TEXT PRIMARY KEY, device TEXT NOT NULL, seq INTEGER NOT NULL, site TEXT NOT NULL, unit TEXT NOT NULL,
	type TEXT NOT NULL, received INTEGER NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL DEFAULT 0, outcome TEXT NOT NULL DEFAULT '', message TEXT NOT NULL DEFAULT '',
	last_error TEXT NOT NULL DEFAULT '', payload BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS events_due ON events (state, next_attempt);
CREATE TABLE IF NOT EXISTS devices (device TEXT PRIMARY KEY, last_seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS marks (event TEXT NOT NULL, mark TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (event, mark));
CREATE TABLE IF NOT EXISTS lookups (id TEXT PRIMARY KEY, device TEXT NOT NULL, site TEXT NOT NULL, unit TEXT NOT NULL,
	received INTEGER NOT NULL, outcome TEXT NOT NULL, ins TEXT NOT NULL, oid TEXT NOT NULL, answer BLOB NOT NULL);
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
	// One writer at a time (the writer goroutine), readers beside it (WAL);
	// more than one connection also lets a statement be prepared while the
	// writer's transaction holds its own.
	db.SetMaxOpenConns(4)
	if err := sqliteSchemaUp(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	j := &SQLiteJournal{db: db, writes: make(chan writeOp, 256), done: make(chan struct{})}
	j.sharedSQL = sharedSQL{j}
	go j.writer()
	return j, nil
}

// sqliteSchemaUp brings the journal to JournalSchema in one transaction,
// or refuses a newer one untouched.
func sqliteSchemaUp(db *sql.DB) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.Exec(schemaVersionTable); err != nil {
		return err
	}
	v := 0
	switch err := tx.QueryRow(`SELECT version FROM schema_version`).Scan(&v); {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return err
	}
	if v > JournalSchema {
		return schemaNewer(v)
	}
	if _, err := tx.Exec(sqliteSchema + ";\n" + fmt.Sprintf(sihSchema, "BLOB") + ";\n" + sihPatientsSchema + ";\n" +
		fmt.Sprintf(documentsSchema, "BLOB") + ";\n" + fmt.Sprintf(zamSchema, "BLOB")); err != nil {
		return err
	}
	// The columns an earlier journal lacks (SQLite has no ADD COLUMN IF
	// NOT EXISTS).
	for _, c := range addedColumns {
		var n int
		if err := tx.QueryRow(`SELECT count(*) FROM pragma_table_info(?) WHERE name = ?`, c[0], c[1]).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			if _, err := tx.Exec(`ALTER TABLE ` + c[0] + ` ADD COLUMN ` + c[1] + ` ` + c[2]); err != nil {
				return err
			}
		}
	}
	// Events an earlier bridge left in processing are this one's to
	// recover.
	if _, err := tx.Exec(`UPDATE events SET owner = ? WHERE state = 'processing' AND owner = ''`, sqliteOwner); err != nil {
		return err
	}
	if _, err := tx.Exec(`DELETE FROM schema_version`); err != nil {
		return err
	}
	if _, err := tx.Exec(`INSERT INTO schema_version (version) VALUES (?)`, JournalSchema); err != nil {
		return err
	}
	return tx.Commit()
}

// Close stops the writer and closes the database.
func (j *SQLiteJournal) Close() error {
	close(j.writes)
	<-j.done
	j.stmts.Range(func(_, st any) bool { st.(*sql.Stmt).Close(); return true })
	return j.db.Close()
}

// maxBatch bounds a group commit.
const maxBatch = 128

// writer takes the writes waiting and commits them together.
func (j *SQLiteJournal) writer() {
	defer close(j.done)
	for first := range j.writes {
		batch := []writeOp{first}
	drain:
		for len(batch) < maxBatch {
			select {
			case op, ok := <-j.writes:
				if !ok {
					break drain
				}
				batch = append(batch, op)
			default:
				break drain
			}
		}
		j.commitBatch(batch)
	}
}

func (j *SQLiteJournal) commitBatch(batch []writeOp) {
	ctx := context.Background()
	errs := make([]error, len(batch))
	tx, err := j.db.BeginTx(ctx, nil)
	if err == nil {
		for i, op := range batch {
			errs[i] = savepoint(ctx, wtx{tx, j}, op.do)
		}
		err = tx.Commit()
	}
	for i, op := range batch {
		if err != nil {
			errs[i] = err
		}
		op.reply <- errs[i]
	}
}

// savepoint runs do so that what it wrote is undone if it fails.
func savepoint(ctx context.Context, tx wtx, do func(context.Context, wtx) error) error {
	if _, err := tx.ExecContext(ctx, `SAVEPOINT op`); err != nil {
		return err
	}
	err := do(ctx, tx)
	if err != nil {
		if _, rerr := tx.ExecContext(ctx, `ROLLBACK TO op`); rerr != nil {
			return errors.Join(err, rerr)
		}
	}
	if _, rerr := tx.ExecContext(ctx, `RELEASE op`); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

// write hands do to the writer and waits for its batch to commit.
func (j *SQLiteJournal) write(ctx context.Context, do func(ctx context.Context, tx wtx) error) error {
	op := writeOp{do: do, reply: make(chan error, 1)}
	select {
	case j.writes <- op:
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-op.reply
}

// acceptTx decides one accept inside the batch's transaction; a replay or
// a duplicate writes nothing.
func acceptTx(ctx context.Context, tx wtx, r Record) (Record, bool, error) {
	if stored, err := getRecord(tx.QueryRowContext(ctx, selectRecord, r.ID)); err == nil {
		return stored, true, nil
	} else if !errors.Is(err, ErrUnknown) {
		return Record{}, false, err
	}
	var last int64
	switch err := tx.QueryRowContext(ctx, `SELECT last_seq FROM devices WHERE device = ?`, r.Device).Scan(&last); {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return Record{}, false, err
	}
	if r.Seq <= last {
		return Record{}, false, fmt.Errorf("%w: %d after %d from %s", ErrReplay, r.Seq, last, r.Device)
	}
	kind := acceptState(&r)
	if _, err := tx.ExecContext(ctx, `INSERT INTO events (id, device, seq, site, unit, type, received, state, message, last_error, payload,
		context, signed, authorize, oppositions, identity) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.Device, r.Seq, r.Site, r.Unit, r.Type, r.Received.UnixMilli(), r.State, r.Message, r.LastError, r.Payload,
		r.Context, signedMillis(r), boolInt(r.Authorize), r.Oppositions, r.Identity); err != nil {
		return Record{}, false, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO devices (device, last_seq) VALUES (?, ?)
		ON CONFLICT (device) DO UPDATE SET last_seq = excluded.last_seq`, r.Device, r.Seq); err != nil {
		return Record{}, false, err
	}
	if err := appendAudit(ctx, tx, kind, r.ID, acceptDetail(r)); err != nil {
		return Record{}, false, err
	}
	return r, false, nil
}

// Accept implements Events.
func (j *SQLiteJournal) Accept(ctx context.Context, r Record) (stored Record, dup bool, err error) {
	err = j.write(ctx, func(ctx context.Context, tx wtx) (err error) {
		stored, dup, err = acceptTx(ctx, tx, r)
		return err
	})
	if err != nil {
		return Record{}, false, err
	}
	return stored, dup, nil
}

const selectRecord = `SELECT ` + recordCols + ` FROM events WHERE id = ?`

// getRecord scans the row of selectRecord.
func getRecord(row rowScanner) (Record, error) {
	r, err := scanRecord(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, ErrUnknown
	}
	return r, err
}

// Mark implements Events.
func (j *SQLiteJournal) Mark(ctx context.Context, id, mark string) error {
	return j.write(ctx, func(ctx context.Context, tx wtx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO marks (event, mark, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, id, mark, time.Now().UnixMilli())
		return err
	})
}

// Marked implements Events.
func (j *SQLiteJournal) Marked(ctx context.Context, id, mark string) (bool, error) {
	var n int
	err := j.db.QueryRowContext(ctx, `SELECT count(*) FROM marks WHERE event = ? AND mark = ?`, id, mark).Scan(&n)
	return n > 0, err
}

// KeepLookup implements Lookups.
func (j *SQLiteJournal) KeepLookup(ctx context.Context, l LookupRecord) (stored LookupRecord, dup bool, err error) {
	err = j.write(ctx, func(ctx context.Context, tx wtx) error {
		if s, err := scanLookup(tx.QueryRowContext(ctx, `SELECT `+lookupCols+` FROM lookups WHERE id = ?`, l.ID)); err == nil {
			stored, dup = s, true
			return nil
		} else if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO lookups (`+lookupCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, lookupArgs(l)...); err != nil {
			return err
		}
		stored = l
		kind, ref, detail := lookupAudit(l)
		return appendAudit(ctx, tx, kind, ref, detail)
	})
	return stored, dup, err
}

// Lookup implements Lookups.
func (j *SQLiteJournal) Lookup(ctx context.Context, id string) (LookupRecord, error) {
	l, err := scanLookup(j.db.QueryRowContext(ctx, `SELECT `+lookupCols+` FROM lookups WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return LookupRecord{}, ErrUnknown
	}
	return l, err
}

// Get implements Events.
func (j *SQLiteJournal) Get(ctx context.Context, id string) (Record, error) {
	return getRecord(j.db.QueryRowContext(ctx, selectRecord, id))
}

// Claim implements Events.
func (j *SQLiteJournal) Claim(ctx context.Context, now time.Time, n int) ([]Record, error) {
	return claimEvents(ctx, j, now, n)
}

func (j *SQLiteJournal) update(ctx context.Context, audit [3]string, q string, args ...any) error {
	return j.write(ctx, func(ctx context.Context, tx wtx) error {
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrUnknown
		}
		return appendAudit(ctx, tx, audit[0], audit[1], audit[2])
	})
}

// Finish implements Events.
func (j *SQLiteJournal) Finish(ctx context.Context, id, outcome, message string) error {
	return j.update(ctx, [3]string{"event.done", id, "outcome=" + outcome},
		`UPDATE events SET state = ?, outcome = ?, message = ?, last_error = '' WHERE id = ?`, StateDone, outcome, message, id)
}

// Fail implements Events.
func (j *SQLiteJournal) Fail(ctx context.Context, id, lastErr string, next time.Time, dead bool) error {
	state, kind := StateFailed, "event.failed"
	if dead {
		state, kind = StateDead, "event.dead"
	}
	return j.update(ctx, [3]string{kind, id, lastErr},
		`UPDATE events SET state = ?, last_error = ?, next_attempt = ? WHERE id = ?`, state, lastErr, next.UnixMilli(), id)
}

// Retry implements Events.
func (j *SQLiteJournal) Retry(ctx context.Context, id string) error {
	return j.update(ctx, [3]string{"deadletter.retry", id, ""},
		`UPDATE events SET state = ?, next_attempt = 0, attempts = 0 WHERE id = ? AND state = ?`, StateVerified, id, StateDead)
}

// Audit implements Auditor.
func (j *SQLiteJournal) Audit(ctx context.Context, kind, ref, detail string) error {
	return j.write(ctx, func(ctx context.Context, tx wtx) error { return appendAudit(ctx, tx, kind, ref, detail) })
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

func appendAudit(ctx context.Context, tx wtx, kind, ref, detail string) error {
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

// VerifyAudit implements Auditor.
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

func (j *SQLiteJournal) placeholder(int) string { return "?" }

func (j *SQLiteJournal) queryRows(ctx context.Context, query string, args ...any) (rowsReader, func(), error) {
	rows, err := j.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, nil, err
	}
	return rows, func() { rows.Close() }, nil
}

// Indicators implements Indicators.
func (j *SQLiteJournal) Indicators(ctx context.Context, q IndicatorQuery) ([]Indicator, error) {
	return indicators(ctx, j, `substr(last_error, 1, instr(last_error, ':') - 1)`, q)
}

// INSiLookups implements Indicators.
func (j *SQLiteJournal) INSiLookups(ctx context.Context, q IndicatorQuery) ([]INSiLookup, error) {
	return insiLookups(ctx, j, `substr(detail, 1, instr(detail, ' in ') - 1)`, q)
}

// sqliteOwner is the one bridge of a SQLite journal, as a claim's owner.
const sqliteOwner = "local"

func (j *SQLiteJournal) claimOwner() string { return sqliteOwner }
func (j *SQLiteJournal) skipLocked() bool   { return false }

func (j *SQLiteJournal) inWrite(ctx context.Context, _ string, do func(ctx context.Context, read rowsQuery) error) error {
	return j.write(ctx, func(ctx context.Context, tx wtx) error {
		return do(ctx, func(ctx context.Context, q string, args ...any) (rowsReader, func(), error) {
			rows, err := tx.QueryContext(ctx, q, args...)
			if err != nil {
				return nil, nil, err
			}
			return rows, func() { rows.Close() }, nil
		})
	})
}

func (j *SQLiteJournal) exec(ctx context.Context, q string, args ...any) (n int64, err error) {
	err = j.write(ctx, func(ctx context.Context, tx wtx) error {
		res, err := tx.ExecContext(ctx, q, args...)
		if err == nil {
			n, err = res.RowsAffected()
		}
		return err
	})
	return n, err
}
