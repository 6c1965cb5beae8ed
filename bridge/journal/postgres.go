package journal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PGJournal is the journal for several bridges sharing one PostgreSQL
// database: claims take rows with FOR UPDATE SKIP LOCKED under a lease, so
// that a bridge that dies mid-event leaves it to the others once the lease
// ends; the audit chain is appended under an advisory lock. Use a DSN with
// sslmode=verify-full between hosts: the journal holds health data.
type PGJournal struct {
	sharedSQL
	pool  *pgxpool.Pool
	owner string        // this bridge, for Recover
	lease time.Duration // how long a claim is held
}

const pgSchema = `
CREATE TABLE IF NOT EXISTS events (
	id TEXT PRIMARY KEY, device TEXT NOT NULL, seq BIGINT NOT NULL, site TEXT NOT NULL, unit TEXT NOT NULL,
	type TEXT NOT NULL, received BIGINT NOT NULL, state TEXT NOT NULL, attempts INT NOT NULL DEFAULT 0,
	next_attempt BIGINT NOT NULL DEFAULT 0, outcome TEXT NOT NULL DEFAULT '', message TEXT NOT NULL DEFAULT '',
	last_error TEXT NOT NULL DEFAULT '', payload BYTEA NOT NULL, owner TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS events_due ON events (state, next_attempt);
CREATE TABLE IF NOT EXISTS devices (device TEXT PRIMARY KEY, last_seq BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS marks (event TEXT NOT NULL, mark TEXT NOT NULL, at BIGINT NOT NULL, PRIMARY KEY (event, mark));
CREATE TABLE IF NOT EXISTS lookups (id TEXT PRIMARY KEY, device TEXT NOT NULL, site TEXT NOT NULL, unit TEXT NOT NULL,
	received BIGINT NOT NULL, outcome TEXT NOT NULL, ins TEXT NOT NULL, oid TEXT NOT NULL, answer BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS audit (seq BIGINT PRIMARY KEY, at BIGINT NOT NULL, kind TEXT NOT NULL, ref TEXT NOT NULL,
	detail TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL);
CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger AS $$
	BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$ LANGUAGE plpgsql;
DO $$ BEGIN
	CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only();
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
`

// Advisory lock keys.
const (
	lockSchema = 0x646d70_01
	lockAudit  = 0x646d70_02
)

// OpenPostgres connects and creates the schema; owner names this bridge.
func OpenPostgres(ctx context.Context, dsn, owner string) (*PGJournal, error) {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, err
	}
	j := &PGJournal{pool: pool, owner: owner, lease: 5 * time.Minute}
	j.sharedSQL = sharedSQL{j}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockSchema); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, schemaVersionTable); err != nil {
			return err
		}
		v := 0
		switch err := tx.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&v); {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return err
		}
		if v > JournalSchema {
			return schemaNewer(v)
		}
		if _, err := tx.Exec(ctx, pgSchema); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, fmt.Sprintf(sihSchema, "BYTEA")); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sihPatientsSchema); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, fmt.Sprintf(documentsSchema, "BYTEA")); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, fmt.Sprintf(zamSchema, "BYTEA")); err != nil {
			return err
		}
		for _, c := range addedColumns {
			if _, err := tx.Exec(ctx, `ALTER TABLE `+c[0]+` ADD COLUMN IF NOT EXISTS `+c[1]+` `+c[2]); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM schema_version`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES ($1)`, JournalSchema)
		return err
	})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("journal schema: %w", err)
	}
	return j, nil
}

// Close closes the pool.
func (j *PGJournal) Close() error { j.pool.Close(); return nil }

func pgScan(row pgx.Row) (Record, error) {
	r, err := scanRecord(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return Record{}, ErrUnknown
	}
	return r, err
}

func pgAudit(ctx context.Context, tx pgx.Tx, kind, ref, detail string) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockAudit); err != nil {
		return err
	}
	var seq int64
	prev := ""
	switch err := tx.QueryRow(ctx, `SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).Scan(&seq, &prev); {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return err
	}
	seq++
	at := time.Now().UnixMilli()
	_, err := tx.Exec(ctx, `INSERT INTO audit (seq, at, kind, ref, detail, prev, hash) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		seq, at, kind, ref, detail, prev, chainHash(prev, seq, at, kind, ref, detail))
	return err
}

