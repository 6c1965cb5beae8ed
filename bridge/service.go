package bridge

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"dmpkiosk/bridge/sih"
	"dmpkiosk/firmware/event"
	"dmpkiosk/provisioning"
)

// Outcome is what processing an event came to, for the kiosk's screen.
type Outcome struct {
	Code    string // event.OutcomeCreated, Authorized, Exists, Refused
	Message string // plain French
}

// Processor runs the transactions an event asks for (the DMP issue plugs
// its client in here).
type Processor interface {
	Process(ctx context.Context, e *event.Event) (Outcome, error)
}

// PermanentError is a failure retrying cannot mend (a DMP refusal, a
// malformed request): the event goes to the dead letters at once.
type PermanentError struct {
	Err     error
	Message string // plain French for the kiosk
}

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// LimitedError is a failure that may pass if tried again, but only a few
// times (an answer that could not be read: the service may have been
// restarting, or it speaks a shape this bridge does not know): after
// Attempts tries the event goes to the dead letters with Message.
type LimitedError struct {
	Err      error
	Attempts int
	Message  string // plain French for the kiosk and the dead letters
}

func (e *LimitedError) Error() string { return e.Err.Error() }
func (e *LimitedError) Unwrap() error { return e.Err }

// ServiceConfig configures the bridge service.
type ServiceConfig struct {
	BrokerURL   string
	TLS         *tls.Config
	ClientID    string // the bridge's id (its certificate's name)
	Verifier    *Verifier
	Journal     Journal
	Processor   Processor
	Workers     int           // 4 when zero
	MaxAttempts int           // 8 when zero
	Backoff     time.Duration // first retry delay, doubled each time (2 s when zero), at most 10 min
	Logger      *slog.Logger
	Fleet       *Fleet // receives the kiosks' heartbeats when set
	// KioskRate (events a second) and KioskBurst bound each kiosk's
	// events (DefaultKioskRate, DefaultKioskBurst when zero; a negative
	// rate lifts the limit). An event over the limit is not looked at nor
	// answered: it stays in the kiosk's outbox, which sends it again.
	KioskRate  float64
	KioskBurst int
	// Identity: the INSi lookups and the identity status the DMP needs.
	Identity IdentityConfig
	// SIH: the hospital's information system told (nil: none).
	SIH *SIHConfig
}

// Metrics are the service's counters.
type Metrics struct {
	Received, Accepted, Duplicates, Rejected, Done, Failed, Dead atomic.Int64
	mu                                                           sync.Mutex
	RejectedBy                                                   map[string]int64
	// INSi counts the bridge's INSi calls.
	INSi INSiCalls
}

// Rejections returns the rejections counted by reason.
func (m *Metrics) Rejections() map[string]int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]int64, len(m.RejectedBy))
	for k, v := range m.RejectedBy {
		out[k] = v
	}
	return out
}

func (m *Metrics) rejected(reason string) {
	m.Rejected.Add(1)
	m.mu.Lock()
	m.RejectedBy[reason]++
	m.mu.Unlock()
}

// Service consumes the kiosks' events, verifies, journals and processes
// them, and answers each kiosk.
type Service struct {
	cfg     ServiceConfig
	client  mqtt.Client
	kick    chan struct{}
	Metrics *Metrics
	ready   atomic.Bool
	limits  *kioskLimits

	mu           sync.Mutex
	limitAudited map[string]time.Time // per kiosk, the last rate-limit audit
	lookups      chan struct{}        // the lookups under way
	sihKick      map[string]chan struct{}
	// SIHAddr is where the GAMs' messages are listened to, once Run listens.
	SIHAddr string
}

// NewService returns a service; Run starts it.
func NewService(cfg ServiceConfig) *Service {
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
	kicks := map[string]chan struct{}{}
	if cfg.SIH != nil {
		for _, r := range cfg.SIH.Receivers {
			kicks[r.Name] = make(chan struct{}, 1)
		}
	}
	return &Service{cfg: cfg, kick: make(chan struct{}, 1), Metrics: &Metrics{RejectedBy: map[string]int64{}},
		limits: newKioskLimits(cfg.KioskRate, cfg.KioskBurst), limitAudited: map[string]time.Time{}, lookups: make(chan struct{}, maxLookups), sihKick: kicks}
}

