package events

import (
	"context"
	"errors"
	"fmt"

	"dmpkiosk/bridge/insi"
	"dmpkiosk/bridge/internal/work"
	"dmpkiosk/bridge/journal"
	"dmpkiosk/firmware/event"
	"dmpkiosk/ins"
)

// checkINS is the check an event's INS passes before it is journaled: an
// INS given by INSi at the desk is the one the bridge kept for that
// lookup and that kiosk; a status only INSi gives (récupérée, qualifiée)
// comes with such a lookup. A refusal comes back as a Rejection; err is
// the journal failing (the event is then left for the kiosk to resend).
func (s *Flow) checkINS(ctx context.Context, e *event.Event) (*Rejection, error) {
	p := e.Patient
	st := p.Identity.Status
	if p.INSi == nil {
		if st == ins.Recuperee || st == ins.Qualifiee {
			return &Rejection{Reason: journal.RejectINS, Detail: fmt.Sprintf("event %s: identity %s without an INSi lookup", e.ID, st)}, nil
		}
		return nil, nil
	}
	l, err := s.cfg.Journal.Lookup(ctx, p.INSi.Request)
	switch {
	case errors.Is(err, journal.ErrUnknown):
		return &Rejection{Reason: journal.RejectINS, Detail: fmt.Sprintf("event %s: lookup %s unknown to the bridge", e.ID, p.INSi.Request)}, nil
	case err != nil:
		return nil, err
	case l.Device != e.Device:
		return &Rejection{Reason: journal.RejectINS, Detail: fmt.Sprintf("event %s from %s: lookup %s was %s's", e.ID, e.Device, l.ID, l.Device)}, nil
	case l.Outcome != event.LookupFound || p.INS == nil || p.INS.Value != l.INS || p.INS.OID != l.OID:
		return &Rejection{Reason: journal.RejectINS, Detail: fmt.Sprintf("event %s: its INS is not the one lookup %s gave", e.ID, l.ID)}, nil
	}
	return nil, nil
}

const msgIdentityToCheck = "Identité non qualifiée : aucune transaction DMP n'a été faite. Vérifiez l'identité (pièce d'identité, INSi) à la prochaine venue du patient."

// identityGate decides whether an event's identity allows its DMP
// transaction. Below the status the DMP needs, the bridge asks INSi itself
// (INSI-AUTO) and qualifies the identity only if the kiosk recorded an
// identity document and INSi's five traits are the ones validated at the
// desk. ok false: no transaction, out says why; err: INSi failed, the
// event is tried again (never lost).
func (s *Flow) identityGate(ctx context.Context, e *event.Event) (out work.Outcome, ok bool, err error) {
	cfg := s.cfg.Identity
	p := &e.Patient
	enough := func() bool {
		st := p.Identity.Status
		return st == ins.Qualifiee || cfg.AcceptRecovered && st == ins.Recuperee
	}
	if enough() || cfg.INSi == nil && !cfg.Require {
		return out, true, nil
	}
	if cfg.INSi != nil && p.Identity.CanCallINSi() == nil {
		if err := s.autoQualify(ctx, e); err != nil {
			return out, false, err
		}
	}
	if enough() || !cfg.Require || e.Regime == event.RegimeLegacy {
		// In the legacy regime the INS-C remains the identifier.
		return out, true, nil
	}
	return work.Outcome{Code: event.OutcomeIdentity, Message: msgIdentityToCheck}, false, nil
}

// autoQualify looks the identity up (INSI-AUTO) with the traits validated
// at the desk and, when INSi finds it, takes its INS and the status the
// rules give: qualifiée with a document and the same five traits,
// récupérée otherwise. It is audited by its outcome only.
func (s *Flow) autoQualify(ctx context.Context, e *event.Event) error {
	p := &e.Patient
	o, err := s.cfg.Identity.INSi.Lookup(ctx, insi.Auto, insi.TraitsQuery(p.Traits))
	outcome := ""
	switch {
	case errors.Is(err, insi.ErrNotEligible):
		outcome = "not eligible"
	case err != nil:
		return fmt.Errorf("INSi (INSI-AUTO): %w", err)
	case o.Found():
		id := p.Identity
		t := p.Traits
		doc := map[string]ins.Document{"passport": ins.DocPassport, "id-card": ins.DocIdentityCard, "residence-permit": ins.DocResidencePermit}[p.Document]
		_, qerr := insi.Qualify(&id, o.Result, doc, false,
			insi.Traits{BirthName: t.BirthName, FirstNames: t.FirstNames, Sex: t.Sex, BirthDate: t.BirthDate, BirthPlace: t.BirthPlace})
		switch {
		case qerr == nil || errors.Is(qerr, insi.ErrTraitsDiffer) || errors.Is(qerr, ins.ErrDocumentRefused):
			r := o.Result
			p.INS = &event.INS{Value: r.INS.Number + r.INS.Key, OID: r.INS.OID}
			p.Identity = id
			outcome = "found, " + id.Status.String()
		default:
			outcome = "found, not taken: " + qerr.Error()
		}
	case o.NeedMore:
		outcome = "several"
	default:
		outcome = "not found"
	}
	return s.cfg.Journal.Audit(ctx, "insi.auto", e.ID, outcome)
}
