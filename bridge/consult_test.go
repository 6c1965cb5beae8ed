package bridge

import (
	"context"
	"crypto"
	"crypto/x509"
	"testing"
	"time"

	"dmpkiosk/bridge/dmp"
	"dmpkiosk/bridge/dmp/dmpsim"
	"dmpkiosk/bridge/dmp/dmpsim/dmpsimtest"
	"dmpkiosk/firmware/event"
	"dmpkiosk/provisioning"
)

// A bedside tablet's consultation goes through the broker (the broker's
// policy lets a kiosk ask on its own dmp topic, the bridges take it on
// their shared subscription) and its answer comes back on the tablet's
// results topic, encrypted to the request's key.
func TestConsultOverTheBroker(t *testing.T) {
	pid := dmp.PatientID{Root: "1.2.250.1.213.1.4.10", Extension: "279035121518989"}
	_, client := dmpsimtest.Start(t, dmpsim.Person{IDs: []dmp.PatientID{pid},
		Demographics: dmp.Demographics{BirthName: "PAT-TROIS", FirstName: "DOMINIQUE", Sex: "F", BirthDate: "19790328"}})
	r := newServiceRig(t)
	r.tune = func(c *ServiceConfig) { c.Consult = client }
	r.stop()
	r.start(t)
	cred := r.f.Site.Creds["kiosk-1"]
	key, cert, err := r.f.IGC.UnlockedSigner("cps-medecin")
	if err != nil {
		t.Fatal(err)
	}
	reply, _ := event.NewReplyKey()
	req := &event.ConsultRequest{ID: "0190f1c2-0000-7000-8000-0000000c0501", Device: "kiosk-1", Time: time.Now(),
		Site: event.Site{FINESS: "750712184", Unit: "ACCUEIL"}, Professional: event.Professional{NationalID: cert.Subject.CommonName},
		Patient: event.INS{Value: pid.Extension, OID: pid.Root}, Action: event.ConsultAuthorize, Purpose: event.PurposeNormal}
	wire, err := event.SealConsult(req, reply, event.Signer{Key: cred.PrivateKey.(crypto.Signer), Chain: []*x509.Certificate{cred.Leaf}},
		event.Signer{Key: key, Chain: []*x509.Certificate{cert}}, &r.f.Site.EncKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if tok := r.kiosk.Publish(provisioning.ConsultTopic("kiosk-1"), 1, false, wire); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	select {
	case s := <-r.sealed:
		a, err := event.OpenConsultAnswer(s, reply, req.ID)
		if err != nil || a.Outcome != event.ConsultOK || a.Authorization != dmp.AuthValid || !a.Last {
			t.Fatalf("%+v %v", a, err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no answer")
	}
	if l, _ := r.journal.AuditOf(context.Background(), "dmp.consult"); len(l) != 1 {
		t.Errorf("audit: %+v", l)
	}
}
