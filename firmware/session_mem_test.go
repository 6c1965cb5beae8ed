package firmware

import (
	"context"
	"crypto"
	"crypto/x509"
	"image"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"dmpkiosk/apdu/cps"
	"dmpkiosk/apdu/pcsc"
	"dmpkiosk/display"
	"dmpkiosk/display/input"
	"dmpkiosk/firmware/event"
	"dmpkiosk/hwtest"
	"dmpkiosk/hwtest/cards"
	"dmpkiosk/ins"
)

// The session over in-memory virtual cards and a stand-in link: no pcscd,
// no broker, milliseconds. The rig tests (session_test.go) run the same
// session through the real parts.

// memReaders opens the in-memory cards in the slots.
type memReaders struct {
	mu    sync.Mutex
	cards map[string]*memCard
}

func (m *memReaders) Open(ctx context.Context, reader string) (Card, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.cards[reader]
	if c == nil {
		return nil, pcsc.ErrCardRemoved
	}
	return c, nil
}

// memCard is a virtual card in a slot; pulling it out makes every later
// APDU fail as a card removed does.
type memCard struct {
	mu     sync.Mutex
	card   cards.Card
	pulled bool
}

func (c *memCard) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pulled {
		return nil, pcsc.ErrCardRemoved
	}
	return c.card.Transmit(cmd), nil
}

func (c *memCard) pull() {
	c.mu.Lock()
	c.pulled = true
	c.mu.Unlock()
}

func (c *memCard) ATR() []byte        { return c.card.ATR() }
func (c *memCard) PINPad() cps.PINPad { return nil }
func (c *memCard) Close() error       { return nil }

// memLink stands in for the link to the bridge.
type memLink struct {
	online   atomic.Bool
	kicks    atomic.Int32
	results  chan event.Result
	lookups  chan event.Sealed
	mu       sync.Mutex
	asked    []string // sealed lookup requests
	consults []string // sealed DMP consultations
}

func (l *memLink) Online() bool                 { return l.online.Load() }
func (l *memLink) Kick()                        { l.kicks.Add(1) }
func (l *memLink) Results() <-chan event.Result { return l.results }
func (l *memLink) Ask(_, sealed string, _ time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.asked = append(l.asked, sealed)
	return nil
}
func (l *memLink) Lookups() <-chan event.Sealed { return l.lookups }
func (l *memLink) AskDMP(sealed string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.consults = append(l.consults, sealed)
	return nil
}

type memRig struct {
	t       testing.TB
	site    *hwtest.Site
	igc     *cards.IGCSante
	readers *memReaders
	cards   chan pcsc.Event
	inputs  chan input.Event
	screens *screens
	link    *memLink
	ob      *Outbox
	virtual map[string]func() (cards.Card, error)
	last    display.Screen // the last screen waited for or read
	docs    *docPanel
}

// docPanel stands in for the tablet's web view: the document it is given
// to show, or nil once cleared.
type docPanel struct {
	mu  sync.Mutex
	doc *display.Document
}

func (p *docPanel) Size() display.Size                     { return display.OLED }
func (p *docPanel) Show(display.Screen, image.Image) error { return nil }
func (p *docPanel) ShowDocument(d display.Document)        { p.mu.Lock(); p.doc = &d; p.mu.Unlock() }
func (p *docPanel) ClearDocument()                         { p.mu.Lock(); p.doc = nil; p.mu.Unlock() }
func (p *docPanel) shown() *display.Document               { p.mu.Lock(); defer p.mu.Unlock(); return p.doc }

var (
	memIGCOnce sync.Once
	memIGC     *cards.IGCSante
	memIGCErr  error
)

func newMemRig(t testing.TB, regime string, timeout time.Duration, opts ...func(*Config)) *memRig {
	t.Helper()
	memIGCOnce.Do(func() { memIGC, memIGCErr = cards.NewIGCSante() })
	if memIGCErr != nil {
		t.Fatal(memIGCErr)
	}
	site := hwtest.NewSite(t, "kiosk-1")
	r := &memRig{t: t, site: site, igc: memIGC, readers: &memReaders{cards: map[string]*memCard{}}, cards: make(chan pcsc.Event, 8),
		inputs: make(chan input.Event), screens: &screens{ch: make(chan display.Screen, 256)},
		link: &memLink{results: make(chan event.Result, 4), lookups: make(chan event.Sealed, 4)}, virtual: cards.Cards(memIGC), docs: &docPanel{}}
	r.link.online.Store(true)
	cfg := &Config{SessionTimeout: duration{Duration: timeout}, ResultWait: duration{Duration: time.Minute}}
	cfg.DeviceID, cfg.Site, cfg.Unit, cfg.Context, cfg.Regime = "kiosk-1", "750712184", "ACCUEIL", "admission", regime
	for _, o := range opts {
		o(cfg)
	}
	cred := site.Creds["kiosk-1"]
	creds := &Credentials{Device: event.Signer{Key: cred.PrivateKey.(crypto.Signer), Chain: []*x509.Certificate{cred.Leaf}}, BridgeKey: &site.EncKey.PublicKey}
	var err error
	if r.ob, err = OpenOutbox(filepath.Join(t.TempDir(), "outbox.db"), 100); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.ob.Close() })
	rend, _ := display.NewRenderer(false)
	receipts, err := OpenReceipts(cfg.Receipt, rend, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &Session{Config: cfg, Creds: creds, Display: display.New(rend, r.screens, r.docs), Inputs: r.inputs, Cards: r.cards,
		Readers: r.readers, Link: r.link, Outbox: r.ob, Receipts: receipts}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	r.wait(display.KindIdle, "")
	return r
}

