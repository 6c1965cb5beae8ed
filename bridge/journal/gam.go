package journal

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"time"
)

// The outbox of the messages to the hospital's information system
// (bridge/sih writes and sends them): one entry per event and receiver,
// worked through in order per patient; and the patients the GAMs told of.

// States of an outbox entry.
const (
	SIHQuery = "query" // the patient's IPP is to be found (PDQ)
	SIHMatch = "match" // none or several patients found: "à rapprocher", by hand
	SIHSend  = "send"  // the update is to be sent (again: the same message)
	SIHDone  = "done"  // acknowledged AA
	SIHDead  = "dead"  // refused (AE, AR) or given up: retried after a fix
)

// SIHMessage is one outbox entry.
type SIHMessage struct {
	ID       string // receiver/event
	Receiver string
	Event    string
	Patient  string // the order key: updates of one patient go in order
	State    string
	IPP      string
	Control  string // MSH-10 of the update, kept across resends
	Message  []byte // the update as sent (resent as it is)
	Payload  []byte // what the update says (sih.Patient, JSON)
	Attempts int
	Next     time.Time
	Error    string // the receiver's error, for the admin web
	Created  time.Time
}

const sihSchema = `CREATE TABLE IF NOT EXISTS sih_outbox (id TEXT PRIMARY KEY, receiver TEXT NOT NULL, event TEXT NOT NULL,
	patient TEXT NOT NULL, state TEXT NOT NULL, ipp TEXT NOT NULL DEFAULT '', control TEXT NOT NULL DEFAULT '',
	message %[1]s NOT NULL, payload %[1]s NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt BIGINT NOT NULL DEFAULT 0,
	last_error TEXT NOT NULL DEFAULT '', created BIGINT NOT NULL)`

// sihPatientsSchema keeps the patients a GAM told of in its own messages,
// for a receiver matched from its admissions rather than queried.
const sihPatientsSchema = `CREATE TABLE IF NOT EXISTS sih_patients (receiver TEXT NOT NULL, ipp TEXT NOT NULL, ins TEXT NOT NULL,
	ins_oid TEXT NOT NULL, birth_name TEXT NOT NULL, first_name TEXT NOT NULL, birth_date TEXT NOT NULL, sex TEXT NOT NULL,
	updated BIGINT NOT NULL, PRIMARY KEY (receiver, ipp))`

const sihCols = `id, receiver, event, patient, state, ipp, control, message, payload, attempts, next_attempt, last_error, created`

func scanSIH(row rowScanner) (SIHMessage, error) {
	var m SIHMessage
	var next, created int64
	err := row.Scan(&m.ID, &m.Receiver, &m.Event, &m.Patient, &m.State, &m.IPP, &m.Control, &m.Message, &m.Payload, &m.Attempts,
		&next, &m.Error, &created)
	m.Next, m.Created = time.UnixMilli(next), time.UnixMilli(created)
	return m, err
}

// sqlJournal is what the outbox needs of a journal: its placeholders, its
// reads and its audited writes.
type sqlJournal interface {
	rowsQueryer
	update(ctx context.Context, audit [3]string, q string, args ...any) error
}