// wake makes the workers look at the journal now.
func (s *Service) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// bridgeStatus is a bridge's retained status (event.BridgeStatus).
func bridgeStatus(online bool) []byte {
	b, _ := json.Marshal(event.BridgeStatus{Online: online})
	return b
}

// Ready reports whether the service is connected to the broker.
func (s *Service) Ready() bool { return s.ready.Load() }

// Run serves until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	if n, err := s.cfg.Journal.Recover(ctx); err != nil {
		return fmt.Errorf("bridge: recovering the journal: %w", err)
	} else if n > 0 {
		s.cfg.Logger.Warn("bridge: events left in processing by a previous run are queued again", "count", n)
	}
	opts := mqtt.NewClientOptions().AddBroker(s.cfg.BrokerURL).SetClientID(s.cfg.ClientID).SetTLSConfig(s.cfg.TLS).
		// Clean sessions: with a shared subscription, a persistent session of
		// a stopped bridge keeps receiving part of the events (mosquitto
		// 2.0); the kiosks' outboxes resend instead.
		SetCleanSession(true).SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(2*time.Second).
		SetOrderMatters(false).
		// Gone (its will) or back (on connect), retained: a kiosk waiting
		// for a result sends its event again as soon as a bridge is back,
		// rather than after its own resend delay.
		SetBinaryWill(provisioning.BridgeStatusTopic(s.cfg.ClientID), bridgeStatus(false), 1, true).
		SetOnConnectHandler(func(c mqtt.Client) {
			tok := c.Subscribe(provisioning.BridgeEventsFilter, 1, s.onMessage)
			if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				s.cfg.Logger.Error("bridge: subscribing to the events failed", "error", tok.Error())
				return
			}
			if s.cfg.Identity.INSi != nil {
				tok := c.Subscribe(provisioning.BridgeLookupFilter, 1, func(_ mqtt.Client, m mqtt.Message) { s.onLookup(m.Topic(), m.Payload()) })
				if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
					s.cfg.Logger.Error("bridge: subscribing to the INSi lookups failed", "error", tok.Error())
					return
				}
			}
			if s.cfg.Fleet != nil {
				c.Subscribe("kiosk/+/status", 1, func(_ mqtt.Client, m mqtt.Message) { s.cfg.Fleet.Heartbeat(m.Topic(), m.Payload()) })
			}
			s.ready.Store(true)
			c.Publish(provisioning.BridgeStatusTopic(s.cfg.ClientID), 1, true, bridgeStatus(true))
			s.cfg.Logger.Info("bridge: consuming events", "broker", s.cfg.BrokerURL)
		}).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			s.ready.Store(false)
			s.cfg.Logger.Warn("bridge: broker connection lost", "error", err)
		})
	// The GAMs' messages are listened to before the bridge says it is
	// ready.
	var gamListener net.Listener
	if s.cfg.SIH != nil && s.cfg.SIH.Listen != "" {
		l, err := net.Listen("tcp", s.cfg.SIH.Listen)
		if err != nil {
			return fmt.Errorf("bridge: the GAMs' MLLP listener: %w", err)
		}
		s.cfg.Logger.Info("bridge: listening to the GAMs", "address", l.Addr().String())
		s.SIHAddr, gamListener = l.Addr().String(), l
	}
	s.client = mqtt.NewClient(opts)
	s.client.Connect()
	var wg sync.WaitGroup
	for i := 0; i < s.cfg.Workers; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); s.worker(ctx) }()
	}
	if s.cfg.SIH != nil {
		for _, r := range s.cfg.SIH.Receivers {
			wg.Add(1)
			go func() { defer wg.Done(); s.sihSender(ctx, r) }()
		}
		if gamListener != nil {
			wg.Add(1)
			go func() { defer wg.Done(); sih.Serve(ctx, gamListener, s.onGAMMessage) }()
		}
	}
	<-ctx.Done()
	wg.Wait()
	if s.client.IsConnectionOpen() {
		s.client.Publish(provisioning.BridgeStatusTopic(s.cfg.ClientID), 1, true, bridgeStatus(false)).WaitTimeout(time.Second)
	}
	s.client.Disconnect(250)
	return nil
}

