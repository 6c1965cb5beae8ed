package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"dmpkiosk/bridge/insi"
	"dmpkiosk/bridge/internal/metrics"
	"dmpkiosk/bridge/internal/ratelimit"
	"dmpkiosk/bridge/internal/work"
	"dmpkiosk/bridge/journal"
	"dmpkiosk/firmware/event"
	"dmpkiosk/provisioning"
)

// Processor runs the transactions an event asks for (*dmp.Processor).
type Processor interface {
	Process(ctx context.Context, e *event.Event) (work.Outcome, error)
}

// Store is what the flow needs of the journal: the events, the audit
// trail, and the lookups an event's INS is checked against.
type Store interface {
	journal.Events
	journal.Lookups
	Audit(ctx context.Context, kind, ref, detail string) error
}

// Publisher sends a message to the broker (*broker.Conn).
type Publisher interface {
	Publish(topic string, payload []byte) error
}

// Config configures the flow.
type Config struct {
	Verifier    *Verifier
	Journal     Store
	Processor   Processor
	Broker      Publisher
	Workers     int           // 4 when zero
	MaxAttempts int           // 8 when zero
	Backoff     time.Duration // first retry delay, doubled each time (2 s when zero), at most 10 min
	Logger      *slog.Logger
	// Limits bound each kiosk's messages (shared with the other flows that
	// take a kiosk's messages). An event over the limit is not looked at
	// nor answered: it stays in the kiosk's outbox, which sends it again.
	Limits *ratelimit.Kiosks
	// Metrics counts what the flow does (a new set when nil).
	Metrics *metrics.Events
	// Identity: the identity status the DMP needs.
	Identity IdentityConfig
	// Tell, when set, hands a processed event's outcome on (to the
	// hospital's information system, sih.Delivery.Tell), before the event
	// is finished: an error leaves it to be processed again.
	Tell func(ctx context.Context, e *event.Event, outcome string) error
}

// IdentityConfig is the flow's part in identity vigilance: the status an
// identity must have before a DMP transaction, and INSi for the bridge's
// own lookups (INSI-AUTO).
type IdentityConfig struct {
	INSi Looker // nil: no INSI-AUTO
	// Require: in the current regime, no DMP transaction without a
	// qualified INS; AcceptRecovered lets an INS récupérée be enough.
	Require, AcceptRecovered bool
}

// Looker runs INSi's search strategy (*insi.Client).
type Looker interface {
	Lookup(ctx context.Context, mode insi.Mode, q insi.Query) (*insi.Outcome, error)
}

// Flow consumes the kiosks' events, verifies, journals and processes
// them, and answers each kiosk.
type Flow struct {
	cfg     Config
	kick    chan struct{}
	Metrics *metrics.Events
}

// New returns the flow; OnMessage takes the events, Run works them.
func New(cfg Config) *Flow {
	if cfg.Workers == 0 {
		cfg.Workers = 4
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Limits == nil {
		cfg.Limits = ratelimit.New(0, 0)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = &metrics.Events{}
	}
	return &Flow{cfg: cfg, kick: make(chan struct{}, 1), Metrics: cfg.Metrics}
}

// Wake makes the workers look at the journal now (a dead letter put back
// in the queue).
func (s *Flow) Wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Recover gives back what a previous run left claimed; Run calls it.
func (s *Flow) Recover(ctx context.Context) error {
	n, err := s.cfg.Journal.Recover(ctx)
	if err != nil {
		return fmt.Errorf("bridge: recovering the journal: %w", err)
	}
	if n > 0 {
		s.cfg.Logger.Warn("bridge: work left claimed by a previous run is queued again", "count", n)
	}
	return nil
}

// Run works the journal's events until ctx ends.
func (s *Flow) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := 0; i < s.cfg.Workers; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); s.worker(ctx) }()
	}
	wg.Wait()
}

