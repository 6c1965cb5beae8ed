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
	"dmpkiosk/bridge/dmp/dmpsim"
	"dmpkiosk/bridge/insi/insisim"
	"dmpkiosk/bridge/sih"
	"dmpkiosk/hwtest/patients"
	"dmpkiosk/hwtest/system"
)

// preloadDurand puts the documents docs writes for JEAN-PIERRE DURAND
// (the family card's first beneficiary) in his DMP, as documents from
// elsewhere.
func preloadDurand(tb testing.TB, sim *dmpsim.Sim, docs func(p insisim.Person) ([][]byte, error)) {
	tb.Helper()
	known, err := patients.INSi()
	if err != nil {
		tb.Fatal(err)
	}
	for _, p := range known {
		if p.INS.Number != "1800269123045" {
			continue
		}
		cdas, err := docs(p)
		if err != nil {
			tb.Fatal(err)
		}
		pid := dmp.PatientID{Root: p.INS.OID, Extension: p.INS.Number + p.INS.Key}
		for _, cda := range cdas {
			if err := sim.Preload(context.Background(), pid, "1130099999", cda); err != nil {
				tb.Fatal(err)
			}
		}
		return
	}
	tb.Fatal("no DURAND JEAN-PIERRE among INSi's people")
}

// lettreDeLiaison is the structured lettre de liaison from elsewhere, two
// months old.
func lettreDeLiaison(p insisim.Person) ([]byte, error) {
	return patients.DemoStructuredCDA(p, patients.DocumentSpec{TypeCode: "11490-0",
		TypeLabel: "Lettre de liaison à la sortie d'un établissement de soins", Title: "Lettre de liaison (CH voisin)", ID: "1.2.250.1.999.2.2",
		Time: time.Now().AddDate(0, -2, 0)})
}

