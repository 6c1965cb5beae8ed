package firmware

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"dmpkiosk/apdu"
	"dmpkiosk/apdu/cps"
	"dmpkiosk/apdu/pcsc"
	"dmpkiosk/apdu/vitale"
	"dmpkiosk/display"
	"dmpkiosk/display/input"
	"dmpkiosk/firmware/event"
	"dmpkiosk/ins"
)

// Session is the kiosk's interaction with the staff, from the cards going
// in to the bridge's answer on screen. One goroutine runs it; card events,
// inputs and results arrive on channels.
type Session struct {
	Config  *Config
	Creds   *Credentials
	Display *display.Display
	Inputs  <-chan input.Event
	Cards   <-chan pcsc.Event
	// Readers opens the cards the events announce (pcscd when nil).
	Readers Readers
	Link    Uplink
	Outbox  *Outbox
	Buzzer  *input.Buzzer
	Logger  *slog.Logger
	// Now is the kiosk's clock (time.Now when nil).
	Now func() time.Time
	// PINPadFor returns the PIN pad of the professional card's reader, or
	// nil to use the kiosk's keypad; nil asks the card's reader.
	PINPadFor func(c Card) cps.PINPad

	slots     [2]*slotState
	reads     chan slotRead
	st        state
	pin       []byte
	tries     int
	cursor    int
	chosen    int
	doc       string
	answers   []bool
	qs        []question
	waiting   string // event id whose result the screen waits for
	idle      *time.Timer
	ping      chan chan struct{}
	padDone   chan error
	padActive bool // the reader's pad, not the keypad, takes the PIN
	ctx       context.Context
}

func (s *Session) pinPad(sl *slotState) cps.PINPad {
	if s.PINPadFor != nil {
		return s.PINPadFor(sl.card)
	}
	return sl.card.PINPad()
}

// Alive reports whether the session loop answers within a second: the
// systemd watchdog's test.
func (s *Session) Alive() bool {
	reply := make(chan struct{})
	select {
	case s.ping <- reply:
	case <-time.After(time.Second):
		return false
	}
	select {
	case <-reply:
		return true
	case <-time.After(time.Second):
		return false
	}
}

type state int

const (
	stIdle state = iota
	stReading
	stPIN
	stChoose
	stIdentity
	stDocument
	stConsent
	stSending
	stDone // a final screen; waits for the cards to leave
)

type slotState struct {
	reader  string
	kind    string
	vitale  *vitale.Card
	cps     *cps.Card
	info    *cps.Info
	card    Card // kept open for a professional card
	err     error
	done    bool // read finished
	reading bool
}

// slotRead is a finished read: s is what was read, orig the slot it was
// read for (the session discards it if that card has left meanwhile).
type slotRead struct {
	slot int
	orig *slotState
	s    *slotState
}

type question struct {
	text    string
	answers []string // first answer = true
	def     int
}

// Documents the professional may confirm, in the order offered.
var documents = []struct{ code, label string }{
	{"passport", "Passeport"}, {"id-card", "Carte nationale d'identité"}, {"residence-permit", "Titre de séjour"},
}

func (s *Session) status() display.Status {
	st := display.Status{Online: s.Link != nil && s.Link.Online()}
	if s.Outbox != nil {
		st.Queue, _, _ = s.Outbox.Depth(context.Background())
	}
	for i, sl := range s.slots {
		switch {
		case sl == nil:
		case strings.HasPrefix(sl.kind, "vitale"):
			st.Slots[i] = "Vitale"
		case strings.HasPrefix(sl.kind, "cps"):
			st.Slots[i] = "CPS"
		default:
			st.Slots[i] = "?"
		}
	}
	return st
}

func (s *Session) show(sc display.Screen) {
	if err := s.Display.Show(sc); err != nil {
		s.Logger.Error("session: display", "error", err)
	}
}

func (s *Session) beep(p []time.Duration) {
	if s.Buzzer != nil {
		go func() { _ = s.Buzzer.Play(p) }()
	}
}

