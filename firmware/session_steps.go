package firmware

import (
	"context"
	"errors"
	"fmt"

	"dmpkiosk/apdu"
	"dmpkiosk/apdu/cps"
	"dmpkiosk/display"
	"dmpkiosk/display/input"
)

// inputHandlers answer an input in each state that takes one; each returns
// the next state.
var inputHandlers = map[state]func(s *Session, ctx context.Context, in input.Event) state{
	stPIN:      (*Session).inputPIN,
	stChoose:   (*Session).inputChoose,
	stIdentity: (*Session).inputIdentity,
	stDocument: (*Session).inputDocument,
	stConsent:  (*Session).inputConsent,
	stLanguage: (*Session).inputLanguage,
	stInfo:     (*Session).inputInfo,
	// session_insi.go
	stINSiTraits: (*Session).inputINSiTraits,
	stBirthPlace: (*Session).inputBirthPlace,
	stINSiNotice: (*Session).inputINSiNotice,
	// session_dmp.go
	stDMPMenu:   (*Session).inputDMPMenu,
	stDMPReason: (*Session).inputDMPReason,
	stDMPAgree:  (*Session).inputDMPAgree,
	stDMPList:   (*Session).inputDMPList,
	stDMPDoc:    (*Session).inputDMPDoc,
	stDMPNotice: (*Session).inputDMPNotice,
	stWard:      (*Session).inputWard,
}

// onInput handles a button or a key: Annuler ends any session under way,
// the rest goes to the current state's handler.
func (s *Session) onInput(ctx context.Context, in input.Event) state {
	if in.Button == input.Annuler && s.st != stIdle && s.st != stDone && s.st != stSending {
		return s.end(display.CardProblem(s.status(), txtCancelledTitle, txtCancelledBody))
	}
	if h := inputHandlers[s.st]; h != nil {
		return h(s, ctx, in)
	}
	return s.st
}

// inputPIN takes the PIN's digits on the keypad; the card checks it once.
func (s *Session) inputPIN(ctx context.Context, in input.Event) state {
	if s.pin.onPad {
		return stPIN // the PIN goes on the reader's pad, never through the kiosk
	}
	switch {
	case in.Key >= '0' && in.Key <= '9':
		if len(s.pin.digits) < 8 {
			s.pin.digits = append(s.pin.digits, byte(in.Key))
		}
	case in.Key == '*':
		if n := len(s.pin.digits); n > 0 {
			s.pin.digits[n-1] = 0
			s.pin.digits = s.pin.digits[:n-1]
		}
	case in.Key == '#' || in.Button == input.Valider || in.Button == input.Oui:
		// Verify wipes the PIN; it is sent once and never retried.
		err := s.professional().cps.Verify(ctx, s.pin.digits)
		s.pin.digits = s.pin.digits[:0]
		return s.afterVerify(err)
	}
	s.show(display.EnterPIN(s.status(), len(s.pin.digits), max(4, len(s.pin.digits)), s.pin.tries))
	return stPIN
}

// afterVerify handles the card's answer to a PIN, from the keypad or the
// reader's pad: never a retry.
func (s *Session) afterVerify(err error) state {
	var ae *apdu.AuthError
	switch {
	case err == nil:
		s.signIn()
		if s.resign {
			s.resign = false
			return s.send(s.ctx)
		}
		return s.afterPIN()
	case errors.Is(err, cps.ErrBlocked):
		s.beep(input.BeepError)
		return s.end(display.CardProblem(s.status(), txtBlockedTitle, txtBlockedBody))
	case errors.As(err, &ae):
		s.pin.tries = ae.Retries
		s.beep(input.BeepError)
	case errors.Is(err, cps.ErrPINFormat):
		s.show(display.Error(s.status(), txtPINShortTitle, txtPINShortBody))
	default:
		return s.end(display.CardProblem(s.status(), cardTitle(err), Message(err)))
	}
	if s.pin.onPad {
		// The pad asks again; the person types anew or cancels.
		s.askPIN(s.ctx, s.professional())
		return stPIN
	}
	s.show(display.EnterPIN(s.status(), 0, 4, s.pin.tries))
	return stPIN
}

