package journal

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The one claim mechanism of every outbox the journal keeps (the events,
// the messages to the GAMs, next the documents): a worker claims due rows
// under a lease, in one statement that sets the row's owner and its
// next_attempt to the lease's end; what it does next (finish, fail with
// the backoff of bridge/internal/work, save a new step) sets next_attempt
// again. A worker that dies leaves its rows to the others once the lease
// ends (PostgreSQL: FOR UPDATE SKIP LOCKED keeps two bridges off the same
// row), and to itself at its next start (Recover). A table is an outbox
// when it has the columns id, next_attempt and owner.

// outbox is one table as the claim sees it.
type outbox struct {
	table string
	cols  string // what a claim returns
	// set is what a claim changes besides next_attempt and owner ("" for
	// nothing), with its arguments.
	set string
	// due is the condition of a row that may be claimed, on the table
	// aliased o, with ? placeholders; order is the order rows are claimed in.
	due, order string
	// recover is the SET a start applies to the rows this owner claimed
	// and did not see through (those that are claimed).
	recover, claimed string
	// lock, when set, names what one claim at a time is made for (the
	// first of due's arguments appended to it): on PostgreSQL the claim
	// holds an advisory lock on it, so that two bridges' claims for it
	// are made one after the other.
	lock string
}

// lease is how long a claim holds a row.
const lease = 5 * time.Minute

// claimSQL is the claim statement of q for n rows (placeholders ?).
func (q outbox) claimSQL(skipLocked bool) string {
	lock := ""
	if skipLocked {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	set := q.set
	if set != "" {
		set += ", "
	}
	return `UPDATE ` + q.table + ` SET ` + set + `next_attempt = ?, owner = ? WHERE id IN (SELECT o.id FROM ` + q.table + ` o WHERE ` +
		q.due + ` ORDER BY ` + q.order + ` LIMIT ?` + lock + `) RETURNING ` + q.cols
}

// claimArgs are the claim's arguments: set's, the lease, the owner, due's
// and the limit.
func claimArgs(setArgs []any, now time.Time, owner string, dueArgs []any, n int) []any {
	args := append(append([]any{}, setArgs...), now.Add(lease).UnixMilli(), owner)
	return append(append(args, dueArgs...), n)
}

// recoverSQL is the statement giving back this owner's claims at its
// start.
func (q outbox) recoverSQL() string {
	return `UPDATE ` + q.table + ` SET ` + q.recover + `, owner = '' WHERE owner = ? AND ` + q.claimed
}

// The outboxes.
var (
	eventsOutbox = outbox{table: "events", cols: recordCols,
		set:     `state = 'processing', attempts = attempts + 1`,
		due:     `o.state = 'verified' OR (o.state IN ('failed', 'processing') AND o.next_attempt <= ?)`,
		order:   `o.received, o.id`,
		recover: `state = 'verified'`, claimed: `state = 'processing'`}
	// One bridge at a time works a receiver's outbox (due's last
	// condition: no other owner's lease or retry is pending there, the
	// claims themselves made one at a time under the receiver's lock),
	// and a patient's entries go one after the other, in order.
	sihOutbox = outbox{table: "sih_outbox", cols: sihCols,
		due: `o.receiver = ? AND o.state IN ('query', 'send') AND o.next_attempt <= ?
		AND NOT EXISTS (SELECT 1 FROM sih_outbox p WHERE p.receiver = o.receiver AND p.patient = o.patient AND p.state <> 'done'
			AND (p.created < o.created OR p.created = o.created AND p.id < o.id))
		AND NOT EXISTS (SELECT 1 FROM sih_outbox h WHERE h.receiver = o.receiver AND h.state IN ('query', 'send')
			AND h.owner <> '' AND h.owner <> ? AND h.next_attempt > ?)`,
		order:   `o.created, o.id`,
		recover: `next_attempt = 0`, claimed: `state IN ('query', 'send')`, lock: "sih_outbox:"}
)

// The documents for the DMP go one at a time per patient, in the order
// received (a replacement after its original).
var documentsOutbox = outbox{table: "documents", cols: documentCols,
	due: `o.state IN ('received', 'waiting', 'retry') AND o.next_attempt <= ?
		AND NOT EXISTS (SELECT 1 FROM documents p WHERE p.ins = o.ins AND p.state IN ('received', 'waiting', 'retry')
			AND (p.received < o.received OR p.received = o.received AND p.id < o.id))`,
	order:   `o.received, o.id`,
	recover: `next_attempt = 0`, claimed: `state IN ('received', 'waiting', 'retry')`}

// The acknowledgements to the senders, the oldest first.
var zamOutbox = outbox{table: "zam_outbox", cols: ackCols,
	due: `o.state = 'due' AND o.next_attempt <= ?`, order: `o.created, o.id`,
	recover: `next_attempt = 0`, claimed: `state = 'due'`}

// claimer is what a backend gives the claim: its placeholders, reads and
// whether it locks rows apart (PostgreSQL) or writes alone (SQLite).
type claimer interface {
	sqlJournal
	claimOwner() string
	skipLocked() bool
	// inWrite runs do where its reads may write (SQLite: in the writer's
	// batch), holding lock when it is not empty (PostgreSQL: an advisory
	// lock for the transaction; SQLite writes alone anyway).
	inWrite(ctx context.Context, lock string, do func(ctx context.Context, read rowsQuery) error) error
	exec(ctx context.Context, q string, args ...any) (int64, error)
}

// rowsQuery runs a query and gives its rows and their closing.
type rowsQuery func(ctx context.Context, q string, args ...any) (rowsReader, func(), error)

// claim runs q's claim for n rows and reads them with scan.
func claim[T any](ctx context.Context, db claimer, q outbox, setArgs []any, now time.Time, dueArgs []any, n int,
	scan func(rowScanner) (T, error)) ([]T, error) {
	var out []T
	lock := ""
	if q.lock != "" {
		lock = q.lock + fmt.Sprint(dueArgs[0])
	}
	err := db.inWrite(ctx, lock, func(ctx context.Context, read rowsQuery) error {
		rows, done, err := read(ctx, bind(db, q.claimSQL(db.skipLocked())), claimArgs(setArgs, now, db.claimOwner(), dueArgs, n)...)
		if err != nil {
			return err
		}
		defer done()
		out, err = readRows(rows, scan)
		return err
	})
	return out, err
}

// recoverOutboxes gives back every claim of this owner (a bridge
// starting again), and says how many rows it gave back.
func recoverOutboxes(ctx context.Context, db claimer) (int, error) {
	total := 0
	for _, q := range []outbox{eventsOutbox, sihOutbox, documentsOutbox, zamOutbox} {
		n, err := db.exec(ctx, bind(db, q.recoverSQL()), db.claimOwner())
		if err != nil {
			return total, err
		}
		total += int(n)
	}
	return total, nil
}

// claimEvents claims up to n due events, the oldest received first.
func claimEvents(ctx context.Context, db claimer, now time.Time, n int) ([]Record, error) {
	recs, err := claim(ctx, db, eventsOutbox, nil, now, []any{now.UnixMilli()}, n, scanRecord)
	slices.SortFunc(recs, func(a, b Record) int { return cmp.Or(a.Received.Compare(b.Received), strings.Compare(a.ID, b.ID)) })
	return recs, err
}
