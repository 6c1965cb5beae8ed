package firmware

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"image"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"dmpkiosk/apdu/cps"
	"dmpkiosk/apdu/pcsc"
	"dmpkiosk/display"
	"dmpkiosk/display/input"
	"dmpkiosk/firmware/event"
	"dmpkiosk/hwtest"
	"dmpkiosk/hwtest/cards"
	"dmpkiosk/hwtest/standin"
	"dmpkiosk/ins"
)

// screens records what the kiosk shows.
type screens struct{ ch chan display.Screen }

func (p *screens) Size() display.Size { return display.OLED }
func (p *screens) Show(s display.Screen, _ image.Image) error {
	p.ch <- s
	return nil
}

type kioskRig struct {
	t       testing.TB
	d       *hwtest.PCSCD
	igc     *cards.IGCSante
	m       *hwtest.Mosquitto
	bridge  *standin.Bridge
	screens *screens
	inputs  chan input.Event
	ob      *Outbox
	logs    *syncBuffer
	in      [2]*cards.Inserted
	cards   map[string]func() (cards.Card, error)
}

func newKioskRig(t testing.TB, regime string, tweak ...func(*Session)) *kioskRig {
	if testing.Short() {
		t.Skip("-short: the session through pcscd and mosquitto runs without it (session_mem_test.go covers it in memory)")
	}
	d := hwtest.StartPCSCD(t)
	igc, err := cards.NewIGCSante()
	if err != nil {
		t.Fatal(err)
	}
	site := hwtest.NewSite(t, "kiosk-1")
	m := site.StartMosquitto(t)
	r := &kioskRig{t: t, d: d, igc: igc, m: m, bridge: standin.Start(t, m.URL(), site, igc.Pool()),
		screens: &screens{ch: make(chan display.Screen, 256)}, inputs: make(chan input.Event), cards: cards.Cards(igc)}
	cfg := &Config{SessionTimeout: duration{Duration: time.Minute}, ResultWait: duration{Duration: 5 * time.Second}}
	cfg.DeviceID, cfg.Site, cfg.Unit, cfg.Context, cfg.Regime = "kiosk-1", "750712184", "ACCUEIL", "admission", regime
	cred := site.Creds["kiosk-1"]
	creds := &Credentials{TLS: site.TLS(cred), Device: event.Signer{Key: cred.PrivateKey.(crypto.Signer), Chain: []*x509.Certificate{cred.Leaf}},
		BridgeKey: &site.EncKey.PublicKey}
	if r.ob, err = OpenOutbox(filepath.Join(t.TempDir(), "outbox.db"), 100); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r.logs = &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	link := StartLink(ctx, LinkConfig{BrokerURL: m.URL(), TLS: creds.TLS, DeviceID: "kiosk-1", ResultWait: 2 * time.Second, Logger: logger}, r.ob)
	cardEvents := make(chan pcsc.Event, 16)
	go pcsc.NewMonitor(pcsc.MonitorOptions{Readers: []string{hwtest.Reader(0), hwtest.Reader(1)}}).Run(ctx, cardEvents)
	rend, _ := display.NewRenderer(false)
	s := &Session{Config: cfg, Creds: creds, Display: display.New(rend, r.screens), Inputs: r.inputs, Cards: cardEvents, Link: link,
		Outbox: r.ob, Logger: logger}
	for _, f := range tweak {
		f(s)
	}
	go s.Run(ctx)
	deadline := time.Now().Add(15 * time.Second)
	for !link.Online() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	return r
}

func (r *kioskRig) insert(slot int, profile string) cards.Card {
	return r.insertTimed(slot, profile, nil)
}

// insertTimed inserts a card, under the card-timing model when link is set.
func (r *kioskRig) insertTimed(slot int, profile string, link func(atr []byte) cards.Link) cards.Card {
	r.t.Helper()
	c, err := r.cards[profile]()
	if err != nil {
		r.t.Fatal(err)
	}
	if link != nil {
		c = &cards.Timed{Card: c, Link: link(c.ATR())}
	}
	if r.in[slot], err = cards.Insert(context.Background(), hwtest.SlotAddr(slot), c); err != nil {
		r.t.Fatal(err)
	}
	return c
}

func (r *kioskRig) remove(slot int) {
	r.in[slot].Remove()
	r.in[slot] = nil
}

// wait returns the first screen shown of the kind whose text holds want.
func (r *kioskRig) wait(kind display.Kind, want string) display.Screen {
	r.t.Helper()
	return waitScreen(r.t, r.screens.ch, kind, want, 30*time.Second)
}

func (r *kioskRig) press(evs ...input.Event) {
	r.t.Helper()
	pressAll(r.t, r.inputs, evs...)
}

// pressAll hands the session inputs, failing when it stops taking them.
func pressAll(t testing.TB, ch chan<- input.Event, evs ...input.Event) {
	t.Helper()
	for _, e := range evs {
		select {
		case ch <- e:
		case <-time.After(10 * time.Second):
			t.Fatal("the session does not take input")
		}
	}
}

// driver is a rig a session is driven on: through the real parts or in
// memory.
type driver interface {
	wait(kind display.Kind, want string) display.Screen
	press(evs ...input.Event)
}