// aWeekOfDocuments: a CR d'imagerie (a PDF) a week old and the lettre de
// liaison.
func aWeekOfDocuments(p insisim.Person) ([][]byte, error) {
	pdf, err := patients.DemoCDA(p, patients.DocumentSpec{TypeCode: "18748-4", TypeLabel: "CR d'imagerie médicale",
		Title: "Radiographie du thorax", ID: "1.2.250.1.999.2.1", Time: time.Now().AddDate(0, 0, -7)})
	if err != nil {
		return nil, err
	}
	ldl, err := lettreDeLiaison(p)
	return [][]byte{pdf, ldl}, err
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
	preloadDurand(t, s.b.Sim, aWeekOfDocuments)
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
	s.pageImageShown()
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

// pageImageShown waits for a page of the document as an image in the
// tablet's viewer; if it does not come, says what the viewer holds.
func (s *scenario) pageImageShown() {
	s.t.Helper()
	if _, err := chromedp.Run(s.ctx, chromedp.Poll[chromedp.Void](`(() => { const i = document.querySelector("#page img"); return i && i.naturalWidth > 500 })()`,
		chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		state, _ := chromedp.Run(context.WithoutCancel(s.ctx), chromedp.Evaluate[string](`(async () => {
			const i = document.querySelector("#page img");
			const r = await fetch("document.json", {cache: "no-store"});
			return JSON.stringify({viewer: doc, latest, retries, hidden: document.getElementById("viewer").hidden,
				img: i ? {src: i.src, complete: i.complete, w: i.naturalWidth} : null, server: r.status + " " + await r.text()});
		})()`, chromedp.EvalAwaitPromise))
		s.t.Fatalf("no page image in the viewer: %v\nviewer: %s\nkiosk log:\n%s", err, state, s.k.Log)
	}
}

// blockedAndOpposed: JEAN-PIERRE DURAND blocked the interne's card
// (FONTAINE, cpf-interne) in his DMP; HÉLÈNE DURAND opposed emergency
// access to hers.
func blockedAndOpposed(people []dmpsim.Person) []dmpsim.Person {
	for i, p := range people {
		for _, id := range p.IDs {
			switch {
			case strings.HasPrefix(id.Extension, "1800269123045"):
				people[i].Blocked = []string{"810100998877"}
			case strings.HasPrefix(id.Extension, "2820933063112"):
				people[i].OpposedBrisDeGlace = true
			}
		}
	}
	return people
}

// The round, in headless Chromium: the GAM admits two patients to the
// tablet's unit; the doctor's card alone signs in and the unit's list
// comes; the room typed finds a patient, who opposed emergency access:
// refused; back to the list, signed in still, the other patient, whose DMP the establishment may not read
// yet, is read in an emergency with a reason — no agreement asked, the
// access listed on the admin web with its reason; the interne this
// patient blocked is told so (TD1.6).
func TestBedsideRound(t *testing.T) {
	s := startWith(t, system.BridgeOptions{Regime: "current", KioskUnit: "CARDIO", SIHListen: true,
		DMPPeople: blockedAndOpposed}, `context = "bedside"`)
	preloadDurand(t, s.b.Sim, aWeekOfDocuments)
	admitted, err := patients.Admissions(system.GAMDomain, "CARDIO", "1800269123045", "2820933063112")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range admitted {
		ack, err := sih.Exchange(context.Background(), s.b.SIH, nil, a.Msg, 10*time.Second)
		if err != nil || !strings.Contains(string(ack), "MSA|AA|") {
			t.Fatalf("admission of %s: %v %q", a.Person.Traits.BirthName, err, ack)
		}
	}
	s.tray(1, "insert", "cps-medecin")
	s.see("Code de la carte professionnelle")
	s.pin("1234#")
	s.see("Patients de l'unité CARDIO")
	s.see("Ch. 12 · DURAND JEAN-PIERRE")
	s.see("Ch. 13 · DURAND HELENE")
	s.screenshot(s.ctx, "kiosk-ward")

	// Room 13: HÉLÈNE DURAND opposed emergency access.
	s.pin("13")
	s.see("Chambre 13")
	s.press("oui")
	s.see("Que souhaitez-vous faire")
	s.press("non")
	s.press("oui")
	s.see("Motif de l'accès en urgence")
	s.press("oui")
	s.see("opposé")
	s.screenshot(s.ctx, "kiosk-opposed")

	// Room 12, in an emergency for a reason: the list without the
	// patient's agreement, marked, and a document read.
	s.press("valider")
	s.see("Que souhaitez-vous faire")
	// Back to the unit's list for the next patient, signed in still.
	s.pin("*")
	s.see("Tapez le numéro de chambre")
	s.press("oui")
	s.see("DURAND JEAN-PIERRE (identité qualifiée)")
	s.press("non")
	s.press("oui")
	s.see("Motif de l'accès en urgence")
	s.press("non")
	s.screenshot(s.ctx, "kiosk-reason")
	s.press("oui")
	s.see("Radiographie du thorax")
	s.see("urgence")
	s.screenshot(s.ctx, "kiosk-emergency-list")
	s.press("oui")
	s.see("s'affiche sur la tablette")
	s.pageImageShown()
	s.admin("/emergencies", "admin-emergencies", "810100456789", "Urgence vitale", "refusé par le DMP", "accordé")
	s.press("annuler")

	// The interne FONTAINE, whom JEAN-PIERRE DURAND blocked: the patient
	// agrees to the establishment's access, then the DMP refuses him, and
	// the tablet says why.
	s.tray(1, "remove", "")
	s.see("Insérez")
	s.tray(1, "insert", "cpf-interne")
	s.see("Code de la carte professionnelle")
	s.pin("2468#")
	s.see("Patients de l'unité CARDIO")
	s.press("oui")
	s.see("Que souhaitez-vous faire")
	s.press("oui")
	s.see("Accord du patient")
	s.press("oui")
	s.see("bloqué votre accès")
	s.screenshot(s.ctx, "kiosk-blocked")
}