// Run drives the session until ctx is done.
func (s *Session) Run(ctx context.Context) error {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.Readers == nil {
		s.Readers = PCSC{}
	}
	s.ctx = ctx
	s.reads = make(chan slotRead, 2)
	s.padDone = make(chan error, 1)
	if s.ping == nil {
		s.ping = make(chan chan struct{})
	}
	s.idle = time.NewTimer(time.Hour)
	defer s.idle.Stop()
	defer s.reset()
	s.show(display.Idle(s.status()))
	var results <-chan event.Result
	if s.Link != nil {
		results = s.Link.Results()
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev := <-s.Cards:
			s.onCard(ctx, ev)
		case r := <-s.reads:
			s.onRead(ctx, r)
		case in := <-s.Inputs:
			s.touch()
			s.onInput(ctx, in)
		case r := <-results:
			s.onResult(r)
		case reply := <-s.ping:
			close(reply)
		case err := <-s.padDone:
			if s.st == stPIN {
				s.afterVerify(err)
			}
		case <-s.idle.C:
			switch s.st {
			case stSending:
				s.st = stDone
				s.show(display.Queued(s.status()))
			case stIdle, stDone:
			default:
				s.end(display.CardProblem(s.status(), "Délai dépassé", "La saisie a été abandonnée. Retirez les cartes pour recommencer."))
			}
		}
	}
}

func (s *Session) touch() { s.idle.Reset(s.Config.SessionTimeout.Duration) }

// forget wipes everything the session knew — the PIN, the identities, the
// answers — and closes the card connections. Each slot keeps only that a
// card of some kind sits in it.
func (s *Session) forget() {
	clear(s.pin)
	s.pin = nil
	for i, sl := range s.slots {
		if sl == nil {
			continue
		}
		if sl.card != nil {
			_ = sl.card.Close()
		}
		s.slots[i] = &slotState{reader: sl.reader, kind: sl.kind}
	}
	s.st, s.cursor, s.chosen, s.doc, s.answers, s.qs, s.waiting, s.padActive = stIdle, 0, 0, "", nil, nil, "", false
}

// reset forgets the session and the cards.
func (s *Session) reset() {
	s.forget()
	s.slots = [2]*slotState{}
}

// end shows a final screen and forgets the session's data; the cards must
// leave before the next session.
func (s *Session) end(sc display.Screen) {
	s.forget()
	s.st = stDone
	s.show(sc)
}

func (s *Session) onCard(ctx context.Context, ev pcsc.Event) {
	if ev.Slot < 0 || ev.Slot > 1 {
		return
	}
	switch ev.Kind {
	case pcsc.CardRemoved, pcsc.ReaderRemoved:
		if s.slots[ev.Slot] == nil {
			return
		}
		mid := s.st != stIdle && s.st != stDone
		if mid {
			s.Logger.Info("session: a card was removed mid-session; session data wiped")
		}
		waiting := s.waiting
		s.forget()
		s.waiting = waiting // a queued event's result may still come
		s.slots[ev.Slot] = nil
		sc := display.Idle(s.status())
		if mid {
			sc.Body = append([]string{"Carte retirée : la saisie est annulée, rien n'a été envoyé."}, sc.Body...)
		}
		s.show(sc)
	case pcsc.CardInserted:
		s.slots[ev.Slot] = &slotState{reader: ev.Reader, kind: Classify(ev.ATR)}
		s.st = stReading
		s.touch()
		s.show(display.Reading(s.status()))
		// Read the new card, and the other one again if its data were
		// wiped when a previous session ended.
		for i, sl := range s.slots {
			if sl != nil && !sl.done && !sl.reading {
				sl.reading = true
				reader, kind := sl.reader, sl.kind
				go func() { s.reads <- slotRead{i, sl, readForSession(ctx, s.Readers, reader, kind)} }()
			}
		}
	}
}

// readForSession reads a card: a Vitale completely, a CPS's holder while
// keeping the connection for the PIN and the signature. It runs on its own
// goroutine and shares nothing with the session until it returns.
func readForSession(ctx context.Context, readers Readers, reader, kind string) *slotState {
	sl := &slotState{reader: reader, kind: kind, done: true}
	if sl.err = kindError(kind); sl.err != nil {
		return sl
	}
	c, err := readers.Open(ctx, reader)
	if err != nil {
		sl.err = err
		return sl
	}
	r, err := ReadCard(ctx, c, kind)
	sl.vitale, sl.cps, sl.info, sl.err = r.Vitale, r.CPS, r.Info, err
	if kind == KindVitale2 || err != nil {
		_ = c.Close()
		return sl
	}
	sl.card = c
	return sl
}

