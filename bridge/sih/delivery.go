package sih

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"dmpkiosk/bridge/hl7"
	"dmpkiosk/bridge/internal/work"
	"dmpkiosk/bridge/journal"
	"dmpkiosk/firmware/event"
)

// DeliveryConfig is what the bridge tells the hospital's information
// system, and to whom.
type DeliveryConfig struct {
	Sender    Sender
	Receivers []Receiver
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

// Store is what the delivery needs of the journal: the outbox and the
// GAMs' patients, and the audit trail.
type Store interface {
	journal.GAM
	Audit(ctx context.Context, kind, ref, detail string) error
}

// Delivery tells the receivers what the kiosks' events came to: it queues
// one message per event and receiver (Tell), works each receiver's outbox
// in order per patient, and keeps the patients the GAMs tell of on its
// MLLP listener.
type Delivery struct {
	cfg  DeliveryConfig
	j    Store
	log  *slog.Logger
	kick map[string]chan struct{}
	l    net.Listener
}

// NewDelivery returns the delivery of cfg over journal j; Listen and Run
// start it.
func NewDelivery(cfg DeliveryConfig, j Store, log *slog.Logger) *Delivery {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	kicks := map[string]chan struct{}{}
	for _, r := range cfg.Receivers {
		kicks[r.Name] = make(chan struct{}, 1)
	}
	return &Delivery{cfg: cfg, j: j, log: log, kick: kicks}
}

// Listen opens the MLLP listener for the GAMs' own messages, when one is
// configured, and returns its address ("" for none).
func (d *Delivery) Listen() (string, error) {
	if d.cfg.Listen == "" {
		return "", nil
	}
	l, err := net.Listen("tcp", d.cfg.Listen)
	if err != nil {
		return "", fmt.Errorf("bridge: the GAMs' MLLP listener: %w", err)
	}
	d.log.Info("bridge: listening to the GAMs", "address", l.Addr().String())
	d.l = l
	return l.Addr().String(), nil
}

// Run works every receiver's outbox, and serves the listener once Listen
// opened it, until ctx ends.
func (d *Delivery) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, r := range d.cfg.Receivers {
		wg.Add(1)
		go func() { defer wg.Done(); d.sender(ctx, r) }()
	}
	if d.l != nil {
		wg.Add(1)
		go func() { defer wg.Done(); Serve(ctx, d.l, d.onGAMMessage) }()
	}
	wg.Wait()
}

// Tell queues what a processed event tells each receiver: nothing for
// an event without a DMP answer or whose identity is to be checked. An
// entry that cannot be queued is an error: the event is then not finished,
// and is processed again (the entries already queued are not doubled).
func (d *Delivery) Tell(ctx context.Context, e *event.Event, outcome string) error {
	c := d.cfg
	if outcome == event.OutcomeIdentity || outcome == event.OutcomeError {
		return nil
	}
	p := PatientOf(e, outcome)
	payload, _ := json.Marshal(p)
	key := sha256.Sum256([]byte(e.Patient.INSC + "|" + e.Patient.Traits.BirthName + "|" + e.Patient.Traits.BirthDate + "|" + e.Patient.Traits.FirstName))
	for _, r := range c.Receivers {
		m := journal.SIHMessage{ID: r.Name + "/" + e.ID, Receiver: r.Name, Event: e.ID, Patient: hex.EncodeToString(key[:16]),
			State: journal.SIHQuery, Payload: payload, Created: time.Now()}
		if _, err := d.j.SIHEnqueue(ctx, m); err != nil {
			return fmt.Errorf("queuing for %s: %w", r.Name, err)
		}
		d.Wake(r.Name)
	}
	return nil
}

