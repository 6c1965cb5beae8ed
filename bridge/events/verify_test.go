package events_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"testing"
	"time"

	"dmpkiosk/bridge/events"
	"dmpkiosk/bridge/events/eventstest"
	"dmpkiosk/bridge/journal"
	"dmpkiosk/firmware/event"
	"dmpkiosk/hwtest"
	"dmpkiosk/provisioning"
)

func wantReject(t *testing.T, name string, err error, reason string) {
	t.Helper()
	var r *events.Rejection
	if !errors.As(err, &r) || r.Reason != reason {
		t.Errorf("%s: %v, want a %q rejection", name, err, reason)
	}
}

func TestVerify(t *testing.T) {
	f := eventstest.NewFixture(t)
	good := f.Seal(t, eventstest.SampleEvent("kiosk-1"), "kiosk-1", "cps-medecin", nil)
	o, err := f.V.Verify("kiosk/kiosk-1/events", good)
	if err != nil {
		t.Fatal(err)
	}
	if o.Event.Device != "kiosk-1" || o.Event.Patient.Traits.BirthName != "MARTIN" {
		t.Fatalf("opened %+v", o.Event)
	}

	_, err = f.V.Verify("kiosk/kiosk-2/events", good)
	wantReject(t, "kiosk-1's event on kiosk-2's topic", err, journal.RejectDevice)
	_, err = f.V.Verify("kiosk/kiosk-1/status", good)
	wantReject(t, "not an events topic", err, journal.RejectTopic)
	_, err = f.V.Verify("kiosk/kiosk-1/events", []byte("{not a jwe"))
	wantReject(t, "garbage", err, journal.RejectMalformed)

	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	v2 := *f.V
	v2.EncKey = other
	o, err = v2.Verify("kiosk/kiosk-1/events", good)
	wantReject(t, "another bridge's key", err, journal.RejectUndecrypt)
	if o != nil {
		t.Error("an event that could not be decrypted came back")
	}

	foreign := hwtest.NewSite(t, "kiosk-1")
	_, err = f.V.Verify("kiosk/kiosk-1/events", f.Seal(t, eventstest.SampleEvent("kiosk-1"), "kiosk-1", "cps-medecin", foreign))
	wantReject(t, "a device of another CA", err, journal.RejectDeviceChain)

	_, err = f.V.Verify("kiosk/kiosk-1/events", f.Seal(t, eventstest.SampleEvent("kiosk-1"), "kiosk-1", "cps-expiree", nil))
	wantReject(t, "an expired card", err, journal.RejectCardChain)

	cde := eventstest.SampleEvent("kiosk-1")
	cde.Professional = event.Professional{NationalID: "3750712184/DIR0001", NationalIDType: "ETABLISSEMENT", CardType: "CDE", Surname: "MOREAU", FirstName: "ÉTIENNE"}
	_, err = f.V.Verify("kiosk/kiosk-1/events", f.Seal(t, cde, "kiosk-1", "cde-directeur", nil))
	wantReject(t, "a director's card", err, journal.RejectCardType)

	// The professional is what the card certificate says: a director's
	// card dressed as a reception agent's, a reception agent claiming a
	// doctor's name, profession or card type, are refused.
	dressed := eventstest.SampleEvent("kiosk-1")
	dressed.Professional = event.Professional{NationalID: "3750712184/DIR0001", NationalIDType: "ETABLISSEMENT", CardType: "CPE", Surname: "MOREAU", FirstName: "ÉTIENNE"}
	_, err = f.V.Verify("kiosk/kiosk-1/events", f.Seal(t, dressed, "kiosk-1", "cde-directeur", nil))
	wantReject(t, "a CDE dressed as a CPE", err, journal.RejectProfessional)
	for name, claim := range map[string]event.Professional{
		"a doctor's profession": {Profession: "10"},
		"a doctor's card type":  {CardType: "CPS"},
		"a doctor's name":       {Surname: "LEROY"},
	} {
		agent := eventstest.SampleEvent("kiosk-1")
		agent.Professional = event.Professional{NationalID: "3750712184/ACC0042", NationalIDType: "ETABLISSEMENT", CardType: "CPE", Surname: "GARNIER", FirstName: "LUCIE"}
		if claim.Profession != "" {
			agent.Professional.Profession = claim.Profession
		}
		if claim.CardType != "" {
			agent.Professional.CardType = claim.CardType
		}
		if claim.Surname != "" {
			agent.Professional.Surname = claim.Surname
		}
		_, err = f.V.Verify("kiosk/kiosk-1/events", f.Seal(t, agent, "kiosk-1", "cpe-accueil", nil))
		wantReject(t, "a CPE claiming "+name, err, journal.RejectProfessional)
	}
	// What the certificate does not state is not believed.
	special := eventstest.SampleEvent("kiosk-1")
	special.Professional.Speciality = "SM26"
	if o, err := f.V.Verify("kiosk/kiosk-1/events", f.Seal(t, special, "kiosk-1", "cps-medecin", nil)); err != nil || o.Event.Professional.Speciality != "" {
		t.Errorf("a speciality the certificate does not state: %v", err)
	}
	// The site is the one the kiosk was enrolled at, the regime the
	// bridge's DMP's.
	for name, site := range map[string]event.Site{
		"a FINESS no kiosk has": {FINESS: "130784234", Unit: "ACCUEIL"},
		"another unit":          {FINESS: "750712184", Unit: "URGENCES"},
	} {
		elsewhere := eventstest.SampleEvent("kiosk-1")
		elsewhere.Site = site
		_, err = f.V.Verify("kiosk/kiosk-1/events", f.Seal(t, elsewhere, "kiosk-1", "cps-medecin", nil))
		wantReject(t, "an event claiming "+name, err, journal.RejectSite)
	}
	legacy := eventstest.SampleEvent("kiosk-1")
	legacy.Regime = event.RegimeLegacy
	sealedLegacy := f.Seal(t, legacy, "kiosk-1", "cps-medecin", nil)
	_, err = f.V.Verify("kiosk/kiosk-1/events", sealedLegacy)
	wantReject(t, "a legacy-regime event at a current-regime bridge", err, journal.RejectRegime)
	vl := *f.V
	vl.Regime = event.RegimeLegacy
	if _, err := vl.Verify("kiosk/kiosk-1/events", sealedLegacy); err != nil {
		t.Errorf("a legacy-regime event at a legacy-regime bridge: %v", err)
	}
	_, err = vl.Verify("kiosk/kiosk-1/events", good)
	wantReject(t, "a current-regime event at a legacy-regime bridge", err, journal.RejectRegime)
	// The same kiosk moved to the emergency unit (a new certificate for
	// its key) still sends events made for the reception desk.
	cred := f.Site.Creds["kiosk-1"]
	csr, err := provisioning.CSR(cred.PrivateKey.(crypto.Signer), "kiosk-1")
	if err != nil {
		t.Fatal(err)
	}
	urg, err := f.Site.CA.SignKiosk(csr, "kiosk-1", provisioning.KioskSite{FINESS: "750712184", Unit: "URGENCES"})
	if err != nil {
		t.Fatal(err)
	}
	moved := &hwtest.Site{Creds: map[string]tls.Certificate{"kiosk-1": {Certificate: [][]byte{urg.Raw}, PrivateKey: cred.PrivateKey, Leaf: urg}}}
	_, err = f.V.Verify("kiosk/kiosk-1/events", f.Seal(t, eventstest.SampleEvent("kiosk-1"), "kiosk-1", "cps-medecin", moved))
	wantReject(t, "an event from a kiosk enrolled in another unit", err, journal.RejectSite)

	// An oversized message is refused before anything is decrypted.
	huge := make([]byte, events.DefaultMaxEventBytes+1)
	_, err = f.V.Verify("kiosk/kiosk-1/events", huge)
	wantReject(t, "a message larger than the limit", err, journal.RejectTooLarge)

	liar := eventstest.SampleEvent("kiosk-1")
	liar.Professional.NationalID = "810100998877" // another professional than the card's
	_, err = f.V.Verify("kiosk/kiosk-1/events", f.Seal(t, liar, "kiosk-1", "cps-medecin", nil))
	wantReject(t, "a professional other than the card's holder", err, journal.RejectProfessional)

	// An offline kiosk's events: judged by their id and sequence, and by
	// the certificates valid when they were signed, up to the maximum age.
	for i, age := range []time.Duration{11 * time.Minute, 3 * time.Hour, 2 * 24 * time.Hour} {
		late := eventstest.SampleEvent("kiosk-1")
		late.ID, late.Time = fmt.Sprintf("0190f1c2-0000-7000-8000-00000000a0%02d", i), time.Now().Add(-age)
		if _, err := f.V.Verify("kiosk/kiosk-1/events", f.Seal(t, late, "kiosk-1", "cps-medecin", nil)); err != nil {
			t.Errorf("an event %s old: %v", age, err)
		}
	}
	old := eventstest.SampleEvent("kiosk-1")
	old.Time = time.Now().Add(-events.DefaultMaxAge - time.Hour)
	o, err = f.V.Verify("kiosk/kiosk-1/events", f.Seal(t, old, "kiosk-1", "cps-medecin", nil))
	wantReject(t, "an event older than the maximum age", err, journal.RejectTooOld)
	if o == nil || o.Event.ID != old.ID {
		t.Error("a refused event from an authenticated kiosk comes back without its event: the kiosk cannot be told")
	}
	ahead := eventstest.SampleEvent("kiosk-1")
	ahead.Time = time.Now().Add(events.DefaultSkew + time.Minute)
	_, err = f.V.Verify("kiosk/kiosk-1/events", f.Seal(t, ahead, "kiosk-1", "cps-medecin", nil))
	wantReject(t, "an event ahead of the bridge's clock", err, journal.RejectClock)
	// Signed before the kiosk's certificate was issued: refused as such.
	before := eventstest.SampleEvent("kiosk-1")
	before.Time = f.Site.Creds["kiosk-1"].Leaf.NotBefore.Add(-time.Hour)
	if o, err := f.V.Verify("kiosk/kiosk-1/events", f.Seal(t, before, "kiosk-1", "cps-medecin", nil)); o != nil {
		t.Errorf("an event signed before its device's certificate: %v", err)
	} else {
		wantReject(t, "an event signed before its device's certificate", err, journal.RejectDeviceChain)
	}

	uninformed := eventstest.SampleEvent("kiosk-1")
	uninformed.Consent.Informed = false
	_, err = f.V.Verify("kiosk/kiosk-1/events", f.Seal(t, uninformed, "kiosk-1", "cps-medecin", nil))
	wantReject(t, "an uninformed patient", err, journal.RejectContent)

	yes := true
	create := eventstest.SampleEvent("kiosk-1")
	create.Type, create.Consent.Creation = event.TypeCreate, &yes // but the current regime
	_, err = f.V.Verify("kiosk/kiosk-1/events", f.Seal(t, create, "kiosk-1", "cps-medecin", nil))
	wantReject(t, "a creation in the current regime", err, journal.RejectContent)

	// Revoked: refused once the CRL says so.
	k2 := f.Seal(t, eventstest.SampleEvent("kiosk-2"), "kiosk-2", "cps-medecin", nil)
	if _, err := f.V.Verify("kiosk/kiosk-2/events", k2); err != nil {
		t.Fatal(err)
	}
	if err := f.Site.CA.Revoke("kiosk-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.V.Revocations.Reload(); err != nil {
		t.Fatal(err)
	}
	_, err = f.V.Verify("kiosk/kiosk-2/events", k2)
	wantReject(t, "a revoked kiosk", err, journal.RejectRevoked)
}
