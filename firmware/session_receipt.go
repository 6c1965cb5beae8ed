package firmware

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/text/language"

	"dmpkiosk/display"
	"dmpkiosk/display/lang"
	"dmpkiosk/display/receipt"
	"dmpkiosk/firmware/event"
	"dmpkiosk/provisioning"
)

// ReceiptConfig is the receipt table of kiosk.toml: where the patient's
// receipt goes at the end of their session.
type ReceiptConfig struct {
	// Printer: "" (none), "page" (a page the tablet prints, on the web
	// view), "usb:/dev/usb/lp0" or "tcp:host:9100" (an ESC/POS printer).
	Printer string `toml:"printer"`
	// Paper is the roll's width in millimetres: 58 or 80 (80 when unsaid).
	Paper int `toml:"paper"`
	// Establishment is the name at the top of the receipt.
	Establishment string `toml:"establishment"`
	// Identity prints the patient's birth date and INS too (off: the
	// receipt names the patient only).
	Identity bool `toml:"identity"`
	// CodePage is the printer's code page for text, by ESC t's number:
	// 16 (WPC1252, when unsaid), 2 (PC850) or 19 (PC858).
	CodePage int `toml:"code_page"`
}

// ReceiptOut takes a finished receipt.
type ReceiptOut interface {
	PrintReceipt(ctx context.Context, r receipt.Receipt, set *lang.Set) error
	// ClearReceipt forgets the last receipt (the next patient has come).
	ClearReceipt()
}

// PrinterOut prints receipts on an ESC/POS printer: as text in its code
// page when that holds every letter, else as the rendered image.
type PrinterOut struct {
	Printer  receipt.Printer
	Paper    receipt.Paper
	CodePage int
	Renderer *display.Renderer
}

// PrintReceipt implements ReceiptOut.
func (p PrinterOut) PrintReceipt(ctx context.Context, r receipt.Receipt, set *lang.Set) error {
	lines := r.Lines(set)
	b, err := receipt.EncodeText(lines, p.Paper, p.CodePage)
	if errors.Is(err, receipt.ErrNotInCodePage) {
		b, err = receipt.EncodeRaster(p.Renderer.RenderReceipt(lines, p.Paper, lang.RightToLeft(r.Lang))), nil
	}
	if err != nil {
		return err
	}
	return p.Printer.Print(ctx, b)
}

// ClearReceipt implements ReceiptOut: paper keeps nothing.
func (PrinterOut) ClearReceipt() {}

// OpenReceipts is where a configuration sends receipts: nil when none;
// page is the web view's page (nil without one).
func OpenReceipts(c ReceiptConfig, rend *display.Renderer, page ReceiptOut) (ReceiptOut, error) {
	switch c.Printer {
	case "":
		return nil, nil
	case "page":
		if page == nil {
			return nil, errors.New("receipt.printer = \"page\" needs the web view (web_listen)")
		}
		return page, nil
	}
	p, err := receipt.Open(c.Printer)
	if err != nil {
		return nil, err
	}
	paper, err := receipt.PaperOf(c.Paper)
	if err != nil {
		return nil, err
	}
	cp := c.CodePage
	if cp == 0 {
		cp = receipt.DefaultCodePage
	}
	if _, ok := receipt.CodePages[cp]; !ok {
		return nil, fmt.Errorf("receipt.code_page %d : 2 (PC850), 16 (WPC1252) ou 19 (PC858)", cp)
	}
	return PrinterOut{Printer: p, Paper: paper, CodePage: cp, Renderer: rend}, nil
}

