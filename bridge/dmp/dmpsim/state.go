package dmpsim

import (
	"context"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"errors"

	"dmpkiosk/bridge/dmp"
)

func parseB64Cert(s string) (*x509.Certificate, error) {
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// DMP is what the simulator holds of one patient's record, for tests and
// the demo.
type DMP struct {
	Exists        bool
	State         string // open, closed
	CreatedBy     string // a structure, or Mon espace santé
	Consent       bool
	OppBrisGlace  bool
	OppUrgence    bool
	Authorization string // of the structure asked about
}

// Record returns the DMP of the patient id as structure sees it.
func (s *Sim) Record(ctx context.Context, id dmp.PatientID, structure string) (DMP, error) {
	r, err := s.st.lookup(ctx, s.st.db, id, structure)
	if err != nil {
		return DMP{}, err
	}
	d := DMP{Exists: r.hasDMP, State: r.state, OppBrisGlace: r.oppBDG, OppUrgence: r.oppUrg, Authorization: r.auth}
	if r.hasDMP {
		if err := s.st.db.QueryRowContext(ctx, `SELECT created_by, consent FROM dmps WHERE person = ?`, r.person).Scan(&d.CreatedBy, &d.Consent); err != nil {
			return DMP{}, err
		}
	}
	return d, nil
}

// Close a patient's DMP (a test of DMPClosed).
func (s *Sim) CloseDMP(ctx context.Context, id dmp.PatientID) error {
	r, err := s.st.lookup(ctx, s.st.db, id, "")
	if err != nil {
		return err
	}
	res, err := s.st.db.ExecContext(ctx, `UPDATE dmps SET state = 'closed' WHERE person = ?`, r.person)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errors.New("dmpsim: no DMP to close")
	}
	return nil
}

// Access is one line of the access trace.
type Access struct {
	Tx, RequestID, ResponseID, Professional, Structure, Mode, Outcome string
	Patient                                                           bool // the request named a known patient
}

// Trace returns the access trace, oldest first.
func (s *Sim) Trace(ctx context.Context) ([]Access, error) {
	rows, err := s.st.db.QueryContext(ctx, `SELECT tx, request_id, response_id, professional, structure, mode, outcome, person FROM trace ORDER BY seq`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Access
	for rows.Next() {
		var a Access
		var p sql.NullInt64
		if err := rows.Scan(&a.Tx, &a.RequestID, &a.ResponseID, &a.Professional, &a.Structure, &a.Mode, &a.Outcome, &p); err != nil {
			return nil, err
		}
		a.Patient = p.Valid
		out = append(out, a)
	}
	return out, rows.Err()
}