func (s *Session) onRead(ctx context.Context, r slotRead) {
	if s.slots[r.slot] != r.orig {
		// That card left (or the session was wiped) while it was read.
		if r.s.card != nil {
			_ = r.s.card.Close()
		}
		return
	}
	s.slots[r.slot] = r.s
	if r.s.err != nil {
		s.end(display.CardProblem(s.status(), cardTitle(r.s.err), Message(r.s.err)))
		s.beep(input.BeepError)
		return
	}
	var pat, pro *slotState
	for _, sl := range s.slots {
		switch {
		case sl == nil: // the other card is not in yet
		case !sl.done:
			return // still reading
		case sl.vitale != nil:
			pat = sl
		case sl.info != nil:
			pro = sl
		}
	}
	if pat == nil || pro == nil {
		which := "la carte professionnelle"
		if pat == nil {
			which = "la carte Vitale du patient"
		}
		s.st = stIdle
		sc := display.Idle(s.status())
		sc.Title = "Insérez " + which
		s.show(sc)
		return
	}
	today := time.Now().Format("20060102")
	switch {
	case pat.vitale.Expired(time.Now()):
		s.end(display.CardProblem(s.status(), "Carte Vitale expirée", "Demandez au patient une carte à jour ; l'identité ne peut pas être lue sur celle-ci."))
		return
	case pro.info.Expired(today):
		s.end(display.CardProblem(s.status(), "Carte professionnelle expirée", "Utilisez une carte en cours de validité."))
		return
	case pro.info.CardType == "CDE":
		s.end(display.Error(s.status(), "Carte de directeur",
			"Le recueil du consentement se fait avec une carte CPS, CPF ou CPE."))
		return
	}
	if _, err := pro.cps.TriesLeft(ctx); errors.Is(err, cps.ErrBlocked) {
		s.end(display.CardProblem(s.status(), "Carte bloquée", "Trop de codes faux. Débloquez-la avec son code de déblocage."))
		return
	}
	// The signature certificate (about 1 KB: over a second at 9600 bd) is
	// read while the PIN is typed, not when the event is signed. A failure
	// here is met again, and reported, at signing.
	go func(c *cps.Card) { _, _ = c.Certificate(ctx, true) }(pro.cps)
	s.tries = -1
	s.st = stPIN
	s.askPIN(ctx, pro)
}

// askPIN asks for the PIN on the reader's pad when it has one, else on the
// kiosk's keypad.
func (s *Session) askPIN(ctx context.Context, pro *slotState) {
	pad := s.pinPad(pro)
	s.padActive = pad != nil
	if pad == nil {
		s.show(display.EnterPIN(s.status(), 0, 4, s.tries))
		return
	}
	sc := display.EnterPIN(s.status(), 0, 4, s.tries)
	sc.PINMax, sc.Hint = 0, "Annuler"
	sc.Body = append(sc.Body, "Saisissez le code sur le clavier du lecteur de carte, puis validez sur le lecteur.")
	s.show(sc)
	go func(c *cps.Card) { s.padDone <- c.VerifyOnPad(ctx, pad) }(pro.cps)
}

func cardTitle(err error) string {
	switch {
	case errors.Is(err, ErrUnknownCard), errors.Is(err, vitale.ErrNotVitale), errors.Is(err, cps.ErrNotCPS):
		return "Carte non reconnue"
	case errors.Is(err, pcsc.ErrCardRemoved):
		return "Carte retirée"
	}
	return "Carte illisible"
}

func (s *Session) patient() *vitale.Card {
	for _, sl := range s.slots {
		if sl != nil && sl.vitale != nil {
			return sl.vitale
		}
	}
	return nil
}

func (s *Session) professional() *slotState {
	for _, sl := range s.slots {
		if sl != nil && sl.info != nil {
			return sl
		}
	}
	return nil
}

