package bridge

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"dmpkiosk/bridge/admin"
	"dmpkiosk/bridge/consult"
	"dmpkiosk/bridge/events"
	"dmpkiosk/bridge/feed"
	"dmpkiosk/bridge/insi"
	"dmpkiosk/bridge/internal/broker"
	"dmpkiosk/bridge/internal/metrics"
	"dmpkiosk/bridge/internal/ratelimit"
	"dmpkiosk/bridge/journal"
	"dmpkiosk/bridge/lookup"
	"dmpkiosk/bridge/sih"
	"dmpkiosk/firmware/event"
	"dmpkiosk/provisioning"
)

// ServiceConfig is what the bridge is made of: the broker, the journal,
// the DMP's processor, the checks and the hospital's information system.
type ServiceConfig struct {
	BrokerURL   string
	TLS         *tls.Config
	ClientID    string // the bridge's id (its certificate's name)
	Verifier    *events.Verifier
	Journal     journal.Store
	Processor   events.Processor
	Workers     int           // 4 when zero
	MaxAttempts int           // 8 when zero
	Backoff     time.Duration // first retry delay, doubled each time (2 s when zero), at most 10 min
	Logger      *slog.Logger
	Fleet       *admin.Fleet // receives the kiosks' heartbeats when set
	// KioskRate (messages a second) and KioskBurst bound each kiosk's
	// events and lookups together (ratelimit.DefaultKioskRate,
	// DefaultKioskBurst when zero; a negative rate lifts the limit).
	KioskRate  float64
	KioskBurst int
	// Identity: the INSi lookups and the identity status the DMP needs.
	Identity IdentityConfig
	// SIH: the hospital's information system told (nil: none).
	SIH *sih.DeliveryConfig
	// Feed: the hospital's documents for the DMP (nil: none).
	Feed *FeedConfig
	// Consult: the DMP the bedside tablets read, in reinforced indirect
	// mode in the professional's name (nil: none).
	Consult consult.DMP
}

// FeedConfig is where the hospital's document messages are taken (MLLP)
// and how they reach the DMP.
type FeedConfig struct {
	Listen string
	// DMP is the DMP's client (nil: the documents are kept, not sent);
	// FINESS the establishment's geographic FINESS, SourceID the
	// software's OID.
	DMP              feed.DMP
	FINESS, SourceID string
	// Senders are where each sending application (MSH-3) takes its
	// business acknowledgements (ZAM^Z01): host:port, MLLP.
	Senders map[string]string
	// Rules are the establishment's rules for feeding.
	Rules feed.Rules
	// MessageIdentity, when true, holds a document's INS to its message's
	// PID-3 alone; otherwise it must also be a qualified identity the
	// establishment holds (a GAM's VALI patient, an INSi lookup found).
	MessageIdentity bool
}

// IdentityConfig is the bridge's part in identity vigilance: the INSi
// lookups it makes for the kiosks and by itself, and the status an
// identity must have before a DMP transaction.
type IdentityConfig struct {
	INSi events.Looker // nil: no INSi (the lookups are not answered; no INSI-AUTO)
	// Wait bounds a kiosk's lookup (lookup.DefaultLookupWait when zero).
	Wait time.Duration
	// Require: in the current regime, no DMP transaction without a
	// qualified INS; AcceptRecovered lets an INS récupérée be enough.
	Require, AcceptRecovered bool
}

// Metrics are the bridge's counters: the events flow's, and its INSi
// calls (set the INSi client's Observe to INSi.Observer).
type Metrics struct {
	metrics.Events
	INSi insi.Calls
}

// Service is the bridge wired: one broker connection shared by the
// events flow, the INSi lookups and the fleet's heartbeats; the delivery
// to the hospital's information system beside them.
type Service struct {
	cfg     ServiceConfig
	conn    *broker.Conn
	events  *events.Flow
	lookups *lookup.Flow
	consult *consult.Flow
	gam     *sih.Delivery
	feed    *feed.Worker
	acks    *feed.Acks
	Metrics *Metrics
	// SIHAddr is where the GAMs' messages are listened to, and FeedAddr
	// the documents, once Run listens.
	SIHAddr, FeedAddr string
}

// NewService wires the flows of cfg; Run starts them.
func NewService(cfg ServiceConfig) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg, Metrics: &Metrics{}}
	s.conn = broker.New(broker.Config{URL: cfg.BrokerURL, TLS: cfg.TLS, ClientID: cfg.ClientID, Logger: cfg.Logger})
	limits := ratelimit.New(cfg.KioskRate, cfg.KioskBurst)
	if cfg.SIH != nil {
		s.gam = sih.NewDelivery(*cfg.SIH, cfg.Journal, cfg.Logger)
	}
	ev := events.Config{Verifier: cfg.Verifier, Journal: cfg.Journal, Processor: cfg.Processor, Broker: s.conn,
		Workers: cfg.Workers, MaxAttempts: cfg.MaxAttempts, Backoff: cfg.Backoff, Logger: cfg.Logger, Limits: limits,
		Metrics:  &s.Metrics.Events,
		Identity: events.IdentityConfig{INSi: cfg.Identity.INSi, Require: cfg.Identity.Require, AcceptRecovered: cfg.Identity.AcceptRecovered}}
	if cfg.Feed != nil && cfg.Feed.DMP != nil {
		s.acks = &feed.Acks{Journal: cfg.Journal, Senders: cfg.Feed.Senders, Logger: cfg.Logger}
		s.feed = &feed.Worker{Journal: cfg.Journal, DMP: cfg.Feed.DMP, FINESS: cfg.Feed.FINESS, SourceID: cfg.Feed.SourceID, Logger: cfg.Logger,
			AckWake: s.acks.Wake, Rules: cfg.Feed.Rules}
	}
	ev.Tell = s.tell
	s.events = events.New(ev)
	if cfg.Identity.INSi != nil {
		v := cfg.Verifier
		s.lookups = lookup.New(lookup.Config{INSi: cfg.Identity.INSi, Journal: cfg.Journal, Broker: s.conn,
			EncKey: v.EncKey, KioskCA: v.KioskCA, Revocations: v.Revocations, Chains: v.Chains,
			Wait: cfg.Identity.Wait, Limits: limits, Metrics: &s.Metrics.Events, Logger: cfg.Logger})
	}
	if cfg.Consult != nil {
		v := cfg.Verifier
		s.consult = consult.New(consult.Config{DMP: cfg.Consult, Journal: cfg.Journal, Broker: s.conn, EncKey: v.EncKey, KioskCA: v.KioskCA,
			CardCA: v.CardCA, Revocations: v.Revocations, Chains: v.Chains, Limits: limits, Metrics: &s.Metrics.Events, Logger: cfg.Logger,
			Authorized: s.authorizedAtBedside, Ward: cfg.Journal})
	}
	return s
}

