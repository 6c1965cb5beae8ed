package firmware

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"dmpkiosk/display"
	"dmpkiosk/firmware/event"
	"dmpkiosk/ins"
)

func withINSi(wait time.Duration) func(*Config) {
	return func(c *Config) { c.INSiLookup, c.INSiWait = true, duration{Duration: wait} }
}

// answerLookup plays the bridge: it opens the n-th lookup the kiosk sent
// (as the bridge does, with its key) and answers it with what answer says.
func (r *memRig) answerLookup(n int, answer func(req *event.LookupRequest) *event.LookupAnswer) *event.LookupRequest {
	r.t.Helper()
	var sealed string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		r.link.mu.Lock()
		if len(r.link.asked) > n {
			sealed = r.link.asked[n]
		}
		r.link.mu.Unlock()
		if sealed != "" {
			break
		}
	}
	if sealed == "" {
		r.t.Fatalf("the kiosk sent no lookup #%d", n)
	}
	req, _, err := event.OpenLookup(sealed, r.site.EncKey, r.site.CA.Pool(), time.Now(), nil)
	if err != nil {
		r.t.Fatal(err)
	}
	if a := answer(req); a != nil {
		b, err := event.SealAnswer(a, req.Reply)
		if err != nil {
			r.t.Fatal(err)
		}
		var s event.Sealed
		if err := json.Unmarshal(b, &s); err != nil {
			r.t.Fatal(err)
		}
		r.link.lookups <- s
	}
	return req
}

// léa is what INSi knows of the family card's LÉA (the card gives neither
// her sex nor her birth place).
func léa(req *event.LookupRequest) *event.LookupAnswer {
	return &event.LookupAnswer{Request: req.ID, Outcome: event.LookupFound, INS: &event.INS{Value: "210057505690143", OID: ins.OIDNIR},
		Traits: &ins.Traits{BirthName: "DURAND", FirstNames: []string{"LEA"}, Sex: "F", BirthDate: "20100504", BirthPlace: "75056"}, LookedUp: time.Now().UTC()}
}

// toDocument drives a legacy session with the family card up to LÉA's
// identity document (the passport).
func (r *memRig) toDocument() {
	r.insert(0, "vitale-famille")
	r.insert(1, "cps-medecin")
	r.wait(display.KindEnterPIN, "Code")
	r.press(keys("1234#")...)
	r.wait(display.KindChooseBeneficiary, "DURAND")
	r.press(non, non, oui)
	r.wait(display.KindIdentity, "LÉA")
	r.press(oui)
	r.wait(display.KindConsent, "Passeport")
}

// finish answers the legacy questions and returns the one event stored.
func (r *memRig) finish() *event.Event {
	r.t.Helper()
	r.wait(display.KindConsent, "informé")
	r.press(oui, oui, oui, valider, valider)
	r.wait(display.KindQueued, "")
	evs := r.stored()
	if len(evs) != 1 {
		r.t.Fatalf("%d events stored", len(evs))
	}
	return evs[0]
}

