package bridge

import (
	"dmpkiosk/bridge/events/eventstest"
	"dmpkiosk/bridge/journal"

	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"dmpkiosk/bridge/insi"
	"dmpkiosk/bridge/insi/insisim"
	"dmpkiosk/firmware/event"
	"dmpkiosk/hwtest"
	"dmpkiosk/ins"
	"dmpkiosk/provisioning"
)

// newINSi serves the INSi simulator over mutual TLS and returns a client
// with INSI-MANU and INSI-AUTO certificates.
func newINSi(t *testing.T) (sim *insisim.Sim, client *insi.Client) {
	t.Helper()
	ca := hwtest.NewCA(t, "TEST AC IGC-SANTE ELEMENTAIRE ORGANISATIONS")
	// The requests and answers checked against INSi's official schemas.
	schemas, err := insisim.OpenValidator()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, e := range sim.AnswerErrors() {
			t.Errorf("the INSi simulator wrote an answer the official schemas refuse: %s", e)
		}
	})
	sim = insisim.New(insisim.Options{Latency: func() time.Duration { return 0 }, Mode: insisim.Production, Check: schemas.Validate,
		People: []insisim.Person{
			{Traits: insi.Traits{BirthName: "MARTIN", FirstNames: []string{"PAUL"}, Sex: "M", BirthDate: "1975-06-12", BirthPlace: "75112"},
				INS: insi.INS{Matricule: insi.Matricule{Number: "1750675112033", Key: "71"}, OID: ins.OIDNIR}},
			// ANS's HL7 examples' test patient (hwtest/patients.ANSExample,
			// which this package's tests cannot import).
			{Traits: insi.Traits{BirthName: "PAT-TROIS", FirstNames: []string{"DOMINIQUE"}, Sex: "F", BirthDate: "1979-03-28", BirthPlace: "63220"},
				INS: insi.INS{Matricule: insi.Matricule{Number: "2790351215189", Key: "89"}, OID: ins.OIDNIR}},
			{Traits: insi.Traits{BirthName: "DUPONT", FirstNames: []string{"MARIE"}, Sex: "F", BirthDate: "1981-02-03", BirthPlace: "69123"},
				INS: insi.INS{Matricule: insi.Matricule{Number: "2810269123456", Key: fmt.Sprintf("%02d", 97-2810269123456%97)}, OID: ins.OIDNIR}},
		}})
	srv := httptest.NewUnstartedServer(sim)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool(), Certificates: []tls.Certificate{ca.Server(t, "insi").TLS()}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	manu, auto := ca.Client(t, "INSI-MANU"), ca.Client(t, "INSI-AUTO")
	return sim, insi.NewClient(insi.Config{Endpoint: srv.URL + "/lps", ServerRoots: ca.Pool(), Timeout: 3 * time.Second,
		Manu: insi.Credentials{Key: manu.Key, Chain: []*x509.Certificate{manu.Cert}}, Auto: insi.Credentials{Key: auto.Key, Chain: []*x509.Certificate{auto.Cert}}})
}