// Ready reports whether the bridge is connected to the broker.
func (s *Service) Ready() bool { return s.conn.Ready() }

// Run serves until ctx ends: the journal's leftovers recovered, the GAMs'
// listener open, then the broker's topics taken and the workers started.
func (s *Service) Run(ctx context.Context) error {
	if err := s.events.Recover(ctx); err != nil {
		return err
	}
	if s.gam != nil {
		addr, err := s.gam.Listen()
		if err != nil {
			return err
		}
		s.SIHAddr = addr
	}
	var feedListener net.Listener
	if s.cfg.Feed != nil && s.cfg.Feed.Listen != "" {
		l, err := net.Listen("tcp", s.cfg.Feed.Listen)
		if err != nil {
			return fmt.Errorf("bridge: the documents' MLLP listener: %w", err)
		}
		s.cfg.Logger.Info("bridge: listening to the documents", "address", l.Addr().String())
		s.FeedAddr, feedListener = l.Addr().String(), l
	}
	s.conn.Handle(provisioning.BridgeEventsFilter, "events", s.events.OnMessage)
	if s.lookups != nil {
		s.conn.Handle(provisioning.BridgeLookupFilter, "INSi lookups", s.lookups.OnRequest)
	}
	if s.consult != nil {
		s.conn.Handle(provisioning.BridgeConsultFilter, "DMP consultations", s.consult.OnRequest)
	}
	if s.cfg.Fleet != nil {
		s.conn.Handle("kiosk/+/status", "heartbeats", s.cfg.Fleet.Heartbeat)
	}
	s.conn.Connect()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.events.Run(ctx) }()
	if s.gam != nil {
		wg.Add(1)
		go func() { defer wg.Done(); s.gam.Run(ctx) }()
	}
	if feedListener != nil {
		in := &feed.Intake{Journal: s.cfg.Journal, Logger: s.cfg.Logger}
		if !s.cfg.Feed.MessageIdentity {
			in.Identities = s.cfg.Journal
		}
		if s.feed != nil {
			in.Kept = s.feed.Wake
		}
		wg.Add(1)
		go func() { defer wg.Done(); in.Serve(ctx, feedListener) }()
	}
	if s.feed != nil {
		wg.Add(2)
		go func() { defer wg.Done(); s.feed.Run(ctx) }()
		go func() { defer wg.Done(); s.acks.Run(ctx) }()
	}
	<-ctx.Done()
	wg.Wait()
	s.conn.Close()
	return nil
}

// Admin is the admin web over this bridge's journal, counters and fleet
// (its Password, or the TLS listener's client certificates, to be set).
func (s *Service) Admin() *admin.Admin {
	a := &admin.Admin{Journal: s.cfg.Journal, Metrics: &s.Metrics.Events, INSi: &s.Metrics.INSi, Fleet: s.cfg.Fleet, Ready: s.Ready,
		Wake: s.events.Wake}
	if s.gam != nil {
		a.WakeGAM = s.gam.Wake
	}
	if s.feed != nil {
		a.WakeFeed = s.feed.Wake
	}
	return a
}

// tell hands a processed event's outcome to the hospital's information
// system, and, when it recorded the establishment's authorization, makes
// the patient's documents that wait for it due now.
// authorizedAtBedside: the patient's authorization recorded at the
// bedside wakes the documents waiting for it.
func (s *Service) authorizedAtBedside(ctx context.Context, ins string) {
	if s.feed == nil {
		return
	}
	if err := s.cfg.Journal.DocWake(ctx, ins); err != nil {
		s.cfg.Logger.Error("bridge: waking the documents of a patient who authorized the establishment", "error", err)
		return
	}
	s.feed.Wake()
}

func (s *Service) tell(ctx context.Context, e *event.Event, outcome string) error {
	if s.gam != nil {
		if err := s.gam.Tell(ctx, e, outcome); err != nil {
			return err
		}
	}
	if s.feed != nil && e.Patient.INS != nil && (outcome == event.OutcomeAuthorized || outcome == event.OutcomeCreated) && e.Consent.Authorization {
		if err := s.cfg.Journal.DocWake(ctx, e.Patient.INS.Value); err != nil {
			return err
		}
		s.feed.Wake()
	}
	return nil
}