// The lookup at the desk, each way it can go.
func TestSessionINSiLookup(t *testing.T) {
	t.Run("found, identical: qualified", func(t *testing.T) {
		r := newMemRig(t, "legacy", time.Minute, withINSi(10*time.Second))
		r.toDocument()
		r.press(oui) // passport
		r.wait(display.KindINSi, "INSi")
		req := r.answerLookup(0, léa)
		if req.Traits.BirthName != "DURAND" || req.Vitale == nil || len(req.Vitale.Insured) != 15 || req.Vitale.Individual != "" {
			t.Errorf("the request: %+v %+v", req.Traits, req.Vitale)
		}
		sc := r.wait(display.KindINSiTraits, "DURAND")
		body := strings.Join(sc.Body, "\n")
		for _, want := range []string{"Prénoms : LEA", "Sexe : féminin", "04/05/2010", "75056", "Passeport"} {
			if !strings.Contains(body, want) {
				t.Errorf("the traits screen lacks %q:\n%s", want, body)
			}
		}
		r.link.online.Store(false) // the event is kept, not sent
		r.press(oui)               // identique
		e := r.finish()
		p := e.Patient
		if p.INS == nil || p.INS.Value != "210057505690143" || p.INSi == nil || p.INSi.Request != req.ID || p.Identity.Status != ins.Qualifiee ||
			p.Traits.Sex != "F" || p.Traits.BirthPlace != "75056" || p.Document != "passport" {
			t.Fatalf("the event's identity: %+v %+v", p, p.INSi)
		}
	})
	t.Run("several: the birth place typed, then found", func(t *testing.T) {
		r := newMemRig(t, "legacy", time.Minute, withINSi(10*time.Second))
		r.toDocument()
		r.press(oui)
		r.answerLookup(0, func(req *event.LookupRequest) *event.LookupAnswer {
			return &event.LookupAnswer{Request: req.ID, Outcome: event.LookupSeveral}
		})
		r.wait(display.KindBirthPlace, "Code : _____")
		r.press(keys("2")...)
		r.press(non) // 2A
		r.press(non) // 2B
		r.press(keys("0")...)
		r.press(keys("9*")...)
		r.press(keys("20")...)
		r.wait(display.KindBirthPlace, "Code : 2B020")
		r.press(valider)
		r.wait(display.KindINSi, "")
		req := r.answerLookup(1, léa)
		if req.Traits.BirthPlace != "2B020" {
			t.Errorf("searched again with %q", req.Traits.BirthPlace)
		}
		r.wait(display.KindINSiTraits, "DURAND")
	})
	t.Run("different: INSi's identity not retained", func(t *testing.T) {
		r := newMemRig(t, "legacy", time.Minute, withINSi(10*time.Second))
		r.link.online.Store(true)
		r.toDocument()
		r.press(oui)
		r.answerLookup(0, léa)
		r.wait(display.KindINSiTraits, "DURAND")
		r.press(non)
		r.wait(display.KindINSiNotice, "Identité différente")
		r.link.online.Store(false)
		r.press(valider)
		e := r.finish()
		if e.Patient.INSi != nil || e.Patient.INS != nil || e.Patient.Identity.Status != ins.Validee {
			t.Fatalf("a different identity was retained: %+v", e.Patient)
		}
	})
	t.Run("not found, and INSi too slow: provisional, said so", func(t *testing.T) {
		r := newMemRig(t, "legacy", time.Minute, withINSi(300*time.Millisecond))
		r.toDocument()
		r.press(oui)
		r.answerLookup(0, func(req *event.LookupRequest) *event.LookupAnswer { return nil }) // never answered
		r.wait(display.KindINSiNotice, "ne répond pas à temps")
		r.press(valider)
		r.wait(display.KindConsent, "informé")

		r2 := newMemRig(t, "legacy", time.Minute, withINSi(10*time.Second))
		r2.toDocument()
		r2.press(oui)
		r2.answerLookup(0, func(req *event.LookupRequest) *event.LookupAnswer {
			return &event.LookupAnswer{Request: req.ID, Outcome: event.LookupNotFound}
		})
		r2.wait(display.KindINSiNotice, "non trouvée par l'INSi")
		r2.link.online.Store(false)
		r2.press(valider)
		if e := r2.finish(); e.Patient.INSi != nil || e.Patient.Identity.Status != ins.Validee {
			t.Fatalf("not found: %+v", e.Patient)
		}
	})
	t.Run("an answer for another lookup, or from another key, is not taken", func(t *testing.T) {
		r := newMemRig(t, "legacy", time.Minute, withINSi(2*time.Second))
		r.toDocument()
		r.press(oui)
		r.answerLookup(0, func(req *event.LookupRequest) *event.LookupAnswer {
			other, _ := event.NewReplyKey()
			a := léa(req)
			b, _ := event.SealAnswer(a, &jose.JSONWebKey{Key: &other.PublicKey})
			var s event.Sealed
			json.Unmarshal(b, &s)
			r.link.lookups <- s
			return nil
		})
		r.wait(display.KindINSiNotice, "INSi indisponible")
	})
	t.Run("douteuse: no lookup", func(t *testing.T) {
		r := newMemRig(t, "legacy", time.Minute, withINSi(10*time.Second))
		r.toDocument()
		r.press(non, non, non) // past the three documents
		r.wait(display.KindConsent, "douteuse")
		r.link.online.Store(false)
		r.press(oui)
		e := r.finish()
		r.link.mu.Lock()
		asked := len(r.link.asked)
		r.link.mu.Unlock()
		if asked != 0 || !e.Patient.Identity.Doubtful || e.Patient.Identity.Status != ins.Provisoire {
			t.Fatalf("douteuse: %d lookups, %+v", asked, e.Patient.Identity)
		}
	})
}