// onMessage runs on paho's goroutines, one a message; the broker's
// in-flight window bounds them, which is the back-pressure when the journal
// is slow (the PUBACK waits for the journal).
func (s *Service) onMessage(_ mqtt.Client, m mqtt.Message) {
	s.Metrics.Received.Add(1)
	ctx := context.Background()
	if device, ok := deviceOf(m.Topic()); ok && !s.limits.allow(device, time.Now()) {
		s.rateLimited(ctx, device)
		return
	}
	o, err := s.cfg.Verifier.Verify(m.Topic(), m.Payload())
	if err != nil {
		var r *Rejection
		if !errors.As(err, &r) {
			r = &Rejection{Reason: "internal", Detail: err.Error()}
		}
		if o == nil {
			// Not authenticated: audited, never answered.
			s.rejectEvent(ctx, m.Topic(), r, nil)
			return
		}
		s.refuse(ctx, m.Topic(), r, o)
		return
	}
	e := &o.Event
	if rej, err := s.checkINS(ctx, e); err != nil {
		s.cfg.Logger.Error("bridge: checking an event's INS", "event", e.ID, "error", err)
		return // not answered: the kiosk sends it again
	} else if rej != nil {
		s.refuse(ctx, m.Topic(), rej, o)
		return
	}
	stored, dup, err := s.cfg.Journal.Accept(ctx, recordOf(o))
	switch {
	case errors.Is(err, ErrReplay):
		s.rejectEvent(ctx, m.Topic(), &Rejection{Reason: RejectReplay, Detail: err.Error()}, e)
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
		s.rejectEvent(ctx, m.Topic(), &Rejection{Reason: RejectReused, Detail: "event " + e.ID + " already known with another content"}, e)
		return
	case dup:
		s.answerAgain(stored)
		return
	}
	s.Metrics.Accepted.Add(1)
	s.wake()
}

// recordOf is what the journal keeps of an opened event.
func recordOf(o *event.Opened) Record {
	e := &o.Event
	opp := 0
	for _, b := range []bool{e.Consent.EmergencyOpposition, e.Consent.BrisDeGlaceOpposition} {
		if b {
			opp++
		}
	}
	return Record{ID: e.ID, Device: e.Device, Seq: e.Seq, Site: e.Site.FINESS, Unit: e.Site.Unit, Type: e.Type, Received: time.Now(),
		Payload: o.Payload, Context: e.Context, Signed: e.Time, Authorize: e.Consent.Authorization, Oppositions: opp,
		Identity: e.Patient.Identity.Status.String()}
}

// answerAgain answers a redelivery (the kiosk did not get the result)
// from the journal, processing nothing.
func (s *Service) answerAgain(stored Record) {
	s.Metrics.Duplicates.Add(1)
	switch stored.State {
	case StateDone:
		s.publish(stored.Device, event.Result{EventID: stored.ID, Outcome: stored.Outcome, Message: stored.Message})
	case StateDead:
		s.publish(stored.Device, event.Result{EventID: stored.ID, Outcome: event.OutcomeError, Message: deadMessage})
	case StateRefused:
		s.publish(stored.Device, event.Result{EventID: stored.ID, Outcome: event.OutcomeRefused, Message: stored.Message})
	}
}