// Accept implements Events.
func (j *PGJournal) Accept(ctx context.Context, r Record) (Record, bool, error) {
	var out Record
	var dup bool
	err := pgx.BeginFunc(ctx, j.pool, func(tx pgx.Tx) error {
		// The device's row first: another bridge storing an event of the
		// same device holds it until it commits; only then is the id
		// looked for, so that the same event stored by the other bridge
		// meanwhile is seen as a redelivery, not as a replayed sequence.
		if _, err := tx.Exec(ctx, `INSERT INTO devices (device, last_seq) VALUES ($1, 0) ON CONFLICT DO NOTHING`, r.Device); err != nil {
			return err
		}
		var last int64
		if err := tx.QueryRow(ctx, `SELECT last_seq FROM devices WHERE device = $1 FOR UPDATE`, r.Device).Scan(&last); err != nil {
			return err
		}
		if stored, err := pgScan(tx.QueryRow(ctx, `SELECT `+recordCols+` FROM events WHERE id = $1`, r.ID)); err == nil {
			out, dup = stored, true
			return nil
		} else if !errors.Is(err, ErrUnknown) {
			return err
		}
		if r.Seq <= last {
			return fmt.Errorf("%w: %d after %d from %s", ErrReplay, r.Seq, last, r.Device)
		}
		kind := acceptState(&r)
		if _, err := tx.Exec(ctx, `INSERT INTO events (id, device, seq, site, unit, type, received, state, message, last_error, payload,
			context, signed, authorize, oppositions, identity) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
			r.ID, r.Device, r.Seq, r.Site, r.Unit, r.Type, r.Received.UnixMilli(), r.State, r.Message, r.LastError, r.Payload,
			r.Context, signedMillis(r), boolInt(r.Authorize), r.Oppositions, r.Identity); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE devices SET last_seq = $2 WHERE device = $1`, r.Device, r.Seq); err != nil {
			return err
		}
		out = r
		return pgAudit(ctx, tx, kind, r.ID, acceptDetail(r))
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		// Another bridge stored the same event meanwhile: a redelivery.
		stored, gerr := j.Get(ctx, r.ID)
		return stored, true, gerr
	}
	return out, dup, err
}

// Mark implements Events.
func (j *PGJournal) Mark(ctx context.Context, id, mark string) error {
	_, err := j.pool.Exec(ctx, `INSERT INTO marks (event, mark, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, id, mark, time.Now().UnixMilli())
	return err
}

// KeepLookup implements Lookups.
func (j *PGJournal) KeepLookup(ctx context.Context, l LookupRecord) (stored LookupRecord, dup bool, err error) {
	err = pgx.BeginFunc(ctx, j.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO lookups (`+lookupCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING`, lookupArgs(l)...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			dup = true
			stored, err = scanLookup(tx.QueryRow(ctx, `SELECT `+lookupCols+` FROM lookups WHERE id = $1`, l.ID))
			return err
		}
		stored = l
		kind, ref, detail := lookupAudit(l)
		return pgAudit(ctx, tx, kind, ref, detail)
	})
	return stored, dup, err
}

// Lookup implements Lookups.
func (j *PGJournal) Lookup(ctx context.Context, id string) (LookupRecord, error) {
	l, err := scanLookup(j.pool.QueryRow(ctx, `SELECT `+lookupCols+` FROM lookups WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return LookupRecord{}, ErrUnknown
	}
	return l, err
}

// Marked implements Events.
func (j *PGJournal) Marked(ctx context.Context, id, mark string) (bool, error) {
	var n int
	err := j.pool.QueryRow(ctx, `SELECT count(*) FROM marks WHERE event = $1 AND mark = $2`, id, mark).Scan(&n)
	return n > 0, err
}

// Get implements Events.
func (j *PGJournal) Get(ctx context.Context, id string) (Record, error) {
	return pgScan(j.pool.QueryRow(ctx, `SELECT `+recordCols+` FROM events WHERE id = $1`, id))
}

// Claim implements Events; a claim is a lease that another bridge may
// take over once it ends.
func (j *PGJournal) Claim(ctx context.Context, now time.Time, n int) ([]Record, error) {
	return claimEvents(ctx, j, now, n)
}

func (j *PGJournal) update(ctx context.Context, audit [3]string, q string, args ...any) error {
	return pgx.BeginFunc(ctx, j.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, q, args...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrUnknown
		}
		return pgAudit(ctx, tx, audit[0], audit[1], audit[2])
	})
}

