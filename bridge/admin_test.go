package bridge

import (
	"dmpkiosk/bridge/admin"
	"dmpkiosk/bridge/events/eventstest"

	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"dmpkiosk/firmware/event"
	"dmpkiosk/hwtest"
	"dmpkiosk/provisioning"
)

func TestAdminPages(t *testing.T) {
	r := newServiceRig(t)
	fleet := admin.NewFleet()
	r.svc.cfg.Fleet = fleet
	// A heartbeat, as the kiosk's link publishes it (retained).
	hb, _ := json.Marshal(map[string]any{"device": "kiosk-1", "online": true, "version": "v1", "outbox": 2, "clock": time.Now()})
	r.kiosk.Publish(provisioning.StatusTopic("kiosk-1"), 1, true, hb).Wait()
	fleet.Heartbeat(provisioning.StatusTopic("kiosk-1"), hb)

	done := eventstest.SampleEvent("kiosk-1")
	r.send(t, r.f.Seal(t, done, "kiosk-1", "cps-medecin", nil))
	r.result(t, done.ID)
	r.dmp.mu.Lock()
	r.dmp.permanent = true
	r.dmp.mu.Unlock()
	dead := eventstest.SampleEvent("kiosk-1")
	dead.ID, dead.Seq = "0190f1c2-0000-7000-8000-0000000000dd", 2
	r.send(t, r.f.Seal(t, dead, "kiosk-1", "cps-medecin", nil))
	r.result(t, dead.ID)

	refused := eventstest.SampleEvent("kiosk-1")
	refused.ID, refused.Seq, refused.Site.Unit = "0190f1c2-0000-7000-8000-0000000000ee", 3, "URGENCES"
	r.send(t, r.f.Seal(t, refused, "kiosk-1", "cps-medecin", nil))
	r.result(t, refused.ID)

	admin := r.svc.Admin()
	admin.Password = "s3cret"
	hs := httptest.NewServer(admin.Handler())
	defer hs.Close()
	u, _ := url.Parse(hs.URL)
	u.User = url.UserPassword("admin", "s3cret")

	page := func(path string) string { return hwtest.DumpDOM(t, u.String()+path) }
	if dom := page("/"); !strings.Contains(dom, "kiosk-1") || !strings.Contains(dom, "en ligne") {
		t.Errorf("fleet page:\n%s", dom)
	}
	events := page("/events")
	if !strings.Contains(events, done.ID) || !strings.Contains(events, "M•••") || !strings.Contains(events, "traité") ||
		!strings.Contains(events, "accès de l'établissement autorisé") || !strings.Contains(events, "information, autorisation et oppositions") {
		t.Errorf("events page:\n%s", events)
	}
	for _, code := range []string{">done<", ">authorized<", ">dmp.consent<", ">dead<"} {
		if strings.Contains(events, code) {
			t.Errorf("the events page shows the code %s, not French", code)
		}
	}
	if strings.Contains(events, "MARTIN") || strings.Contains(events, "19750612") {
		t.Error("the events page shows an identity")
	}
	if dom := page("/dead"); !strings.Contains(dom, dead.ID) || !strings.Contains(dom, "DMPIdentityCertificationFailure") ||
		!strings.Contains(dom, refused.ID) || !strings.Contains(dom, "site: event") || !strings.Contains(dom, "pas inscrite pour ce site") ||
		!strings.Contains(dom, "borne non inscrite pour ce site") {
		t.Errorf("dead letters page:\n%s", dom)
	}
	if dom := page("/infocentre"); !strings.Contains(dom, `id="chart-activite"`) || !strings.Contains(dom, "borne non inscrite pour ce site") {
		t.Errorf("infocentre page:\n%s", dom)
	}
	if dom := page("/audit"); !strings.Contains(dom, "intègre") {
		t.Errorf("audit page:\n%s", dom)
	}

	get := func(path string, auth bool) (int, string) {
		req, _ := http.NewRequest("GET", hs.URL+path, nil)
		if auth {
			req.SetBasicAuth("admin", "s3cret")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/events", false); code != http.StatusUnauthorized {
		t.Errorf("events without the password: %d", code)
	}
	if code, _ := get("/healthz", false); code != http.StatusOK {
		t.Errorf("healthz: %d", code)
	}
	if code, _ := get("/readyz", false); code != http.StatusOK {
		t.Errorf("readyz: %d", code)
	}
	_, metrics := get("/metrics", true)
	for _, want := range []string{"dmpbridge_events_done_total 1", "dmpbridge_events_dead_total 1", "dmpbridge_dead_letters 1", "dmpbridge_kiosks_online 1",
		"dmpbridge_zam_undelivered 0"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q:\n%s", want, metrics)
		}
	}

	// Retrying a dead letter from the page: audited, processed again.
	r.dmp.mu.Lock()
	r.dmp.permanent = false
	r.dmp.mu.Unlock()
	req, _ := http.NewRequest("POST", hs.URL+"/dead/retry", strings.NewReader(url.Values{"id": {dead.ID}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("admin", "s3cret")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("retry: %d", resp.StatusCode)
	}
	if res := r.result(t, dead.ID); res.Outcome != event.OutcomeAuthorized {
		t.Fatalf("after retry: %+v", res)
	}
	if n, broken, _ := r.journal.VerifyAudit(context.Background()); broken != 0 || n == 0 {
		t.Fatalf("audit after retry: %d %d", n, broken)
	}
}
