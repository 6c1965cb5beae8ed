package dmp

import (
	"context"
	"errors"
	"fmt"

	"dmpkiosk/bridge/internal/work"
	"dmpkiosk/firmware/event"
)

// Processor turns a verified event into DMP transactions (bridge.Processor).
//
// Legacy regime: TD0.2; with no DMP and the patient's consent, TD1.1 with
// the oppositions; then the establishment's authorization (TD0.3) as the
// patient answered. Current regime: TD0.2 and never a creation; the
// authorization recorded (TD0.3). Every exchange is audited with its
// request and response identifiers. A transaction tried again after a
// failure starts over from TD0.2, so a creation that went through before
// the answer was lost is not made twice.
type Processor struct {
	Client *Client
	// UnreadableAttempts is how many times an event whose DMP answer
	// cannot be read is tried before it goes to the dead letters (3 when
	// zero).
	UnreadableAttempts int
	// Audit records a transaction (the bridge's journal).
	Audit func(ctx context.Context, kind, ref, detail string) error
	// Marks keeps, in the journal, that an event's creation was sent
	// before its answer is known: a retry that finds the DMP then says
	// "DMP créé" for the event that created it. Nil: such a retry says the
	// DMP existed.
	Marks Marks
}

// Marks is the journal's record of what was sent for an event.
type Marks interface {
	Mark(ctx context.Context, id, mark string) error
	Marked(ctx context.Context, id, mark string) (bool, error)
}

// markCreation is the mark of a TD1.1 sent for an event.
const markCreation = "dmp.create.sent"

// PatientOfEvent is the identifier the DMP knows the patient by: the INS
// read from the card or qualified through INSi, or in the legacy regime the
// INS-C (which was the DMP's identifier then) for someone with no NIR of
// their own. In the legacy regime an INS INSi gave that no document
// vouched for (récupérée) is not shared, the INS-C is; in the current one
// the bridge's identity rules decided before (qualifiée, or récupérée
// when the establishment accepts it).
func PatientOfEvent(e *event.Event) (PatientID, error) {
	p := e.Patient
	if p.INS != nil && p.INS.Value != "" && (p.INSi == nil || p.Identity.Shareable() || e.Regime != event.RegimeLegacy || p.INSC == "") {
		return PatientID{Root: e.Patient.INS.OID, Extension: e.Patient.INS.Value}, nil
	}
	if e.Regime == event.RegimeLegacy && e.Patient.INSC != "" {
		return PatientID{Root: OIDINSC, Extension: e.Patient.INSC}, nil
	}
	return PatientID{}, errors.New("no INS for this patient: the INSi lookup must qualify the identity first")
}

// Messages for the kiosk's screen.
const (
	msgCreated       = "DMP créé. L'accès de l'établissement est autorisé."
	msgCreatedNoAuth = "DMP créé. Le patient n'autorise pas l'accès de l'établissement : c'est enregistré."
	msgExists        = "Le patient a déjà un DMP. L'autorisation d'accès de l'établissement est enregistrée."
	msgExistsNoAuth  = "Le patient a déjà un DMP. Son refus d'accès pour l'établissement est enregistré."
	msgAuthorized    = "Autorisation d'accès de l'établissement enregistrée dans le DMP."
	msgNoAuth        = "Refus d'accès de l'établissement enregistré dans le DMP."
	msgNoConsent     = "Pas de DMP créé : le patient n'y a pas consenti."
	msgNoDMP         = "Ce patient n'a pas de DMP (il s'est opposé à Mon espace santé) : rien n'est enregistré."
	msgIdentity      = "L'identité du patient n'a pas été reconnue par le DMP : vérifiez-la avec une pièce d'identité puis recommencez."
	msgClosed        = "Le DMP de ce patient est fermé : rien n'est enregistré."
	msgRights        = "Le DMP refuse cette action à l'établissement. Le service informatique est prévenu."
	msgCertificate   = "Le certificat de l'établissement est refusé par le DMP. Le service informatique est prévenu."
	msgNoINS         = "INS non qualifiée : le dossier ne peut pas être traité sans l'INS du patient."
	msgUnreadable    = "Réponse du DMP illisible : la demande est mise de côté et le service informatique est prévenu."
	msgNoRole        = "Le rôle des personnels d'accueil n'est pas configuré pour le DMP : une carte de professionnel de santé est nécessaire, le service informatique est prévenu."
)