func (r *memRig) insert(slot int, profile string) cards.Card {
	r.t.Helper()
	c, err := r.virtual[profile]()
	if err != nil {
		r.t.Fatal(err)
	}
	c.Reset()
	reader := hwtest.Reader(slot)
	r.readers.mu.Lock()
	r.readers.cards[reader] = &memCard{card: c}
	r.readers.mu.Unlock()
	r.cards <- pcsc.Event{Slot: slot, Kind: pcsc.CardInserted, Reader: reader, ATR: c.ATR()}
	return c
}

func (r *memRig) remove(slot int) {
	reader := hwtest.Reader(slot)
	r.readers.mu.Lock()
	if c := r.readers.cards[reader]; c != nil {
		c.pull()
	}
	delete(r.readers.cards, reader)
	r.readers.mu.Unlock()
	r.cards <- pcsc.Event{Slot: slot, Kind: pcsc.CardRemoved, Reader: reader}
}

func (r *memRig) wait(kind display.Kind, want string) display.Screen {
	r.t.Helper()
	r.last = waitScreen(r.t, r.screens.ch, kind, want, 10*time.Second)
	return r.last
}

func (r *memRig) press(evs ...input.Event) {
	r.t.Helper()
	pressAll(r.t, r.inputs, evs...)
}

// stored opens the events the outbox holds, as the bridge does.
func (r *memRig) stored() []*event.Event {
	r.t.Helper()
	var out []*event.Event
	for {
		p, ok, err := r.ob.Head(context.Background())
		if err != nil {
			r.t.Fatal(err)
		}
		if !ok {
			return out
		}
		o, err := event.Open(p.Body, r.site.EncKey, r.site.CA.Pool(), r.igc.Pool(), time.Now())
		if err != nil {
			r.t.Fatal(err)
		}
		out = append(out, &o.Event)
		if _, err := r.ob.Done(context.Background(), p.ID); err != nil {
			r.t.Fatal(err)
		}
	}
}

// The steps of a legacy-regime session with a family card, each ending on
// the screen of one state.
var sessionSteps = []struct {
	state string
	do    func(r *memRig)
	kind  display.Kind
	want  string
}{
	{"pin", func(r *memRig) { r.insert(0, "vitale-famille"); r.insert(1, "cps-medecin") }, display.KindEnterPIN, "Code"},
	{"choose", func(r *memRig) { r.press(keys("1234#")...) }, display.KindChooseBeneficiary, "DURAND"},
	{"identity", func(r *memRig) { r.press(non, non, oui) }, display.KindIdentity, "LÉA"},
	{"document", func(r *memRig) { r.press(oui) }, display.KindConsent, "Passeport"},
	{"consent", func(r *memRig) { r.press(oui) }, display.KindConsent, "informé"},
	{"last-question", func(r *memRig) { r.press(oui, oui, oui, valider) }, display.KindConsent, "centre 15"},
}

// Every state of the session, interrupted every way: the card pulled out,
// Annuler, the session's time-out. Each ends on its own screen, stores
// nothing, and the next session starts clean.
func TestSessionStatesInterrupted(t *testing.T) {
	interruptions := []struct {
		name    string
		timeout time.Duration
		do      func(r *memRig)
		kind    display.Kind
		want    string
	}{
		{"card pulled", time.Minute, func(r *memRig) { r.remove(1) }, display.KindIdle, "Carte retirée"},
		{"Annuler", time.Minute, func(r *memRig) { r.press(input.Event{Button: input.Annuler}) }, display.KindCardProblem, "Annulé"},
		// Long enough for every step to come first on a loaded machine.
		{"time-out", time.Second, func(r *memRig) {}, display.KindCardProblem, "Délai dépassé"},
	}
	for i := range sessionSteps {
		for _, in := range interruptions {
			t.Run(sessionSteps[i].state+"/"+in.name, func(t *testing.T) {
				t.Parallel()
				r := newMemRig(t, "legacy", in.timeout)
				for _, step := range sessionSteps[:i+1] {
					step.do(r)
					r.wait(step.kind, step.want)
				}
				in.do(r)
				r.wait(in.kind, in.want)
				if evs := r.stored(); len(evs) != 0 {
					t.Fatalf("%d events stored for an interrupted session", len(evs))
				}
			})
		}
	}
}