// Finish implements Events.
func (j *PGJournal) Finish(ctx context.Context, id, outcome, message string) error {
	return j.update(ctx, [3]string{"event.done", id, "outcome=" + outcome},
		`UPDATE events SET state = $1, outcome = $2, message = $3, last_error = '' WHERE id = $4`, StateDone, outcome, message, id)
}

// Fail implements Events.
func (j *PGJournal) Fail(ctx context.Context, id, lastErr string, next time.Time, dead bool) error {
	state, kind := StateFailed, "event.failed"
	if dead {
		state, kind = StateDead, "event.dead"
	}
	return j.update(ctx, [3]string{kind, id, lastErr},
		`UPDATE events SET state = $1, last_error = $2, next_attempt = $3 WHERE id = $4`, state, lastErr, next.UnixMilli(), id)
}

// Retry implements Events.
func (j *PGJournal) Retry(ctx context.Context, id string) error {
	return j.update(ctx, [3]string{"deadletter.retry", id, ""},
		`UPDATE events SET state = $1, next_attempt = 0, attempts = 0 WHERE id = $2 AND state = $3`, StateVerified, id, StateDead)
}

// Audit implements Auditor.
func (j *PGJournal) Audit(ctx context.Context, kind, ref, detail string) error {
	return pgx.BeginFunc(ctx, j.pool, func(tx pgx.Tx) error { return pgAudit(ctx, tx, kind, ref, detail) })
}

// VerifyAudit implements Auditor.
func (j *PGJournal) VerifyAudit(ctx context.Context) (int, int64, error) {
	rows, err := j.pool.Query(ctx, `SELECT seq, at, kind, ref, detail, prev, hash FROM audit ORDER BY seq`)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	return walkChain(rows.Next, rows.Scan, rows.Err)
}

// pgPlaceholder is PostgreSQL's n-th placeholder.
func pgPlaceholder(i int) string { return fmt.Sprintf("$%d", i) }

func (j *PGJournal) placeholder(i int) string { return pgPlaceholder(i) }

func (j *PGJournal) queryRows(ctx context.Context, query string, args ...any) (rowsReader, func(), error) {
	rows, err := j.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, nil, err
	}
	return rows, rows.Close, nil
}

// Indicators implements Indicators.
func (j *PGJournal) Indicators(ctx context.Context, q IndicatorQuery) ([]Indicator, error) {
	return indicators(ctx, j, `split_part(last_error, ':', 1)`, q)
}

// INSiLookups implements Indicators.
func (j *PGJournal) INSiLookups(ctx context.Context, q IndicatorQuery) ([]INSiLookup, error) {
	return insiLookups(ctx, j, `split_part(detail, ' in ', 1)`, q)
}

func (j *PGJournal) claimOwner() string { return j.owner }
func (j *PGJournal) skipLocked() bool   { return true }

func (j *PGJournal) inWrite(ctx context.Context, lock string, do func(ctx context.Context, read rowsQuery) error) error {
	if lock == "" {
		return do(ctx, j.queryRows)
	}
	return pgx.BeginFunc(ctx, j.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, lock); err != nil {
			return err
		}
		return do(ctx, func(ctx context.Context, q string, args ...any) (rowsReader, func(), error) {
			rows, err := tx.Query(ctx, q, args...)
			if err != nil {
				return nil, nil, err
			}
			return rows, rows.Close, nil
		})
	})
}

func (j *PGJournal) exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := j.pool.Exec(ctx, q, args...)
	return tag.RowsAffected(), err
}