// ask sends a lookup as kiosk-1 and opens the bridge's answer.
func (r *serviceRig) ask(t *testing.T, id string, traits ins.Traits) *event.LookupAnswer {
	t.Helper()
	cred := r.f.Site.Creds["kiosk-1"]
	reply, _ := event.NewReplyKey()
	req := &event.LookupRequest{ID: id, Device: "kiosk-1", Time: time.Now().UTC(), Traits: traits}
	wire, err := event.SealLookup(req, reply, event.Signer{Key: cred.PrivateKey.(crypto.Signer), Chain: []*x509.Certificate{cred.Leaf}}, &r.f.Site.EncKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if tok := r.kiosk.Publish(provisioning.LookupTopic("kiosk-1"), 1, false, wire); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	select {
	case s := <-r.sealed:
		a, err := event.OpenAnswer(s, reply, id)
		if err != nil {
			t.Fatal(err)
		}
		return a
	case <-time.After(15 * time.Second):
		rows, _ := r.db(t).Query(`SELECT kind, ref, detail FROM audit ORDER BY seq`)
		var trail []string
		for rows.Next() {
			var k, ref, d string
			rows.Scan(&k, &ref, &d)
			trail = append(trail, k+" "+ref+" "+d)
		}
		rows.Close()
		t.Fatalf("no answer to lookup %s; audit:\n%s", id, strings.Join(trail, "\n"))
	}
	return nil
}

var paulTraits = ins.Traits{BirthName: "MARTIN", FirstName: "PAUL", FirstNames: []string{"PAUL"}, Sex: "M", BirthDate: "19750612"}

// The lookup at the desk and what the bridge makes of the event after it:
// INSi's answer reaches the kiosk encrypted (the broker, read by a peer
// with every right a bridge has, sees no trait and no number); the event
// carrying that INS is processed, one whose INS was altered or whose
// status claims INSi without a lookup is refused and audited; an
// unqualified identity gets no DMP transaction but the bridge's own
// INSI-AUTO lookup, which qualifies it only with a document and the same
// five traits; INSi down loses nothing.
func TestINSiLookupAndIdentityGate(t *testing.T) {
	r := newServiceRig(t, "bridge-2")
	sim, client := newINSi(t)
	r.tune = func(c *ServiceConfig) { c.Identity = IdentityConfig{INSi: client, Require: true} }
	r.stop()
	r.start(t)

	// A peer with a bridge's rights reads everything that passes.
	var mu sync.Mutex
	var wire []string
	spy := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(r.m.URL()).SetClientID("bridge-2").SetTLSConfig(r.f.Site.TLS(r.f.Site.Creds["bridge-2"])))
	if tok := spy.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer spy.Disconnect(50)
	// (A bridge may not read the kiosks' results: those it sends are read
	// back by the kiosk's own client, r.sealed and r.results.)
	for _, f := range []string{"kiosk/+/insi", "kiosk/+/events"} {
		spy.Subscribe(f, 1, func(_ mqtt.Client, m mqtt.Message) { mu.Lock(); wire = append(wire, string(m.Payload())); mu.Unlock() }).Wait()
	}

	// Found: the five official traits and the INS.
	a := r.ask(t, "0190f1c2-0000-7000-8000-00000000a001", ins.Traits{BirthName: "MARTIN", FirstName: "PAUL", FirstNames: []string{"PAUL"}, Sex: "M", BirthDate: "19750612"})
	if a.Outcome != event.LookupFound || a.INS.Value != "175067511203371" || a.Traits.BirthPlace != "75112" || a.Traits.BirthDate != "19750612" {
		t.Fatalf("lookup: %+v", a)
	}
	kept, err := r.journal.Lookup(context.Background(), a.Request)
	if err != nil || kept.Device != "kiosk-1" || kept.INS != "175067511203371" || kept.Site != "750712184" {
		t.Fatalf("kept: %+v %v", kept, err)
	}
	// Asked again (a redelivery): the same answer, INSi not called again.
	calls := sim.Calls()
	if again := r.ask(t, a.Request, paulTraits); again.INS.Value != a.INS.Value || sim.Calls() != calls {
		t.Fatalf("redelivered lookup: %+v, %d calls then %d", again, calls, sim.Calls())
	}
	// CR 01 and several.
	if nf := r.ask(t, "0190f1c2-0000-7000-8000-00000000a002", ins.Traits{BirthName: "HOUILLES", FirstName: "PIERRE", FirstNames: []string{"PIERRE"}, Sex: "M", BirthDate: "19930127"}); nf.Outcome != event.LookupNotFound || nf.INS != nil {
		t.Errorf("not found: %+v", nf)
	}
	// INSi down: unavailable, said so.
	sim.Inject(insisim.FaultUnavail, insisim.FaultUnavail, insisim.FaultUnavail)
	if down := r.ask(t, "0190f1c2-0000-7000-8000-00000000a003", paulTraits); down.Outcome != event.LookupUnavailable || !strings.Contains(down.Message, "ne répond pas") {
		t.Errorf("INSi down: %+v", down)
	}

	qualified := func(id string, seq int64, insValue string) *event.Event {
		e := eventstest.SampleEvent("kiosk-1")
		e.ID, e.Seq = id, seq
		e.Patient.INS = &event.INS{Value: insValue, OID: ins.OIDNIR}
		e.Patient.INSi = &event.INSiRef{Request: a.Request, LookedUp: a.LookedUp}
		e.Patient.Document = "id-card"
		e.Patient.Identity = ins.Identity{Status: ins.Qualifiee}
		return e
	}
	// The event with INSi's INS: processed.
	ok := qualified("0190f1c2-0000-7000-8000-00000000e001", 1, "175067511203371")
	r.send(t, r.f.Seal(t, ok, "kiosk-1", "cps-medecin", nil))
	if res := r.result(t, ok.ID); res.Outcome != event.OutcomeAuthorized || r.dmp.count(ok.ID) != 1 {
		t.Fatalf("qualified event: %+v", res)
	}
	// Its INS altered after the lookup: refused, audited.
	forged := qualified("0190f1c2-0000-7000-8000-00000000e002", 2, "175067511203372")
	r.send(t, r.f.Seal(t, forged, "kiosk-1", "cps-medecin", nil))
	if res := r.result(t, forged.ID); res.Outcome != event.OutcomeRefused || !strings.Contains(res.Message, "pas celui que l'INSi a donné") || r.dmp.count(forged.ID) != 0 {
		t.Fatalf("forged INS: %+v", res)
	}
	if rec, _ := r.journal.Get(context.Background(), forged.ID); rec.State != journal.StateRefused || !strings.HasPrefix(rec.LastError, journal.RejectINS) {
		t.Errorf("forged INS journaled as %+v", rec)
	}
	// Qualifiée without any lookup: refused.
	claimed := qualified("0190f1c2-0000-7000-8000-00000000e003", 3, "175067511203371")
	claimed.Patient.INSi = nil
	r.send(t, r.f.Seal(t, claimed, "kiosk-1", "cps-medecin", nil))
	if res := r.result(t, claimed.ID); res.Outcome != event.OutcomeRefused {
		t.Fatalf("status without lookup: %+v", res)
	}

	// Offline at the desk: provisional, the document checked, but the
	// birth place never compared: INSI-AUTO finds the INS, the identity is
	// only récupérée, no DMP transaction, to be checked at the next visit.
	prov := eventstest.SampleEvent("kiosk-1")
	prov.ID, prov.Seq = "0190f1c2-0000-7000-8000-00000000e004", 4
	prov.Patient.Document = "id-card"
	prov.Patient.Identity = ins.Identity{Status: ins.Validee}
	r.send(t, r.f.Seal(t, prov, "kiosk-1", "cps-medecin", nil))
	if res := r.result(t, prov.ID); res.Outcome != event.OutcomeIdentity || !strings.Contains(res.Message, "prochaine venue") || r.dmp.count(prov.ID) != 0 {
		t.Fatalf("provisional, no birth place: %+v", res)
	}
	// The birth place validated at the desk too: INSI-AUTO qualifies, the
	// DMP transaction runs.
	placed := eventstest.SampleEvent("kiosk-1")
	placed.ID, placed.Seq = "0190f1c2-0000-7000-8000-00000000e005", 5
	placed.Patient.Document = "passport"
	placed.Patient.Traits.BirthPlace = "75112"
	r.send(t, r.f.Seal(t, placed, "kiosk-1", "cps-medecin", nil))
	if res := r.result(t, placed.ID); res.Outcome != event.OutcomeAuthorized || r.dmp.count(placed.ID) != 1 {
		t.Fatalf("provisional, all five traits: %+v", res)
	}
	// INSi down when the bridge processes: tried again, not lost.
	sim.Inject(insisim.FaultUnavail)
	later := eventstest.SampleEvent("kiosk-1")
	later.ID, later.Seq = "0190f1c2-0000-7000-8000-00000000e006", 6
	later.Patient.Document, later.Patient.Traits.BirthPlace = "passport", "75112"
	r.send(t, r.f.Seal(t, later, "kiosk-1", "cps-medecin", nil))
	if res := r.result(t, later.ID); res.Outcome != event.OutcomeAuthorized {
		t.Fatalf("after INSi came back: %+v", res)
	}
	if rec, _ := r.journal.Get(context.Background(), later.ID); rec.Attempts < 2 {
		t.Errorf("processed in %d attempt(s): the fault was not retried", rec.Attempts)
	}

	var n int
	if err := r.db(t).QueryRow(`SELECT count(*) FROM audit WHERE kind = 'insi.auto' AND ref IN (?, ?)`, prov.ID, placed.ID).Scan(&n); err != nil || n != 2 {
		t.Errorf("INSI-AUTO audited %d times, %v", n, err)
	}
	if _, broken, err := r.journal.VerifyAudit(context.Background()); broken != 0 || err != nil {
		t.Errorf("audit chain: %d %v", broken, err)
	}
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(wire) < 8 {
		t.Fatalf("the spy saw %d messages", len(wire))
	}
	for _, m := range wire {
		for _, s := range []string{"MARTIN", "PAUL", "1750675112033", "19750612", "1975-06-12", "75112", "HOUILLES"} {
			if strings.Contains(m, s) {
				t.Errorf("the broker carried %q in clear: %.120s", s, m)
			}
		}
	}
}

