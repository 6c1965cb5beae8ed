package journal

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Event states in the journal.
const (
	StateVerified   = "verified"   // accepted, waiting for a worker
	StateProcessing = "processing" // a worker has it
	StateDone       = "done"       // processed; the result was published
	StateFailed     = "failed"     // a transient failure; retried at NextAttempt
	StateDead       = "dead"       // given up; in the dead letters
	// StateRefused: the verifier refused it (its device authenticated);
	// the kiosk was told why. Never processed, never retried.
	StateRefused = "refused"
)

// Record is one journaled event.
type Record struct {
	ID          string
	Device      string
	Seq         int64
	Site, Unit  string
	Type        string
	Received    time.Time
	State       string
	Attempts    int
	NextAttempt time.Time
	Outcome     string
	Message     string
	LastError   string
	Payload     []byte // the verified event (JSON)
	// What the infocentre counts, kept beside the payload when the event
	// is accepted: the context (admission, bedside, consultation-exit),
	// when the kiosk signed it (its wait offline is Received − Signed),
	// the patient's answer to the establishment's access, and how many
	// oppositions they recorded (emergency, break-the-glass).
	Context     string
	Signed      time.Time
	Authorize   bool
	Oppositions int
	// Identity is the status of the patient's identity the kiosk sent
	// (ins.Status: provisoire, récupérée, validée, qualifiée).
	Identity string
}

// EventFilter selects journaled events: every field set must match
// (From and To bound the reception, To excluded); Limit (default 50) and
// Offset page them.
type EventFilter struct {
	State, Site, Unit string
	Outcome           string
	From, To          time.Time
	Offset, Limit     int
}

// eventFilterSQL is the WHERE clause of f (ph gives the n-th placeholder)
// and its arguments.
func eventFilterSQL(f EventFilter, ph func(int) string) (string, []any) {
	where := []string{"1 = 1"}
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, cond+" "+ph(len(args)))
	}
	for _, c := range [][2]string{{"state =", f.State}, {"site =", f.Site}, {"unit =", f.Unit}, {"outcome =", f.Outcome}} {
		if c[1] != "" {
			add(c[0], c[1])
		}
	}
	if !f.From.IsZero() {
		add("received >=", f.From.UnixMilli())
	}
	if !f.To.IsZero() {
		add("received <", f.To.UnixMilli())
	}
	return strings.Join(where, " AND "), args
}

// pageOf is f's limit and offset.
func pageOf(f EventFilter) (limit, offset int) {
	limit = f.Limit
	if limit <= 0 {
		limit = 50
	}
	return limit, max(f.Offset, 0)
}

// LookupRecord is an INSi lookup made for a kiosk: who asked, when, what
// INSi said and the answer given (JSON, encrypted to the kiosk when sent;
// it holds the identity, as the events' payloads do).
type LookupRecord struct {
	ID         string
	Device     string
	Site, Unit string
	Received   time.Time
	Outcome    string // event.LookupFound, LookupNotFound…
	INS, OID   string // for found: the INS given
	Answer     []byte
}

const lookupCols = `id, device, site, unit, received, outcome, ins, oid, answer`

func scanLookup(row rowScanner) (LookupRecord, error) {
	var l LookupRecord
	var at int64
	err := row.Scan(&l.ID, &l.Device, &l.Site, &l.Unit, &at, &l.Outcome, &l.INS, &l.OID, &l.Answer)
	l.Received = time.UnixMilli(at)
	return l, err
}

func lookupArgs(l LookupRecord) []any {
	return []any{l.ID, l.Device, l.Site, l.Unit, l.Received.UnixMilli(), l.Outcome, l.INS, l.OID, l.Answer}
}

func lookupAudit(l LookupRecord) (kind, ref, detail string) {
	return "insi.lookup", l.ID, fmt.Sprintf("device=%s outcome=%s", l.Device, l.Outcome)
}

// ErrReplay is a sequence number not above the device's last.
var ErrReplay = errors.New("journal: sequence not above the device's last")

