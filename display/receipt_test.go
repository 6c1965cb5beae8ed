package display

import (
	"strings"
	"testing"
	"time"

	"dmpkiosk/display/lang"
	"dmpkiosk/display/receipt"
)

// SampleReceipt is a receipt with every kind of line, at a fixed moment.
func sampleReceipt(set *lang.Set, i int) receipt.Receipt {
	paris, _ := time.LoadLocation("Europe/Paris")
	return receipt.Receipt{Establishment: "CHU de Sainte-Anne", At: time.Date(2026, 12, 1, 10, 42, 0, 0, paris), Lang: set.Tags()[i],
		Patient: "MARTIN PAUL", Outcome: receipt.Created, Authorized: true, BrisDeGlaceOpposed: true, PagesRead: 5}
}

// The receipt's rendering in each language and on both paper widths:
// golden files; the identity lines only when given.
func TestGoldenReceipts(t *testing.T) {
	set := lang.Builtin()
	r, err := NewRenderer(false)
	if err != nil {
		t.Fatal(err)
	}
	for i, tag := range set.Tags() {
		rc := sampleReceipt(set, i)
		lines := rc.Lines(set)
		text := receipt.Text(lines)
		for _, want := range []string{"CHU de Sainte-Anne", "MARTIN PAUL", set.Printer(tag).Sprintf("receipt.created"), set.Printer(tag).Sprintf("receipt.bdg.opposed"),
			set.Printer(tag).Sprintf("receipt.samu.allowed"), "monespacesante.fr"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: no %q in\n%s", tag, want, text)
			}
		}
		if strings.Contains(text, "1975") || strings.Contains(text, "INS") {
			t.Errorf("%s: identity on a receipt not configured for it:\n%s", tag, text)
		}
		for _, paper := range []receipt.Paper{receipt.Paper58, receipt.Paper80} {
			img := r.RenderReceipt(lines, paper, lang.RightToLeft(tag))
			if img.Bounds().Dx() != paper.Dots || img.Bounds().Dy() < 200 {
				t.Fatalf("%s %s: %v", tag, paper.Name, img.Bounds())
			}
			goldenCompare(t, "receipt/"+tag.String()+"-"+paper.Name, img)
		}
	}
	rc := sampleReceipt(set, 0)
	rc.Outcome, rc.CreationRefused, rc.Authorized = "", true, false
	if text := receipt.Text(rc.Lines(set)); !strings.Contains(text, "Vous avez refusé la création de votre DMP.") ||
		!strings.Contains(text, "votre DMP\u00a0: refusé.") || strings.Contains(text, "créé.") {
		t.Errorf("creation refused:\n%s", text)
	}
	rc = sampleReceipt(set, 0)
	rc.BirthDate, rc.INS = "12/06/1975", "1 75 06 75 112 042 54"
	text := receipt.Text(rc.Lines(set))
	if !strings.Contains(text, "Né(e) le 12/06/1975") || !strings.Contains(text, "INS\u00a0: 1 75 06") {
		t.Errorf("identity configured, not printed:\n%s", text)
	}
	goldenCompare(t, "receipt/fr-80-identity", r.RenderReceipt(rc.Lines(set), receipt.Paper80, false))
}
