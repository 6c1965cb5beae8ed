package journal

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The documents the hospital's systems hand the bridge for the DMP
// (bridge/feed): each kept as received, before it is acknowledged, with
// what the message said of it; worked through later by the one claim of
// outbox.go.

// Document states.
const (
	DocReceived = "received" // kept and acknowledged (AA), not yet worked
	DocWaiting  = "waiting"  // the patient has not authorized the establishment: tried again later
	DocRetry    = "retry"    // a transient failure: tried again at its next attempt
	DocSent     = "sent"     // in the DMP
	DocHeld     = "held"     // not for the DMP (the sender's choice, DESTDMP N, or the rules)
	DocRefused  = "refused"  // refused (the DMP's refusal, a rule): given up, its reason kept
)

// Document is one document message kept.
type Document struct {
	// ID is the message's sender and control id (MSH-3/MSH-4/MSH-10): a
	// message sent again is the same document.
	ID       string
	Received time.Time
	State    string
	// Kind is the message's event: T02 (first sending), T10 (replacement),
	// T04 (deletion), or R01 with its OBX-11 (F, C, D).
	Kind string
	// UniqueID is the CDA's id (TXA-12 / the CDA's id@root); Replaces the
	// replaced document's (TXA-13).
	UniqueID, Replaces string
	// INS and INSOID are the patient's INS as the CDA's recordTarget gives
	// it; TypeCode the document's type (J07), Unit the producing unit
	// (PV1-3), Sender the professional of PRT SB (national id).
	INS, INSOID, TypeCode, Unit, Sender string
	// Meta is the rest of what the message said (the flags, PRT SB, PID,
	// PV1), JSON; CDA the document as received.
	Meta []byte
	CDA  []byte
	// The outbox's: tries made, the next one, and the last error (codes
	// and words of the DMP, never the document's).
	Attempts int
	Next     time.Time
	Error    string
	// ReleasedBy is who released it from the held ones (the admin web):
	// it then goes whatever the sender's flag and the rules said.
	ReleasedBy string
}

const documentCols = `id, received, state, kind, unique_id, replaces, ins, ins_oid, type_code, unit, sender, meta, cda,
	attempts, next_attempt, last_error, released_by`

const documentsSchema = `CREATE TABLE IF NOT EXISTS documents (id TEXT PRIMARY KEY, received BIGINT NOT NULL, state TEXT NOT NULL,
	kind TEXT NOT NULL, unique_id TEXT NOT NULL, replaces TEXT NOT NULL, ins TEXT NOT NULL, ins_oid TEXT NOT NULL,
	type_code TEXT NOT NULL, unit TEXT NOT NULL, sender TEXT NOT NULL, meta %[1]s NOT NULL, cda %[1]s NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0, next_attempt BIGINT NOT NULL DEFAULT 0, owner TEXT NOT NULL DEFAULT '',
	last_error TEXT NOT NULL DEFAULT '', released_by TEXT NOT NULL DEFAULT '')`

// The business acknowledgements (ZAM^Z01) owed to the documents' senders,
// one per document, kept before they are sent and resent as written
// until the sender acknowledges them.
const zamSchema = `CREATE TABLE IF NOT EXISTS zam_outbox (id TEXT PRIMARY KEY, sender TEXT NOT NULL, state TEXT NOT NULL,
	message %[1]s NOT NULL, created BIGINT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt BIGINT NOT NULL DEFAULT 0,
	owner TEXT NOT NULL DEFAULT '', last_error TEXT NOT NULL DEFAULT '')`

// Ack is a business acknowledgement owed to a sender.
type Ack struct {
	ID       string // the document's
	Sender   string // the sending application (MSH-3), whom it goes to
	State    string // AckDue or AckDone
	Message  []byte // the ZAM as written (resent as it is)
	Created  time.Time
	Attempts int
	Next     time.Time
	Error    string
}

// Acknowledgement states.
const (
	AckDue  = "due"
	AckDone = "done"
)

const ackCols = `id, sender, state, message, created, attempts, next_attempt, last_error`

func scanAck(row rowScanner) (Ack, error) {
	var a Ack
	var created, next int64
	err := row.Scan(&a.ID, &a.Sender, &a.State, &a.Message, &created, &a.Attempts, &next, &a.Error)
	a.Created, a.Next = time.UnixMilli(created), time.UnixMilli(next)
	return a, err
}

// AckEnqueue implements Documents: the acknowledgement is kept once per
// document and outcome — queued again with the same outcome (a worker
// stopped between the two steps) it is kept as it was; with another (a
// refused document sent again from the admin web) it replaces the first,
// due again.
func (s sharedSQL) AckEnqueue(ctx context.Context, a Ack) error {
	err := s.db.update(ctx, [3]string{"zam.queued", a.ID, "sender=" + a.Sender},
		bind(s.db, `INSERT INTO zam_outbox (id, sender, state, message, created) VALUES (?, ?, 'due', ?, ?) ON CONFLICT (id) DO NOTHING`),
		a.ID, a.Sender, a.Message, a.Created.UnixMilli())
	if !errors.Is(err, ErrUnknown) {
		return err
	}
	old, err := s.AckGet(ctx, a.ID)
	if err != nil || ackOutcome(old.Message) == ackOutcome(a.Message) {
		return err
	}
	return s.db.update(ctx, [3]string{"zam.requeued", a.ID, "outcome " + ackOutcome(a.Message)},
		bind(s.db, `UPDATE zam_outbox SET state = 'due', message = ?, attempts = 0, next_attempt = 0, last_error = '', created = ? WHERE id = ?`),
		a.Message, a.Created.UnixMilli(), a.ID)
}