// consentSingle takes a current-regime session with a one-beneficiary card
// (vitale-seul) and the doctor's card from the PIN to the last answer: no
// identity document, informed, authorized, no opposition.
func consentSingle(d driver) {
	d.wait(display.KindEnterPIN, "Code")
	d.press(keys("1234#")...)
	d.wait(display.KindIdentity, "MARTIN")
	d.press(non)
	d.wait(display.KindConsent, "informé")
	d.press(oui, oui, valider, valider)
}

func keys(s string) []input.Event {
	var out []input.Event
	for _, k := range s {
		out = append(out, input.Event{Key: k})
	}
	return out
}

var (
	oui     = input.Event{Button: input.Oui}
	non     = input.Event{Button: input.Non}
	valider = input.Event{Button: input.Valider}
)

func TestSessionLegacyCreation(t *testing.T) {
	r := newKioskRig(t, "legacy")
	r.insert(0, "vitale-famille")
	r.insert(1, "cps-medecin")
	r.wait(display.KindEnterPIN, "Code")
	r.press(keys("1234#")...)
	r.wait(display.KindChooseBeneficiary, "DURAND")
	r.press(non, non) // the third beneficiary: LÉA
	r.wait(display.KindChooseBeneficiary, "> DURAND LÉA")
	r.press(oui)
	r.wait(display.KindIdentity, "LÉA")
	r.press(oui) // an identity document was checked
	r.wait(display.KindConsent, "Passeport")
	r.press(oui) // a passport
	r.wait(display.KindConsent, "informé")
	r.press(oui)
	r.wait(display.KindConsent, "création")
	r.press(oui)
	r.wait(display.KindConsent, "autorise")
	r.press(oui)
	r.wait(display.KindConsent, "bris de glace")
	r.press(valider) // default: no opposition
	r.wait(display.KindConsent, "centre 15")
	r.press(non)
	res := r.wait(display.KindResult, "DMP créé")
	if res.Tone != display.Success {
		t.Fatalf("result tone %v", res.Tone)
	}

	events, errs := r.bridge.Received()
	if len(errs) > 0 || len(events) != 1 {
		t.Fatalf("bridge: %d events, errors %v", len(events), errs)
	}
	e := events[0].Event
	wantINSC, _ := ins.INSC("LÉA", "100504", "1800269123045")
	switch {
	case e.Type != event.TypeCreate || e.Device != "kiosk-1" || e.Regime != "legacy" || e.Seq != 1:
		t.Errorf("event header %+v", e)
	case e.Patient.Traits.FirstName != "LEA" || e.Patient.Traits.BirthName != "DURAND" || e.Patient.Traits.BirthDate != "20100504":
		t.Errorf("patient traits %+v", e.Patient.Traits)
	case e.Patient.INS != nil || e.Patient.INSC != wantINSC:
		t.Errorf("a child without NIR of her own: INS %+v, INS-C %s want %s", e.Patient.INS, e.Patient.INSC, wantINSC)
	case e.Patient.Identity.Status != ins.Validee || e.Patient.Document != "passport":
		t.Errorf("identity %+v %s", e.Patient.Identity, e.Patient.Document)
	case e.Professional.NationalID != "810100456789" || e.Professional.CardType != "CPS":
		t.Errorf("professional %+v", e.Professional)
	case e.Consent.Creation == nil || !*e.Consent.Creation || !e.Consent.Authorization || !e.Consent.Informed ||
		e.Consent.BrisDeGlaceOpposition || e.Consent.EmergencyOpposition:
		t.Errorf("consent %+v", e.Consent)
	}
	if p, _, _ := r.ob.Depth(context.Background()); p != 0 {
		t.Errorf("outbox holds %d events after the result", p)
	}
	// The logs say what happened with ids, never who it happened to.
	logs := r.logs.String()
	if !strings.Contains(logs, e.ID) {
		t.Errorf("the event id is not in the logs:\n%s", logs)
	}
	for _, secret := range []string{"DURAND", "LÉA", "LEA", "1800269123045", wantINSC, "LEROY", "810100456789"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs hold %q:\n%s", secret, logs)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the loggers of several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestSessionWrongPINThenCardPulled(t *testing.T) {
	r := newKioskRig(t, "current")
	card := r.insert(0, "cps-medecin").(*cards.ISOCard)
	r.insert(1, "vitale-seul")
	r.wait(display.KindEnterPIN, "Code")
	r.press(keys("9999#")...)
	r.wait(display.KindEnterPIN, "Il reste 2 essai(s)")
	// Corrected with '*', then the patient's card is pulled out.
	r.press(keys("12*")...)
	r.remove(1)
	r.wait(display.KindIdle, "Carte retirée : la saisie est annulée")
	if p, _, _ := r.ob.Depth(context.Background()); p != 0 {
		t.Fatalf("an event was stored for an interrupted session")
	}
	// The card was tried once: the kiosk never retries a PIN by itself.
	if n := card.TriesLeft(); n != 2 {
		t.Fatalf("the card has %d tries left after one wrong PIN", n)
	}
	r.insert(1, "vitale-seul")
	r.wait(display.KindEnterPIN, "Code")
	r.press(keys("1234#")...)
	r.wait(display.KindIdentity, "MARTIN")
	if n := card.TriesLeft(); n != 3 {
		t.Fatalf("tries after the right PIN: %d", n)
	}
	r.press(non)
	r.wait(display.KindConsent, "informé")
	r.press(non) // not informed: nothing is sent
	r.wait(display.KindError, "non informé")
}

func TestSessionRefusedCards(t *testing.T) {
	r := newKioskRig(t, "current")
	r.insert(0, "vitale-seul")
	r.insert(1, "cps-bloquee")
	r.wait(display.KindCardProblem, "Carte bloquée")
	r.remove(1)
	r.wait(display.KindIdle, "")
	r.insert(1, "cde-directeur")
	r.wait(display.KindError, "directeur")
	r.remove(1)
	r.insert(1, "cps-expiree")
	r.wait(display.KindCardProblem, "expirée")
	r.remove(1)
	r.remove(0)
	r.insert(0, "vitale-expiree")
	r.insert(1, "cps-medecin")
	r.wait(display.KindCardProblem, "Vitale expirée")
	r.remove(0)
	r.insert(0, "vitale1")
	r.wait(display.KindCardProblem, "Vitale 1")
}

func TestSessionBrokerDown(t *testing.T) {
	r := newKioskRig(t, "current")
	r.m.Stop()
	r.insert(0, "vitale-corse")
	r.insert(1, "cpe-accueil")
	r.wait(display.KindEnterPIN, "Code")
	r.press(keys("4321#")...)
	r.wait(display.KindIdentity, "SANTONI")
	r.press(non)
	r.wait(display.KindConsent, "informé")
	r.press(oui, oui, valider, valider)
	r.wait(display.KindQueued, "sera transmis")
	if p, _, _ := r.ob.Depth(context.Background()); p != 1 {
		t.Fatalf("outbox depth %d with the broker down", p)
	}
	r.m.Start()
	r.wait(display.KindResult, "Autorisation enregistrée")
	events, _ := r.bridge.Received()
	if len(events) != 1 || events[0].Event.Professional.CardType != "CPE" {
		t.Fatalf("bridge events %d", len(events))
	}
	if p, _, _ := r.ob.Depth(context.Background()); p != 0 {
		t.Fatalf("outbox depth %d after delivery", p)
	}
}

func TestSessionClockSkew(t *testing.T) {
	// The kiosk's clock says 2019: before its certificate was issued.
	r := newKioskRig(t, "current", func(s *Session) {
		s.Now = func() time.Time { return time.Date(2019, 3, 1, 9, 0, 0, 0, time.UTC) }
	})
	r.insert(0, "vitale-seul")
	r.insert(1, "cps-medecin")
	consentSingle(r)
	r.wait(display.KindError, "Horloge de la borne incorrecte")
	if p, _, _ := r.ob.Depth(context.Background()); p != 0 {
		t.Fatal("an event was stored with a wrong clock")
	}
}

// A reader with a PIN pad takes the PIN itself: the kiosk's keypad is not
// used and the PIN never goes through the kiosk.
func TestSessionPINPadReader(t *testing.T) {
	typed := make(chan string, 4)
	r := newKioskRig(t, "current", func(s *Session) {
		s.PINPadFor = func(k Card) cps.PINPad {
			return &cards.PadReader{T: k, Typed: func() string { return <-typed }}
		}
	})
	card := r.insert(0, "cps-medecin").(*cards.ISOCard)
	r.insert(1, "vitale-seul")
	r.wait(display.KindEnterPIN, "clavier du lecteur")
	r.press(keys("1234#")...) // on the kiosk's keypad: ignored
	typed <- "0000"           // on the reader's pad: wrong
	r.wait(display.KindEnterPIN, "Il reste 2 essai(s)")
	if card.TriesLeft() != 2 {
		t.Fatalf("tries %d", card.TriesLeft())
	}
	typed <- "1234"
	r.wait(display.KindIdentity, "MARTIN")
}

// pcscd killed in the middle of a session (the PIN being typed) and
// restarted: the session ends with what the desk must know, nothing is
// stored, and the next patient is served once pcscd is back.
func TestSessionPCSCDRestarted(t *testing.T) {
	r := newKioskRig(t, "current")
	r.insert(0, "cps-medecin")
	r.insert(1, "vitale-seul")
	r.wait(display.KindEnterPIN, "Code")
	r.press(keys("12")...)
	r.d.Kill()
	r.wait(display.KindIdle, "Lecteur de cartes indisponible : la saisie est annulée")
	if p, _, _ := r.ob.Depth(context.Background()); p != 0 {
		t.Fatalf("an event was stored for an interrupted session")
	}
	r.remove(0)
	r.remove(1)
	r.d.Start()
	r.insert(0, "cps-medecin")
	r.insert(1, "vitale-seul")
	r.wait(display.KindEnterPIN, "Code")
	r.press(keys("1234#")...)
	r.wait(display.KindIdentity, "MARTIN")
}