// refuse handles an event the verifier refused though its device is
// authenticated: the kiosk is told why, in words, so that its outbox moves
// on, and the event is journaled as refused for the staff to see. An
// event the journal already knows with this very content (a resend of one
// processed before, now too old) is answered from the journal instead.
func (s *Service) refuse(ctx context.Context, topic string, r *Rejection, o *event.Opened) {
	e := &o.Event
	if stored, err := s.cfg.Journal.Get(ctx, e.ID); err == nil && bytes.Equal(stored.Payload, o.Payload) {
		s.answerAgain(stored)
		return
	}
	s.Metrics.rejected(r.Reason)
	s.cfg.Logger.Warn("bridge: event refused", "device", e.Device, "reason", r.Reason)
	msg := refusalMessage(r.Reason)
	rec := recordOf(o)
	rec.State, rec.Message, rec.LastError = StateRefused, msg, r.Reason+": "+r.Detail
	_, dup, err := s.cfg.Journal.Accept(ctx, rec)
	switch {
	case errors.Is(err, ErrReplay), err == nil && dup:
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
	case RejectTooOld:
		return "Demande trop ancienne, restée trop longtemps hors ligne : recommencez la saisie."
	case RejectClock:
		return "L'horloge de la borne est en avance : prévenez le service informatique."
	case RejectSite:
		return "Cette borne n'est pas inscrite pour ce site ou ce service : prévenez le service informatique."
	case RejectRegime:
		return "La borne n'est pas réglée pour le régime du DMP de l'établissement : prévenez le service informatique."
	case RejectCardChain:
		return "Carte du professionnel non reconnue, expirée ou révoquée : demande refusée."
	case RejectCardType:
		return "Cette carte ne permet pas d'enregistrer une demande DMP."
	case RejectProfessional:
		return "Les informations du professionnel ne correspondent pas à sa carte : demande refusée."
	case RejectRevoked:
		return "Borne révoquée : prévenez le service informatique."
	case RejectContent:
		return "Demande incomplète : recommencez la saisie."
	case RejectINS:
		return "L'INS de la demande n'est pas celui que l'INSi a donné : demande refusée, l'établissement est prévenu."
	}
	return "Demande refusée par l'établissement : recommencez la saisie."
}

// rateLimited counts an event over its kiosk's limit, and audits the
// first of each minute per kiosk (a flood must not flood the audit trail).
func (s *Service) rateLimited(ctx context.Context, device string) {
	s.Metrics.rejected(RejectRateLimited)
	now := time.Now()
	s.mu.Lock()
	last := s.limitAudited[device]
	first := now.Sub(last) >= time.Minute
	if first {
		s.limitAudited[device] = now
	}
	s.mu.Unlock()
	if !first {
		return
	}
	if err := s.cfg.Journal.Audit(ctx, "event.rate-limited", device, "events over the kiosk's limit are left in its outbox"); err != nil {
		s.cfg.Logger.Error("bridge: auditing a rate limit", "error", err)
	}
	s.cfg.Logger.Warn("bridge: kiosk over its event rate", "device", device)
}

// rejectEvent audits and counts a rejection. A kiosk whose own signature
// verified is told (its event is refused, not lost); a forged or
// unauthenticated message gets no answer.
func (s *Service) rejectEvent(ctx context.Context, topic string, r *Rejection, e *event.Event) {
	s.Metrics.rejected(r.Reason)
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

func (s *Service) publish(device string, r event.Result) {
	b, _ := json.Marshal(r)
	tok := s.client.Publish(provisioning.ResultsTopic(device), 1, false, b)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		s.cfg.Logger.Error("bridge: publishing a result", "event", r.EventID, "error", tok.Error())
	}
}

func (s *Service) worker(ctx context.Context) {
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

func (s *Service) process(ctx context.Context, r Record) {
	var e event.Event
	if err := json.Unmarshal(r.Payload, &e); err != nil {
		s.fail(ctx, r, &PermanentError{Err: err, Message: "Demande illisible pour l'établissement."})
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
	if err := s.tellSIH(ctx, &e, out.Code); err != nil {
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

func (s *Service) fail(ctx context.Context, r Record, err error) {
	var perm *PermanentError
	var lim *LimitedError
	dead := errors.As(err, &perm) || r.Attempts >= s.cfg.MaxAttempts
	if errors.As(err, &lim) && r.Attempts >= lim.Attempts {
		dead, perm = true, &PermanentError{Err: err, Message: lim.Message}
	}
	// Exponential backoff with full jitter, at most 10 minutes.
	backoff := min(s.cfg.Backoff<<min(r.Attempts-1, 20), 10*time.Minute)
	next := time.Now().Add(backoff/2 + rand.N(backoff/2+1))
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