func (s *Session) onInput(ctx context.Context, in input.Event) {
	if in.Button == input.Annuler && s.st != stIdle && s.st != stDone && s.st != stSending {
		s.end(display.CardProblem(s.status(), "Annulé", "Aucune donnée n'a été envoyée. Retirez les cartes."))
		return
	}
	switch s.st {
	case stPIN:
		s.onPIN(ctx, in)
	case stChoose:
		n := len(s.patient().Beneficiaries)
		switch {
		case in.Button == input.Non:
			s.cursor = (s.cursor + 1) % n
			s.showChoose()
		case in.Button == input.Oui || in.Button == input.Valider || in.Key == '#':
			s.chosen = s.cursor
			s.showIdentity()
		}
	case stIdentity:
		switch in.Button {
		case input.Oui:
			s.st, s.cursor = stDocument, 0
			s.showDocument()
		case input.Non:
			s.doc = ""
			s.startConsent()
		}
	case stDocument:
		switch {
		case in.Button == input.Non:
			s.cursor = (s.cursor + 1) % len(documents)
			s.showDocument()
		case in.Button == input.Oui || in.Button == input.Valider || in.Key == '#':
			s.doc = documents[s.cursor].code
			s.startConsent()
		}
	case stConsent:
		q := s.qs[len(s.answers)]
		switch {
		case in.Button == input.Non && len(q.answers) == 2 && q.def == 0:
			s.answer(ctx, false)
		case in.Button == input.Oui && q.def == 0:
			s.answer(ctx, true)
		case q.def == 1 && in.Button == input.Oui:
			s.answer(ctx, true) // "Oui, il s'y oppose"
		case q.def == 1 && (in.Button == input.Non || in.Button == input.Valider || in.Key == '#'):
			s.answer(ctx, false) // the default: no opposition
		}
	}
}

func (s *Session) onPIN(ctx context.Context, in input.Event) {
	if s.padActive {
		return // the PIN goes on the reader's pad, never through the kiosk
	}
	switch {
	case in.Key >= '0' && in.Key <= '9':
		if len(s.pin) < 8 {
			s.pin = append(s.pin, byte(in.Key))
		}
	case in.Key == '*':
		if len(s.pin) > 0 {
			s.pin[len(s.pin)-1] = 0
			s.pin = s.pin[:len(s.pin)-1]
		}
	case in.Key == '#' || in.Button == input.Valider || in.Button == input.Oui:
		// Verify wipes the PIN; it is sent once and never retried.
		err := s.professional().cps.Verify(ctx, s.pin)
		s.pin = s.pin[:0]
		s.afterVerify(err)
		return
	}
	s.show(display.EnterPIN(s.status(), len(s.pin), max(4, len(s.pin)), s.tries))
}

// afterVerify handles the card's answer to a PIN, from the keypad or the
// reader's pad: never a retry.
func (s *Session) afterVerify(err error) {
	var ae *apdu.AuthError
	switch {
	case err == nil:
		s.afterPIN()
		return
	case errors.Is(err, cps.ErrBlocked):
		s.end(display.CardProblem(s.status(), "Carte bloquée", "Trop de codes faux. Débloquez-la avec son code de déblocage."))
		s.beep(input.BeepError)
		return
	case errors.As(err, &ae):
		s.tries = ae.Retries
		s.beep(input.BeepError)
	case errors.Is(err, cps.ErrPINFormat):
		s.show(display.Error(s.status(), "Code incomplet", "Le code compte 4 à 8 chiffres."))
	default:
		s.end(display.CardProblem(s.status(), cardTitle(err), Message(err)))
		return
	}
	if s.padActive {
		// The pad asks again; the person types anew or cancels.
		s.askPIN(s.ctx, s.professional())
		return
	}
	s.show(display.EnterPIN(s.status(), 0, 4, s.tries))
}

func (s *Session) afterPIN() {
	v := s.patient()
	s.cursor, s.chosen = 0, 0
	if len(v.Beneficiaries) > 1 {
		s.st = stChoose
		s.showChoose()
		return
	}
	s.showIdentity()
}

func (s *Session) showChoose() {
	var names []string
	for _, b := range s.patient().Beneficiaries {
		names = append(names, fmt.Sprintf("%s %s, %s", b.Surname, b.FirstName, dateFR(b.BirthDate)))
	}
	s.show(display.ChooseBeneficiary(s.status(), names, s.cursor))
}

func dateFR(d string) string {
	if len(d) != 8 {
		return d
	}
	return d[6:8] + "/" + d[4:6] + "/" + d[0:4]
}

func (s *Session) showIdentity() {
	s.st = stIdentity
	b := s.patient().Beneficiaries[s.chosen]
	born := "Né(e) le " + dateFR(b.BirthDate)
	if b.BirthRank > 0 {
		born += fmt.Sprintf(" (rang %d)", b.BirthRank)
	}
	lines := []string{"Nom : " + b.Surname, "Prénom : " + b.FirstName, born}
	if b.NIR != "" && !b.NIRValid {
		lines = append(lines, "Attention : le NIR de la carte a une clé invalide.")
	}
	lines = append(lines, "Une pièce d'identité a-t-elle été vérifiée ?")
	s.show(display.IdentitySummary(s.status(), lines))
}