// Process implements bridge.Processor.
func (p *Processor) Process(ctx context.Context, e *event.Event) (work.Outcome, error) {
	pid, err := PatientOfEvent(e)
	if err != nil {
		return work.Outcome{}, &work.PermanentError{Err: err, Message: msgNoINS}
	}
	who := Who{Professional: e.Professional, FINESS: e.Site.FINESS, Patient: pid}
	ex, x, err := p.Client.TestExistence(ctx, who)
	if err := p.audit(ctx, e, x, err); err != nil {
		return work.Outcome{}, err
	}
	if err != nil {
		return work.Outcome{}, p.classify(err)
	}
	created := false
	if ex.Exists && e.Regime == event.RegimeLegacy && p.Marks != nil {
		// A retry: if this event's creation was sent, the DMP found is
		// the one it created (its answer was lost).
		sent, err := p.Marks.Marked(ctx, e.ID, markCreation)
		if err != nil {
			return work.Outcome{}, err
		}
		created = sent
	}
	if !ex.Exists {
		switch {
		case e.Regime != event.RegimeLegacy:
			return work.Outcome{Code: event.OutcomeRefused, Message: msgNoDMP}, nil
		case e.Consent.Creation == nil || !*e.Consent.Creation:
			return work.Outcome{Code: event.OutcomeRefused, Message: msgNoConsent}, nil
		}
		if p.Marks != nil {
			if err := p.Marks.Mark(ctx, e.ID, markCreation); err != nil {
				return work.Outcome{}, err
			}
		}
		t := e.Patient.Traits
		x, err := p.Client.Create(ctx, who, Creation{Patient: pid, Consent: true,
			Demographics: Demographics{BirthName: t.BirthName, FirstName: t.FirstName, Sex: t.Sex, BirthDate: t.BirthDate},
			OppBrisGlace: e.Consent.BrisDeGlaceOpposition, OppUrgence: e.Consent.EmergencyOpposition})
		if err := p.audit(ctx, e, x, err); err != nil {
			return work.Outcome{}, err
		}
		switch {
		case errors.Is(err, ErrFound):
			// Created meanwhile (by another site, or by this request
			// before its answer was lost): it exists.
		case err != nil:
			return work.Outcome{}, p.classify(err)
		default:
			created = true
			ex.Authorization = AuthNone
		}
	}
	action := ""
	switch {
	case e.Consent.Authorization && ex.Authorization != AuthValid:
		action = ActionAdd
	case !e.Consent.Authorization && ex.Authorization == AuthValid:
		action = ActionRemove
	}
	if action != "" {
		_, x, err := p.Client.SetAuthorization(ctx, who, action)
		if err := p.audit(ctx, e, x, err); err != nil {
			return work.Outcome{}, err
		}
		if err != nil {
			return work.Outcome{}, p.classify(err)
		}
	}
	switch {
	case created && e.Consent.Authorization:
		return work.Outcome{Code: event.OutcomeCreated, Message: msgCreated}, nil
	case created:
		return work.Outcome{Code: event.OutcomeCreated, Message: msgCreatedNoAuth}, nil
	case e.Regime == event.RegimeLegacy && e.Consent.Authorization:
		return work.Outcome{Code: event.OutcomeExists, Message: msgExists}, nil
	case e.Regime == event.RegimeLegacy:
		return work.Outcome{Code: event.OutcomeExists, Message: msgExistsNoAuth}, nil
	case e.Consent.Authorization:
		return work.Outcome{Code: event.OutcomeAuthorized, Message: msgAuthorized}, nil
	}
	return work.Outcome{Code: event.OutcomeRefused, Message: msgNoAuth}, nil
}

// classify makes a final failure a work.PermanentError with the kiosk's
// message; a transient one is returned as is (the bridge retries it).
func (p *Processor) classify(err error) error {
	if Unreadable(err) {
		n := p.UnreadableAttempts
		if n == 0 {
			n = 3
		}
		return &work.LimitedError{Err: err, Attempts: n, Message: msgUnreadable}
	}
	if errors.Is(err, ErrNoRole) {
		return &work.PermanentError{Err: err, Message: msgNoRole}
	}
	if Transient(err) {
		return err
	}
	msg := "La demande n'a pas pu aboutir auprès du DMP. Le service informatique est prévenu."
	switch {
	case errors.Is(err, ErrIdentityCertFailure):
		msg = msgIdentity
	case errors.Is(err, ErrClosed):
		msg = msgClosed
	case errors.Is(err, ErrAccessDenied):
		msg = msgRights
	case errors.Is(err, ErrInvalidCertificate):
		msg = msgCertificate
	}
	return &work.PermanentError{Err: err, Message: msg}
}

// audit records one exchange: the transaction, its outcome and the
// message identifiers, never patient data. An exchange that cannot be
// audited fails the event (retried: it starts again from TD0.2, so what
// went through is not done twice).
func (p *Processor) audit(ctx context.Context, e *event.Event, x Exchange, err error) error {
	if p.Audit == nil || x.Transaction == "" {
		return nil
	}
	outcome := "ok"
	if err != nil {
		outcome = "error"
		var f *Fault
		if errors.As(err, &f) {
			outcome = "fault " + f.Subcode
		}
	}
	detail := fmt.Sprintf("%s %s request=%s response=%s http=%d", x.Transaction, outcome, x.RequestID, x.ResponseID, x.Status)
	if aerr := p.Audit(ctx, "dmp."+x.Transaction, e.ID, detail); aerr != nil {
		return fmt.Errorf("dmp: auditing %s: %w", x.Transaction, aerr)
	}
	return nil
}