// afterPIN: the beneficiary to choose when the card has several; at the
// bedside without a carte Vitale, the unit's inpatients.
func (s *Session) afterPIN() state {
	s.pick = choice{}
	if s.patient() == nil && s.bedsideWard() {
		return s.askWard()
	}
	if len(s.patient().Beneficiaries) > 1 {
		s.showChoose()
		return stChoose
	}
	return s.identity()
}

func (s *Session) showChoose() {
	var names []string
	for _, b := range s.patient().Beneficiaries {
		names = append(names, fmt.Sprintf("%s %s, %s", b.Surname, b.FirstName, dateFR(b.BirthDate)))
	}
	s.show(display.ChooseBeneficiary(s.status(), names, s.pick.cursor))
}

// inputChoose: Non moves to the next beneficiary, Oui chooses.
func (s *Session) inputChoose(_ context.Context, in input.Event) state {
	switch {
	case in.Button == input.Non:
		s.pick.cursor = (s.pick.cursor + 1) % len(s.patient().Beneficiaries)
		s.showChoose()
	case in.Button == input.Oui || in.Button == input.Valider || in.Key == '#':
		s.pick.chosen = s.pick.cursor
		return s.identity()
	}
	return stChoose
}

func dateFR(d string) string {
	if len(d) != 8 {
		return d
	}
	return d[6:8] + "/" + d[4:6] + "/" + d[0:4]
}

// identity shows the chosen beneficiary and asks whether an identity
// document was checked.
func (s *Session) identity() state {
	b := s.patient().Beneficiaries[s.pick.chosen]
	born := txtBorn + dateFR(b.BirthDate)
	if b.BirthRank > 0 {
		born += fmt.Sprintf(txtRank, b.BirthRank)
	}
	lines := []string{txtName + b.Surname, txtFirstName + b.FirstName, born}
	if b.NIR != "" && !b.NIRValid {
		lines = append(lines, txtBadNIRKey)
	}
	lines = append(lines, txtDocumentQuestion)
	s.show(display.IdentitySummary(s.status(), lines))
	return stIdentity
}

func (s *Session) inputIdentity(_ context.Context, in input.Event) state {
	switch in.Button {
	case input.Oui:
		s.form.docCursor = 0
		s.showDocument()
		return stDocument
	case input.Non:
		s.form.doc = ""
		return s.afterDocument()
	}
	return stIdentity
}

func (s *Session) showDocument() {
	var labels []string
	for _, d := range documents {
		labels = append(labels, d.label)
	}
	labels = append(labels, txtMarkDoubtful, txtMarkFictitious)
	sc := display.Consent(s.status(), txtWhichDocument, labels, s.form.docCursor)
	sc.Title = txtDocumentTitle
	s.show(sc)
}

func (s *Session) inputDocument(_ context.Context, in input.Event) state {
	switch {
	case in.Button == input.Non:
		s.form.docCursor = (s.form.docCursor + 1) % (len(documents) + 2)
		s.showDocument()
	case in.Button == input.Oui || in.Button == input.Valider || in.Key == '#':
		switch c := s.form.docCursor; {
		case c < len(documents):
			s.form.doc = documents[c].code
		case c == len(documents):
			s.form.doc, s.form.doubtful = "", true
		default:
			s.form.doc, s.form.fictitious = "", true
		}
		return s.afterDocument()
	}
	return stDocument
}

// startConsent shows the patient the DMP information (the language to
// choose first), then asks the questions of the site's regime.
func (s *Session) startConsent() state {
	if s.Config.InfoPages {
		s.form.lang = 0
		s.show(display.LanguageChoice(s.status(), s.Config.Languages(), 0))
		return stLanguage
	}
	return s.askQuestions()
}

