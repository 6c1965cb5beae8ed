package bridge

import (
	"dmpkiosk/bridge/admin"
	"dmpkiosk/bridge/events/eventstest"
	"dmpkiosk/bridge/journal"

	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"dmpkiosk/bridge/sih"
	"dmpkiosk/firmware/event"
	"dmpkiosk/hwtest"
	"dmpkiosk/hwtest/gam"
	"dmpkiosk/ins"
)

var gamDomain = sih.Domain{Namespace: "CHU-TEST", UniversalID: "1.2.250.1.999.1", Type: "ISO"}

// qualifiedEvent is an event the bridge's INSi lookup qualifies: a
// passport checked, the five traits INSi has.
func qualifiedEvent(id string, seq int64, t ins.Traits) *event.Event {
	e := eventstest.SampleEvent("kiosk-1")
	e.ID, e.Seq = id, seq
	e.Patient.INS, e.Patient.Document, e.Patient.Traits = nil, "passport", t
	return e
}

var marieTraits = ins.Traits{BirthName: "DUPONT", FirstName: "MARIE", FirstNames: []string{"MARIE"}, Sex: "F", BirthDate: "19810203", BirthPlace: "69123"}

// The hospital's GAM told: the IPP found by a PDQ query, the A31 with the
// INS of the identity INSi qualified, PID-32 and the DMP answers, AA. A
// patient the GAM does not find waits "à rapprocher" until the IPP is
// given by hand; an AE goes to the dead letters with the GAM's error and
// is sent again after a fix; a GAM that applies and does not answer gets
// the same message again and applies it once.
func TestSIHUpdatesTheGAM(t *testing.T) {
	r := newServiceRig(t)
	_, client := newINSi(t)
	paul := paulTraits
	paul.BirthPlace = "75112"
	g := gam.Start(t, gamDomain,
		gam.Patient{IPP: "000042", BirthName: "MARTIN", FirstName: "PAUL", BirthDate: "19750612", Sex: "M"},
		gam.Patient{IPP: "000099", BirthName: "DUPONT", FirstName: "MARIE-CLAIRE", BirthDate: "19810203", Sex: "F"})
	g.Delay = 0
	recv := sih.Receiver{Name: "gam", Application: "GAM", Facility: "CHU-TEST", Address: g.Addr, ZFA: true, IPP: gamDomain}
	r.tune = func(c *ServiceConfig) {
		c.Identity = IdentityConfig{INSi: client, Require: true}
		c.SIH = &sih.DeliveryConfig{Sender: sih.Sender{Application: "DMPKIOSK", Facility: "750712184"}, Receivers: []sih.Receiver{recv},
			Wait: 500 * time.Millisecond, Backoff: 100 * time.Millisecond, MaxAttempts: 5}
	}
	r.stop()
	r.start(t)
	ctx := context.Background()
	until := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				all, _ := r.journal.SIHList(ctx, "", 50)
				t.Fatalf("%s; outbox: %+v", what, all)
			}
		}
	}

	// Found by the PDQ query, updated, AA.
	e1 := qualifiedEvent("0190f1c2-0000-7000-8000-00000000f001", 1, paul)
	r.send(t, r.f.Seal(t, e1, "kiosk-1", "cps-medecin", nil))
	if res := r.result(t, e1.ID); res.Outcome != event.OutcomeAuthorized {
		t.Fatalf("event: %+v", res)
	}
	until("the GAM updated", func() bool { return g.Patient("000042").Updates == 1 })
	p := g.Patient("000042")
	if p.INS != "175067511203371" || p.INSOID != ins.OIDNIR || strings.Join(p.PID32, "~") != "VALI" || p.BirthPlace != "75112" ||
		!strings.Contains(p.ZFA, "ACTIF") || !strings.Contains(p.ZFA, "|INO|") || !strings.Contains(p.ZFA, "|IC|") || !strings.Contains(p.ZFD, "|PA|") {
		t.Fatalf("the GAM's patient: %+v", p)
	}
	// (The GAM applies before it answers: the entry is done a moment later.)
	until("acknowledged", func() bool {
		m, _ := r.journal.SIHGet(ctx, "gam/"+e1.ID)
		return m.State == journal.SIHDone && m.IPP == "000042"
	})

	// Not found (the GAM has MARIE-CLAIRE): à rapprocher, then by hand.
	e2 := qualifiedEvent("0190f1c2-0000-7000-8000-00000000f002", 2, marieTraits)
	r.send(t, r.f.Seal(t, e2, "kiosk-1", "cps-medecin", nil))
	r.result(t, e2.ID)
	until("à rapprocher", func() bool { m, _ := r.journal.SIHGet(ctx, "gam/"+e2.ID); return m.State == journal.SIHMatch })
	if g.Patient("000099").Updates != 0 {
		t.Fatal("something was sent for a patient not found")
	}
	r.svc.cfg.Fleet = admin.NewFleet()
	admin := r.svc.Admin()
	admin.Password = "pw"
	hs := httptest.NewServer(admin.Handler())
	defer hs.Close()
	page := hwtest.DumpDOM(t, strings.Replace(hs.URL, "http://", "http://admin:pw@", 1)+"/sih")
	if !strings.Contains(page, e2.ID) || !strings.Contains(page, "aucun patient trouvé") || strings.Contains(page, "DUPONT") {
		t.Fatalf("the GAM page:\n%s", page)
	}
	post := func(path string, v url.Values) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, hs.URL+path, strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("admin", "pw")
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil || resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s: %v %v", path, resp, err)
		}
		resp.Body.Close()
	}
	post("/sih/match", url.Values{"id": {"gam/" + e2.ID}, "ipp": {"000099"}})
	until("matched by hand", func() bool { return g.Patient("000099").Updates == 1 })

	// AE: a dead letter with the GAM's error; retried once fixed.
	g.Script(gam.Normal, gam.AE) // the query passes, the update is refused
	e3 := qualifiedEvent("0190f1c2-0000-7000-8000-00000000f003", 3, paul)
	r.send(t, r.f.Seal(t, e3, "kiosk-1", "cps-medecin", nil))
	r.result(t, e3.ID)
	until("the AE a dead letter", func() bool { m, _ := r.journal.SIHGet(ctx, "gam/"+e3.ID); return m.State == journal.SIHDead })
	if m, _ := r.journal.SIHGet(ctx, "gam/"+e3.ID); !strings.Contains(m.Error, "AE") || !strings.Contains(m.Error, "207") ||
		!strings.Contains(m.Error, "non conservé") || strings.Contains(m.Error, "MARTIN") || strings.Contains(m.Error, "1975") {
		t.Errorf("the dead letter's error: %q", m.Error)
	}
	if g.Patient("000042").Updates != 1 {
		t.Fatal("an AE was applied")
	}
	post("/sih/retry", url.Values{"id": {"gam/" + e3.ID}})
	until("retried", func() bool { return g.Patient("000042").Updates == 2 })

	// Silent: applied, no answer; the same message again, applied once.
	g.Script(gam.Normal, gam.Silent)
	e4 := qualifiedEvent("0190f1c2-0000-7000-8000-00000000f004", 4, paul)
	r.send(t, r.f.Seal(t, e4, "kiosk-1", "cps-medecin", nil))
	r.result(t, e4.ID)
	until("acknowledged after the silence", func() bool { m, _ := r.journal.SIHGet(ctx, "gam/"+e4.ID); return m.State == journal.SIHDone })
	if n := g.Patient("000042").Updates; n != 3 {
		t.Errorf("the silent GAM applied the update %d times in all, want 3", n)
	}
	var a31s []string
	for _, m := range g.Received() {
		if strings.Contains(string(m), "ADT^A31") && strings.Contains(string(m), "000042") {
			a31s = append(a31s, string(m))
		}
	}
	if len(a31s) != 5 || a31s[3] != a31s[4] { // e1, e3 refused, e3 again, e4 twice
		t.Errorf("%d updates received for 000042; the resend must be the same message", len(a31s))
	}

	// Broken: applied, answered with bytes that are no MLLP frame; sent
	// again, applied once.
	g.Script(gam.Normal, gam.Broken)
	e5 := qualifiedEvent("0190f1c2-0000-7000-8000-00000000f005", 5, paul)
	r.send(t, r.f.Seal(t, e5, "kiosk-1", "cps-medecin", nil))
	r.result(t, e5.ID)
	until("acknowledged after a broken answer", func() bool { m, _ := r.journal.SIHGet(ctx, "gam/"+e5.ID); return m.State == journal.SIHDone })
	if n := g.Patient("000042").Updates; n != 4 {
		t.Errorf("after a broken answer the GAM applied %d updates in all, want 4", n)
	}

	// Audited by ids and codes, never traits.
	rows, err := r.db(t).Query(`SELECT kind, detail FROM audit WHERE kind LIKE 'sih.%'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	kinds := map[string]int{}
	for rows.Next() {
		var k, d string
		rows.Scan(&k, &d)
		kinds[k]++
		if strings.Contains(d, "MARTIN") || strings.Contains(d, "DUPONT") || strings.Contains(d, "1750675") {
			t.Errorf("audit %s %q holds patient data", k, d)
		}
	}
	if kinds["sih.sent"] < 5 || kinds["sih.ack"] < 4 || kinds["sih.match"] != 1 || kinds["sih.noanswer"] < 1 {
		t.Errorf("audited: %v", kinds)
	}
}

// A GAM matched from its own messages rather than queried: its admission
// (ANS's example, PAT-TROIS DOMINIQUE) reaches the bridge's MLLP
// listener and is acknowledged; the event of that patient, qualified,
// finds her IPP among the admissions — by her traits, the admission's INS
// being under the test OID — with no PDQ query, and the A31 goes to that
// IPP with the INS INSi gave. A message that is not an ADT, or from a GAM
// the bridge does not know, is refused.
func TestSIHMatchedFromAdmissions(t *testing.T) {
	r := newServiceRig(t)
	_, client := newINSi(t)
	domain := sih.Domain{Namespace: "CHU-X", UniversalID: "000897406", Type: "N"}
	g := gam.Start(t, domain, gam.Patient{IPP: "000003", BirthName: "PAT-TROIS", FirstName: "DOMINIQUE", BirthDate: "19790328", Sex: "F"})
	recv := sih.Receiver{Name: "gam-x", Application: "GAM", Facility: "CHU-X", Address: g.Addr, ZFA: true, IPP: domain, Match: sih.MatchAdmissions}
	r.tune = func(c *ServiceConfig) {
		c.Identity = IdentityConfig{INSi: client, Require: true}
		c.SIH = &sih.DeliveryConfig{Sender: sih.Sender{Application: "DMPKIOSK"}, Receivers: []sih.Receiver{recv}, Listen: "127.0.0.1:0",
			Wait: 500 * time.Millisecond, Backoff: 100 * time.Millisecond, MaxAttempts: 50}
	}
	r.stop()
	r.start(t)
	admission, err := os.ReadFile("testdata/sgl_admission.er7")
	if err != nil {
		t.Fatal(err)
	}
	answer, err := g.Tell(r.svc.SIHAddr, admission)
	if err != nil {
		t.Fatal(err)
	}
	if ack, err := sih.ParseAck(answer); err != nil || !ack.Accepted() || ack.Control != "3975" {
		t.Fatalf("the bridge's ack %q: %+v %v", answer, ack, err)
	}
	for _, bad := range []string{strings.Replace(string(admission), "ADT^A01^ADT_A01", "ORU^R01^ORU_R01", 1), strings.Replace(string(admission), "|GAM|CHU-X|", "|AUTRE|CHU-Y|", 1)} {
		answer, err := g.Tell(r.svc.SIHAddr, []byte(bad))
		if ack, _ := sih.ParseAck(answer); err != nil || ack.Code != "AR" {
			t.Errorf("refused? %+v %v", ack, err)
		}
	}
	e := qualifiedEvent("0190f1c2-0000-7000-8000-00000000f101", 1, ins.Traits{BirthName: "PAT-TROIS", FirstName: "DOMINIQUE",
		FirstNames: []string{"DOMINIQUE"}, Sex: "F", BirthDate: "19790328", BirthPlace: "63220"})
	r.send(t, r.f.Seal(t, e, "kiosk-1", "cps-medecin", nil))
	if res := r.result(t, e.ID); res.Outcome != event.OutcomeAuthorized {
		t.Fatalf("event: %+v", res)
	}
	for deadline := time.Now().Add(15 * time.Second); g.Patient("000003").Updates == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			m, _ := r.journal.SIHGet(context.Background(), "gam-x/"+e.ID)
			t.Fatalf("the GAM was not told: %+v", m)
		}
	}
	if p := g.Patient("000003"); p.INS != "279035121518989" || p.INSOID != ins.OIDNIR {
		t.Errorf("the GAM's patient: %+v", p)
	}
	for _, m := range g.Received() {
		if strings.Contains(string(m), "QBP^Q22") {
			t.Error("the GAM was queried though its admissions are listened to")
		}
	}
}

// A receiver that takes TLS gets its messages over TLS, the GAM's
// certificate checked against the configured authority; one whose
// certificate is of another authority gets nothing (no answer, resent).
func TestSIHOverTLS(t *testing.T) {
	r := newServiceRig(t)
	_, client := newINSi(t)
	ca := hwtest.NewCA(t, "EAI CA")
	g := gam.StartTLS(t, gamDomain, &tls.Config{Certificates: []tls.Certificate{ca.Server(t, "127.0.0.1").TLS()}},
		gam.Patient{IPP: "000042", BirthName: "MARTIN", FirstName: "PAUL", BirthDate: "19750612", Sex: "M"})
	other := hwtest.NewCA(t, "another CA")
	bad := gam.StartTLS(t, gamDomain, &tls.Config{Certificates: []tls.Certificate{other.Server(t, "127.0.0.1").TLS()}},
		gam.Patient{IPP: "000042", BirthName: "MARTIN", FirstName: "PAUL", BirthDate: "19750612", Sex: "M"})
	recv := sih.Receiver{Name: "gam-tls", Application: "GAM", Address: g.Addr, TLS: true, IPP: gamDomain}
	recvBad := sih.Receiver{Name: "gam-bad", Application: "GAM", Address: bad.Addr, TLS: true, IPP: gamDomain}
	r.tune = func(c *ServiceConfig) {
		c.Identity = IdentityConfig{INSi: client, Require: true}
		c.SIH = &sih.DeliveryConfig{Sender: sih.Sender{Application: "DMPKIOSK"}, Receivers: []sih.Receiver{recv, recvBad},
			TLS: &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"}, Wait: 500 * time.Millisecond, Backoff: 100 * time.Millisecond}
	}
	r.stop()
	r.start(t)
	paul := paulTraits
	paul.BirthPlace = "75112"
	e := qualifiedEvent("0190f1c2-0000-7000-8000-00000000f201", 1, paul)
	r.send(t, r.f.Seal(t, e, "kiosk-1", "cps-medecin", nil))
	r.result(t, e.ID)
	for deadline := time.Now().Add(15 * time.Second); g.Patient("000042").Updates == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not told over TLS")
		}
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		m, _ := r.journal.SIHGet(context.Background(), "gam-bad/"+e.ID)
		if m.State == journal.SIHQuery && m.Attempts > 0 && strings.Contains(m.Error, "pas de réponse") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the untrusted GAM's entry: %+v", m)
		}
	}
	if len(bad.Received()) != 0 || bad.Patient("000042").Updates != 0 {
		t.Error("a GAM with a certificate of another authority was told")
	}
}
