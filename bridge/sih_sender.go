package bridge

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"time"

	"dmpkiosk/bridge/hl7"
	"dmpkiosk/bridge/sih"
	"dmpkiosk/firmware/event"
)

// SIHConfig is what the bridge tells the hospital's information system,
// and to whom.
type SIHConfig struct {
	Sender    sih.Sender
	Receivers []sih.Receiver
	// TLS is the client configuration for the receivers that take TLS
	// (their authority, the bridge's certificate).
	TLS *tls.Config
	// Wait is how long an answer is waited for (10 s when zero); Backoff
	// the first delay before the same message is sent again (2 s),
	// doubled up to 10 minutes; after MaxAttempts (20) unanswered tries
	// an entry goes to the dead letters.
	Wait        time.Duration
	Backoff     time.Duration
	MaxAttempts int
	// Listen is the bridge's MLLP listener for the GAMs' own messages
	// (receivers matched from their admissions); "" for none.
	Listen string
}

// tellSIH queues what a processed event tells each receiver: nothing for
// an event without a DMP answer or whose identity is to be checked. An
// entry that cannot be queued is an error: the event is then not finished,
// and is processed again (the entries already queued are not doubled).
func (s *Service) tellSIH(ctx context.Context, e *event.Event, outcome string) error {
	c := s.cfg.SIH
	if c == nil || outcome == event.OutcomeIdentity || outcome == event.OutcomeError {
		return nil
	}
	p := sih.PatientOf(e, outcome)
	payload, _ := json.Marshal(p)
	key := sha256.Sum256([]byte(e.Patient.INSC + "|" + e.Patient.Traits.BirthName + "|" + e.Patient.Traits.BirthDate + "|" + e.Patient.Traits.FirstName))
	for _, r := range c.Receivers {
		m := SIHMessage{ID: r.Name + "/" + e.ID, Receiver: r.Name, Event: e.ID, Patient: hex.EncodeToString(key[:16]), State: SIHQuery,
			Payload: payload, Created: time.Now()}
		if _, err := s.cfg.Journal.SIHEnqueue(ctx, m); err != nil {
			return fmt.Errorf("queuing for %s: %w", r.Name, err)
		}
		s.kickSIH(r.Name)
	}
	return nil
}

