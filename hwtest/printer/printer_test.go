package printer

import (
	"context"
	"errors"
	"image"
	"strings"
	"testing"
	"time"

	"dmpkiosk/display"
	"dmpkiosk/display/lang"
	"dmpkiosk/display/receipt"
)

func sample(set *lang.Set, i int) []receipt.Line {
	return receipt.Receipt{Establishment: "CHU de Sainte-Anne", At: time.Date(2026, 12, 1, 10, 42, 0, 0, time.UTC), Lang: set.Tags()[i],
		Patient: "LEFÈVRE-D'ORÇAY ÉLODIE", Outcome: receipt.Exists, PagesRead: 5}.Lines(set)
}

// What the kiosk sends, as the printer prints it: the Latin languages'
// text in code page 1252, accents and all, wrapped to the paper's columns,
// the titles bold, then the cut; Arabic, outside the code page, refused
// as text and printed as the rendered image, dot for dot.
func TestReceiptsAsPrinted(t *testing.T) {
	set := lang.Builtin()
	r, err := display.NewRenderer(false)
	if err != nil {
		t.Fatal(err)
	}
	for i, tag := range set.Tags() {
		lines := sample(set, i)
		for k, paper := range []receipt.Paper{receipt.Paper58, receipt.Paper80} {
			cp := []int{19, receipt.DefaultCodePage}[k] // PC858 on the small printer, WPC1252 on the other
			b, err := receipt.EncodeText(lines, paper, cp)
			if tag.String() == "ar" {
				if !errors.Is(err, receipt.ErrNotInCodePage) {
					t.Fatalf("Arabic as text: %v", err)
				}
				img := r.RenderReceipt(lines, paper, true)
				got, err := Decode(receipt.EncodeRaster(img))
				if err != nil || len(got.Images) != 1 || !got.Cut {
					t.Fatalf("raster: %v %+v", err, got)
				}
				if !sameImage(img, got.Images[0]) {
					t.Errorf("%s: the printed image is not the rendered one", paper.Name)
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("%s %s: %v", tag, paper.Name, err)
			}
			var want []string
			for _, l := range lines {
				if l.Rule {
					want = append(want, strings.Repeat("-", paper.Cols))
					continue
				}
				cols := paper.Cols
				if l.Big {
					cols /= 2
				}
				want = append(want, receipt.WrapRunes(l.Text, cols)...)
			}
			if strings.Join(got.Lines, "\n") != strings.Join(want, "\n") || !got.Cut {
				t.Errorf("%s %s: printed\n%s\nwant\n%s", tag, paper.Name, got.Text(), strings.Join(want, "\n"))
			}
			for _, l := range got.Lines {
				if len([]rune(l)) > paper.Cols {
					t.Errorf("%s %s: line wider than the paper: %q", tag, paper.Name, l)
				}
			}
			if !strings.Contains(got.Text(), "LEFÈVRE-D'ORÇAY ÉLODIE") || !got.Bold[0] {
				t.Errorf("%s: accents or bold lost:\n%s", tag, got.Text())
			}
		}
	}
}

func sameImage(a, b *image.Gray) bool {
	if a.Bounds().Dx() > b.Bounds().Dx() || a.Bounds().Dy() != b.Bounds().Dy() {
		return false
	}
	for y := range a.Bounds().Dy() {
		for x := range a.Bounds().Dx() {
			if (a.GrayAt(x, y).Y < 0x80) != (b.GrayAt(x, y).Y < 0x80) {
				return false
			}
		}
	}
	return true
}

// A code page the kiosk does not know is refused at once.
func TestUnknownCodePage(t *testing.T) {
	if _, err := receipt.EncodeText(sample(lang.Builtin(), 0), receipt.Paper80, 7); err == nil {
		t.Fatal("code page 7 accepted")
	}
}

// What a printer cannot print is an error, never taken for a receipt.
func TestDecodeRefuses(t *testing.T) {
	for name, b := range map[string][]byte{
		"unknown ESC":     {0x1B, 'Z', 1},
		"raster cut":      {0x1D, 'v', '0', 0, 2, 0, 10, 0, 0xFF},
		"text unended":    []byte("Bonjour"),
		"code page 99":    {0x1B, 't', 99, 'a', 0x0A},
		"control byte":    {0x07, 0x0A},
		"command unended": {0x1B},
	} {
		if _, err := Decode(b); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// The kiosk's network printer client against the virtual printer: the
// job arrives whole; a printer that is not there is said in words.
func TestNetworkPrinter(t *testing.T) {
	vp := Start(t)
	p, err := receipt.Open("tcp:" + vp.Addr)
	if err != nil {
		t.Fatal(err)
	}
	set := lang.Builtin()
	b, _ := receipt.EncodeText(sample(set, 0), receipt.Paper80, receipt.DefaultCodePage)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Print(ctx, b); err != nil {
		t.Fatal(err)
	}
	if got := vp.Next(t, 5*time.Second); !strings.Contains(got.Text(), "Votre DMP existait déjà.") {
		t.Fatalf("printed: %q", got.Text())
	}
	down, _ := receipt.Open("tcp:127.0.0.1:1")
	if err := down.Print(ctx, b); !errors.Is(err, receipt.ErrPrinter) || !strings.Contains(err.Error(), "injoignable") {
		t.Fatalf("printer down: %v", err)
	}
	usb, _ := receipt.Open("usb:/dev/usb/lp-absent")
	if err := usb.Print(ctx, b); !errors.Is(err, receipt.ErrPrinter) || !strings.Contains(err.Error(), "absente") {
		t.Fatalf("USB printer absent: %v", err)
	}
	for _, bad := range []string{"lpt1", "usb:lp0", "tcp:", "tcp:host"} {
		if _, err := receipt.Open(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