func (s *Session) showDocument() {
	var labels []string
	for _, d := range documents {
		labels = append(labels, d.label)
	}
	sc := display.Consent(s.status(), "Quelle pièce d'identité ?", labels, s.cursor)
	sc.Title = "Pièce d'identité"
	s.show(sc)
}

func (s *Session) startConsent() {
	s.qs = []question{{text: "Le patient a-t-il été informé sur le DMP (brochure remise) ?", answers: []string{"Oui", "Non"}}}
	if s.Config.Regime == event.RegimeLegacy {
		s.qs = append(s.qs, question{text: "Le patient consent-il à la création de son DMP ?", answers: []string{"Oui", "Non"}})
	}
	s.qs = append(s.qs,
		question{text: "Le patient autorise-t-il l'établissement à accéder à son DMP ?", answers: []string{"Oui", "Non"}},
		question{text: "Accès en urgence (bris de glace) : le patient s'y oppose-t-il ?", answers: []string{"Oui, il s'y oppose", "Non, accès autorisé"}, def: 1},
		question{text: "Accès par le SAMU (centre 15) : le patient s'y oppose-t-il ?", answers: []string{"Oui, il s'y oppose", "Non, accès autorisé"}, def: 1},
	)
	s.answers = nil
	s.st = stConsent
	s.showQuestion()
}

func (s *Session) showQuestion() {
	q := s.qs[len(s.answers)]
	s.show(display.Consent(s.status(), q.text, q.answers, q.def))
}

func (s *Session) answer(ctx context.Context, v bool) {
	s.answers = append(s.answers, v)
	if len(s.answers) == 1 && !v {
		s.end(display.Error(s.status(), "Patient non informé",
			"Remettez d'abord la brochure d'information sur le DMP, puis recommencez."))
		return
	}
	if len(s.answers) < len(s.qs) {
		s.showQuestion()
		return
	}
	s.send(ctx)
}

// send builds, signs, seals and stores the event, then waits for the
// bridge.
func (s *Session) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Session) send(ctx context.Context) {
	if dev := s.Creds.Device.Chain[0]; s.now().Before(dev.NotBefore) || s.now().After(dev.NotAfter) {
		s.Logger.Error("session: the clock is outside the device certificate's validity", "clock", s.now().UTC())
		s.end(display.Error(s.status(), "Horloge de la borne incorrecte",
			"La date de la borne est fausse : la demande serait refusée. Rien n'a été envoyé ; prévenez le support informatique."))
		return
	}
	e, err := s.buildEvent(ctx)
	if err != nil {
		s.end(display.Error(s.status(), "Demande impossible", Message(err)))
		return
	}
	pro := s.professional()
	signer, err := pro.cps.Signer(ctx)
	if err != nil {
		s.end(display.CardProblem(s.status(), "Signature impossible", Message(err)))
		return
	}
	cert, err := pro.cps.Certificate(ctx, true)
	if err != nil {
		s.end(display.CardProblem(s.status(), "Signature impossible", Message(err)))
		return
	}
	jwe, err := event.Seal(e, s.Creds.Device, event.Signer{Key: signer, Chain: []*x509.Certificate{cert}}, s.Creds.BridgeKey)
	if err != nil {
		s.Logger.Error("session: sealing the event", "event", e.ID, "error", err)
		s.end(display.Error(s.status(), "Signature impossible", "La carte n'a pas signé la demande. Réinsérez-la et recommencez."))
		return
	}
	if err := s.Outbox.Put(ctx, e.ID, e.Seq, jwe); err != nil {
		msg := "La borne n'a pas pu enregistrer la demande. Prévenez le support informatique."
		if errors.Is(err, ErrOutboxFull) {
			msg = "La file d'attente de la borne est pleine (réseau coupé depuis longtemps). Prévenez le support informatique."
		}
		s.Logger.Error("session: storing the event", "event", e.ID, "error", err)
		s.end(display.Error(s.status(), "Demande non enregistrée", msg))
		return
	}
	s.Logger.Info("session: event stored", "event", e.ID, "seq", e.Seq, "type", e.Type)
	// The event is safe in the outbox: the session's data can go.
	s.forget()
	s.waiting = e.ID
	s.Link.Kick()
	if s.Link.Online() {
		s.st = stSending
		s.show(display.Sending(s.status()))
		// Without an answer within ResultWait the screen says the event is
		// kept and will be sent: the staff need not wait.
		s.idle.Reset(s.Config.ResultWait.Duration)
		return
	}
	s.st = stDone
	s.show(display.Queued(s.status()))
}