// OnMessage takes an event the broker delivered on topic. It runs on
// paho's goroutines, one a message; the broker's in-flight window bounds
// them, which is the back-pressure when the journal is slow (the PUBACK
// waits for the journal).
func (s *Flow) OnMessage(topic string, payload []byte) {
	s.Metrics.Received.Add(1)
	ctx := context.Background()
	if device, ok := deviceOf(topic); ok && !s.cfg.Limits.Admit(ctx, device, func() { s.Metrics.Reject(journal.RejectRateLimited) }, s.cfg.Journal.Audit, s.cfg.Logger) {
		return
	}
	o, err := s.cfg.Verifier.Verify(topic, payload)
	if err != nil {
		var r *Rejection
		if !errors.As(err, &r) {
			r = &Rejection{Reason: "internal", Detail: err.Error()}
		}
		if o == nil {
			// Not authenticated: audited, never answered.
			s.rejectEvent(ctx, topic, r, nil)
			return
		}
		s.refuse(ctx, topic, r, o)
		return
	}
	e := &o.Event
	if rej, err := s.checkINS(ctx, e); err != nil {
		s.cfg.Logger.Error("bridge: checking an event's INS", "event", e.ID, "error", err)
		return // not answered: the kiosk sends it again
	} else if rej != nil {
		s.refuse(ctx, topic, rej, o)
		return
	}
	stored, dup, err := s.cfg.Journal.Accept(ctx, recordOf(o))
	switch {
	case errors.Is(err, journal.ErrReplay):
		s.rejectEvent(ctx, topic, &Rejection{Reason: journal.RejectReplay, Detail: err.Error()}, e)
		return
	case err != nil:
		// Not journaled: no PUBACK would be better, but paho acknowledges
		// once the handler returns; the kiosk resends after its result
		// wait, and nothing was promised to it.
		s.cfg.Logger.Error("bridge: journal refused an event", "event", e.ID, "error", err)
		return
	case dup && len(stored.Payload) > 0 && !bytes.Equal(stored.Payload, o.Payload):
		// One id, one content: an id the journal knows with another
		// content (a new sequence, another answer) is not the event it
		// answered; the kiosk is told plainly, nothing is processed.
		s.rejectEvent(ctx, topic, &Rejection{Reason: journal.RejectReused, Detail: "event " + e.ID + " already known with another content"}, e)
		return
	case dup:
		s.answerAgain(stored)
		return
	}
	s.Metrics.Accepted.Add(1)
	s.Wake()
}

// recordOf is what the journal keeps of an opened event.
func recordOf(o *event.Opened) journal.Record {
	e := &o.Event
	opp := 0
	for _, b := range []bool{e.Consent.EmergencyOpposition, e.Consent.BrisDeGlaceOpposition} {
		if b {
			opp++
		}
	}
	return journal.Record{ID: e.ID, Device: e.Device, Seq: e.Seq, Site: e.Site.FINESS, Unit: e.Site.Unit, Type: e.Type, Received: time.Now(),
		Payload: o.Payload, Context: e.Context, Signed: e.Time, Authorize: e.Consent.Authorization, Oppositions: opp,
		Identity: e.Patient.Identity.Status.String()}
}

// answerAgain answers a redelivery (the kiosk did not get the result)
// from the journal, processing nothing.
func (s *Flow) answerAgain(stored journal.Record) {
	s.Metrics.Duplicates.Add(1)
	switch stored.State {
	case journal.StateDone:
		s.publish(stored.Device, event.Result{EventID: stored.ID, Outcome: stored.Outcome, Message: stored.Message})
	case journal.StateDead:
		s.publish(stored.Device, event.Result{EventID: stored.ID, Outcome: event.OutcomeError, Message: deadMessage})
	case journal.StateRefused:
		s.publish(stored.Device, event.Result{EventID: stored.ID, Outcome: event.OutcomeRefused, Message: stored.Message})
	}
}