// ErrUnknown is an id the journal does not hold.
var ErrUnknown = errors.New("journal: unknown event")

// AuditEntry is one link of the audit chain.
type AuditEntry struct {
	Seq    int64
	At     time.Time
	Kind   string // event.accepted, event.rejected, event.done, deadletter.retry, ...
	Ref    string // an event id, a device id: never patient data
	Detail string
	Prev   string
	Hash   string
}

// The interfaces below are what each flow needs of the journal; Store is
// all of them, which each backend (SQLite, PostgreSQL) implements and the
// conformance suite (journaltest.Exercise) checks.

// Events keeps every event a kiosk sent that the bridge authenticated, the
// queue its workers claim from, and its outcome. A redelivered event (same
// id) returns what is stored and does nothing else.
type Events interface {
	// Accept stores a verified event (state verified), or one the
	// verifier refused when r.State is StateRefused (with its Message for
	// the kiosk and LastError, the reason, for the staff). A known id returns
	// the stored record with dup set; a sequence not above the device's
	// last returns ErrReplay. Both are decided in the same transaction as
	// the store.
	Accept(ctx context.Context, r Record) (stored Record, dup bool, err error)
	// Claim hands up to n due events (verified, or failed whose next
	// attempt has come) to a worker (the outbox's one claim, outbox.go).
	Claim(ctx context.Context, now time.Time, n int) ([]Record, error)
	// Finish records the outcome of a processed event.
	Finish(ctx context.Context, id, outcome, message string) error
	// Fail records a failure: retried at next, or dead.
	Fail(ctx context.Context, id, lastErr string, next time.Time, dead bool) error
	// Recover returns events a stopped bridge left in processing to
	// verified, so that they are processed again.
	Recover(ctx context.Context) (int, error)
	// Retry puts a dead event back in the queue.
	Retry(ctx context.Context, id string) error
	Get(ctx context.Context, id string) (Record, error)
	// Mark durably records that something was done for an event (a DMP
	// creation sent), before its answer is known; Marked tells it to a
	// retry.
	Mark(ctx context.Context, id, mark string) error
	Marked(ctx context.Context, id, mark string) (bool, error)
	// List returns the events f selects, the latest received first, and
	// how many it selects in all (for the pages).
	List(ctx context.Context, f EventFilter) (page []Record, total int, err error)
}

// Auditor appends to the hash-chained audit trail and checks it.
type Auditor interface {
	// Audit appends to the hash-chained audit trail.
	Audit(ctx context.Context, kind, ref, detail string) error
	// VerifyAudit checks the chain; broken is the first link that does not
	// hold (0 when all hold).
	VerifyAudit(ctx context.Context) (links int, broken int64, err error)
	// AuditOf returns the links of one kind, the oldest first.
	AuditOf(ctx context.Context, kind string) ([]AuditEntry, error)
}

// Lookups keeps the INSi lookups the bridge answered the kiosks.
type Lookups interface {
	// KeepLookup stores an INSi lookup the bridge answered a kiosk (and
	// audits it); a known id keeps what is stored and returns it with
	// dup set. Lookup returns one (ErrUnknown when unknown).
	KeepLookup(ctx context.Context, l LookupRecord) (stored LookupRecord, dup bool, err error)
	Lookup(ctx context.Context, id string) (LookupRecord, error)
}

