package firmware

import (
	"context"
	"errors"
	"time"

	"dmpkiosk/apdu/cps"
	"dmpkiosk/apdu/pcsc"
	"dmpkiosk/apdu/vitale"
	"dmpkiosk/display"
	"dmpkiosk/display/input"
)

// onCard handles a card going in or out of a slot.
func (s *Session) onCard(ctx context.Context, ev pcsc.Event) state {
	if ev.Slot < 0 || ev.Slot > 1 {
		return s.st
	}
	switch ev.Kind {
	case pcsc.CardRemoved, pcsc.ReaderRemoved:
		if s.slots[ev.Slot] == nil {
			return s.st
		}
		mid := s.st != stIdle && s.st != stDone
		if mid {
			s.Logger.Info("session: a card was removed mid-session; session data wiped")
		}
		proLeft := s.signedIn && s.slots[ev.Slot] == s.professional()
		if proLeft {
			s.signOut()
		}
		waiting := s.waiting
		s.forget()
		s.waiting = waiting // a queued event's result may still come
		s.slots[ev.Slot] = nil
		sc := display.Idle(s.status())
		switch {
		case mid && (ev.Kind == pcsc.ReaderRemoved || ev.ReaderGone):
			// The reader itself went (unplugged, or the card service
			// restarting): not something the desk did.
			sc.Body = append([]string{txtReaderGone}, sc.Body...)
		case mid:
			sc.Body = append([]string{txtCardPulled}, sc.Body...)
		}
		switch {
		case proLeft:
			sc.Body = append([]string{txtSignedOut}, sc.Body...)
		case s.signedIn:
			sc.Title = txtNextPatient
		}
		s.show(sc)
		return stIdle
	case pcsc.CardInserted:
		// A new session: the last patient's receipt is not kept.
		s.receipt = nil
		if s.Receipts != nil {
			s.Receipts.ClearReceipt()
		}
		if why := s.lockDue(); why != "" {
			// Locked (idle, or the hour): the PIN again for this patient.
			s.Logger.Info("session: locked; the PIN is asked again")
			s.signOut()
			s.locked = why
			if pro := s.professional(); pro != nil {
				pro.done, pro.reading = true, false
			}
		}
		s.slots[ev.Slot] = &slotState{reader: ev.Reader, kind: Classify(ev.ATR)}
		s.touch()
		s.showWaiting(display.Reading(s.status()), txtWaitCards, 3*time.Second)
		// Read the new card, and the other one again if its data were
		// wiped when a previous session ended.
		for i, sl := range s.slots {
			if sl != nil && !sl.done && !sl.reading {
				sl.reading = true
				reader, kind := sl.reader, sl.kind
				go func() { s.reads <- slotRead{i, sl, readForSession(ctx, s.Readers, reader, kind)} }()
			}
		}
		return stReading
	}
	return s.st
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

// onRead takes a finished read: with both cards read and acceptable, the
// PIN is asked for.
func (s *Session) onRead(ctx context.Context, r slotRead) state {
	if s.slots[r.slot] != r.orig {
		// That card left (or the session was wiped) while it was read.
		if r.s.card != nil {
			_ = r.s.card.Close()
		}
		return s.st
	}
	s.slots[r.slot] = r.s
	if r.s.err != nil {
		s.beep(input.BeepError)
		return s.end(display.CardProblem(s.status(), cardTitle(r.s.err), Message(r.s.err)))
	}
	var pat, pro *slotState
	for _, sl := range s.slots {
		switch {
		case sl == nil: // the other card is not in yet
		case !sl.done:
			return s.st // still reading
		case sl.vitale != nil:
			pat = sl
		case sl.info != nil:
			pro = sl
		}
	}
	if pro == nil || pat == nil && !s.bedsideWard() {
		which := txtInsertProCard
		if pat == nil {
			which = txtInsertVitale
		}
		sc := display.Idle(s.status())
		sc.Title = which
		s.show(sc)
		return stIdle
	}
	now := s.now()
	switch {
	case pat != nil && pat.vitale.Expired(now):
		return s.end(display.CardProblem(s.status(), txtVitaleExpiredTitle, txtVitaleExpiredBody))
	case pro.info.Expired(now.Format("20060102")):
		return s.end(display.CardProblem(s.status(), txtProExpiredTitle, txtProExpiredBody))
	case pro.info.CardType == "CDE":
		return s.end(display.Error(s.status(), txtDirectorTitle, txtDirectorBody))
	}
	if s.signedIn {
		// Signed in: the PIN verified for an earlier patient serves.
		return s.afterPIN()
	}
	if _, err := pro.cps.TriesLeft(ctx); errors.Is(err, cps.ErrBlocked) {
		return s.end(display.CardProblem(s.status(), txtBlockedTitle, txtBlockedBody))
	}
	// The rest of the signature certificate is read while the PIN is
	// typed, not when the event is signed. A failure here is met again,
	// and reported, at signing.
	go func(c *cps.Card) { _, _ = c.Certificate(ctx, true) }(pro.cps)
	s.pin.wipe()
	s.askPIN(ctx, pro)
	if s.locked != "" {
		sc := s.Display.Last()
		sc.Body = append([]string{s.locked}, sc.Body...)
		s.show(sc)
		s.locked = ""
	}
	return stPIN
}

func (s *Session) pinPad(sl *slotState) cps.PINPad {
	if s.PINPadFor != nil {
		return s.PINPadFor(sl.card)
	}
	return sl.card.PINPad()
}

// askPIN asks for the PIN on the reader's pad when it has one, else on the
// kiosk's keypad.
func (s *Session) askPIN(ctx context.Context, pro *slotState) {
	pad := s.pinPad(pro)
	s.pin.onPad = pad != nil
	if pad == nil {
		s.show(display.EnterPIN(s.status(), 0, 4, s.pin.tries))
		return
	}
	sc := display.EnterPIN(s.status(), 0, 4, s.pin.tries)
	sc.PINMax, sc.Hint = 0, "Annuler"
	sc.Body = append(sc.Body, txtPINOnPad)
	s.show(sc)
	go func(c *cps.Card) { s.padDone <- c.VerifyOnPad(ctx, pad) }(pro.cps)
}

func cardTitle(err error) string {
	switch {
	case errors.Is(err, ErrUnknownCard), errors.Is(err, vitale.ErrNotVitale), errors.Is(err, cps.ErrNotCPS):
		return txtCardUnknown
	case errors.Is(err, pcsc.ErrCardRemoved):
		return txtCardRemoved
	}
	return txtCardUnreadable
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

func (s *Session) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}
