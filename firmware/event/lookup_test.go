package event

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"dmpkiosk/ins"
)

// A lookup goes to the bridge signed by the device and comes back
// encrypted to the key made for it: the broker reads neither; an answer
// meant for another request, or altered, or a request from a device the
// kiosk CA does not know, is refused.
func TestLookupRoundTrip(t *testing.T) {
	f := newFixture(t)
	req := &LookupRequest{ID: "0190f1c2-0000-7000-8000-00000000aa01", Device: "kiosk-1", Time: time.Now().UTC(),
		Traits: ins.Traits{BirthName: "ADRUN", FirstName: "ZOE", FirstNames: []string{"ZOE"}, Sex: "F", BirthDate: "19751231"},
		Vitale: &LookupVitale{Insured: "275126322074949", BirthName: "ADRUN", BirthDate: "19751231", BirthRank: 1}}
	reply, err := NewReplyKey()
	if err != nil {
		t.Fatal(err)
	}
	wire, err := SealLookup(req, reply, f.device, &f.bridge.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(wire, "ADRUN") || strings.Count(wire, ".") != 4 {
		t.Fatalf("the request is not a JWE: %.80s", wire)
	}
	got, cert, err := OpenLookup(wire, f.bridge, f.kioskCA, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != req.ID || got.Traits.BirthName != "ADRUN" || got.Vitale.Insured != "275126322074949" || cert.Subject.CommonName != "kiosk-1" {
		t.Fatalf("opened %+v (%s)", got, cert.Subject.CommonName)
	}

	ans := &LookupAnswer{Request: got.ID, Outcome: LookupFound, INS: &INS{Value: "275126322074949", OID: ins.OIDNIR},
		Traits: &ins.Traits{BirthName: "ADRUN", FirstNames: []string{"ZOE"}, Sex: "F", BirthDate: "1975-12-31", BirthPlace: "63220"}}
	msg, err := SealAnswer(ans, got.Reply)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(msg), "ADRUN") || strings.Contains(string(msg), "2751263") {
		t.Fatal("the answer shows the identity to the broker")
	}
	var sealed Sealed
	if err := json.Unmarshal(msg, &sealed); err != nil || sealed.Lookup != req.ID {
		t.Fatalf("%s %v", msg, err)
	}
	opened, err := OpenAnswer(sealed, reply, req.ID)
	if err != nil || opened.INS.Value != "275126322074949" || opened.Traits.BirthPlace != "63220" {
		t.Fatalf("%+v %v", opened, err)
	}

	if _, err := OpenAnswer(sealed, reply, "another-request"); !errors.Is(err, ErrMalformed) {
		t.Errorf("an answer for another request: %v", err)
	}
	other, _ := NewReplyKey()
	if _, err := OpenAnswer(sealed, other, req.ID); !errors.Is(err, ErrUndecryptable) {
		t.Errorf("another key opened the answer: %v", err)
	}
	tampered := sealed
	tampered.JWE = sealed.JWE[:len(sealed.JWE)-4] + "AAAA"
	if _, err := OpenAnswer(tampered, reply, req.ID); err == nil {
		t.Error("an altered answer was opened")
	}
	// A device of another authority.
	g := newFixture(t)
	wire2, _ := SealLookup(req, reply, g.device, &f.bridge.PublicKey)
	if _, _, err := OpenLookup(wire2, f.bridge, f.kioskCA, time.Now(), nil); !errors.Is(err, ErrChain) {
		t.Errorf("a device of another CA: %v", err)
	}
	// An event is not a lookup.
	e := &Event{Type: TypeConsent, ID: "x", Device: "kiosk-1", Time: time.Now()}
	jwe, _ := Seal(e, f.device, f.card, &f.bridge.PublicKey)
	if _, _, err := OpenLookup(jwe, f.bridge, f.kioskCA, time.Now(), nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("an event opened as a lookup: %v", err)
	}
}