// ackOutcome is what a business acknowledgement says: OBX-5's Y or N and
// ERR-5's code ("" for a message the retention emptied).
func ackOutcome(m []byte) string {
	out := ""
	for _, seg := range strings.Split(string(m), "\r") {
		f := strings.Split(seg, "|")
		switch {
		case f[0] == "OBX" && len(f) > 5:
			out += strings.SplitN(f[5], "^", 2)[0]
		case f[0] == "ERR" && len(f) > 5:
			out += " " + strings.SplitN(f[5], "^", 2)[0]
		}
	}
	return out
}

// AckClaim implements Documents: up to n acknowledgements due, the
// oldest first, under the outbox's lease.
func (s sharedSQL) AckClaim(ctx context.Context, now time.Time, n int) ([]Ack, error) {
	l, err := claim(ctx, s.db, zamOutbox, nil, now, []any{now.UnixMilli()}, n, scanAck)
	slices.SortFunc(l, func(a, b Ack) int { return cmp.Or(a.Created.Compare(b.Created), strings.Compare(a.ID, b.ID)) })
	return l, err
}

// AckSave implements Documents.
func (s sharedSQL) AckSave(ctx context.Context, a Ack, kind, detail string) error {
	return s.db.update(ctx, [3]string{kind, a.ID, detail},
		bind(s.db, `UPDATE zam_outbox SET state = ?, attempts = ?, next_attempt = ?, last_error = ? WHERE id = ?`),
		a.State, a.Attempts, a.Next.UnixMilli(), a.Error, a.ID)
}

// AckFailing implements Documents: up to n acknowledgements still due
// after at least one attempt (the sender did not take them), the oldest
// first.
func (s sharedSQL) AckFailing(ctx context.Context, n int) ([]Ack, error) {
	rows, done, err := s.db.queryRows(ctx, bind(s.db, `SELECT `+ackCols+` FROM zam_outbox WHERE state = 'due' AND attempts > 0
		ORDER BY created, id LIMIT ?`), n)
	if err != nil {
		return nil, err
	}
	defer done()
	return readRows(rows, scanAck)
}

// AckGet implements Documents.
func (s sharedSQL) AckGet(ctx context.Context, id string) (Ack, error) {
	rows, done, err := s.db.queryRows(ctx, bind(s.db, `SELECT `+ackCols+` FROM zam_outbox WHERE id = ?`), id)
	if err != nil {
		return Ack{}, err
	}
	defer done()
	l, err := readRows(rows, scanAck)
	if err != nil {
		return Ack{}, err
	}
	if len(l) == 0 {
		return Ack{}, ErrUnknown
	}
	return l[0], nil
}

func scanDocument(row rowScanner) (Document, error) {
	var d Document
	var at, next int64
	err := row.Scan(&d.ID, &at, &d.State, &d.Kind, &d.UniqueID, &d.Replaces, &d.INS, &d.INSOID, &d.TypeCode, &d.Unit, &d.Sender, &d.Meta, &d.CDA,
		&d.Attempts, &next, &d.Error, &d.ReleasedBy)
	d.Received, d.Next = time.UnixMilli(at), time.UnixMilli(next)
	return d, err
}

// KeepDocument implements Documents: the document is kept and audited in
// one write; a message kept before (its id) is not kept twice, and comes
// back with dup set.
func (s sharedSQL) KeepDocument(ctx context.Context, d Document) (dup bool, err error) {
	if d.Meta == nil {
		d.Meta = []byte(`{}`)
	}
	if d.State == "" {
		d.State = DocReceived
	}
	err = s.db.update(ctx, [3]string{"document.received", d.ID, fmt.Sprintf("kind=%s type=%s unit=%s bytes=%d", d.Kind, d.TypeCode, d.Unit, len(d.CDA))},
		bind(s.db, `INSERT INTO documents (id, received, state, kind, unique_id, replaces, ins, ins_oid, type_code, unit, sender, meta, cda)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`),
		d.ID, d.Received.UnixMilli(), d.State, d.Kind, d.UniqueID, d.Replaces, d.INS, d.INSOID, d.TypeCode, d.Unit, d.Sender, d.Meta, d.CDA)
	if errors.Is(err, ErrUnknown) {
		return true, nil // kept before: nothing inserted, nothing audited
	}
	return false, err
}