// inputLanguage: Non moves to the next language, Oui or Valider chooses
// it, a digit chooses that language at once.
func (s *Session) inputLanguage(_ context.Context, in input.Event) state {
	tags := s.Config.Languages().Tags()
	switch {
	case in.Button == input.Non:
		s.form.lang = (s.form.lang + 1) % len(tags)
	case in.Key >= '1' && in.Key <= '9' && int(in.Key-'1') < len(tags):
		s.form.lang = int(in.Key - '1')
		fallthrough
	case in.Button == input.Oui || in.Button == input.Valider || in.Key == '#':
		s.form.page, s.form.scroll = 0, 0
		s.form.informedIn = tags[s.form.lang].String()
		return s.showInfo()
	default:
		return stLanguage
	}
	s.show(display.LanguageChoice(s.status(), s.Config.Languages(), s.form.lang))
	return stLanguage
}

func (s *Session) showInfo() state {
	set := s.Config.Languages()
	s.form.pagesRead = max(s.form.pagesRead, s.form.page+1)
	sc := display.InfoPage(s.status(), set, set.Tags()[s.form.lang], s.form.page)
	sc.Scroll = s.form.scroll
	s.show(sc)
	return stInfo
}

// inputInfo: Valider or Oui shows the rest of the page where a small
// panel has not shown it all, else turns the page (after the last, the
// questions); Non goes back the same way; 0 chooses the language again.
func (s *Session) inputInfo(_ context.Context, in input.Event) state {
	set := s.Config.Languages()
	switch {
	case in.Button == input.Oui || in.Button == input.Valider || in.Key == '#':
		if next, ok := s.Display.More(); ok {
			s.form.scroll = next
			return s.showInfo()
		}
		if s.form.page+1 >= len(set.Pages(set.Tags()[s.form.lang])) {
			return s.askQuestions()
		}
		s.form.page, s.form.scroll = s.form.page+1, 0
		return s.showInfo()
	case in.Button == input.Non && s.form.scroll > 0:
		s.form.scroll, _ = s.Display.Less()
		return s.showInfo()
	case in.Button == input.Non && s.form.page > 0:
		s.form.page, s.form.scroll = s.form.page-1, 0
		return s.showInfo()
	case in.Button == input.Non || in.Key == '0':
		s.show(display.LanguageChoice(s.status(), set, s.form.lang))
		return stLanguage
	}
	return stInfo
}

// askQuestions asks the questions of the site's regime, in order.
func (s *Session) askQuestions() state {
	s.form.qs = questionsFor(s.Config.Regime, s.form.informedIn != "")
	s.form.answers = nil
	s.showQuestion()
	return stConsent
}

func (s *Session) showQuestion() {
	q := s.form.qs[len(s.form.answers)]
	s.show(display.Consent(s.status(), q.text, q.answers, q.def))
}

// inputConsent takes the answer to the question on screen; an opposition
// question's default (Valider) is "no opposition".
func (s *Session) inputConsent(ctx context.Context, in input.Event) state {
	q := s.form.qs[len(s.form.answers)]
	switch {
	case in.Button == input.Non && len(q.answers) == 2 && q.def == 0:
		return s.answer(ctx, false)
	case in.Button == input.Oui && q.def == 0:
		return s.answer(ctx, true)
	case q.def == 1 && in.Button == input.Oui:
		return s.answer(ctx, true) // "Oui, il s'y oppose"
	case q.def == 1 && (in.Button == input.Non || in.Button == input.Valider || in.Key == '#'):
		return s.answer(ctx, false) // the default: no opposition
	}
	return stConsent
}

func (s *Session) answer(ctx context.Context, v bool) state {
	s.form.answers = append(s.form.answers, v)
	if s.form.qs[len(s.form.answers)-1].id == qInformed && !v {
		return s.end(display.Error(s.status(), txtNotInformedTitle, txtNotInformedBody))
	}
	if len(s.form.answers) < len(s.form.qs) {
		s.showQuestion()
		return stConsent
	}
	return s.send(ctx)
}
