package lookup

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"time"

	"dmpkiosk/bridge/insi"
	"dmpkiosk/bridge/internal/metrics"
	"dmpkiosk/bridge/internal/ratelimit"
	"dmpkiosk/bridge/journal"
	"dmpkiosk/firmware/event"
	"dmpkiosk/ins"
	"dmpkiosk/provisioning"
)

// Looker runs INSi's search strategy (*insi.Client).
type Looker interface {
	Lookup(ctx context.Context, mode insi.Mode, q insi.Query) (*insi.Outcome, error)
}

// Store is what the flow needs of the journal: the lookups, and the audit
// trail.
type Store interface {
	journal.Lookups
	Audit(ctx context.Context, kind, ref, detail string) error
}

// Publisher sends a message to the broker (*broker.Conn).
type Publisher interface {
	Publish(topic string, payload []byte) error
}

// Config configures the flow: INSi, the journal, the broker, and the
// trust the requests are opened with (the events' verifier's).
type Config struct {
	INSi    Looker
	Journal Store
	Broker  Publisher
	// EncKey opens the requests; KioskCA, Revocations and Chains check
	// the kiosk that signed one.
	EncKey      *ecdsa.PrivateKey
	KioskCA     *x509.CertPool
	Revocations *provisioning.Revocations
	Chains      *event.ChainCache
	// Wait bounds a kiosk's lookup (DefaultLookupWait when zero): past it
	// the kiosk goes on with a provisional identity.
	Wait time.Duration
	// Limits and Metrics are shared with the events flow: one bucket and
	// one count of what is over it per kiosk.
	Limits  *ratelimit.Kiosks
	Metrics *metrics.Events
	Logger  *slog.Logger
}

// Flow answers the kiosks' INSi lookups.
type Flow struct {
	cfg     Config
	running ratelimit.Slots // the lookups under way
}

// New returns the flow; OnRequest takes the requests.
func New(cfg Config) *Flow {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Limits == nil {
		cfg.Limits = ratelimit.New(0, 0)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = &metrics.Events{}
	}
	return &Flow{cfg: cfg, running: ratelimit.NewSlots(maxLookups)}
}

// DefaultLookupWait is how long a lookup for a kiosk may take.
const DefaultLookupWait = 10 * time.Second

// lookupMaxAge is how old a lookup request may be when it arrives: the
// professional is at the desk, waiting.
const lookupMaxAge = 2 * time.Minute

// MaxRequestBytes bounds a sealed lookup request, checked before anything
// is decrypted: one is a few kilobytes (the traits, the device's chain and
// the reply key), like an event without the card's chain.
const MaxRequestBytes = 64 << 10

// maxLookups bounds the lookups under way at once.
const maxLookups = 16

// OnRequest takes a kiosk's lookup request off paho's goroutine.
func (s *Flow) OnRequest(topic string, payload []byte) {
	device, ok := provisioning.KioskOf(topic, "insi")
	if !ok || len(payload) > MaxRequestBytes {
		s.auditLookup("insi.lookup.rejected", topic, "not a lookup on kiosk/<device>/insi, or too large")
		return
	}
	if !s.cfg.Limits.Admit(context.Background(), device, func() { s.cfg.Metrics.Reject(journal.RejectRateLimited) }, s.cfg.Journal.Audit, s.cfg.Logger) {
		return
	}
	if !s.running.Go(func() { s.lookup(device, payload) }) {
		s.cfg.Logger.Warn("bridge: too many INSi lookups under way; the kiosk goes on without", "device", device)
	}
}

func (s *Flow) auditLookup(kind, ref, detail string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.cfg.Journal.Audit(ctx, kind, ref, detail); err != nil {
		s.cfg.Logger.Error("bridge: auditing a lookup", "error", err)
	}
}