// Document implements Documents.
func (s sharedSQL) Document(ctx context.Context, id string) (Document, error) {
	rows, done, err := s.db.queryRows(ctx, bind(s.db, `SELECT `+documentCols+` FROM documents WHERE id = ?`), id)
	if err != nil {
		return Document{}, err
	}
	defer done()
	l, err := readRows(rows, scanDocument)
	if err != nil {
		return Document{}, err
	}
	if len(l) == 0 {
		return Document{}, ErrUnknown
	}
	return l[0], nil
}

// DocumentList implements Documents: the documents in state (every one
// when empty), the latest received first, without their CDA.
func (s sharedSQL) DocumentList(ctx context.Context, state string, limit int) ([]Document, error) {
	rows, done, err := s.db.queryRows(ctx, bind(s.db, `SELECT id, received, state, kind, unique_id, replaces, ins, ins_oid, type_code, unit, sender,
		meta, '', attempts, next_attempt, last_error, released_by FROM documents WHERE state = ? OR ? = '' ORDER BY received DESC, id LIMIT ?`),
		state, state, limit)
	if err != nil {
		return nil, err
	}
	defer done()
	return readRows(rows, scanDocument)
}

// DocClaim implements Documents: up to n documents due, each the oldest
// of its patient not yet settled (a replacement goes after its original),
// under the outbox's lease.
func (s sharedSQL) DocClaim(ctx context.Context, now time.Time, n int) ([]Document, error) {
	l, err := claim(ctx, s.db, documentsOutbox, nil, now, []any{now.UnixMilli()}, n, scanDocument)
	slices.SortFunc(l, func(a, b Document) int { return cmp.Or(a.Received.Compare(b.Received), strings.Compare(a.ID, b.ID)) })
	return l, err
}

// DocSave implements Documents: a document's new state, tries, next try
// and error, audited with kind and detail (ids and codes).
func (s sharedSQL) DocSave(ctx context.Context, d Document, kind, detail string) error {
	return s.db.update(ctx, [3]string{kind, d.ID, detail},
		bind(s.db, `UPDATE documents SET state = ?, attempts = ?, next_attempt = ?, last_error = ? WHERE id = ?`),
		d.State, d.Attempts, d.Next.UnixMilli(), d.Error, d.ID)
}

// DocWake implements Documents: the documents of the patient ins that
// wait for an authorization are due now (a kiosk recorded it).
func (s sharedSQL) DocWake(ctx context.Context, ins string) error {
	err := s.db.update(ctx, [3]string{"document.wake", "", "authorization recorded"},
		bind(s.db, `UPDATE documents SET next_attempt = 0 WHERE ins = ? AND state = 'waiting'`), ins)
	if errors.Is(err, ErrUnknown) {
		return nil // none waits
	}
	return err
}

// DocRelease implements Documents: a held document goes to the DMP after
// all (who released it is kept and audited); DocDiscard settles it as
// refused by the staff. Only a held document is released or discarded.
func (s sharedSQL) DocRelease(ctx context.Context, id, who string) error {
	return s.db.update(ctx, [3]string{"document.released", id, "by " + who},
		bind(s.db, `UPDATE documents SET state = 'received', released_by = ?, next_attempt = 0, last_error = '' WHERE id = ? AND state = 'held'`),
		who, id)
}

// DocRetry implements Documents: a refused document is worked again from
// the start (its tries counted afresh), by who (audited).
func (s sharedSQL) DocRetry(ctx context.Context, id, who string) error {
	return s.db.update(ctx, [3]string{"document.retried", id, "by " + who},
		bind(s.db, `UPDATE documents SET state = 'received', attempts = 0, next_attempt = 0, last_error = '' WHERE id = ? AND state = 'refused'`), id)
}

// DocDiscard implements Documents.
func (s sharedSQL) DocDiscard(ctx context.Context, id, who string) error {
	return s.db.update(ctx, [3]string{"document.discarded", id, "by " + who},
		bind(s.db, `UPDATE documents SET state = 'refused', last_error = ? WHERE id = ? AND state = 'held'`),
		"écarté par "+who, id)
}

// INSHeld implements Documents: whether the establishment holds the INS
// as a qualified identity — a GAM's patient whose PID-32 said VALI, or an
// INSi lookup that found it.
func (s sharedSQL) INSHeld(ctx context.Context, ins, oid string) (bool, error) {
	if ins == "" {
		return false, nil
	}
	rows, done, err := s.db.queryRows(ctx, bind(s.db, `SELECT 1 FROM sih_patients WHERE ins = ? AND ins_oid = ?
		UNION ALL SELECT 1 FROM lookups WHERE ins = ? AND oid = ? AND outcome = 'found'`), ins, oid, ins, oid)
	if err != nil {
		return false, err
	}
	defer done()
	return rows.Next(), rows.Err()
}

// DocumentCounts implements Indicators.
func (s sharedSQL) DocumentCounts(ctx context.Context, q IndicatorQuery) ([]DocumentCount, error) {
	return foldQuery(ctx, s.db, q, documentCountSQL, scanCountRow, foldDocumentCounts)
}
