package e2e

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"dmpkiosk/bridge/dmp"
	"dmpkiosk/hwtest/patients"
)

// preloadDurand puts documents from elsewhere in JEAN-PIERRE DURAND's DMP
// (the family card's first beneficiary): a CR d'imagerie (a PDF) a week
// old, a structured lettre de liaison two months old.
func preloadDurand(t *testing.T, s *scenario) {
	t.Helper()
	known, err := patients.INSi()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range known {
		if p.INS.Number != "1800269123045" {
			continue
		}
		pid := dmp.PatientID{Root: p.INS.OID, Extension: p.INS.Number + p.INS.Key}
		pdf, err := patients.DemoCDA(p, patients.DocumentSpec{TypeCode: "18748-4", TypeLabel: "CR d'imagerie médicale",
			Title: "Radiographie du thorax", ID: "1.2.250.1.999.2.1", Time: time.Now().AddDate(0, 0, -7)})
		if err != nil {
			t.Fatal(err)
		}
		ldl, err := patients.DemoStructuredCDA(p, patients.DocumentSpec{TypeCode: "11490-0",
			TypeLabel: "Lettre de liaison à la sortie d'un établissement de soins", Title: "Lettre de liaison (CH voisin)", ID: "1.2.250.1.999.2.2",
			Time: time.Now().AddDate(0, -2, 0)})
		if err != nil {
			t.Fatal(err)
		}
		for _, cda := range [][]byte{pdf, ldl} {
			if err := s.b.Sim.Preload(context.Background(), pid, "1130099999", cda); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	t.Fatal("no DURAND JEAN-PIERRE among INSi's people")
}

// At the bedside, in headless Chromium: the doctor signs in with his card,
// JEAN-PIERRE DURAND's identity is qualified through INSi, the tablet
// offers to read his DMP; the patient agrees to the establishment's
// access; the list shows his documents from elsewhere; a PDF document
// shows as page images above the screen, a structured one as HTML in a
// sandboxed frame, and no request leaves the tablet's own pages; back to
// the list, the document is gone. A CPE is then refused plainly.
func TestBedsideReading(t *testing.T) {
	s := start(t, "current", `context = "bedside"`)
	preloadDurand(t, s)
	var mu sync.Mutex
	var requests []string
	if err := chromedp.Listen(s.ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			requests = append(requests, e.Request.URL)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(s.ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	s.cards("vitale-famille", "cps-medecin", "1234#", "Quel patient")
	s.press("oui")
	s.passport()
	s.identical()
	s.see("Que souhaitez-vous faire")
	s.screenshot(s.ctx, "kiosk-menu")
	s.press("oui")
	s.see("Accord du patient")
	s.press("oui")
	s.see("Documents du DMP")
	s.see("Radiographie du thorax")
	s.see("Lettre de liaison (CH voisin)")
	s.screenshot(s.ctx, "kiosk-list")
	// The newest first: the PDF.
	s.press("oui")
	s.see("s'affiche sur la tablette")
	s.do(chromedp.Poll[chromedp.Void](`(() => { const i = document.querySelector("#page img"); return i && i.naturalWidth > 500 })()`,
		chromedp.WithPollingTimeout(30*time.Second)))
	s.screenshot(s.ctx, "kiosk-pdf")
	s.press("non")
	s.see("Documents du DMP")
	s.do(chromedp.Poll[chromedp.Void](`document.getElementById("viewer").hidden`, chromedp.WithPollingTimeout(10*time.Second)))
	// The structured lettre de liaison.
	s.press("non")
	s.press("oui")
	s.see("s'affiche sur la tablette")
	s.do(chromedp.Poll[chromedp.Void](`(() => { const f = document.querySelector("#page iframe"); return f && f.getAttribute("sandbox") === "" && f.contentDocument === null && f.dataset.loaded === "1" })()`,
		chromedp.WithPollingTimeout(30*time.Second)))
	// The page the frame shows is the rendered lettre de liaison.
	got, err := chromedp.Run(s.ctx, chromedp.Evaluate[string](`fetch("document/page?n=1").then(r => r.text())`, chromedp.EvalAwaitPromise))
	if err != nil || !strings.Contains(got, "Lettre de liaison") || strings.Contains(strings.ToLower(got), "<script") {
		t.Fatalf("the structured page: %v %.300s", err, got)
	}
	time.Sleep(1500 * time.Millisecond) // the frame painted, for the screenshot
	s.viewportShot(s.ctx, "kiosk-structured")
	mu.Lock()
	for _, u := range requests {
		if !strings.HasPrefix(u, s.k.Web) && !strings.HasPrefix(u, "data:") {
			t.Errorf("a request left the tablet's pages: %s", u)
		}
	}
	mu.Unlock()
	s.press("annuler")
	db, err := sql.Open("sqlite", "file:"+s.b.Journal+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM audit WHERE kind = 'dmp.consult'`).Scan(&n); err != nil || n != 4 {
		t.Errorf("%d consultations audited, want 4 (list, agreement, two documents): %v", n, err)
	}
	db.Close()

	// A CPE at the bedside: refused plainly, nothing read.
	s.tray(1, "remove", "")
	s.tray(0, "remove", "")
	s.see("Insérez les cartes")
	s.cards("vitale-famille", "cpe-accueil", "4321#", "Quel patient")
	s.press("oui")
	s.passport()
	s.identical()
	s.see("Que souhaitez-vous faire")
	s.press("oui")
	s.see("réservée aux professionnels de santé")
}