// GAM is the outbox to the hospital's information system (gam.go) and
// the patients its GAMs told of.
type GAM interface {
	SIHEnqueue(ctx context.Context, m SIHMessage) (queued bool, err error)
	// SIHClaim hands up to n of a receiver's due entries, each the oldest
	// of its patient not yet done, to one sender under a lease (the
	// outbox's one claim, outbox.go): another bridge takes an entry over
	// only once its lease has ended.
	SIHClaim(ctx context.Context, receiver string, now time.Time, n int) ([]SIHMessage, error)
	SIHSave(ctx context.Context, m SIHMessage, kind, detail string) error
	SIHList(ctx context.Context, state string, limit int) ([]SIHMessage, error)
	SIHGet(ctx context.Context, id string) (SIHMessage, error)
	// SIHKnow keeps a patient a GAM told of in its own messages; SIHFind
	// finds the IPPs of a patient among them.
	SIHKnow(ctx context.Context, receiver string, a GAMPatient) error
	SIHFind(ctx context.Context, receiver string, p GAMPatient) ([]string, error)
	// The units' inpatients, as the GAMs' ADT messages place them.
	WardMove(ctx context.Context, receiver string, w WardPatient) error
	WardLeave(ctx context.Context, receiver, ipp string) error
	WardList(ctx context.Context, unit string) ([]WardPatient, error)
}

// Documents keeps the documents the hospital's systems send for the DMP
// (documents.go).
type Documents interface {
	KeepDocument(ctx context.Context, d Document) (dup bool, err error)
	Document(ctx context.Context, id string) (Document, error)
	DocumentList(ctx context.Context, state string, limit int) ([]Document, error)
	// DocClaim hands due documents to the worker (outbox.go); DocSave
	// records what became of one.
	DocClaim(ctx context.Context, now time.Time, n int) ([]Document, error)
	DocSave(ctx context.Context, d Document, kind, detail string) error
	DocWake(ctx context.Context, ins string) error
	// DocRelease sends a held document after all; DocDiscard refuses it
	// (both by the staff, audited; ErrUnknown unless it is held).
	DocRelease(ctx context.Context, id, who string) error
	DocDiscard(ctx context.Context, id, who string) error
	// DocRetry works a refused document again (by the staff, audited;
	// ErrUnknown unless it is refused); its business acknowledgement
	// follows the new outcome.
	DocRetry(ctx context.Context, id, who string) error
	// INSHeld tells whether the establishment holds the INS as a
	// qualified identity (a GAM's VALI patient, an INSi lookup found).
	INSHeld(ctx context.Context, ins, oid string) (bool, error)
	// The business acknowledgements owed to the senders (ZAM^Z01).
	AckEnqueue(ctx context.Context, a Ack) error
	AckClaim(ctx context.Context, now time.Time, n int) ([]Ack, error)
	AckSave(ctx context.Context, a Ack, kind, detail string) error
	AckGet(ctx context.Context, id string) (Ack, error)
	// AckFailing lists those the senders have not taken yet, though
	// tried.
	AckFailing(ctx context.Context, n int) ([]Ack, error)
}

// Indicators counts what the infocentre shows (indicators.go).
type Indicators interface {
	Indicators(ctx context.Context, q IndicatorQuery) ([]Indicator, error)
	// INSiLookups counts the audited INSi calls; the query's site, unit
	// and context do not apply.
	INSiLookups(ctx context.Context, q IndicatorQuery) ([]INSiLookup, error)
	// KioskLookups counts the kiosks' lookups kept, by site and unit (the
	// query's context does not apply).
	KioskLookups(ctx context.Context, q IndicatorQuery) ([]KioskLookup, error)
	// DocumentCounts counts the documents for the DMP by unit, type and
	// state (the query's site and context do not apply).
	DocumentCounts(ctx context.Context, q IndicatorQuery) ([]DocumentCount, error)
}

// Store is the whole journal: what every flow needs, retention and the
// end of it.
type Store interface {
	Events
	Auditor
	Lookups
	GAM
	Documents
	Indicators
	// Purge replaces the patients' identities kept for events done before
	// (retention.go); the audit trail and the counts stay.
	Purge(ctx context.Context, before time.Time) error
	Close() error
}

// acceptState sets the state Accept stores r in and returns the audit
// kind: a refused event stays refused, anything else is verified.
func acceptState(r *Record) string {
	if r.State == StateRefused {
		return "event.refused"
	}
	r.State, r.Message, r.LastError = StateVerified, "", ""
	return "event.accepted"
}

func acceptDetail(r Record) string {
	d := fmt.Sprintf("device=%s seq=%d type=%s", r.Device, r.Seq, r.Type)
	if r.State == StateRefused {
		d += " reason=" + ReasonOf(r)
	}
	return d
}