// bind writes a query's ? as the journal's placeholders.
func bind(db sqlJournal, q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString(db.placeholder(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func sihEnqueue(ctx context.Context, db sqlJournal, m SIHMessage) (bool, error) {
	if m.Message == nil {
		m.Message = []byte{}
	}
	err := db.update(ctx, [3]string{"sih.queued", m.ID, "receiver=" + m.Receiver + " event=" + m.Event},
		bind(db, `INSERT INTO sih_outbox (`+sihCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, '', ?) ON CONFLICT (id) DO NOTHING`),
		m.ID, m.Receiver, m.Event, m.Patient, m.State, m.IPP, m.Control, m.Message, m.Payload, m.Created.UnixMilli())
	if errors.Is(err, ErrUnknown) {
		return false, nil // queued before
	}
	return err == nil, err
}

func sihQuery(ctx context.Context, db sqlJournal, q string, args ...any) ([]SIHMessage, error) {
	rows, done, err := db.queryRows(ctx, bind(db, q), args...)
	if err != nil {
		return nil, err
	}
	defer done()
	return readRows(rows, scanSIH)
}

// sihSave writes an entry's new state, audited with kind and detail (ids
// and codes, never traits).
func sihSave(ctx context.Context, db sqlJournal, m SIHMessage, kind, detail string) error {
	if m.Message == nil {
		m.Message = []byte{}
	}
	return db.update(ctx, [3]string{kind, m.ID, detail},
		bind(db, `UPDATE sih_outbox SET state = ?, ipp = ?, control = ?, message = ?, attempts = ?, next_attempt = ?, last_error = ? WHERE id = ?`),
		m.State, m.IPP, m.Control, m.Message, m.Attempts, m.Next.UnixMilli(), m.Error, m.ID)
}

func sihList(ctx context.Context, db sqlJournal, state string, limit int) ([]SIHMessage, error) {
	return sihQuery(ctx, db, `SELECT `+sihCols+` FROM sih_outbox WHERE state = ? OR ? = '' ORDER BY created DESC, id LIMIT ?`, state, state, limit)
}

func sihGet(ctx context.Context, db sqlJournal, id string) (SIHMessage, error) {
	l, err := sihQuery(ctx, db, `SELECT `+sihCols+` FROM sih_outbox WHERE id = ?`, id)
	if err != nil {
		return SIHMessage{}, err
	}
	if len(l) == 0 {
		return SIHMessage{}, ErrUnknown
	}
	return l[0], nil
}

// GAMPatient is a patient a GAM told of in its own messages (an admission,
// an update): its IPP in the receiver's domain, its INS when the GAM holds
// a qualified one, and its traits.
type GAMPatient struct {
	IPP, INS, INSOID                     string
	BirthName, FirstName, BirthDate, Sex string
}

func sihKnow(ctx context.Context, db sqlJournal, receiver string, a GAMPatient) error {
	return db.update(ctx, [3]string{"sih.admitted", receiver, "ipp=" + a.IPP},
		bind(db, `INSERT INTO sih_patients (receiver, ipp, ins, ins_oid, birth_name, first_name, birth_date, sex, updated)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (receiver, ipp) DO UPDATE SET ins = excluded.ins, ins_oid = excluded.ins_oid,
		birth_name = excluded.birth_name, first_name = excluded.first_name, birth_date = excluded.birth_date, sex = excluded.sex,
		updated = excluded.updated`),
		receiver, a.IPP, a.INS, a.INSOID, a.BirthName, a.FirstName, a.BirthDate, a.Sex, time.Now().UnixMilli())
}

// sihFind: the IPPs of the patients a GAM told of, by INS when p has one
// the GAM knows, else by birth name, first name, birth date (and sex when
// it is M or F).
func sihFind(ctx context.Context, db sqlJournal, receiver string, p GAMPatient) ([]string, error) {
	one := func(q string, args ...any) ([]string, error) {
		rows, done, err := db.queryRows(ctx, bind(db, q), args...)
		if err != nil {
			return nil, err
		}
		defer done()
		return readRows(rows, func(r rowScanner) (s string, err error) { err = r.Scan(&s); return s, err })
	}
	if p.INS != "" {
		ipps, err := one(`SELECT ipp FROM sih_patients WHERE receiver = ? AND ins = ? AND ins_oid = ? ORDER BY ipp`, receiver, p.INS, p.INSOID)
		if err != nil || len(ipps) > 0 {
			return ipps, err
		}
	}
	sex := p.Sex
	if sex != "M" && sex != "F" {
		sex = ""
	}
	return one(`SELECT ipp FROM sih_patients WHERE receiver = ? AND birth_name = ? AND first_name = ? AND birth_date = ? AND (sex = ? OR ? = '')
		ORDER BY ipp`, receiver, p.BirthName, p.FirstName, p.BirthDate, sex, sex)
}

// WardPatient is an inpatient of a unit, as the GAM's ADT messages placed
// them: the patient (the INS only when qualified), the unit, room and bed.
type WardPatient struct {
	GAMPatient
	Unit, Room, Bed string
}

// WardMove implements GAM: the patient is in unit (an admission, a
// transfer, an update), their identity as the message gives it.
func (s sharedSQL) WardMove(ctx context.Context, receiver string, w WardPatient) error {
	a := w.GAMPatient
	return s.db.update(ctx, [3]string{"ward.moved", receiver, "ipp=" + a.IPP + " unit=" + w.Unit},
		bind(s.db, `INSERT INTO sih_patients (receiver, ipp, ins, ins_oid, birth_name, first_name, birth_date, sex, updated, unit, room, bed, present)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT (receiver, ipp) DO UPDATE SET ins = excluded.ins, ins_oid = excluded.ins_oid,
		birth_name = excluded.birth_name, first_name = excluded.first_name, birth_date = excluded.birth_date, sex = excluded.sex,
		updated = excluded.updated, unit = excluded.unit, room = excluded.room, bed = excluded.bed, present = 1`),
		receiver, a.IPP, a.INS, a.INSOID, a.BirthName, a.FirstName, a.BirthDate, a.Sex, time.Now().UnixMilli(), w.Unit, w.Room, w.Bed)
}

// WardLeave implements GAM: the patient left (a discharge, a cancelled
// admission, merged into another); unknown: nothing to do.
func (s sharedSQL) WardLeave(ctx context.Context, receiver, ipp string) error {
	err := s.db.update(ctx, [3]string{"ward.left", receiver, "ipp=" + ipp},
		bind(s.db, `UPDATE sih_patients SET present = 0, updated = ? WHERE receiver = ? AND ipp = ? AND present = 1`),
		time.Now().UnixMilli(), receiver, ipp)
	if errors.Is(err, ErrUnknown) {
		return nil
	}
	return err
}

// WardList implements GAM: the inpatients of unit, by room, bed and name.
func (s sharedSQL) WardList(ctx context.Context, unit string) ([]WardPatient, error) {
	rows, done, err := s.db.queryRows(ctx, bind(s.db, `SELECT ipp, ins, ins_oid, birth_name, first_name, birth_date, sex, unit, room, bed
		FROM sih_patients WHERE present = 1 AND unit = ? ORDER BY room, bed, birth_name, first_name`), unit)
	if err != nil {
		return nil, err
	}
	defer done()
	return readRows(rows, func(r rowScanner) (w WardPatient, err error) {
		err = r.Scan(&w.IPP, &w.INS, &w.INSOID, &w.BirthName, &w.FirstName, &w.BirthDate, &w.Sex, &w.Unit, &w.Room, &w.Bed)
		return w, err
	})
}

// sharedSQL gives both journals the methods whose SQL they share (the
// outbox to the information system, the kiosks' lookups counted).
type sharedSQL struct{ db claimer }

// SIHEnqueue implements GAM.
func (s sharedSQL) SIHEnqueue(ctx context.Context, m SIHMessage) (bool, error) {
	return sihEnqueue(ctx, s.db, m)
}

// SIHClaim implements GAM.
func (s sharedSQL) SIHClaim(ctx context.Context, receiver string, now time.Time, n int) ([]SIHMessage, error) {
	l, err := claim(ctx, s.db, sihOutbox, nil, now, []any{receiver, now.UnixMilli(), s.db.claimOwner(), now.UnixMilli()}, n, scanSIH)
	slices.SortFunc(l, func(a, b SIHMessage) int {
		return cmp.Or(a.Created.Compare(b.Created), strings.Compare(a.ID, b.ID))
	})
	return l, err
}

// Recover implements Events: every outbox's claims this bridge left are
// given back.
func (s sharedSQL) Recover(ctx context.Context) (int, error) { return recoverOutboxes(ctx, s.db) }

// SIHSave implements GAM.
func (s sharedSQL) SIHSave(ctx context.Context, m SIHMessage, kind, detail string) error {
	return sihSave(ctx, s.db, m, kind, detail)
}

// SIHList implements GAM.
func (s sharedSQL) SIHList(ctx context.Context, state string, limit int) ([]SIHMessage, error) {
	return sihList(ctx, s.db, state, limit)
}

// SIHGet implements GAM.
func (s sharedSQL) SIHGet(ctx context.Context, id string) (SIHMessage, error) {
	return sihGet(ctx, s.db, id)
}

// SIHKnow implements GAM.
func (s sharedSQL) SIHKnow(ctx context.Context, receiver string, a GAMPatient) error {
	return sihKnow(ctx, s.db, receiver, a)
}

// SIHFind implements GAM.
func (s sharedSQL) SIHFind(ctx context.Context, receiver string, p GAMPatient) ([]string, error) {
	return sihFind(ctx, s.db, receiver, p)
}

// KioskLookups implements Indicators.
func (s sharedSQL) KioskLookups(ctx context.Context, q IndicatorQuery) ([]KioskLookup, error) {
	return foldQuery(ctx, s.db, q, kioskLookupSQL, scanKioskLookupRow, foldKioskLookups)
}