// lookup verifies a request, asks INSi (INSI-MANU), keeps the answer under
// the request's id and sends it to the kiosk, encrypted to it. A request
// that does not verify gets no answer (there is no one to trust with
// one); a request seen before gets the answer kept.
func (s *Flow) lookup(device string, payload []byte) {
	v := s.cfg
	now := time.Now()
	r, cert, err := event.OpenLookup(string(payload), v.EncKey, v.KioskCA, now, v.Chains)
	if err != nil {
		s.auditLookup("insi.lookup.rejected", device, err.Error())
		return
	}
	who, err := provisioning.IdentityOf(cert, v.Revocations)
	if err != nil || who.Role != provisioning.RoleKiosk || who.ID != device || r.Device != device {
		s.auditLookup("insi.lookup.rejected", device, "the request's device is not its certificate's, or is revoked")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.lookupWait())
	defer cancel()
	if kept, err := s.cfg.Journal.Lookup(ctx, r.ID); err == nil {
		if kept.Device != device {
			// Another kiosk's answered id: its answer is not this kiosk's
			// to have, and the request is refused like every other.
			s.cfg.Logger.Warn("bridge: a lookup request reuses another kiosk's id", "device", device, "lookup", r.ID)
			s.auditLookup("insi.lookup.rejected", device, "request id "+r.ID+" already kept for another kiosk")
			return
		}
		s.sendAnswer(device, r, kept.Answer)
		return
	}
	var ans *event.LookupAnswer
	if d := now.Sub(r.Time); d > lookupMaxAge || d < -lookupMaxAge {
		ans = &event.LookupAnswer{Request: r.ID, Outcome: event.LookupRefused, Message: "Demande INSi trop ancienne : l'horloge de la borne est-elle à l'heure ?"}
	} else {
		out, err := s.cfg.INSi.Lookup(ctx, insi.Manu, queryOf(r.Traits, r.Vitale))
		ans = answerOf(r.ID, out, err)
	}
	b, _ := json.Marshal(ans)
	rec := journal.LookupRecord{ID: r.ID, Device: device, Site: who.Site.FINESS, Unit: who.Site.Unit, Received: now, Outcome: ans.Outcome, Answer: b}
	if ans.INS != nil {
		rec.INS, rec.OID = ans.INS.Value, ans.INS.OID
	}
	kept, _, err := s.cfg.Journal.KeepLookup(context.WithoutCancel(ctx), rec)
	if err != nil {
		// Not kept, so an event could not be checked against it: the kiosk
		// goes on with a provisional identity.
		s.cfg.Logger.Error("bridge: keeping a lookup", "lookup", r.ID, "error", err)
		b, _ = json.Marshal(&event.LookupAnswer{Request: r.ID, Outcome: event.LookupUnavailable, Message: msgINSiUnavailable})
		s.sendAnswer(device, r, b)
		return
	}
	s.sendAnswer(device, r, kept.Answer)
}

func (s *Flow) lookupWait() time.Duration {
	if s.cfg.Wait > 0 {
		return s.cfg.Wait
	}
	return DefaultLookupWait
}

// sendAnswer encrypts a kept answer to the request's key and publishes it.
func (s *Flow) sendAnswer(device string, r *event.LookupRequest, answer []byte) {
	var a event.LookupAnswer
	if err := json.Unmarshal(answer, &a); err != nil {
		s.cfg.Logger.Error("bridge: a kept lookup is unreadable", "lookup", r.ID, "error", err)
		return
	}
	msg, err := event.SealAnswer(&a, r.Reply)
	if err != nil {
		s.cfg.Logger.Error("bridge: sealing a lookup answer", "lookup", r.ID, "error", err)
		return
	}
	if err := s.cfg.Broker.Publish(provisioning.ResultsTopic(device), []byte(msg)); err != nil {
		s.cfg.Logger.Error("bridge: publishing a lookup answer", "lookup", r.ID, "error", err)
	}
}

const msgINSiUnavailable = "Le téléservice INSi ne répond pas : l'identité reste provisoire ; la passerelle la recherchera en traitant la demande."

// queryOf is the INSi query for traits read and validated at the desk and
// the carte Vitale's data.
func queryOf(t ins.Traits, v *event.LookupVitale) insi.Query {
	q := insi.TraitsQuery(t)
	if v != nil && len(v.Insured) == 15 {
		q.Vitale = &insi.VitaleQuery{Insured: insi.Matricule{Number: v.Insured[:13], Key: v.Insured[13:]}, BirthName: v.BirthName,
			BirthDate: v.BirthDate, BirthRank: max(v.BirthRank, 1)}
		if len(v.Individual) == 15 {
			q.Vitale.Individual = &insi.Matricule{Number: v.Individual[:13], Key: v.Individual[13:]}
		}
	}
	return q
}

// answerOf says what a lookup came to, for the kiosk.
func answerOf(id string, o *insi.Outcome, err error) *event.LookupAnswer {
	a := &event.LookupAnswer{Request: id}
	switch {
	case errors.Is(err, insi.ErrNotEligible):
		a.Outcome, a.Message = event.LookupRefused, "Traits insuffisants pour interroger l'INSi (sexe ou date de naissance inconnus) : identité provisoire."
	case err != nil:
		a.Outcome, a.Message = event.LookupUnavailable, msgINSiUnavailable
	case o.Found():
		r := o.Result
		a.Outcome, a.LookedUp = event.LookupFound, r.LookedUp
		a.INS = &event.INS{Value: r.INS.Number + r.INS.Key, OID: r.INS.OID}
		for _, h := range r.History {
			a.History = append(a.History, event.INS{Value: h.Number + h.Key, OID: h.OID})
		}
		t := r.Traits
		first := ""
		if f := strings.Fields(strings.Join(t.FirstNames, " ")); len(f) > 0 {
			first = f[0]
		}
		a.Traits = &ins.Traits{BirthName: t.BirthName, FirstName: first, FirstNames: t.FirstNames, Sex: t.Sex,
			BirthDate: strings.ReplaceAll(t.BirthDate, "-", ""), BirthPlace: t.BirthPlace}
	case o.NeedMore:
		a.Outcome, a.Message = event.LookupSeveral, "Plusieurs identités possibles : saisissez le lieu de naissance (code INSEE) et relancez la recherche."
	default:
		a.Outcome, a.Message = event.LookupNotFound, "Identité non trouvée par l'INSi : l'identité reste provisoire ; vérifiez les traits sur la pièce d'identité."
	}
	return a
}
