package firmware

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"dmpkiosk/apdu/vitale"
	"dmpkiosk/display"
	"dmpkiosk/display/input"
	"dmpkiosk/firmware/event"
	"dmpkiosk/ins"
)

// The INSi lookup at the desk (session_steps.go hands over once the
// identity document is known): the kiosk asks the bridge, shows INSi's
// traits for the professional to compare with the document, asks for the
// birth place when INSi finds several identities, and goes on with a
// provisional identity when INSi does not answer in time or the kiosk is
// offline (the bridge then looks the identity up itself).

// lookupState is the lookup of the session, wiped with it.
type lookupState struct {
	id     string
	reply  *ecdsa.PrivateKey
	place  []byte              // the birth place being typed, then searched with
	answer *event.LookupAnswer // INSi's identity, until the professional compares it
	taken  bool                // the professional retained INSi's identity
}

func (l *lookupState) wipe() {
	clear(l.place)
	*l = lookupState{}
}

// afterDocument: the lookup, when the kiosk is set for it, online, and the
// identity not marked douteuse or fictive; otherwise the consent.
func (s *Session) afterDocument() state {
	if !s.Config.INSiLookup || s.Link == nil || !s.Link.Online() || s.form.doubtful || s.form.fictitious {
		return s.startConsent()
	}
	return s.askINSi()
}

// askINSi sends the lookup for the chosen beneficiary and waits.
func (s *Session) askINSi() state {
	b := s.patient().Beneficiaries[s.pick.chosen]
	traits, err := traitsOf(b)
	if err != nil {
		return s.notice(display.Warning, txtINSiNotAskedTitle, txtINSiNotAskedBody)
	}
	traits.BirthPlace = string(s.lookup.place)
	id, err := uuid.NewV7()
	if err != nil {
		return s.notice(display.Warning, txtINSiNotAskedTitle, txtINSiNotAskedBody)
	}
	reply, err := event.NewReplyKey()
	if err != nil {
		return s.notice(display.Warning, txtINSiNotAskedTitle, txtINSiNotAskedBody)
	}
	req := &event.LookupRequest{ID: id.String(), Device: s.Config.DeviceID, Time: s.now().UTC(),
		Site: event.Site{FINESS: s.Config.Site, Unit: s.Config.Unit}, Traits: traits, Vitale: s.vitaleQuery(b)}
	wait := s.Config.INSiWait.Duration
	if wait <= 0 {
		wait = 12 * time.Second
	}
	sealed, err := event.SealLookup(req, reply, s.Creds.Device, s.Creds.BridgeKey)
	if err == nil {
		err = s.Link.Ask(req.ID, sealed, s.now().Add(wait))
	}
	if err != nil {
		s.Logger.Warn("session: INSi lookup not sent", "error", err)
		return s.notice(display.Warning, txtINSiNotAskedTitle, txtINSiNotAskedBody)
	}
	s.lookup.id, s.lookup.reply = req.ID, reply
	s.idle.Reset(wait)
	s.showWaiting(display.INSiSearching(s.status()), txtWaitINSi, s.Config.INSiWait.Duration)
	return stINSi
}

// vitaleQuery is the card's data for INSi's Vitale search: the
// beneficiary's own NIR when the card holds it, and the insured person's
// (inferred: the card's first beneficiary is its holder, the insured).
func (s *Session) vitaleQuery(b vitale.Beneficiary) *event.LookupVitale {
	bs := s.patient().Beneficiaries
	if len(bs) == 0 || !bs[0].NIRValid || len(bs[0].NIR) != 15 {
		return nil
	}
	v := &event.LookupVitale{Insured: bs[0].NIR, BirthName: b.Surname, BirthDate: b.BirthDate, BirthRank: b.BirthRank}
	if b.NIRValid && b.OwnNIR && len(b.NIR) == 15 {
		v.Individual = b.NIR
	}
	return v
}

// onLookup takes the bridge's answer to the lookup the screen waits for.
func (s *Session) onLookup(sealed event.Sealed) state {
	if s.st != stINSi || sealed.Lookup != s.lookup.id {
		return s.st
	}
	a, err := event.OpenAnswer(sealed, s.lookup.reply, s.lookup.id)
	if err != nil {
		s.Logger.Warn("session: an INSi answer could not be opened", "error", err)
		return s.notice(display.Warning, txtINSiUnavailableTitle, txtINSiUnavailableBody)
	}
	s.touch()
	switch a.Outcome {
	case event.LookupFound:
		if a.INS == nil || a.Traits == nil {
			return s.notice(display.Warning, txtINSiUnavailableTitle, txtINSiUnavailableBody)
		}
		s.lookup.answer = a
		s.showTraits()
		return stINSiTraits
	case event.LookupSeveral:
		if len(s.lookup.place) == 5 {
			return s.notice(display.Warning, txtINSiSeveralTitle, txtINSiSeveralAgainBody)
		}
		s.lookup.place = s.lookup.place[:0]
		s.show(display.BirthPlace(s.status(), ""))
		return stBirthPlace
	case event.LookupNotFound:
		return s.notice(display.Warning, txtINSiNotFoundTitle, txtINSiNotFoundBody)
	}
	msg := a.Message
	if msg == "" {
		msg = txtINSiUnavailableBody
	}
	return s.notice(display.Warning, txtINSiUnavailableTitle, msg)
}

