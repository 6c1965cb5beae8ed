package dmpsim

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"dmpkiosk/bridge/dmp"
)

// Person is a patient of the identity referential, known by one or more
// identifiers (the INS and, for the legacy regime, the INS-C).
type Person struct {
	IDs          []dmp.PatientID
	Demographics dmp.Demographics
	// Opposed: the patient opposed the automatic opening of Mon espace
	// santé (current regime: no DMP).
	Opposed bool
	// OpposedBrisDeGlace: the patient opposed emergency access to the
	// DMP opened for them (current regime).
	OpposedBrisDeGlace bool
	// Blocked are the professionals (national ids) the patient blocked.
	Blocked []string
}

// store keeps the simulator's state: patients, DMPs, authorizations,
// oppositions and the access trace of every request.
type store struct{ db *sql.DB }

const schema = `
CREATE TABLE IF NOT EXISTS persons (person INTEGER PRIMARY KEY, birth_name TEXT NOT NULL, first_name TEXT NOT NULL,
	sex TEXT NOT NULL, birth_date TEXT NOT NULL, opposed INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS identifiers (root TEXT NOT NULL, extension TEXT NOT NULL, person INTEGER NOT NULL REFERENCES persons,
	PRIMARY KEY (root, extension));
CREATE TABLE IF NOT EXISTS dmps (person INTEGER PRIMARY KEY REFERENCES persons, state TEXT NOT NULL, created INTEGER NOT NULL,
	created_by TEXT NOT NULL, consent INTEGER NOT NULL, opp_bris_de_glace INTEGER NOT NULL, opp_urgence INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS authorizations (person INTEGER NOT NULL, structure TEXT NOT NULL, status TEXT NOT NULL,
	updated INTEGER NOT NULL, PRIMARY KEY (person, structure));
CREATE TABLE IF NOT EXISTS trace (seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, tx TEXT NOT NULL,
	request_id TEXT NOT NULL, response_id TEXT NOT NULL, professional TEXT NOT NULL, structure TEXT NOT NULL,
	mode TEXT NOT NULL, person INTEGER, outcome TEXT NOT NULL);
`

func openStore(path string) (*store, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(schema + registrySchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("dmpsim: %s: %w", path, err)
	}
	// A store made before TD3.1 gets the columns it serves from (an
	// error only says one is there already).
	for _, c := range []string{"entry BLOB NOT NULL DEFAULT ''", "signature INTEGER NOT NULL DEFAULT 0", "author TEXT NOT NULL DEFAULT ''"} {
		db.Exec("ALTER TABLE documents ADD COLUMN " + c)
	}
	return &store{db: db}, nil
}

// seed adds the persons the referential does not know yet; in the current
// regime each gets the DMP Mon espace santé opened for them, unless they
// opposed.
func (s *store) seed(ctx context.Context, people []Person, current bool) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, p := range people {
		known := false
		for _, id := range p.IDs {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM identifiers WHERE root = ? AND extension = ?`, id.Root, id.Extension).Scan(&n); err != nil {
				return err
			}
			known = known || n > 0
		}
		if known {
			continue
		}
		d := p.Demographics
		res, err := tx.ExecContext(ctx, `INSERT INTO persons (birth_name, first_name, sex, birth_date, opposed) VALUES (?, ?, ?, ?, ?)`,
			d.BirthName, d.FirstName, d.Sex, d.BirthDate, p.Opposed)
		if err != nil {
			return err
		}
		person, _ := res.LastInsertId()
		for _, b := range p.Blocked {
			if _, err := tx.ExecContext(ctx, `INSERT INTO blocked (person, national_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, person, b); err != nil {
				return err
			}
		}
		for _, id := range p.IDs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO identifiers (root, extension, person) VALUES (?, ?, ?)`, id.Root, id.Extension, person); err != nil {
				return err
			}
		}
		if current && !p.Opposed {
			if _, err := tx.ExecContext(ctx, `INSERT INTO dmps (person, state, created, created_by, consent, opp_bris_de_glace, opp_urgence)
				VALUES (?, 'open', ?, 'Mon espace santé', 0, ?, 0)`, person, time.Now().UnixMilli(), p.OpposedBrisDeGlace); err != nil {
				return err
			}
		}
	}
	return tx.Commit()
}

// record is a person and their DMP, as a transaction sees them.
type record struct {
	person       int64
	demographics dmp.Demographics
	insc         string
	hasDMP       bool
	state        string
	oppBDG       bool
	oppUrg       bool
	auth         string // for the structure asking
}

var errUnknownPatient = errors.New("dmpsim: unknown patient")

func (s *store) lookup(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, id dmp.PatientID, structure string) (record, error) {
	var r record
	err := q.QueryRowContext(ctx, `SELECT p.person, p.birth_name, p.first_name, p.sex, p.birth_date FROM identifiers i
		JOIN persons p ON p.person = i.person WHERE i.root = ? AND i.extension = ?`, id.Root, id.Extension).
		Scan(&r.person, &r.demographics.BirthName, &r.demographics.FirstName, &r.demographics.Sex, &r.demographics.BirthDate)
	if errors.Is(err, sql.ErrNoRows) {
		return r, errUnknownPatient
	}
	if err != nil {
		return r, err
	}
	_ = q.QueryRowContext(ctx, `SELECT extension FROM identifiers WHERE person = ? AND root = ?`, r.person, dmp.OIDINSC).Scan(&r.insc)
	err = q.QueryRowContext(ctx, `SELECT state, opp_bris_de_glace, opp_urgence FROM dmps WHERE person = ?`, r.person).Scan(&r.state, &r.oppBDG, &r.oppUrg)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return r, err
	default:
		r.hasDMP = true
	}
	r.auth = dmp.AuthNone
	err = q.QueryRowContext(ctx, `SELECT status FROM authorizations WHERE person = ? AND structure = ?`, r.person, structure).Scan(&r.auth)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return r, err
	}
	return r, nil
}

func (s *store) trace(ctx context.Context, t traceEntry) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO trace (at, tx, request_id, response_id, professional, structure, mode, person, outcome)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, time.Now().UnixMilli(), t.Tx, t.RequestID, t.ResponseID, t.Professional, t.Structure,
		t.Mode, t.person, t.Outcome)
	return err
}

type traceEntry struct {
	Tx, RequestID, ResponseID, Professional, Structure, Mode, Outcome string
	person                                                            sql.NullInt64
}
