package firmware

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dmpkiosk/display"
	"dmpkiosk/display/input"
	"dmpkiosk/display/lang"
	"dmpkiosk/display/receipt"
	"dmpkiosk/firmware/event"
	"dmpkiosk/hwtest/printer"
)

// usbPrinter stands a file for the USB printer's device and returns it.
func usbPrinter(t *testing.T, paper int, identity bool) (string, func(*Config)) {
	dev := filepath.Join(t.TempDir(), "lp0")
	if err := os.WriteFile(dev, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return dev, func(c *Config) {
		c.Receipt = ReceiptConfig{Printer: "usb:" + dev, Paper: paper, Establishment: "CHU de Sainte-Anne", Identity: identity}
	}
}

// toLanguage runs a session of vitale-seul up to the information's
// language, no document checked.
func (r *memRig) toLanguage() {
	r.t.Helper()
	r.insert(0, "vitale-seul")
	r.insert(1, "cps-medecin")
	r.wait(display.KindEnterPIN, "Code")
	r.press(keys("1234#")...)
	r.wait(display.KindIdentity, "MARTIN")
	r.press(non)
	r.wait(display.KindLanguage, "")
}

// printedOn waits for a job on the device file and decodes it.
func printedOn(t *testing.T, dev string) printer.Printed {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		// A job read while it is being written does not decode yet.
		if b, _ := os.ReadFile(dev); len(b) > 0 {
			var got printer.Printed
			if got, err = printer.Decode(b); err == nil && got.Cut {
				return got
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing printed whole: %v", err)
	return printer.Printed{}
}

// The patient reads the information in Spanish and answers; the bridge
// says the DMP was created: the receipt, in Spanish, says what was
// recorded and names the patient, without their birth date or INS.
func TestSessionReceiptPrinted(t *testing.T) {
	dev, cfg := usbPrinter(t, 58, false)
	r := newMemRig(t, "legacy", time.Minute, cfg, infoPages(lang.Builtin()))
	r.toLanguage()
	r.press(input.Event{Key: '3'})
	r.readInformation()
	r.press(oui, oui, oui, valider, oui) // informed, creation, access, no bris de glace opposition, SAMU opposed
	r.wait(display.KindSending, "")
	p, _, err := r.ob.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r.link.results <- event.Result{EventID: p.ID, Outcome: event.OutcomeCreated, Message: "DMP créé."}
	r.wait(display.KindResult, "DMP créé")
	got := printedOn(t, dev)
	text := got.Text()
	for _, want := range []string{"CHU de", "Sainte-Anne", "Paciente: MARTIN PAUL", "Su DMP ha sido creado.", "Acceso del hospital a su DMP:",
		"autorizado.", "Acceso de urgencia: autorizado.", "usted se opone.", "español (5 páginas)", "monespacesante.fr"} {
		if !strings.Contains(text, want) {
			t.Errorf("receipt lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "rechazado") {
		t.Errorf("creation given, said refused:\n%s", text)
	}
	if strings.Contains(text, "1975") || strings.Contains(text, "INS") || strings.Contains(text, "17506") {
		t.Errorf("identity on the receipt:\n%s", text)
	}
	for _, l := range got.Lines {
		if len([]rune(l)) > 32 {
			t.Errorf("line wider than 58 mm paper: %q", l)
		}
	}
}

// Offline, the receipt says the request is kept; printed in Arabic it
// is an image; an establishment that prints the identity has the birth
// date and the INS on it; the printer gone, the final screen says the
// receipt was not printed and what the patient can do, the request kept
// all the same.
func TestSessionReceiptOfflineArabicAndPrinterGone(t *testing.T) {
	dev, cfg := usbPrinter(t, 80, true)
	r := newMemRig(t, "current", time.Minute, cfg, infoPages(lang.Builtin()), staySignedIn(time.Hour))
	r.link.online.Store(false)
	r.toLanguage()
	r.press(input.Event{Key: '4'})
	r.readInformation()
	r.press(oui, oui, valider, valider)
	r.wait(display.KindQueued, "")
	got := printedOn(t, dev)
	if len(got.Images) != 1 || got.Images[0].Bounds().Dx() != 576 || len(got.Lines) != 0 {
		t.Fatalf("Arabic receipt: %d images, lines %q", len(got.Images), got.Lines)
	}
	next := func() {
		r.remove(0)
		r.insert(0, "vitale-seul")
		r.wait(display.KindIdentity, "MARTIN")
		r.press(non)
		r.wait(display.KindLanguage, "")
		r.press(valider)
		r.readInformation()
		r.press(oui, oui, valider, valider)
	}
	os.WriteFile(dev, nil, 0o600)
	next()
	r.wait(display.KindQueued, "")
	if text := printedOn(t, dev).Text(); !strings.Contains(text, "Né(e) le 12/06/1975") || !strings.Contains(text, "INS\u00a0: 1 75 06 75 112 033 71") ||
		!strings.Contains(text, "enregistrée\u00a0; elle sera") {
		t.Errorf("receipt with the identity configured:\n%s", text)
	}
	// The next patient; the printer unplugged meanwhile.
	os.Remove(dev)
	next()
	r.wait(display.KindQueued, "Reçu non imprimé")
	if n, _, _ := r.ob.Depth(context.Background()); n != 3 {
		t.Fatalf("%d events kept", n)
	}
}

// What the receipt says of each outcome, and when there is none to print.
func TestReceiptOutcome(t *testing.T) {
	agreed, refusedByPatient := &receipt.Receipt{Authorized: true}, &receipt.Receipt{}
	for _, c := range []struct {
		outcome string
		r       *receipt.Receipt
		want    string
		ok      bool
	}{
		{event.OutcomeCreated, agreed, receipt.Created, true},
		{event.OutcomeExists, agreed, receipt.Exists, true},
		{event.OutcomeIdentity, agreed, receipt.Identity, true},
		{event.OutcomeAuthorized, agreed, "", true},
		{event.OutcomeRefused, refusedByPatient, "", true}, // the patient's refusal, recorded
		{event.OutcomeRefused, agreed, "", false},          // no DMP to give access to
		{event.OutcomeError, agreed, "", false},
		{event.OutcomeCreated, nil, "", false},
	} {
		got, ok := receiptOutcome(c.outcome, c.r)
		if got != c.want || ok != c.ok {
			t.Errorf("%s (authorized %v): %q %v", c.outcome, c.r != nil && c.r.Authorized, got, ok)
		}
	}
}