// inINSiTimeout: INSi did not answer in time; the identity stays
// provisional and the bridge will look it up.
func (s *Session) inINSiTimeout() state {
	s.lookup.id = ""
	return s.notice(display.Warning, txtINSiSlowTitle, txtINSiSlowBody)
}

func (s *Session) showTraits() {
	t := s.lookup.answer.Traits
	place := t.BirthPlace
	if place == "" {
		place = "non communiqué"
	}
	lines := []string{txtINSiBirthName + t.BirthName, txtINSiFirstNames + strings.Join(t.FirstNames, " "),
		txtINSiSex + sexFR(t.Sex), txtBorn + dateFR(t.BirthDate), txtINSiBirthPlace + place}
	if s.form.doc != "" {
		lines = append(lines, fmt.Sprintf(txtINSiCompare, documentLabel(s.form.doc)))
	} else {
		lines = append(lines, txtINSiNoDocument)
	}
	s.show(display.INSiTraits(s.status(), lines))
}

// inputINSiTraits: Identique (Oui) retains INSi's identity — qualifiée
// with a document, récupérée without; Différente (Non) leaves it.
func (s *Session) inputINSiTraits(_ context.Context, in input.Event) state {
	switch in.Button {
	case input.Oui:
		s.lookup.taken = true
		if s.atBedside() {
			return s.showDMPMenu()
		}
		return s.startConsent()
	case input.Non:
		s.lookup.answer, s.lookup.taken = nil, false
		return s.notice(display.Danger, txtINSiDifferentTitle, txtINSiDifferentBody)
	}
	return stINSiTraits
}

// inputBirthPlace types the INSEE code: digits, Non for the A or B of
// Corsica after a 2, * to erase; Valider searches again.
func (s *Session) inputBirthPlace(_ context.Context, in input.Event) state {
	p := s.lookup.place
	switch {
	case in.Key >= '0' && in.Key <= '9' && len(p) < 5:
		p = append(p, byte(in.Key))
	case in.Button == input.Non && len(p) == 1 && p[0] == '2':
		p = append(p, 'A')
	case in.Button == input.Non && len(p) == 2 && p[0] == '2' && (p[1] == 'A' || p[1] == 'B'):
		p[1] = 'A' + 'B' - p[1]
	case in.Key == '*' && len(p) > 0:
		p = p[:len(p)-1]
	case (in.Key == '#' || in.Button == input.Valider || in.Button == input.Oui) && validPlace(p):
		s.lookup.place = p
		return s.askINSi()
	}
	s.lookup.place = p
	s.show(display.BirthPlace(s.status(), string(p)))
	return stBirthPlace
}

// validPlace: five characters, digits but for Corsica's 2A or 2B.
func validPlace(p []byte) bool {
	if len(p) != 5 {
		return false
	}
	for i, c := range p {
		if !(c >= '0' && c <= '9' || i == 1 && p[0] == '2' && (c == 'A' || c == 'B')) {
			return false
		}
	}
	return true
}

// notice shows what the lookup came to; Valider goes on to the consent.
func (s *Session) notice(tone display.Tone, title, body string) state {
	s.show(display.INSiNotice(s.status(), tone, title, body))
	return stINSiNotice
}

func (s *Session) inputINSiNotice(_ context.Context, in input.Event) state {
	if in.Button == input.Valider || in.Button == input.Oui || in.Key == '#' {
		return s.startConsent()
	}
	return stINSiNotice
}

// insiIdentity is what the lookup gives the event: INSi's INS, its
// origin and traits, and the status the professional's comparison
// allows; nil when the identity was not retained.
func (l *lookupState) insiIdentity(doc string) (*event.INS, *event.INSiRef, *ins.Traits, ins.Identity, bool) {
	if !l.taken || l.answer == nil {
		return nil, nil, nil, ins.Identity{}, false
	}
	id := ins.Identity{}
	_ = id.Recovered()
	if d, ok := documentOf(doc); ok {
		_ = id.DocumentChecked(d, false)
	}
	a := l.answer
	return a.INS, &event.INSiRef{Request: a.Request, LookedUp: a.LookedUp, History: a.History}, a.Traits, id, true
}

func sexFR(s string) string {
	switch s {
	case "M":
		return "masculin"
	case "F":
		return "féminin"
	}
	return "indéterminé"
}
