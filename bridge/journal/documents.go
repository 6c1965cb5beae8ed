package journal

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The documents the hospital's systems hand the bridge for the DMP
// (bridge/feed): each kept as received, before it is acknowledged, with
// what the message said of it; worked through later by the one claim of
// outbox.go.

// Document states.
const (
	DocReceived = "received" // kept and acknowledged (AA), not yet worked
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
}

const documentCols = `id, received, state, kind, unique_id, replaces, ins, ins_oid, type_code, unit, sender, meta, cda`

const documentsSchema = `CREATE TABLE IF NOT EXISTS documents (id TEXT PRIMARY KEY, received BIGINT NOT NULL, state TEXT NOT NULL,
	kind TEXT NOT NULL, unique_id TEXT NOT NULL, replaces TEXT NOT NULL, ins TEXT NOT NULL, ins_oid TEXT NOT NULL,
	type_code TEXT NOT NULL, unit TEXT NOT NULL, sender TEXT NOT NULL, meta %[1]s NOT NULL, cda %[1]s NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0, next_attempt BIGINT NOT NULL DEFAULT 0, owner TEXT NOT NULL DEFAULT '',
	last_error TEXT NOT NULL DEFAULT '')`

func scanDocument(row rowScanner) (Document, error) {
	var d Document
	var at int64
	err := row.Scan(&d.ID, &at, &d.State, &d.Kind, &d.UniqueID, &d.Replaces, &d.INS, &d.INSOID, &d.TypeCode, &d.Unit, &d.Sender, &d.Meta, &d.CDA)
	d.Received = time.UnixMilli(at)
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
		bind(s.db, `INSERT INTO documents (`+documentCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`),
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
		meta, '' FROM documents WHERE state = ? OR ? = '' ORDER BY received DESC, id LIMIT ?`), state, state, limit)
	if err != nil {
		return nil, err
	}
	defer done()
	return readRows(rows, scanDocument)
}
