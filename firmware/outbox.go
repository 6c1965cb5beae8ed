package firmware

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// ErrOutboxFull means the outbox holds its maximum: the event was not
// stored and the staff must be told (never a silent drop).
var ErrOutboxFull = errors.New("outbox: full")

// Pending is one sealed event waiting for the bridge's result.
type Pending struct {
	ID          string
	Seq         int64
	Body        string // the sealed event (JWE)
	Created     time.Time
	Attempts    int
	NextAttempt time.Time
}

// Outbox keeps sealed events until the bridge's result for each arrives
// (PUBACK is not enough), and the device's event sequence number, across
// restarts. SQLite with WAL and synchronous=FULL: a stored event survives a
// power cut. Rows carry a digest; a row that no longer matches it is moved
// to quarantine and reported, never sent.
type Outbox struct {
	db       *sql.DB
	capacity int
}

// OutboxSchema is the version of the outbox's schema this kiosk writes.
const OutboxSchema = 1

// ErrOutboxNewer is an outbox written by a newer kiosk.
var ErrOutboxNewer = errors.New("outbox: written by a newer kiosk")

// OpenOutbox opens (or creates) the outbox at path.
func OpenOutbox(path string, capacity int) (*Outbox, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(5000)&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1) // one writer; SQLite serialises anyway
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS outbox (id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, created INTEGER NOT NULL,
			body TEXT NOT NULL, digest BLOB NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt INTEGER NOT NULL DEFAULT 0)`,
		`CREATE TABLE IF NOT EXISTS quarantine (id TEXT, seq INTEGER, body TEXT, reason TEXT NOT NULL, at INTEGER NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL)`,
		`INSERT OR IGNORE INTO meta (k, v) VALUES ('seq', 0)`,
	} {
		if _, err := db.Exec(q); err != nil {
			db.Close()
			return nil, fmt.Errorf("outbox %s: %w", path, err)
		}
	}
	// The schema's version (an outbox of before versions is v1): a newer
	// one is refused, so that a downgraded kiosk never corrupts its queue.
	var v int64
	if err := db.QueryRow(`SELECT v FROM meta WHERE k = 'schema'`).Scan(&v); err != nil && !errors.Is(err, sql.ErrNoRows) {
		db.Close()
		return nil, fmt.Errorf("outbox %s: %w", path, err)
	}
	if v > OutboxSchema {
		db.Close()
		return nil, fmt.Errorf("outbox %s: %w: schema v%d, this kiosk knows v%d at most — install the newer kiosk again; nothing was changed", path, ErrOutboxNewer, v, OutboxSchema)
	}
	if _, err := db.Exec(`INSERT INTO meta (k, v) VALUES ('schema', ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v`, OutboxSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("outbox %s: %w", path, err)
	}
	return &Outbox{db: db, capacity: capacity}, nil
}

// Close closes the database.
func (o *Outbox) Close() error { return o.db.Close() }

// NextSeq reserves the next sequence number; it is durable before it is
// returned, so a restart never reuses one.
func (o *Outbox) NextSeq(ctx context.Context) (int64, error) {
	var seq int64
	err := o.db.QueryRowContext(ctx, `UPDATE meta SET v = v + 1 WHERE k = 'seq' RETURNING v`).Scan(&seq)
	return seq, err
}

func digest(id string, seq int64, body string) []byte {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%s", id, seq, body)
	return h.Sum(nil)
}

// Put stores a sealed event.
func (o *Outbox) Put(ctx context.Context, id string, seq int64, body string) error {
	tx, err := o.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM outbox`).Scan(&n); err != nil {
		return err
	}
	if n >= o.capacity {
		return ErrOutboxFull
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (id, seq, created, body, digest) VALUES (?, ?, ?, ?, ?)`,
		id, seq, time.Now().UnixMilli(), body, digest(id, seq, body)); err != nil {
		return err
	}
	return tx.Commit()
}

// Head returns the oldest event (lowest sequence), moving corrupt rows to
// quarantine on the way; ok is false when the outbox is empty.
func (o *Outbox) Head(ctx context.Context) (p Pending, ok bool, err error) {
	for {
		var created, next int64
		var dig []byte
		err := o.db.QueryRowContext(ctx, `SELECT id, seq, created, body, digest, attempts, next_attempt FROM outbox ORDER BY seq LIMIT 1`).
			Scan(&p.ID, &p.Seq, &created, &p.Body, &dig, &p.Attempts, &next)
		if errors.Is(err, sql.ErrNoRows) {
			return Pending{}, false, nil
		}
		if err != nil {
			// A row that cannot even be read is quarantined by sequence.
			if qerr := o.quarantineHead(ctx, err.Error()); qerr != nil {
				return Pending{}, false, errors.Join(err, qerr)
			}
			continue
		}
		if !bytes.Equal(dig, digest(p.ID, p.Seq, p.Body)) {
			if err := o.quarantine(ctx, p, "digest mismatch"); err != nil {
				return Pending{}, false, err
			}
			continue
		}
		p.Created, p.NextAttempt = time.UnixMilli(created), time.UnixMilli(next)
		return p, true, nil
	}
}

func (o *Outbox) quarantine(ctx context.Context, p Pending, reason string) error {
	tx, err := o.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO quarantine (id, seq, body, reason, at) VALUES (?, ?, ?, ?, ?)`,
		p.ID, p.Seq, p.Body, reason, time.Now().UnixMilli()); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE seq = ?`, p.Seq); err != nil {
		return err
	}
	return tx.Commit()
}

func (o *Outbox) quarantineHead(ctx context.Context, reason string) error {
	var seq int64
	if err := o.db.QueryRowContext(ctx, `SELECT seq FROM outbox ORDER BY seq LIMIT 1`).Scan(&seq); err != nil {
		return err
	}
	return o.quarantine(ctx, Pending{Seq: seq}, reason)
}

// Attempted records a send and when to try again without a result.
func (o *Outbox) Attempted(ctx context.Context, id string, next time.Time) error {
	_, err := o.db.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1, next_attempt = ? WHERE id = ?`, next.UnixMilli(), id)
	return err
}

// DueNow makes every pending event due (a bridge is back); their attempt
// counts, and so the next delays, are kept.
func (o *Outbox) DueNow(ctx context.Context) error {
	_, err := o.db.ExecContext(ctx, `UPDATE outbox SET next_attempt = 0`)
	return err
}

// Done removes an event whose result arrived; found is false for an
// unknown id (a result delivered twice).
func (o *Outbox) Done(ctx context.Context, id string) (found bool, err error) {
	res, err := o.db.ExecContext(ctx, `DELETE FROM outbox WHERE id = ?`, id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// Depth is the number of events waiting, and the number quarantined.
func (o *Outbox) Depth(ctx context.Context) (pending, quarantined int, err error) {
	err = o.db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM outbox), (SELECT count(*) FROM quarantine)`).Scan(&pending, &quarantined)
	return
}
