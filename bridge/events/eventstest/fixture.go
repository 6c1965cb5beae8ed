// Package eventstest makes sealed kiosk events for the tests of the events
// flow and of the bridge wired around it: a site with its kiosks, the
// card authority, and a verifier that trusts them. Production never
// imports it.
package eventstest

import (
	"crypto"
	"crypto/x509"
	"testing"
	"time"

	"dmpkiosk/bridge/events"
	"dmpkiosk/firmware/event"
	"dmpkiosk/hwtest"
	"dmpkiosk/hwtest/cards"
	"dmpkiosk/ins"
	"dmpkiosk/provisioning"
)

// Fixture is a site with kiosk-1 and kiosk-2, the test card authority,
// and a verifier trusting both.
type Fixture struct {
	Site *hwtest.Site
	IGC  *cards.IGCSante
	V    *events.Verifier
}

// NewFixture makes the site, the cards' authority and the verifier.
func NewFixture(t testing.TB) *Fixture {
	t.Helper()
	site := hwtest.NewSite(t, "kiosk-1", "kiosk-2")
	igc, err := cards.NewIGCSante()
	if err != nil {
		t.Fatal(err)
	}
	rev, err := provisioning.LoadRevocations(site.CA.CRLPath(), site.CA.Cert)
	if err != nil {
		t.Fatal(err)
	}
	return &Fixture{Site: site, IGC: igc,
		V: &events.Verifier{EncKey: site.EncKey, KioskCA: site.CA.Pool(), Revocations: rev, CardCA: igc.Pool()}}
}

// SampleEvent is a consent event of device's, signed now, sequence 1.
func SampleEvent(device string) *event.Event {
	return &event.Event{
		Type: event.TypeConsent, ID: "0190f1c2-0000-7000-8000-0000000000" + device[len(device)-1:] + "1", Device: device,
		Site: event.Site{FINESS: "750712184", Unit: "ACCUEIL"}, Context: "admission", Regime: "current",
		Time: time.Now().UTC(), Seq: 1,
		Patient: event.Patient{INS: &event.INS{Value: "175067511203399", OID: ins.OIDNIR}, INSC: "0992265510818874860560",
			Traits: ins.Traits{BirthName: "MARTIN", FirstName: "PAUL", FirstNames: []string{"PAUL"}, Sex: "M", BirthDate: "19750612"}},
		Professional: event.Professional{NationalID: "810100456789", NationalIDType: "RPPS", CardType: "CPS", Surname: "LEROY", FirstName: "SOPHIE", Profession: "10"},
		Consent:      event.Consent{Informed: true, Authorization: true},
	}
}

// Seal signs e with device's key (of deviceSite, the fixture's site when
// nil) and card's, and encrypts it to the fixture's bridge.
func (f *Fixture) Seal(t testing.TB, e *event.Event, device, card string, deviceSite *hwtest.Site) []byte {
	t.Helper()
	if deviceSite == nil {
		deviceSite = f.Site
	}
	cred := deviceSite.Creds[device]
	key, cert, err := f.IGC.UnlockedSigner(card)
	if err != nil {
		t.Fatal(err)
	}
	jwe, err := event.Seal(e, event.Signer{Key: cred.PrivateKey.(crypto.Signer), Chain: []*x509.Certificate{cred.Leaf}},
		event.Signer{Key: key, Chain: []*x509.Certificate{cert}}, &f.Site.EncKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(jwe)
}
