package firmware

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"

	"dmpkiosk/apdu/cps"
	"dmpkiosk/apdu/vitale"
	"dmpkiosk/display"
	"dmpkiosk/display/input"
	"dmpkiosk/display/receipt"
	"dmpkiosk/firmware/event"
	"dmpkiosk/ins"
)

// send builds, signs, seals and stores the event, then waits for the
// bridge.
func (s *Session) send(ctx context.Context) state {
	if dev := s.Creds.Device.Chain[0]; s.now().Before(dev.NotBefore) || s.now().After(dev.NotAfter) {
		s.Logger.Error("session: the clock is outside the device certificate's validity", "clock", s.now().UTC())
		return s.end(display.Error(s.status(), txtClockTitle, txtClockBody))
	}
	seq, err := s.Outbox.NextSeq(ctx)
	if err != nil {
		return s.end(display.Error(s.status(), txtNotStoredTitle, txtNotStoredBody))
	}
	id, err := uuid.NewV7()
	if err != nil {
		return s.end(display.Error(s.status(), txtImpossibleTitle, Message(err)))
	}
	pro := s.professional()
	e, err := eventOf(s.Config, s.now(), id.String(), seq, s.patient().Beneficiaries[s.pick.chosen], pro.info, s.form, &s.lookup)
	if err != nil {
		return s.end(display.Error(s.status(), txtImpossibleTitle, Message(err)))
	}
	signer, err := pro.cps.Signer(ctx)
	if err != nil {
		return s.end(display.CardProblem(s.status(), txtNoSignatureTitle, Message(err)))
	}
	cert, err := pro.cps.Certificate(ctx, true)
	if err != nil {
		return s.end(display.CardProblem(s.status(), txtNoSignatureTitle, Message(err)))
	}
	jwe, err := event.Seal(e, s.Creds.Device, event.Signer{Key: signer, Chain: []*x509.Certificate{cert}}, s.Creds.BridgeKey)
	if errors.Is(err, cps.ErrNeedPIN) {
		// A card that asks its PIN for each signature: asked, said why,
		// and the event made again once it is typed (nothing was stored).
		s.Logger.Info("session: the card asks its PIN again to sign")
		s.resign = true
		s.pin.wipe()
		s.askPIN(ctx, pro)
		sc := s.Display.Last()
		sc.Body = append([]string{txtPINEachSignature}, sc.Body...)
		s.show(sc)
		return stPIN
	}
	if err != nil {
		s.Logger.Error("session: sealing the event", "event", e.ID, "error", err)
		return s.end(display.Error(s.status(), txtNoSignatureTitle, txtNotSignedBody))
	}
	if err := s.Outbox.Put(ctx, e.ID, e.Seq, jwe); err != nil {
		msg := txtNotStoredBody
		if errors.Is(err, ErrOutboxFull) {
			msg = txtOutboxFullBody
		}
		s.Logger.Error("session: storing the event", "event", e.ID, "error", err)
		return s.end(display.Error(s.status(), txtNotStoredTitle, msg))
	}
	s.Logger.Info("session: event stored", "event", e.ID, "seq", e.Seq, "type", e.Type)
	// The event is safe in the outbox: the session's data can go, all but
	// what its receipt prints.
	draft := s.draftReceipt(e)
	s.forget()
	s.receipt = draft
	s.waiting = e.ID
	s.Link.Kick()
	if s.Link.Online() {
		s.showWaiting(display.Sending(s.status()), txtWaitBridge, s.Config.ResultWait.Duration)
		// Without an answer within ResultWait the screen says the event is
		// kept and will be sent: the staff need not wait.
		s.idle.Reset(s.Config.ResultWait.Duration)
		return stSending
	}
	s.show(display.Queued(s.status()))
	s.printReceipt(receipt.Pending)
	return stDone
}