func (s *Session) buildEvent(ctx context.Context) (*event.Event, error) {
	v := s.patient()
	b := v.Beneficiaries[s.chosen]
	pro := s.professional().info
	seq, err := s.Outbox.NextSeq(ctx)
	if err != nil {
		return nil, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	sex := "I"
	var insRef *event.INS
	// The card's NIR is the patient's INS only if it can be their own (its
	// year and month of birth are theirs): a child's NIR matched by
	// position may be the insured person's.
	if b.NIR != "" && b.NIRValid && b.OwnNIR {
		if n, err := ins.ParseNIR(b.NIR); err == nil {
			sex = n.Sex()
			if n.Certified() {
				insRef = &event.INS{Value: n.String(), OID: ins.OIDNIR}
			}
		}
	}
	traits, err := ins.NormalizeTraits(ins.Traits{BirthName: b.Surname, FirstName: firstOf(b.FirstName), FirstNames: strings.Fields(b.FirstName),
		Sex: sex, BirthDate: b.BirthDate})
	if err != nil {
		return nil, err
	}
	ident := ins.Identity{}
	if s.doc != "" {
		doc := map[string]ins.Document{"passport": ins.DocPassport, "id-card": ins.DocIdentityCard, "residence-permit": ins.DocResidencePermit}[s.doc]
		if err := ident.DocumentChecked(doc, false); err != nil {
			return nil, err
		}
	}
	c := event.Consent{Informed: s.answers[0]}
	i := 1
	typ := event.TypeConsent
	if s.Config.Regime == event.RegimeLegacy {
		creation := s.answers[1]
		c.Creation = &creation
		if creation {
			typ = event.TypeCreate
		}
		i = 2
	}
	c.Authorization, c.BrisDeGlaceOpposition, c.EmergencyOpposition = s.answers[i], s.answers[i+1], s.answers[i+2]
	return &event.Event{
		Type: typ, ID: id.String(), Device: s.Config.DeviceID, Site: event.Site{FINESS: s.Config.Site, Unit: s.Config.Unit},
		Context: s.Config.Context, Regime: s.Config.Regime, Time: s.now().UTC(), Seq: seq,
		Patient: event.Patient{INS: insRef, INSC: b.INSC, Traits: traits, Identity: ident, Document: s.doc},
		Professional: event.Professional{NationalID: pro.NationalID, NationalIDType: pro.NationalIDType, CardType: pro.CardType,
			CardSerial: pro.Serial, Surname: pro.Surname, FirstName: pro.FirstName, Profession: pro.Profession, Speciality: pro.Speciality},
		Consent: c,
	}, nil
}

// firstOf is the first of the first names as the card writes them (a
// space separates first names; a hyphen joins a compound one).
func firstOf(names string) string {
	if f := strings.Fields(names); len(f) > 0 {
		return f[0]
	}
	return ""
}

func (s *Session) onResult(r event.Result) {
	if r.EventID != s.waiting {
		s.show(s.refreshStatus())
		return
	}
	s.waiting = ""
	tone, title := display.Neutral, ""
	switch r.Outcome {
	case event.OutcomeCreated:
		tone, title = display.Success, "DMP créé"
	case event.OutcomeAuthorized:
		tone, title = display.Success, "Autorisation enregistrée"
	case event.OutcomeExists:
		tone, title = display.Neutral, "Le DMP existe déjà"
	case event.OutcomeRefused:
		tone, title = display.Neutral, "Pas d'accès au DMP" // the patient's choice, or no DMP: the message says which
	default:
		tone, title = display.Danger, "Erreur de traitement"
	}
	s.beep(input.BeepSuccess)
	s.st = stDone
	s.show(display.Result(s.status(), tone, title, r.Message))
}

// refreshStatus is the screen shown, with an up to date status line.
func (s *Session) refreshStatus() display.Screen {
	sc := s.Display.Last()
	sc.Status = s.status()
	return sc
}
