package display

import (
	"testing"

	"golang.org/x/text/language"

	"dmpkiosk/display/lang"
	"dmpkiosk/display/receipt"
)

// BenchmarkInfoPage: an information page drawn for the tablet. The floor
// is the same page in French, laid out with the Go fonts; the stack is
// Arabic, shaped (HarfBuzz) and ordered right to left: the ratio is what
// shaping costs on each screen the patient turns.
func BenchmarkInfoPage(b *testing.B) {
	set := lang.Builtin()
	r, err := NewRenderer(false)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		tag  language.Tag
	}{{"floor", language.French}, {"stack", language.Arabic}} {
		sc := InfoPage(st, set, c.tag, 0)
		r.Render(sc, Tablet) // the fonts loaded
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r.Render(sc, Tablet)
			}
		})
	}
}

// BenchmarkReceipt: a receipt made for the printer. The floor is the
// French one as ESC/POS text; the stack is the Arabic one, rendered as an
// image and encoded as a raster (what a script outside the code page
// costs).
func BenchmarkReceipt(b *testing.B) {
	set := lang.Builtin()
	r, err := NewRenderer(false)
	if err != nil {
		b.Fatal(err)
	}
	fr, ar := sampleReceipt(set, 0).Lines(set), sampleReceipt(set, 3).Lines(set)
	b.Run("floor", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := receipt.EncodeText(fr, receipt.Paper80, receipt.DefaultCodePage); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stack", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			receipt.EncodeRaster(r.RenderReceipt(ar, receipt.Paper80, true))
		}
	})
}