func (s *Service) kickSIH(receiver string) {
	if ch := s.sihKick[receiver]; ch != nil {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// sihSender works through a receiver's outbox until ctx ends.
func (s *Service) sihSender(ctx context.Context, r sih.Receiver) {
	idle := time.NewTimer(time.Second)
	defer idle.Stop()
	for ctx.Err() == nil {
		due, err := s.cfg.Journal.SIHDue(ctx, r.Name, time.Now(), 8)
		if err != nil && ctx.Err() == nil {
			s.cfg.Logger.Error("bridge: the information system's outbox", "receiver", r.Name, "error", err)
		}
		if len(due) == 0 {
			idle.Reset(time.Second)
			select {
			case <-ctx.Done():
			case <-s.sihKick[r.Name]:
			case <-idle.C:
			}
			continue
		}
		for _, m := range due {
			s.sihWork(ctx, r, m)
		}
	}
}

// newControl is a message control id (MSH-10): 20 characters.
func newControl() string {
	b := make([]byte, 10)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// sihWork takes one entry one step: the PDQ query, or the update.
func (s *Service) sihWork(ctx context.Context, r sih.Receiver, m SIHMessage) {
	c := s.cfg.SIH
	var p sih.Patient
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		m.State, m.Error = SIHDead, "contenu illisible"
		s.sihSave(ctx, m, "sih.dead", "unreadable payload")
		return
	}
	var tc *tls.Config
	if r.TLS {
		tc = c.TLS
	}
	wait := c.Wait
	if wait == 0 {
		wait = 10 * time.Second
	}
	now := time.Now()
	switch m.State {
	case SIHQuery:
		if r.Match == sih.MatchAdmissions {
			if !s.sihFromAdmissions(ctx, r, &m, p) {
				return
			}
			if err := s.sihSave(ctx, m, "sih.matched", "one patient among the GAM's admissions"); err != nil {
				return
			}
			break
		}
		control := newControl()
		msg, err := sih.QBP(c.Sender, r, control, "Q"+control[:8], now, p, r.PDQByINS)
		if err != nil {
			m.State, m.Error = SIHDead, err.Error()
			s.sihSave(ctx, m, "sih.dead", "query not written")
			return
		}
		answer, err := sih.Exchange(ctx, r.Address, tc, msg, wait)
		s.audit(ctx, "sih.query", m.ID, fmt.Sprintf("receiver=%s control=%s", r.Name, control))
		if err != nil {
			s.sihRetry(ctx, m, err)
			return
		}
		ack, ipps, err := sih.Matches(r, answer)
		switch {
		case err != nil:
			s.sihRetry(ctx, m, fmt.Errorf("réponse illisible : %w", err))
			return
		case !ack.Accepted():
			m.State, m.Error = SIHDead, "recherche refusée : "+ack.Code+" "+ack.Error
			s.sihSave(ctx, m, "sih.dead", "query answered "+ack.Code)
			return
		case len(ipps) != 1:
			m.State, m.Error = SIHMatch, "aucun patient trouvé dans la GAM"
			if len(ipps) > 1 {
				m.Error = fmt.Sprintf("%d patients trouvés dans la GAM", len(ipps))
			}
			s.sihSave(ctx, m, "sih.match", fmt.Sprintf("%d found", len(ipps)))
			return
		}
		m.IPP, m.State, m.Attempts, m.Error = ipps[0], SIHSend, 0, ""
		if err := s.sihSave(ctx, m, "sih.matched", "one patient found"); err != nil {
			return
		}
	}
	if m.State == SIHSend {
		if len(m.Message) == 0 {
			p.IPP = m.IPP
			m.Control = newControl()
			msg, err := sih.A31(c.Sender, r, m.Control, now, p)
			if err != nil {
				m.State, m.Error = SIHDead, err.Error()
				s.sihSave(ctx, m, "sih.dead", "update not written")
				return
			}
			// Kept before it is sent: a resend is the same message.
			m.Message = msg
			if err := s.sihSave(ctx, m, "sih.written", "control="+m.Control); err != nil {
				return
			}
		}
		answer, err := sih.Exchange(ctx, r.Address, tc, m.Message, wait)
		s.audit(ctx, "sih.sent", m.ID, fmt.Sprintf("receiver=%s type=ADT^A31 control=%s attempt=%d", r.Name, m.Control, m.Attempts+1))
		if err != nil {
			s.sihRetry(ctx, m, err)
			return
		}
		ack, err := sih.AckFrom(r, answer)
		if err != nil || ack.Control != m.Control {
			s.sihRetry(ctx, m, fmt.Errorf("acquittement illisible ou d'un autre message"))
			return
		}
		detail := fmt.Sprintf("receiver=%s control=%s code=%s", r.Name, m.Control, ack.Code)
		if ack.Accepted() {
			m.State, m.Error = SIHDone, ""
		} else {
			m.State, m.Error = SIHDead, ack.Code+" : "+ack.Error
		}
		s.sihSave(ctx, m, "sih.ack", detail)
	}
}

// sihFromAdmissions finds the IPP among the patients the GAM told of:
// one → m is to be sent (true); several → à rapprocher; none yet → looked
// for again later (the admission may come after the kiosk's session),
// à rapprocher after MaxAttempts.
func (s *Service) sihFromAdmissions(ctx context.Context, r sih.Receiver, m *SIHMessage, p sih.Patient) bool {
	ipps, err := s.cfg.Journal.SIHFind(ctx, r.Name, p)
	switch {
	case err != nil:
		s.cfg.Logger.Error("bridge: the GAM's patients", "receiver", r.Name, "error", err)
		return false
	case len(ipps) == 1:
		m.IPP, m.State, m.Attempts, m.Error = ipps[0], SIHSend, 0, ""
		return true
	case len(ipps) > 1:
		m.State, m.Error = SIHMatch, fmt.Sprintf("%d patients de la GAM ont ces traits", len(ipps))
		s.sihSave(ctx, *m, "sih.match", fmt.Sprintf("%d found", len(ipps)))
		return false
	}
	max := s.cfg.SIH.MaxAttempts
	if max == 0 {
		max = 20
	}
	if m.Attempts+1 >= max {
		m.State, m.Error = SIHMatch, "aucune admission de ce patient reçue de la GAM"
		s.sihSave(ctx, *m, "sih.match", "not among the admissions")
		return false
	}
	s.sihRetry(ctx, *m, fmt.Errorf("aucune admission de ce patient reçue de la GAM pour l'instant"))
	return false
}

// onGAMMessage keeps the patient of a GAM's own message (an admission, an
// update) for the receivers matched from their admissions.
func (s *Service) onGAMMessage(m *hl7.Message) (code, errCode, errText string) {
	msh, _ := m.Seg("MSH", 0)
	if !strings.HasPrefix(msh.Field(9), "ADT^") {
		return "AR", "200", "type de message non pris en charge"
	}
	app, fac := msh.Get(3, 1), msh.Get(4, 1)
	for _, r := range s.cfg.SIH.Receivers {
		if r.Match != sih.MatchAdmissions || r.Application != app || r.Facility != "" && r.Facility != fac {
			continue
		}
		a, ok := sih.AdmittedOf(r, m)
		if !ok {
			return "AE", "101", "pas d'IPP du domaine attendu en PID-3"
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.cfg.Journal.SIHKnow(ctx, r.Name, a); err != nil {
			s.cfg.Logger.Error("bridge: keeping a GAM's patient", "receiver", r.Name, "error", err)
			return "AE", "207", "erreur interne de la passerelle"
		}
		s.kickSIH(r.Name)
		return "AA", "", ""
	}
	return "AR", "207", "émetteur inconnu de la passerelle"
}

// sihRetry: no answer (or one that cannot be read): the same step again,
// later; given up after MaxAttempts.
func (s *Service) sihRetry(ctx context.Context, m SIHMessage, cause error) {
	c := s.cfg.SIH
	max, backoff := c.MaxAttempts, c.Backoff
	if max == 0 {
		max = 20
	}
	if backoff == 0 {
		backoff = 2 * time.Second
	}
	m.Attempts++
	d := min(backoff<<min(m.Attempts-1, 20), 10*time.Minute)
	m.Next, m.Error = time.Now().Add(d/2+mrand.N(d/2+1)), "pas de réponse : "+cause.Error()
	kind := "sih.noanswer"
	if m.Attempts >= max {
		m.State, kind = SIHDead, "sih.dead"
	}
	s.sihSave(ctx, m, kind, fmt.Sprintf("attempt=%d", m.Attempts))
}

func (s *Service) sihSave(ctx context.Context, m SIHMessage, kind, detail string) error {
	err := s.cfg.Journal.SIHSave(ctx, m, kind, detail)
	if err != nil {
		s.cfg.Logger.Error("bridge: the information system's outbox", "entry", m.ID, "error", err)
	}
	return err
}

func (s *Service) audit(ctx context.Context, kind, ref, detail string) {
	if err := s.cfg.Journal.Audit(ctx, kind, ref, detail); err != nil {
		s.cfg.Logger.Error("bridge: auditing", "kind", kind, "error", err)
	}
}