// A wrong PIN: the tries left are shown, the card is tried once, the right
// PIN then goes on; the whole session ends in a sealed event whose content
// is the session's.
func TestSessionInMemoryWrongPINThenComplete(t *testing.T) {
	r := newMemRig(t, "legacy", time.Minute)
	r.insert(0, "vitale-famille")
	card := r.insert(1, "cps-medecin").(*cards.ISOCard)
	r.wait(display.KindEnterPIN, "Code")
	r.press(keys("9999#")...)
	r.wait(display.KindEnterPIN, "Il reste 2 essai(s)")
	if card.TriesLeft() != 2 {
		t.Fatalf("tries %d", card.TriesLeft())
	}
	r.press(keys("1234#")...)
	for _, step := range sessionSteps[2:] {
		step.do(r)
		r.wait(step.kind, step.want)
	}
	r.press(non)
	r.wait(display.KindSending, "")
	if r.link.kicks.Load() == 0 {
		t.Error("the link was not told of the stored event")
	}
	evs := r.stored()
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	e := evs[0]
	wantINSC, _ := ins.INSC("LÉA", "100504", "1800269123045")
	switch {
	case e.Type != event.TypeCreate || e.Regime != "legacy" || e.Patient.Traits.FirstName != "LEA" || e.Patient.INSC != wantINSC || e.Patient.INS != nil:
		t.Errorf("event %+v", e)
	case e.Patient.Identity.Status != ins.Validee || e.Patient.Document != "passport":
		t.Errorf("identity %+v", e.Patient.Identity)
	case e.Professional.CardType != "CPS" || e.Professional.Surname != "LEROY" || e.Professional.CardSerial != "0000104567":
		t.Errorf("professional %+v", e.Professional)
	case !*e.Consent.Creation || !e.Consent.Authorization || !e.Consent.Informed || e.Consent.BrisDeGlaceOpposition || e.Consent.EmergencyOpposition:
		t.Errorf("consent %+v", e.Consent)
	}
	// The result comes: the screen says it.
	r.link.results <- event.Result{EventID: e.ID, Outcome: event.OutcomeCreated, Message: "DMP créé."}
	r.wait(display.KindResult, "DMP créé")
}

// Offline, the event is kept and the screen says it will be sent; the
// result that arrives later, after the cards are gone, is still shown.
func TestSessionResultArrivesLate(t *testing.T) {
	r := newMemRig(t, "current", time.Minute)
	r.link.online.Store(false)
	r.insert(0, "vitale-seul")
	r.insert(1, "cps-medecin")
	consentSingle(r)
	r.wait(display.KindQueued, "sera transmis")
	// Each card's removal handled before the result comes (the loop takes
	// whichever is ready first).
	r.remove(1)
	r.wait(display.KindIdle, "")
	r.remove(0)
	r.wait(display.KindIdle, "")
	p, ok, err := r.ob.Head(context.Background())
	if err != nil || !ok {
		t.Fatalf("nothing queued: %v", err)
	}
	r.link.results <- event.Result{EventID: p.ID, Outcome: event.OutcomeAuthorized, Message: "Autorisation enregistrée."}
	r.wait(display.KindResult, "Autorisation enregistrée")
	// A result for another event only refreshes the status line.
	r.link.results <- event.Result{EventID: "autre", Outcome: event.OutcomeAuthorized}
	select {
	case s := <-r.screens.ch:
		if s.Kind != display.KindResult {
			t.Fatalf("another event's result changed the screen to %v", s.Kind)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no refresh")
	}
}

// Cards the kiosk refuses, each with its plain message, without a daemon.
func TestSessionInMemoryRefusedCards(t *testing.T) {
	for _, c := range []struct{ vitale, pro, want string }{
		{"vitale-seul", "cps-bloquee", "Carte bloquée"},
		{"vitale-seul", "cde-directeur", "directeur"},
		{"vitale-seul", "cps-expiree", "expirée"},
		{"vitale-expiree", "cps-medecin", "Vitale expirée"},
		{"vitale1", "cps-medecin", "Vitale 1"},
		{"vitale-seul", "cps4", "CPS4"},
		{"vitale-seul", "cps2ter", "CPS2ter"},
	} {
		t.Run(c.vitale+"+"+c.pro, func(t *testing.T) {
			t.Parallel()
			r := newMemRig(t, "current", time.Minute)
			r.insert(0, c.vitale)
			r.insert(1, c.pro)
			deadline := time.After(10 * time.Second)
			for {
				select {
				case s := <-r.screens.ch:
					if (s.Kind == display.KindCardProblem || s.Kind == display.KindError) && strings.Contains(s.Text(), c.want) {
						if evs := r.stored(); len(evs) != 0 {
							t.Fatal("an event was stored")
						}
						return
					}
				case <-deadline:
					t.Fatalf("no screen saying %q", c.want)
				}
			}
		})
	}
}

// waitScreen returns the first screen of kind whose text holds want.
func waitScreen(t testing.TB, ch <-chan display.Screen, kind display.Kind, want string, limit time.Duration) display.Screen {
	t.Helper()
	deadline := time.After(limit)
	for {
		select {
		case s := <-ch:
			if s.Kind == kind && strings.Contains(s.Text(), want) {
				return s
			}
		case <-deadline:
			t.Fatalf("no %v screen saying %q", kind, want)
		}
	}
}
