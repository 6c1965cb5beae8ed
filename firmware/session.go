package firmware

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"dmpkiosk/apdu/cps"
	"dmpkiosk/apdu/pcsc"
	"dmpkiosk/apdu/vitale"
	"dmpkiosk/display"
	"dmpkiosk/display/input"
	"dmpkiosk/display/receipt"
	"dmpkiosk/firmware/event"
)

// Session is the kiosk's interaction with the staff, from the cards going
// in to the bridge's answer on screen. One goroutine runs it; card events,
// inputs and results arrive on channels. Each event is handled by the
// function of the current state, which returns the next state: only the
// loop (Run) changes it.
//
// Files: session.go (the loop, the state, forgetting), session_cards.go
// (cards in and out, their reads), session_steps.go (PIN, beneficiary,
// identity document, consent), session_event.go (the event, sending,
// the bridge's answer), texts.go (what the screen says).
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
	// Receipts takes each patient's receipt (none when nil).
	Receipts ReceiptOut

	st    state
	slots [2]*slotState
	// Per-state data, each wiped whole by forget.
	pin     pinEntry
	pick    choice
	form    consentForm
	lookup  lookupState
	consult consultState
	waiting string // event id whose result the screen waits for
	wait    waitState

	// The professional signed in once (session_signin.go).
	signedIn          bool
	signedAt, lastUse time.Time
	locked            string // why the PIN is asked again, for its screen
	resign            bool   // the PIN asked again to sign the event being sent

	receipt *receipt.Receipt // the stored event's receipt, until its outcome
	printed chan error

	reads   chan slotRead
	idle    *time.Timer
	ping    chan chan struct{}
	padDone chan error
	ctx     context.Context
}

type state int

const (
	stIdle state = iota
	stReading
	stPIN
	stChoose
	stIdentity
	stDocument
	stINSi       // waiting for the INSi lookup
	stINSiTraits // INSi's identity, compared with the document
	stBirthPlace // the birth place typed for a new search
	stINSiNotice // what the lookup came to
	stLanguage   // the patient chooses the information's language
	stInfo       // the patient reads the information's pages
	stConsent
	stSending
	stDone // a final screen; waits for the cards to leave
	// session_dmp.go: reading the patient's DMP at the bedside
	stDMPMenu
	stDMPReason
	stDMPWait
	stDMPAgree
	stDMPList
	stDMPDoc
	stDMPNotice
	stWard // the unit's inpatients
)

// pinEntry is the PIN being typed (wiped as soon as it is sent) and what
// the card said of the tries left.
type pinEntry struct {
	digits []byte
	tries  int  // -1: not known yet
	onPad  bool // the reader's pad, not the keypad, takes the PIN
}

func (p *pinEntry) wipe() {
	clear(p.digits)
	*p = pinEntry{tries: -1}
}

// choice is the beneficiary being chosen on the card.
type choice struct {
	cursor, chosen int
}

// consentForm is the identity document checked and the patient's answers.
type consentForm struct {
	docCursor int
	doc       string // passport, id-card, residence-permit; "" when none was checked
	// doubtful, fictitious: the professional marked the identity so; it is
	// not sent to INSi and stays provisoire.
	doubtful, fictitious bool
	qs                   []question
	answers              []bool
	// The information the patient read: the language under the cursor or
	// chosen, the page shown, how many pages were shown.
	lang, page, pagesRead int
	scroll                int    // the first line of the page shown (small panels)
	informedIn            string // the language chosen, "" when no pages were shown
}

// answer is the patient's answer to question id (false when not asked).
func (f *consentForm) answer(id questionID) bool {
	for i, q := range f.qs {
		if q.id == id && i < len(f.answers) {
			return f.answers[i]
		}
	}
	return false
}

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

func (s *Session) status() display.Status {
	st := display.Status{Online: s.Link != nil && s.Link.Online(), SignedIn: s.signedInName()}
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
	s.printed = make(chan error, 1)
	if s.ping == nil {
		s.ping = make(chan chan struct{})
	}
	s.pin.wipe()
	s.idle = time.NewTimer(time.Hour)
	defer s.idle.Stop()
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	defer s.reset()
	s.show(display.Idle(s.status()))
	var results <-chan event.Result
	var lookups <-chan event.Sealed
	if s.Link != nil {
		results, lookups = s.Link.Results(), s.Link.Lookups()
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev := <-s.Cards:
			s.st = s.onCard(ctx, ev)
		case r := <-s.reads:
			s.st = s.onRead(ctx, r)
		case in := <-s.Inputs:
			s.touch()
			s.st = s.onInput(ctx, in)
		case r := <-results:
			s.st = s.onResult(r)
		case l := <-lookups:
			if l.Consult != "" {
				s.st = s.onConsult(l)
			} else {
				s.st = s.onLookup(l)
			}
		case reply := <-s.ping:
			close(reply)
		case err := <-s.padDone:
			if s.st == stPIN {
				s.st = s.afterVerify(err)
			}
		case err := <-s.printed:
			s.onPrinted(err)
		case <-tick.C:
			s.onTick()
		case <-s.idle.C:
			s.st = s.onTimeout()
		}
	}
}

// onTimeout: nothing typed for SessionTimeout, or no result within
// ResultWait.
func (s *Session) onTimeout() state {
	switch s.st {
	case stSending:
		s.show(display.Queued(s.status()))
		s.printReceipt(receipt.Pending)
		return stDone
	case stINSi:
		return s.inINSiTimeout()
	case stDMPWait:
		return s.dmpNotice(display.Warning, "DMP indisponible", "Le DMP n'a pas répondu à temps : réessayez dans un instant.")
	case stIdle, stDone:
		return s.st
	}
	return s.end(display.CardProblem(s.status(), txtTimeoutTitle, txtTimeoutBody))
}

func (s *Session) touch() {
	s.idle.Reset(s.Config.SessionTimeout.Duration)
	s.lastUse = s.now()
}

// forget wipes everything the session knew — the PIN, the identities, the
// answers — and closes the card connections. Each slot keeps only that a
// card of some kind sits in it; a professional signed in keeps theirs
// (its connection and verified PIN) for the next patient.
func (s *Session) forget() {
	s.pin.wipe()
	s.lookup.wipe()
	s.consult.wipe()
	if s.Display != nil {
		s.Display.ClearDocument()
	}
	s.pick, s.form, s.waiting, s.resign = choice{}, consentForm{}, "", false
	for i, sl := range s.slots {
		if sl == nil || s.signedIn && sl == s.professional() {
			continue
		}
		if sl.card != nil {
			_ = sl.card.Close()
		}
		s.slots[i] = &slotState{reader: sl.reader, kind: sl.kind}
	}
}

// reset forgets the session and the cards.
func (s *Session) reset() {
	s.signOut()
	s.forget()
	s.slots = [2]*slotState{}
}

// end shows a final screen and forgets the session's data; the cards must
// leave before the next session.
func (s *Session) end(sc display.Screen) state {
	s.forget()
	s.show(sc)
	return stDone
}