// Wake makes a receiver's sender look at its outbox now.
func (d *Delivery) Wake(receiver string) {
	if ch := d.kick[receiver]; ch != nil {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// sender works through a receiver's outbox until ctx ends, one entry at
// a time under the journal's lease.
func (d *Delivery) sender(ctx context.Context, r Receiver) {
	idle := time.NewTimer(time.Second)
	defer idle.Stop()
	for ctx.Err() == nil {
		due, err := d.j.SIHClaim(ctx, r.Name, time.Now(), 1)
		if err != nil && ctx.Err() == nil {
			d.log.Error("bridge: the information system's outbox", "receiver", r.Name, "error", err)
		}
		if len(due) == 0 {
			idle.Reset(time.Second)
			select {
			case <-ctx.Done():
			case <-d.kick[r.Name]:
			case <-idle.C:
			}
			continue
		}
		for _, m := range due {
			d.work(ctx, r, m)
		}
	}
}

// newControl is a message control id (MSH-10): 20 characters.
func newControl() string {
	b := make([]byte, 10)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// work takes one entry one step: the PDQ query, or the update.
func (d *Delivery) work(ctx context.Context, r Receiver, m journal.SIHMessage) {
	c := d.cfg
	var p Patient
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		m.State, m.Error = journal.SIHDead, "contenu illisible"
		d.save(ctx, m, "sih.dead", "unreadable payload")
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
	case journal.SIHQuery:
		if r.Match == MatchAdmissions {
			if !d.fromAdmissions(ctx, r, &m, p) {
				return
			}
			if err := d.save(ctx, m, "sih.matched", "one patient among the GAM's admissions"); err != nil {
				return
			}
			break
		}
		control := newControl()
		msg, err := QBP(c.Sender, r, control, "Q"+control[:8], now, p, r.PDQByINS)
		if err != nil {
			m.State, m.Error = journal.SIHDead, err.Error()
			d.save(ctx, m, "sih.dead", "query not written")
			return
		}
		answer, err := Exchange(ctx, r.Address, tc, msg, wait)
		d.audit(ctx, "sih.query", m.ID, fmt.Sprintf("receiver=%s control=%s", r.Name, control))
		if err != nil {
			d.retry(ctx, m, err)
			return
		}
		ack, ipps, err := Matches(r, answer)
		switch {
		case err != nil:
			d.retry(ctx, m, fmt.Errorf("réponse illisible : %w", err))
			return
		case !ack.Accepted():
			m.State, m.Error = journal.SIHDead, "recherche refusée : "+ack.Code+" "+ack.Error
			d.save(ctx, m, "sih.dead", "query answered "+ack.Code)
			return
		case len(ipps) != 1:
			m.State, m.Error = journal.SIHMatch, "aucun patient trouvé dans la GAM"
			if len(ipps) > 1 {
				m.Error = fmt.Sprintf("%d patients trouvés dans la GAM", len(ipps))
			}
			d.save(ctx, m, "sih.match", fmt.Sprintf("%d found", len(ipps)))
			return
		}
		m.IPP, m.State, m.Attempts, m.Error = ipps[0], journal.SIHSend, 0, ""
		if err := d.save(ctx, m, "sih.matched", "one patient found"); err != nil {
			return
		}
	}
	if m.State == journal.SIHSend {
		if len(m.Message) == 0 {
			p.IPP = m.IPP
			m.Control = newControl()
			msg, err := A31(c.Sender, r, m.Control, now, p)
			if err != nil {
				m.State, m.Error = journal.SIHDead, err.Error()
				d.save(ctx, m, "sih.dead", "update not written")
				return
			}
			// Kept before it is sent: a resend is the same message.
			m.Message = msg
			if err := d.save(ctx, m, "sih.written", "control="+m.Control); err != nil {
				return
			}
		}
		answer, err := Exchange(ctx, r.Address, tc, m.Message, wait)
		d.audit(ctx, "sih.sent", m.ID, fmt.Sprintf("receiver=%s type=ADT^A31 control=%s attempt=%d", r.Name, m.Control, m.Attempts+1))
		if err != nil {
			d.retry(ctx, m, err)
			return
		}
		ack, err := AckFrom(r, answer)
		if err != nil || ack.Control != m.Control {
			d.retry(ctx, m, fmt.Errorf("acquittement illisible ou d'un autre message"))
			return
		}
		detail := fmt.Sprintf("receiver=%s control=%s code=%s", r.Name, m.Control, ack.Code)
		if ack.Accepted() {
			m.State, m.Error = journal.SIHDone, ""
		} else {
			m.State, m.Error = journal.SIHDead, ack.Code+" : "+ack.Error
		}
		d.save(ctx, m, "sih.ack", detail)
	}
}

// fromAdmissions finds the IPP among the patients the GAM told of:
// one → m is to be sent (true); several → à rapprocher; none yet → looked
// for again later (the admission may come after the kiosk's session),
// à rapprocher after MaxAttempts.
func (d *Delivery) fromAdmissions(ctx context.Context, r Receiver, m *journal.SIHMessage, p Patient) bool {
	ipps, err := d.j.SIHFind(ctx, r.Name, gamPatientOf(p))
	switch {
	case err != nil:
		d.log.Error("bridge: the GAM's patients", "receiver", r.Name, "error", err)
		return false
	case len(ipps) == 1:
		m.IPP, m.State, m.Attempts, m.Error = ipps[0], journal.SIHSend, 0, ""
		return true
	case len(ipps) > 1:
		m.State, m.Error = journal.SIHMatch, fmt.Sprintf("%d patients de la GAM ont ces traits", len(ipps))
		d.save(ctx, *m, "sih.match", fmt.Sprintf("%d found", len(ipps)))
		return false
	}
	max := d.cfg.MaxAttempts
	if max == 0 {
		max = 20
	}
	if m.Attempts+1 >= max {
		m.State, m.Error = journal.SIHMatch, "aucune admission de ce patient reçue de la GAM"
		d.save(ctx, *m, "sih.match", "not among the admissions")
		return false
	}
	d.retry(ctx, *m, fmt.Errorf("aucune admission de ce patient reçue de la GAM pour l'instant"))
	return false
}

// onGAMMessage takes a GAM's own message: its patients' places (the
// units' inpatients, for the bedside tablets: admissions, transfers,
// discharges and their cancellations, updates, merges) for every receiver
// of that GAM, and the patient itself for a receiver matched from its
// admissions.
func (d *Delivery) onGAMMessage(m *hl7.Message) (code, errCode, errText string) {
	msh, _ := m.Seg("MSH", 0)
	if !strings.HasPrefix(msh.Field(9), "ADT^") {
		return "AR", "200", "type de message non pris en charge"
	}
	app, fac, trigger := msh.Get(3, 1), msh.Get(4, 1), msh.Get(9, 2)
	known := false
	for _, r := range d.cfg.Receivers {
		if r.Application != app || r.Facility != "" && r.Facility != fac {
			continue
		}
		known = true
		a, ok := AdmittedOf(r, m)
		if !ok {
			return "AE", "101", "pas d'IPP du domaine attendu en PID-3"
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := d.ward(ctx, r, trigger, a, m); err != nil {
			d.log.Error("bridge: placing a GAM's patient", "receiver", r.Name, "error", err)
			return "AE", "207", "erreur interne de la passerelle"
		}
		if r.Match != MatchAdmissions {
			continue
		}
		if err := d.j.SIHKnow(ctx, r.Name, a); err != nil {
			d.log.Error("bridge: keeping a GAM's patient", "receiver", r.Name, "error", err)
			return "AE", "207", "erreur interne de la passerelle"
		}
		d.Wake(r.Name)
	}
	if !known {
		return "AR", "207", "émetteur inconnu de la passerelle"
	}
	return "AA", "", ""
}

// leaving are the ADT events after which the patient is in no unit:
// discharge (A03), cancelled admission (A11), merged into another (A40,
// the old IPP).
var leaving = map[string]bool{"A03": true, "A11": true}

// ward applies an ADT event to the units' inpatients: the patient placed
// where PV1-3 (point of care^room^bed) says, or gone.
func (d *Delivery) ward(ctx context.Context, r Receiver, trigger string, a Admitted, m *hl7.Message) error {
	if trigger == "A40" {
		// A merge: the patient of MRG-1 is now PID-3's.
		if mrg, ok := m.Seg("MRG", 0); ok {
			for _, rep := range hl7.Reps(mrg.Field(1)) {
				if hl7.Comp(rep, 5) == "PI" {
					if err := d.j.WardLeave(ctx, r.Name, hl7.Comp(rep, 1)); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	if leaving[trigger] {
		return d.j.WardLeave(ctx, r.Name, a.IPP)
	}
	pv1, ok := m.Seg("PV1", 0)
	if !ok || pv1.Get(3, 1) == "" {
		return nil // no place said (an identity update alone)
	}
	return d.j.WardMove(ctx, r.Name, journal.WardPatient{GAMPatient: a, Unit: pv1.Get(3, 1), Room: pv1.Get(3, 2), Bed: pv1.Get(3, 3)})
}

// retry: no answer (or one that cannot be read): the same step again,
// later; given up after MaxAttempts.
func (d *Delivery) retry(ctx context.Context, m journal.SIHMessage, cause error) {
	c := d.cfg
	max, backoff := c.MaxAttempts, c.Backoff
	if max == 0 {
		max = 20
	}
	if backoff == 0 {
		backoff = 2 * time.Second
	}
	m.Attempts++
	m.Next, m.Error = time.Now().Add(work.Backoff(backoff, m.Attempts)), "pas de réponse : "+cause.Error()
	kind := "sih.noanswer"
	if m.Attempts >= max {
		m.State, kind = journal.SIHDead, "sih.dead"
	}
	d.save(ctx, m, kind, fmt.Sprintf("attempt=%d", m.Attempts))
}

func (d *Delivery) save(ctx context.Context, m journal.SIHMessage, kind, detail string) error {
	err := d.j.SIHSave(ctx, m, kind, detail)
	if err != nil {
		d.log.Error("bridge: the information system's outbox", "entry", m.ID, "error", err)
	}
	return err
}

func (d *Delivery) audit(ctx context.Context, kind, ref, detail string) {
	if err := d.j.Audit(ctx, kind, ref, detail); err != nil {
		d.log.Error("bridge: auditing", "kind", kind, "error", err)
	}
}

// gamPatientOf is what the GAMs' patients are searched by: the INS when
// the update sends one, and the traits (the first of the first names when
// the card gave no usual one).
func gamPatientOf(p Patient) journal.GAMPatient {
	t := p.Traits
	g := journal.GAMPatient{BirthName: t.BirthName, FirstName: t.FirstName, BirthDate: t.BirthDate, Sex: t.Sex}
	if g.FirstName == "" && len(t.FirstNames) > 0 {
		g.FirstName = t.FirstNames[0]
	}
	if p.INS != nil {
		g.INS, g.INSOID = p.INS.Value, p.INS.OID
	}
	return g
}
