package firmware

import (
	"strings"
	"testing"
	"time"

	"dmpkiosk/display"
	"dmpkiosk/hwtest/cards"
)

func staySignedIn(idle time.Duration) func(*Config) {
	return func(c *Config) { c.StaySignedIn, c.LockIdle = true, duration{Duration: idle} }
}

// onePatient runs a current-regime session for the family card's
// JEAN-PIERRE once the cards are read (no document, no opposition) and
// waits for the event to be kept.
func (r *memRig) onePatient() {
	r.t.Helper()
	r.wait(display.KindChooseBeneficiary, "DURAND")
	r.press(oui)
	r.wait(display.KindIdentity, "JEAN-PIERRE")
	r.press(non)
	r.wait(display.KindConsent, "informé")
	r.press(oui, oui, valider, valider)
	r.wait(display.KindQueued, "")
}

// Signed in once: the professional types the PIN for the first patient
// only; three patients follow, one of them interrupted by their card
// pulled, each event signed by the card; the status line says who is
// signed in; the card's tries are never touched again. Removing the
// professional's card signs out: the next patient asks the PIN.
func TestSessionSignedInOnce(t *testing.T) {
	r := newMemRig(t, "current", time.Minute, staySignedIn(time.Hour))
	r.link.online.Store(false) // the events are kept; the screen need not wait
	r.insert(0, "vitale-famille")
	card := r.insert(1, "cps-medecin").(*cards.ISOCard)
	r.wait(display.KindEnterPIN, "Code")
	r.press(keys("1234#")...)
	r.onePatient()
	for i := range 3 {
		r.remove(0)
		if sc := r.wait(display.KindIdle, "Patient suivant"); !strings.Contains(sc.Status.SignedIn, "LEROY") {
			t.Fatalf("patient %d: the status line does not say who is signed in: %+v", i+2, sc.Status)
		}
		r.insert(0, "vitale-famille")
		if i == 1 { // pulled out mid-session: the professional stays signed in
			r.wait(display.KindChooseBeneficiary, "DURAND")
			r.remove(0)
			r.wait(display.KindIdle, "Carte retirée")
			r.insert(0, "vitale-famille")
		}
		r.onePatient() // no PIN screen on the way
	}
	evs := r.stored() // opened and both signatures verified, as the bridge does
	if len(evs) != 4 {
		t.Fatalf("%d events for four patients", len(evs))
	}
	for _, e := range evs {
		if e.Professional.Surname != "LEROY" {
			t.Errorf("event %s signed by %+v", e.ID, e.Professional)
		}
	}
	if card.TriesLeft() != 3 {
		t.Errorf("the card's tries: %d", card.TriesLeft())
	}
	// The professional's card leaves: signed out, the PIN again.
	r.remove(1)
	r.wait(display.KindIdle, "déconnecté")
	r.remove(0)
	r.insert(1, "cps-medecin")
	r.insert(0, "vitale-famille")
	r.wait(display.KindEnterPIN, "Code")
}

// After the idle time the kiosk locks: the next patient asks the PIN again,
// saying why; the right PIN then goes on.
func TestSessionIdleLock(t *testing.T) {
	r := newMemRig(t, "current", time.Minute, staySignedIn(300*time.Millisecond))
	r.link.online.Store(false)
	r.insert(0, "vitale-famille")
	r.insert(1, "cps-medecin")
	r.wait(display.KindEnterPIN, "Code")
	r.press(keys("1234#")...)
	r.onePatient()
	r.remove(0)
	r.wait(display.KindIdle, "Patient suivant")
	time.Sleep(500 * time.Millisecond)
	r.insert(0, "vitale-famille")
	r.wait(display.KindEnterPIN, "verrouillée")
	r.press(keys("1234#")...)
	r.onePatient()
}

// A card that asks its PIN for each signature: signed in all the same, for
// the next patient the kiosk asks the PIN again when the event is signed,
// saying why; the event is then stored, signed by the card.
func TestSessionCardAsksPINEachSignature(t *testing.T) {
	r := newMemRig(t, "current", time.Minute, staySignedIn(time.Hour))
	r.virtual["cps-pin-each"] = func() (cards.Card, error) {
		p := cards.CPSProfiles[0]
		p.Name, p.PINEachSignature = "cps-pin-each", true
		return r.igc.CPSCard(p)
	}
	r.link.online.Store(false)
	r.insert(0, "vitale-famille")
	r.insert(1, "cps-pin-each")
	r.wait(display.KindEnterPIN, "Code")
	r.press(keys("1234#")...)
	for i := range 2 {
		r.wait(display.KindChooseBeneficiary, "DURAND")
		r.press(oui)
		r.wait(display.KindIdentity, "JEAN-PIERRE")
		r.press(non)
		r.wait(display.KindConsent, "informé")
		r.press(oui, oui, valider, valider)
		if i > 0 { // the first signature follows the PIN typed for this patient
			r.wait(display.KindEnterPIN, "chaque signature")
			r.press(keys("1234#")...)
		}
		r.wait(display.KindQueued, "")
		if i == 0 {
			r.remove(0)
			r.wait(display.KindIdle, "Patient suivant")
			r.insert(0, "vitale-famille")
		}
	}
	if evs := r.stored(); len(evs) != 2 || evs[1].Professional.Surname != "LEROY" {
		t.Fatalf("events: %d", len(evs))
	}
}