// signedMillis is when the kiosk signed r (its reception when unknown).
func signedMillis(r Record) int64 {
	if r.Signed.IsZero() {
		return r.Received.UnixMilli()
	}
	return r.Signed.UnixMilli()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// recordCols are the columns scanRecord reads, in its order.
const recordCols = `id, device, seq, site, unit, type, received, state, attempts, next_attempt, outcome, message, last_error, payload,
	context, signed, authorize, oppositions, identity`

func scanRecord(row rowScanner) (Record, error) {
	var r Record
	var received, next, signed int64
	var authorize int
	err := row.Scan(&r.ID, &r.Device, &r.Seq, &r.Site, &r.Unit, &r.Type, &received, &r.State, &r.Attempts, &next,
		&r.Outcome, &r.Message, &r.LastError, &r.Payload, &r.Context, &signed, &authorize, &r.Oppositions, &r.Identity)
	r.Received, r.NextAttempt = time.UnixMilli(received), time.UnixMilli(next)
	if signed != 0 {
		r.Signed = time.UnixMilli(signed)
	}
	r.Authorize = authorize == 1
	return r, err
}

// rowsReader is what database/sql's and pgx's rows have in common.
type rowsReader interface {
	Next() bool
	Scan(...any) error
	Err() error
}

// readRows reads every row of rs with scan (the caller closes rs).
func readRows[T any](rs rowsReader, scan func(row rowScanner) (T, error)) ([]T, error) {
	var out []T
	for rs.Next() {
		v, err := scan(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rs.Err()
}

func scanIndicatorRow(row rowScanner) (r indicatorRow, err error) {
	err = row.Scan(&r.site, &r.unit, &r.context, &r.hour, &r.state, &r.outcome, &r.authorize, &r.reason,
		&r.identity, &r.count, &r.oppositions, &r.offline, &r.offlineMax, &r.offlineSum)
	return r, err
}

func scanINSiLookupRow(row rowScanner) (r insiLookupRow, err error) {
	err = row.Scan(&r.hour, &r.head, &r.count)
	return r, err
}

// List implements Events.
func (s sharedSQL) List(ctx context.Context, f EventFilter) ([]Record, int, error) {
	ph := s.db.placeholder
	where, args := eventFilterSQL(f, ph)
	rows, done, err := s.db.queryRows(ctx, `SELECT count(*) FROM events WHERE `+where, args...)
	if err != nil {
		return nil, 0, err
	}
	total, err := readRows(rows, func(r rowScanner) (n int, err error) { err = r.Scan(&n); return n, err })
	done()
	if err != nil || len(total) != 1 {
		return nil, 0, fmt.Errorf("journal: counting the events: %v", err)
	}
	limit, offset := pageOf(f)
	n := len(args)
	rows, done, err = s.db.queryRows(ctx, `SELECT `+recordCols+` FROM events WHERE `+where+` ORDER BY received DESC, id LIMIT `+ph(n+1)+
		` OFFSET `+ph(n+2), append(args, limit, offset)...)
	if err != nil {
		return nil, 0, err
	}
	defer done()
	recs, err := readRows(rows, scanRecord)
	return recs, total[0], err
}

// AuditOf implements Auditor.
func (s sharedSQL) AuditOf(ctx context.Context, kind string) ([]AuditEntry, error) {
	rows, done, err := s.db.queryRows(ctx, bind(s.db, `SELECT seq, at, kind, ref, detail, prev, hash FROM audit WHERE kind = ? ORDER BY seq`), kind)
	if err != nil {
		return nil, err
	}
	defer done()
	return readRows(rows, func(r rowScanner) (e AuditEntry, err error) {
		var at int64
		err = r.Scan(&e.Seq, &at, &e.Kind, &e.Ref, &e.Detail, &e.Prev, &e.Hash)
		e.At = time.UnixMilli(at)
		return e, err
	})
}