// draftReceipt is the receipt of the event just stored, before its
// outcome: made before the session's data are forgotten, and holding
// only what the receipt prints.
func (s *Session) draftReceipt(e *event.Event) *receipt.Receipt {
	if s.Receipts == nil {
		return nil
	}
	tag := lang.Default
	if s.form.informedIn != "" {
		tag = language.Make(s.form.informedIn)
	}
	r := &receipt.Receipt{Establishment: s.Config.Receipt.Establishment, Lang: tag,
		Patient: e.Patient.Traits.BirthName + " " + e.Patient.Traits.FirstName, Authorized: e.Consent.Authorization,
		BrisDeGlaceOpposed: e.Consent.BrisDeGlaceOpposition, SAMUOpposed: e.Consent.EmergencyOpposition,
		CreationRefused: e.Consent.Creation != nil && !*e.Consent.Creation}
	if s.form.informedIn != "" {
		r.PagesRead = s.form.pagesRead
	}
	if s.Config.Receipt.Identity {
		r.BirthDate = dateFR(e.Patient.Traits.BirthDate)
		if e.Patient.INS != nil {
			r.INS = grouped(e.Patient.INS.Value)
		}
	}
	return r
}

// printReceipt sends the receipt of the event finished with outcome, on
// its own goroutine; a failure comes back on s.printed and is said on the
// final screen.
func (s *Session) printReceipt(outcome string) {
	r := s.receipt
	s.receipt = nil
	if r == nil {
		return
	}
	r.Outcome = outcome
	r.At = s.now().In(provisioning.Paris)
	out, set := s.Receipts, s.Config.Languages()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
		defer cancel()
		err := out.PrintReceipt(ctx, *r, set)
		select {
		case s.printed <- err:
		default: // the session has stopped, or another receipt's answer waits
			if err != nil {
				s.Logger.Error("session: receipt not printed", "error", err)
			}
		}
	}()
}

// onPrinted: a receipt that could not be printed is said on the final
// screen, with what to do; the outcome stands.
func (s *Session) onPrinted(err error) {
	if err == nil {
		return
	}
	s.Logger.Error("session: receipt not printed", "error", err)
	if s.st != stDone && s.st != stIdle {
		return
	}
	sc := s.Display.Last()
	sc.Body = append(sc.Body, fmt.Sprintf(txtReceiptFailed, err))
	s.show(sc)
}

// receiptOutcome is what a receipt says of the bridge's outcome; ok is
// false when there is nothing to print: no receipt pending, nothing
// recorded (a processing error), or no DMP to give access to (refused
// although the patient agreed: the screen tells the staff what to do).
func receiptOutcome(o string, r *receipt.Receipt) (string, bool) {
	if r == nil || o == event.OutcomeRefused && r.Authorized {
		return "", false
	}
	switch o {
	case event.OutcomeCreated:
		return receipt.Created, true
	case event.OutcomeExists:
		return receipt.Exists, true
	case event.OutcomeIdentity:
		return receipt.Identity, true
	case event.OutcomeAuthorized, event.OutcomeRefused:
		return "", true
	}
	return "", false
}

// grouped writes a 15-digit INS as it is read aloud and printed on the
// Vitale card: sex, year, month, department, commune, order, key.
func grouped(v string) string {
	if len(v) != 15 {
		return v
	}
	return v[0:1] + " " + v[1:3] + " " + v[3:5] + " " + v[5:7] + " " + v[7:10] + " " + v[10:13] + " " + v[13:15]
}

// PrintTest prints a test ticket on the configured printer: the IT team
// checks the paper, the cut and the accents (kiosk selftest). ok is false
// when no printer is configured ("page" or none).
func PrintTest(ctx context.Context, c ReceiptConfig, deviceID string, at time.Time) (ok bool, err error) {
	if c.Printer == "" || c.Printer == "page" {
		return false, nil
	}
	out, err := OpenReceipts(c, nil, nil)
	if err != nil {
		return true, err
	}
	p := out.(PrinterOut)
	lines := []receipt.Line{{Text: c.Establishment, Bold: true, Big: true, Center: true},
		{Text: "Test de l'imprimante de la borne " + deviceID, Bold: true, Center: true},
		{Text: at.In(provisioning.Paris).Format("02/01/2006 15:04"), Center: true}, {Rule: true},
		{Text: "Accents : é è ê à ç ù ô î À Ç"},
		{Text: "Ce texte lisible, le papier coupé : l'imprimante est prête pour les reçus des patients."}}
	b, err := receipt.EncodeText(lines, p.Paper, p.CodePage)
	if err != nil {
		return true, err
	}
	return true, p.Printer.Print(ctx, b)
}
