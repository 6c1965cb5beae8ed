package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"dmpkiosk/bridge/dmp/dmpsim"
	"dmpkiosk/hwtest/printer"
	"dmpkiosk/hwtest/system"
)

// evalString runs js in the kiosk's tab.
func (s *scenario) evalString(js string) string {
	s.t.Helper()
	v, err := chromedp.Run(s.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		s.t.Fatal(err)
	}
	return v
}

// toInformation drives a patient of the virtual card vitale-seul up to
// the information's language choice (the professional signed in).
func (s *scenario) toInformation() {
	s.t.Helper()
	s.see("MARTIN")
	s.passport()
	s.identical()
	s.see("Choisissez votre langue")
}

// bodyLang is how the page marks the screen reader's text: "lang dir".
func (s *scenario) bodyLang() string {
	s.t.Helper()
	return s.evalString(`document.getElementById("body").lang + " " + document.getElementById("body").dir`)
}

// The patient switches the information to English, then to Arabic: the
// screen and the screen reader's text change language (and direction);
// the receipt reaches the network printer, in Arabic as an image. The
// next patient reads it in English: the printer prints the receipt's
// text — the establishment, what was recorded, where to manage the
// record — and neither INS, NIR nor birth date.
func TestInformationLanguagesAndReceipt(t *testing.T) {
	vp := printer.Start(t)
	s := start(t, dmpsim.Current, `receipt = { printer = "tcp:`+vp.Addr+`", paper = 80, establishment = "CHU de Sainte-Anne" }`)
	s.cards("vitale-seul", "cps-medecin", "1234#", "MARTIN")
	s.toInformation()
	s.press("non")
	s.see("Choose your language")
	s.press("valider")
	s.see("The shared medical record (DMP)")
	if got := s.bodyLang(); got != "en ltr" {
		t.Fatalf("screen reader's text in English marked %q", got)
	}
	s.screenshot(s.ctx, "kiosk-information-english")
	s.pin("0") // the language again
	s.see("Choose your language")
	s.press("non")
	s.press("non")
	s.see("اختر لغتك")
	s.press("valider")
	s.see("الملف الطبي المشترك")
	if got := s.bodyLang(); got != "ar rtl" {
		t.Fatalf("screen reader's text in Arabic marked %q", got)
	}
	s.screenshot(s.ctx, "kiosk-information-arabic")
	for i := 1; i <= 5; i++ {
		s.see("الصفحة " + arabicDigit(i))
		s.press("valider")
	}
	s.see("informé")
	s.answers()
	s.see("Autorisation enregistrée")
	ar := vp.Next(t, 20*time.Second)
	if len(ar.Images) != 1 || ar.Images[0].Bounds().Dx() != 576 || !ar.Cut {
		t.Fatalf("Arabic receipt: %d images, cut %v", len(ar.Images), ar.Cut)
	}
	// The next patient, in English.
	s.tray(0, "remove", "")
	s.see("Patient suivant")
	s.tray(0, "insert", "vitale-seul")
	s.toInformation()
	s.press("non")
	s.press("valider")
	for i := 1; i <= 5; i++ {
		s.see("Page " + strconv.Itoa(i) + " of 5")
		s.press("valider")
	}
	s.see("informé")
	s.answers()
	s.see("Autorisation enregistrée")
	en := vp.Next(t, 20*time.Second)
	text := en.Text()
	for _, want := range []string{"CHU de Sainte-Anne", "Patient: MARTIN PAUL", "Hospital access to your DMP: authorized.",
		"Emergency access (break the glass): allowed.", "read in English (5", "monespacesante.fr"} {
		if !strings.Contains(text, want) {
			t.Errorf("English receipt lacks %q:\n%s", want, text)
		}
	}
	for _, never := range []string{"175067511203371", "1 75 06", "12/06/1975", "INS"} {
		if strings.Contains(text, never) {
			t.Errorf("receipt shows %q:\n%s", never, text)
		}
	}
	if !en.Cut {
		t.Error("the receipt was not cut")
	}
	s.auditIntact()
}

func arabicDigit(i int) string { return string(rune('٠' + i)) }

// The tablet prints the receipt itself: a link appears on the kiosk's
// page at the end of the session; the receipt page, in the patient's
// language, says what was recorded; it is gone once the next patient's
// card goes in.
func TestReceiptPageOnTheTablet(t *testing.T) {
	s := start(t, dmpsim.Current, `receipt = { printer = "page", establishment = "CHU de Sainte-Anne" }`)
	s.cards("vitale-seul", "cps-medecin", "1234#", "MARTIN")
	s.toInformation()
	s.press("valider")
	for i := 1; i <= 5; i++ {
		s.see("Page " + strconv.Itoa(i) + " sur 5")
		s.press("valider")
	}
	s.see("informé")
	s.answers()
	s.see("Autorisation enregistrée")
	s.do(chromedp.WaitVisible("#receipt"))
	s.do(chromedp.Navigate(s.k.Web + "/receipt"))
	got := s.evalString(`document.documentElement.lang + "|" + document.getElementById("receipt").innerText`)
	for _, want := range []string{"fr|", "CHU de Sainte-Anne", "Accès de l'établissement à votre DMP\u00a0: autorisé.", "lue en français (5 pages)", "monespacesante.fr"} {
		if !strings.Contains(got, want) {
			t.Errorf("receipt page lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "1975") || strings.Contains(got, "INS") {
		t.Errorf("identity on the receipt page:\n%s", got)
	}
	s.screenshot(s.ctx, "receipt-page")
	s.do(chromedp.Navigate(s.k.Web))
	s.tray(0, "remove", "")
	s.see("Patient suivant")
	s.tray(0, "insert", "vitale-seul")
	s.see("MARTIN")
	s.do(chromedp.WaitNotVisible("#receipt"))
	s.do(chromedp.Navigate(s.k.Web + "/receipt"))
	if body := s.evalString(`document.body.innerText`); !strings.Contains(body, "pas de reçu") {
		t.Fatalf("the last patient's receipt still served: %q", body)
	}
}

// INSi slow to answer: the screen says what it waits for and counts the
// seconds, a bar filling, until INSi's traits come.
func TestProgressWhileINSiIsSlow(t *testing.T) {
	s := startWith(t, system.BridgeOptions{Regime: dmpsim.Current, INSiLatency: 3 * time.Second})
	s.cards("vitale-seul", "cps-medecin", "1234#", "MARTIN")
	s.passport()
	s.see("Réponse du téléservice INSi : 1 s")
	s.see("Réponse du téléservice INSi : 2 s")
	s.screenshot(s.ctx, "kiosk-insi-waiting")
	s.identical()
	s.see("Choisissez votre langue")
}