// eventOf is the event a session makes: a function of the site's
// configuration, the moment, the beneficiary chosen, the professional's
// card, the consent form and the INSi lookup, and of nothing else.
func eventOf(cfg *Config, at time.Time, id string, seq int64, b vitale.Beneficiary, pro *cps.Info, f consentForm, l *lookupState) (*event.Event, error) {
	var insRef *event.INS
	// The card's NIR is the patient's INS only if it can be their own (its
	// year and month of birth are theirs): a child's NIR matched by
	// position may be the insured person's.
	if b.NIR != "" && b.NIRValid && b.OwnNIR {
		if n, err := ins.ParseNIR(b.NIR); err == nil && n.Certified() {
			insRef = &event.INS{Value: n.String(), OID: ins.OIDNIR}
		}
	}
	traits, err := traitsOf(b)
	if err != nil {
		return nil, err
	}
	traits.BirthPlace = string(l.place)
	ident := ins.Identity{}
	if d, ok := documentOf(f.doc); ok {
		if err := ident.DocumentChecked(d, false); err != nil {
			return nil, err
		}
	}
	var origin *event.INSiRef
	if v, ref, official, id, ok := l.insiIdentity(f.doc); ok {
		// INSi's identity, retained by the professional: its INS and its
		// five official traits.
		insRef, origin, ident = v, ref, id
		if t, err := ins.NormalizeTraits(*official); err == nil {
			traits = t
		}
	}
	switch {
	case f.doubtful:
		ident.MarkDoubtful()
	case f.fictitious:
		ident.MarkFictitious()
	}
	c := event.Consent{Informed: f.answer(qInformed), Authorization: f.answer(qAuthorization),
		BrisDeGlaceOpposition: f.answer(qBrisDeGlace), EmergencyOpposition: f.answer(qEmergency)}
	typ := event.TypeConsent
	if cfg.Regime == event.RegimeLegacy {
		creation := f.answer(qCreation)
		c.Creation = &creation
		if creation {
			typ = event.TypeCreate
		}
	}
	return &event.Event{
		Type: typ, ID: id, Device: cfg.DeviceID, Site: event.Site{FINESS: cfg.Site, Unit: cfg.Unit},
		Context: cfg.Context, Regime: cfg.Regime, Time: at.UTC(), Seq: seq,
		Patient: event.Patient{INS: insRef, INSC: b.INSC, Traits: traits, Identity: ident, Document: f.doc, INSi: origin},
		Professional: event.Professional{NationalID: pro.NationalID, NationalIDType: pro.NationalIDType, CardType: pro.CardType,
			CardSerial: pro.Serial, Surname: pro.Surname, FirstName: pro.FirstName, Profession: pro.Profession, Speciality: pro.Speciality},
		Consent: c,
	}, nil
}

// traitsOf are a beneficiary's traits as the card gives them, under the
// identity rules (the sex from their own NIR, else indéterminé).
func traitsOf(b vitale.Beneficiary) (ins.Traits, error) {
	sex := "I"
	if b.NIR != "" && b.NIRValid && b.OwnNIR {
		if n, err := ins.ParseNIR(b.NIR); err == nil {
			sex = n.Sex()
		}
	}
	return ins.NormalizeTraits(ins.Traits{BirthName: b.Surname, FirstName: firstOf(b.FirstName), FirstNames: strings.Fields(b.FirstName),
		Sex: sex, BirthDate: b.BirthDate})
}

// documentOf is the identity document of a form's code.
func documentOf(code string) (ins.Document, bool) {
	d, ok := map[string]ins.Document{"passport": ins.DocPassport, "id-card": ins.DocIdentityCard, "residence-permit": ins.DocResidencePermit}[code]
	return d, ok
}

// documentLabel names a document for the screen.
func documentLabel(code string) string {
	for _, d := range documents {
		if d.code == code {
			return d.label
		}
	}
	return code
}

// firstOf is the first of the first names as the card writes them (a
// space separates first names; a hyphen joins a compound one).
func firstOf(names string) string {
	if f := strings.Fields(names); len(f) > 0 {
		return f[0]
	}
	return ""
}

// onResult shows the bridge's answer to the event the screen waits for;
// another event's answer only refreshes the status line.
func (s *Session) onResult(r event.Result) state {
	if r.EventID != s.waiting {
		s.show(s.refreshStatus())
		return s.st
	}
	s.waiting = ""
	tone, title := display.Neutral, ""
	switch r.Outcome {
	case event.OutcomeCreated:
		tone, title = display.Success, txtCreated
	case event.OutcomeAuthorized:
		tone, title = display.Success, txtAuthorized
	case event.OutcomeExists:
		tone, title = display.Neutral, txtExists
	case event.OutcomeRefused:
		tone, title = display.Neutral, txtNoAccess // the patient's choice, or no DMP: the message says which
	case event.OutcomeIdentity:
		tone, title = display.Warning, txtIdentityToCheck
	default:
		tone, title = display.Danger, txtProcessingError
	}
	s.beep(input.BeepSuccess)
	s.show(display.Result(s.status(), tone, title, r.Message))
	if o, ok := receiptOutcome(r.Outcome, s.receipt); ok {
		s.printReceipt(o)
	} else {
		s.receipt = nil
	}
	return stDone
}

// refreshStatus is the screen shown, with an up to date status line.
func (s *Session) refreshStatus() display.Screen {
	sc := s.Display.Last()
	sc.Status = s.status()
	return sc
}