// refuse handles an event the verifier refused though its device is
// authenticated: the kiosk is told why, in words, so that its outbox moves
// on, and the event is journaled as refused for the staff to see. An
// event the journal already knows with this very content (a resend of one
// processed before, now too old) is answered from the journal instead.
func (s *Flow) refuse(ctx context.Context, topic string, r *Rejection, o *event.Opened) {
	e := &o.Event
	if stored, err := s.cfg.Journal.Get(ctx, e.ID); err == nil && bytes.Equal(stored.Payload, o.Payload) {
		s.answerAgain(stored)
		return
	}
	s.Metrics.Reject(r.Reason)
	s.cfg.Logger.Warn("bridge: event refused", "device", e.Device, "reason", r.Reason)
	msg := refusalMessage(r.Reason)
	rec := recordOf(o)
	rec.State, rec.Message, rec.LastError = journal.StateRefused, msg, r.Reason+": "+r.Detail
	_, dup, err := s.cfg.Journal.Accept(ctx, rec)
	switch {
	case errors.Is(err, journal.ErrReplay), err == nil && dup:
		// Its sequence or id is taken: audited as such; the kiosk is told
		// all the same.
		if aerr := s.cfg.Journal.Audit(ctx, "event.rejected", e.Device, r.Reason+": "+r.Detail); aerr != nil {
			s.cfg.Logger.Error("bridge: auditing a rejection", "error", aerr)
		}
	case err != nil:
		// Not journaled: no answer, so that the kiosk sends it again.
		s.cfg.Logger.Error("bridge: journal refused a refusal", "event", e.ID, "error", err)
		return
	}
	s.publish(e.Device, event.Result{EventID: e.ID, Outcome: event.OutcomeRefused, Message: msg})
}

// refusalMessage says in words, for the desk, why an event was refused and
// what to do.
func refusalMessage(reason string) string {
	switch reason {
	case journal.RejectTooOld:
		return "Demande trop ancienne, restée trop longtemps hors ligne : recommencez la saisie."
	case journal.RejectClock:
		return "L'horloge de la borne est en avance : prévenez le service informatique."
	case journal.RejectSite:
		return "Cette borne n'est pas inscrite pour ce site ou ce service : prévenez le service informatique."
	case journal.RejectRegime:
		return "La borne n'est pas réglée pour le régime du DMP de l'établissement : prévenez le service informatique."
	case journal.RejectCardChain:
		return "Carte du professionnel non reconnue, expirée ou révoquée : demande refusée."
	case journal.RejectCardType:
		return "Cette carte ne permet pas d'enregistrer une demande DMP."
	case journal.RejectProfessional:
		return "Les informations du professionnel ne correspondent pas à sa carte : demande refusée."
	case journal.RejectRevoked:
		return "Borne révoquée : prévenez le service informatique."
	case journal.RejectContent:
		return "Demande incomplète : recommencez la saisie."
	case journal.RejectINS:
		return "L'INS de la demande n'est pas celui que l'INSi a donné : demande refusée, l'établissement est prévenu."
	}
	return "Demande refusée par l'établissement : recommencez la saisie."
}

// rejectEvent audits and counts a rejection. A kiosk whose own signature
// verified is told (its event is refused, not lost); a forged or
// unauthenticated message gets no answer.
func (s *Flow) rejectEvent(ctx context.Context, topic string, r *Rejection, e *event.Event) {
	s.Metrics.Reject(r.Reason)
	ref, _ := deviceOf(topic)
	if ref == "" {
		ref = topic
	}
	if err := s.cfg.Journal.Audit(ctx, "event.rejected", ref, r.Reason+": "+r.Detail); err != nil {
		s.cfg.Logger.Error("bridge: auditing a rejection", "error", err)
	}
	s.cfg.Logger.Warn("bridge: event rejected", "device", ref, "reason", r.Reason)
	if e != nil {
		s.publish(e.Device, event.Result{EventID: e.ID, Outcome: event.OutcomeRefused, Message: "Demande refusée par l'établissement : recommencez la saisie."})
	}
}

func (s *Flow) publish(device string, r event.Result) {
	b, _ := json.Marshal(r)
	if err := s.cfg.Broker.Publish(provisioning.ResultsTopic(device), b); err != nil {
		s.cfg.Logger.Error("bridge: publishing a result", "event", r.EventID, "error", err)
	}
}