// A lookup request that reuses the id of another kiosk's answered lookup
// gets no answer (that answer is not its to have) and INSi is not asked;
// it is refused like every other refusal: audited with the device and the
// reason, no identity.
func TestLookupReusingAnotherKiosksID(t *testing.T) {
	r := newServiceRig(t)
	sim, client := newINSi(t)
	r.tune = func(c *ServiceConfig) { c.Identity = IdentityConfig{INSi: client, Require: true} }
	r.stop()
	r.start(t)
	a := r.ask(t, "0190f1c2-0000-7000-8000-00000000b001", paulTraits)
	if a.Outcome != event.LookupFound {
		t.Fatalf("kiosk-1's lookup: %+v", a)
	}
	calls := sim.Calls()

	cred := r.f.Site.Creds["kiosk-2"]
	k2 := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(r.m.URL()).SetClientID("kiosk-2").SetTLSConfig(r.f.Site.TLS(cred)))
	if tok := k2.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer k2.Disconnect(50)
	answers := make(chan []byte, 4)
	k2.Subscribe(provisioning.ResultsTopic("kiosk-2"), 1, func(_ mqtt.Client, m mqtt.Message) { answers <- m.Payload() }).Wait()
	reply, _ := event.NewReplyKey()
	req := &event.LookupRequest{ID: a.Request, Device: "kiosk-2", Time: time.Now().UTC(), Traits: paulTraits}
	wire, err := event.SealLookup(req, reply, event.Signer{Key: cred.PrivateKey.(crypto.Signer), Chain: []*x509.Certificate{cred.Leaf}}, &r.f.Site.EncKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if tok := k2.Publish(provisioning.LookupTopic("kiosk-2"), 1, false, wire); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	var refused []journal.AuditEntry
	for deadline := time.Now().Add(10 * time.Second); len(refused) == 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		all, err := r.journal.AuditOf(context.Background(), "insi.lookup.rejected")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range all {
			if e.Ref == "kiosk-2" {
				refused = append(refused, e)
			}
		}
	}
	if len(refused) != 1 || !strings.Contains(refused[0].Detail, a.Request) || !strings.Contains(refused[0].Detail, "another kiosk") ||
		strings.Contains(refused[0].Detail, "MARTIN") {
		t.Fatalf("audit of the refusal: %+v", refused)
	}
	select {
	case b := <-answers:
		t.Fatalf("kiosk-2 was answered: %d bytes", len(b))
	case <-time.After(500 * time.Millisecond):
	}
	if sim.Calls() != calls {
		t.Errorf("INSi asked for a refused request: %d calls, then %d", calls, sim.Calls())
	}
}