func (s *Flow) worker(ctx context.Context) {
	idle := time.NewTimer(time.Second)
	defer idle.Stop()
	for ctx.Err() == nil {
		recs, err := s.cfg.Journal.Claim(ctx, time.Now(), 1)
		if err != nil && ctx.Err() == nil {
			s.cfg.Logger.Error("bridge: claiming events", "error", err)
		}
		if len(recs) == 0 {
			// Nothing due: wait for an accept, or look again for retries.
			idle.Reset(time.Second)
			select {
			case <-ctx.Done():
			case <-s.kick:
			case <-idle.C:
			}
			continue
		}
		s.process(ctx, recs[0])
	}
}

func (s *Flow) process(ctx context.Context, r journal.Record) {
	var e event.Event
	if err := json.Unmarshal(r.Payload, &e); err != nil {
		s.fail(ctx, r, &work.PermanentError{Err: err, Message: "Demande illisible pour l'établissement."})
		return
	}
	out, ok, err := s.identityGate(ctx, &e)
	if err != nil {
		s.fail(ctx, r, err)
		return
	}
	if ok {
		if out, err = s.cfg.Processor.Process(ctx, &e); err != nil {
			s.fail(ctx, r, err)
			return
		}
	}
	// Queued before the event is finished (once: by its id), so that a stop
	// between the two loses nothing.
	if err := s.tell(ctx, &e, out.Code); err != nil {
		// Left in processing, as when finishing fails: processed again on
		// the bridge's recovery, nothing lost.
		s.cfg.Logger.Error("bridge: queuing for the information system", "event", r.ID, "error", err)
		return
	}
	if err := s.cfg.Journal.Finish(ctx, r.ID, out.Code, out.Message); err != nil {
		s.cfg.Logger.Error("bridge: finishing an event", "event", r.ID, "error", err)
		return
	}
	s.Metrics.Done.Add(1)
	s.publish(r.Device, event.Result{EventID: r.ID, Outcome: out.Code, Message: out.Message})
}

// logged is how a processing failure goes to the log: an error in the
// chain that knows its loggable form (a DMP fault, whose free text the
// service writes and may name the patient) gives it; others log as they are.
func logged(err error) any {
	var lv slog.LogValuer
	if errors.As(err, &lv) {
		return lv
	}
	return err
}

const deadMessage = "La demande n'a pas pu aboutir ; le service informatique est prévenu."

func (s *Flow) fail(ctx context.Context, r journal.Record, err error) {
	var perm *work.PermanentError
	var lim *work.LimitedError
	dead := errors.As(err, &perm) || r.Attempts >= s.cfg.MaxAttempts
	if errors.As(err, &lim) && r.Attempts >= lim.Attempts {
		dead, perm = true, &work.PermanentError{Err: err, Message: lim.Message}
	}
	next := time.Now().Add(work.Backoff(s.cfg.Backoff, r.Attempts))
	if jerr := s.cfg.Journal.Fail(ctx, r.ID, err.Error(), next, dead); jerr != nil {
		s.cfg.Logger.Error("bridge: recording a failure", "event", r.ID, "error", jerr)
		return
	}
	if !dead {
		s.Metrics.Failed.Add(1)
		s.cfg.Logger.Warn("bridge: event failed, will retry", "event", r.ID, "attempt", r.Attempts, "error", logged(err))
		return
	}
	s.Metrics.Dead.Add(1)
	msg := deadMessage
	if perm != nil && perm.Message != "" {
		msg = perm.Message
	}
	s.cfg.Logger.Error("bridge: event dead", "event", r.ID, "error", logged(err))
	s.publish(r.Device, event.Result{EventID: r.ID, Outcome: event.OutcomeError, Message: msg})
}

// tell hands a processed event's outcome on, when the flow is told to.
func (s *Flow) tell(ctx context.Context, e *event.Event, outcome string) error {
	if s.cfg.Tell == nil {
		return nil
	}
	return s.cfg.Tell(ctx, e, outcome)
}
