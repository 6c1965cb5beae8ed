package display

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"dmpkiosk/display/lang"
)

func withProgress(s Screen, what string, elapsed, expected time.Duration) Screen {
	s.Progress = &Progress{What: what, Elapsed: elapsed, Expected: expected}
	return s
}

// The information pages and the language choice in each built-in
// language, on every panel, in both text sizes: golden files, and every
// language's text reaches the screen reader's text.
func TestGoldenInformation(t *testing.T) {
	set := lang.Builtin()
	for _, large := range []bool{false, true} {
		r, err := NewRenderer(large)
		if err != nil {
			t.Fatal(err)
		}
		for i, tag := range set.Tags() {
			pages := set.Pages(tag)
			screens := map[string]Screen{"language": LanguageChoice(st, set, i), "info-1": InfoPage(st, set, tag, 0),
				"info-" + strconv.Itoa(len(pages)): InfoPage(st, set, tag, len(pages)-1)}
			for name, s := range screens {
				if !strings.Contains(s.Text(), s.Title) || s.Lang != tag.String() {
					t.Errorf("%s %s: screen text or language wrong: %q", tag, name, s.Lang)
				}
				for _, sz := range Sizes {
					if large && sz.Name == "oled" {
						continue
					}
					n := "info/" + name + "-" + tag.String() + "-" + sz.Name
					if large {
						n += "-large"
					}
					img, lay := r.Render(s, sz)
					if lay.Lines == 0 {
						t.Errorf("%s: nothing drawn", n)
					}
					goldenCompare(t, n, img)
				}
			}
		}
	}
}

var update = flag.Bool("update", false, "rewrite the golden PNG files")

var st = Status{Online: true, Queue: 0, Slots: [2]string{"Vitale", "CPS"}}

// sampleScreens are every screen of the session with realistic content.
func sampleScreens() map[string]Screen {
	family := []string{"DURAND Jean-Pierre, 15/02/1980 (assuré)", "DURAND Hélène, 30/09/1982 (conjointe)",
		"DURAND Léa, 04/05/2010", "DURAND Noé-Gabriel, 17/01/2013", "DURAND Maëlys, 11/08/2016", "DURAND Zoé, 11/08/2016 (rang 2)"}
	off := Status{Online: false, Queue: 3, Slots: [2]string{"Vitale", "CPS"}}
	return map[string]Screen{
		"idle":              Idle(Status{Online: true}),
		"reading":           Reading(st),
		"choose":            ChooseBeneficiary(st, family, 3),
		"pin":               EnterPIN(st, 2, 4, -1),
		"pin-wrong":         EnterPIN(st, 0, 4, 2),
		"card-blocked":      CardProblem(st, "Carte bloquée", "Trop de codes faux. Débloquez-la avec son code de déblocage ou demandez une nouvelle carte."),
		"card-expired":      CardProblem(st, "Carte expirée", "Cette carte n'est plus valable. Utilisez une carte en cours de validité."),
		"card-unknown":      CardProblem(st, "Carte non reconnue", "Insérez une carte Vitale ou une carte professionnelle, puce vers le haut."),
		"identity":          IdentitySummary(st, []string{"Nom de naissance : DURAND", "Prénom : LÉA", "Née le 04/05/2010", "INS : NIR de l'assuré, statut provisoire"}),
		"consent":           Consent(st, "Le patient a-t-il reçu la brochure d'information sur le DMP ?", []string{"Oui", "Non"}, 0),
		"consent-emergency": Consent(st, "Accès en urgence (bris de glace) : le patient s'y oppose-t-il ?", []string{"Non, accès autorisé", "Oui, il s'y oppose"}, 0),
		"sending":           Sending(st),
		"insi-waiting":      withProgress(INSiSearching(st), "INSi", 3*time.Second, 12*time.Second),
		"sending-long":      withProgress(Sending(st), "Réponse de l'établissement", 9*time.Second, 5*time.Second),
		"queued":            Queued(off),
		"result-created":    Result(st, Success, "DMP créé", "Remettez au patient le document d'accès à son DMP."),
		"result-authorized": Result(st, Success, "Autorisation enregistrée", "L'établissement peut alimenter le DMP du patient."),
		"result-exists":     Result(st, Neutral, "Le DMP existe déjà", "Aucune création : l'autorisation d'accès a été vérifiée."),
		"result-refused":    Result(st, Danger, "Refusé par le DMP", "Identité non certifiée : vérifiez l'identité du patient avec le bureau des entrées."),
		"error":             Error(st, "Borne injoignable", "Le serveur de l'établissement ne répond pas. La demande sera renvoyée ; prévenez le support si cela dure."),
		"selftest":          SelfTest(st),
	}
}

func goldenCompare(t *testing.T, name string, img image.Image) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".png")
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%s: %v (run go test ./display -update once, then look at the file)", name, err)
	}
	defer f.Close()
	want, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if !want.Bounds().Eq(img.Bounds()) {
		t.Fatalf("%s: size %v, golden %v", name, img.Bounds(), want.Bounds())
	}
	diff := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r1, g1, b1, _ := img.At(x, y).RGBA()
			r2, g2, b2, _ := want.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 {
				diff++
			}
		}
	}
	if diff > 0 {
		t.Errorf("%s: %d pixels differ from the golden file", name, diff)
	}
}

func TestGoldenScreens(t *testing.T) {
	for _, large := range []bool{false, true} {
		r, err := NewRenderer(large)
		if err != nil {
			t.Fatal(err)
		}
		for name, s := range sampleScreens() {
			for _, sz := range Sizes {
				if large && sz.Name == "oled" {
					continue // the OLED has one text size
				}
				n := name + "-" + sz.Name
				if large {
					n += "-large"
				}
				img, _ := r.Render(s, sz)
				goldenCompare(t, n, img)
			}
		}
	}
}

func TestTextNeverCutSilently(t *testing.T) {
	r, err := NewRenderer(false)
	if err != nil {
		t.Fatal(err)
	}
	long := Error(st, "Erreur", strings.Repeat("Un texte très long qui ne tient pas sur le petit écran. ", 6))
	for _, sz := range Sizes {
		_, lay := r.Render(long, sz)
		if sz.Name == "oled" && !lay.Overflow {
			t.Errorf("%s: a long text is reported as fitting", sz.Name)
		}
		if lay.Overflow {
			// Scrolling reaches the last line.
			long.Scroll = lay.Lines
			_, end := r.Render(long, sz)
			if end.First+end.Shown != end.Lines {
				t.Errorf("%s: scrolled to %d+%d of %d lines", sz.Name, end.First, end.Shown, end.Lines)
			}
			long.Scroll = 0
		}
	}
	// The cursor of a long list stays on screen: on the last beneficiary,
	// the window scrolls down to the last line.
	s := sampleScreens()["choose"]
	s.Cursor = len(s.Items) - 1
	_, lay := r.Render(s, OLED)
	if !lay.Overflow || lay.First == 0 || lay.First+lay.Shown != lay.Lines {
		t.Errorf("cursor on the last item, window %+v", lay)
	}
}

// A long list of the DMP's documents on every panel: the cursor on the
// last one, the window follows it down to the last line, and the
// smallest panel's title says where the cursor is.
func TestLongDMPListFollowsTheCursor(t *testing.T) {
	r, err := NewRenderer(false)
	if err != nil {
		t.Fatal(err)
	}
	var items []string
	for i := range 20 {
		items = append(items, fmt.Sprintf("0%d/11/2026 09:15 · CR de biologie · Bilan %d · CHU TEST", i%9+1, i+1))
	}
	s := DMPList(st, items, 19, false)
	if s.ShortTitle != "DMP 20/20" || !strings.Contains(s.Text(), "Document 20 sur 20") {
		t.Fatalf("where the cursor is: %q\n%s", s.ShortTitle, s.Text())
	}
	for _, sz := range Sizes {
		_, lay := r.Render(s, sz)
		// The last document takes up to three lines on the smallest panel:
		// the window shows its start at least.
		if !lay.Overflow || lay.First == 0 || lay.Shown == 0 || lay.First+lay.Shown < lay.Lines-2 {
			t.Errorf("%s: cursor on the last document, window %+v", sz.Name, lay)
		}
	}
}

func TestScreenText(t *testing.T) {
	s := EnterPIN(st, 3, 4, 1)
	txt := s.Text()
	for _, want := range []string{"Code de la carte professionnelle", "●●●_", "Il reste 1 essai(s)", "en ligne"} {
		if !strings.Contains(txt, want) {
			t.Errorf("text lacks %q:\n%s", want, txt)
		}
	}
	if strings.ContainsAny(txt, "0123") && strings.Contains(txt, "1234") {
		t.Error("a PIN leaked into the screen text")
	}
}

// A left-to-right screen shapes the text the Go fonts cannot draw (a
// language's own name in the language choice) and leaves the rest to them.
func TestNeedsShaping(t *testing.T) {
	r, err := NewRenderer(false)
	if err != nil {
		t.Fatal(err)
	}
	p := r.penDir(false, false, 16)
	for s, want := range map[string]bool{"Français": false, "Español · ñ œ €": false, "العربية": true, "עברית": true, "Ελληνικά": false} {
		if got := p.needsShaping(s); got != want {
			t.Errorf("%q: %v", s, got)
		}
	}
	if firstStrongRTL("(DMP) الملف") || !firstStrongRTL("« الملف » DMP") {
		t.Error("a paragraph's direction is its first strong letter's")
	}
}

type sizedPanel struct{ sz Size }

func (p sizedPanel) Size() Size                     { return p.sz }
func (p sizedPanel) Show(Screen, image.Image) error { return nil }

// A long page on the OLED beside the tablet: More scrolls by what the
// OLED shows until its end, the tablet (which shows it all) unmoved; Less
// comes back up.
func TestDisplayMoreAndLess(t *testing.T) {
	r, err := NewRenderer(false)
	if err != nil {
		t.Fatal(err)
	}
	d := New(r, sizedPanel{Tablet}, sizedPanel{OLED})
	sc := InfoPage(st, lang.Builtin(), lang.Default, 0)
	d.Show(sc)
	var scrolls []int
	for {
		next, ok := d.More()
		if !ok {
			break
		}
		if len(scrolls) > 0 && next <= scrolls[len(scrolls)-1] || len(scrolls) > 50 {
			t.Fatalf("scrolls %v then %d", scrolls, next)
		}
		scrolls = append(scrolls, next)
		sc.Scroll = next
		d.Show(sc)
		if _, lay := r.Render(sc, Tablet); lay.First != 0 {
			t.Fatalf("the tablet moved: %+v", lay)
		}
	}
	_, lay := r.Render(sc, OLED)
	if len(scrolls) < 2 || lay.First+lay.Shown != lay.Lines {
		t.Fatalf("the OLED's end not reached: scrolls %v, %+v", scrolls, lay)
	}
	for range scrolls {
		back, ok := d.Less()
		if !ok {
			t.Fatal("no way back up")
		}
		sc.Scroll = back
		d.Show(sc)
	}
	if _, ok := d.Less(); ok || sc.Scroll != 0 {
		t.Fatalf("not back at the top: scroll %d", sc.Scroll)
	}
	// A screen every panel shows whole has nothing more.
	d.Show(Error(st, "Erreur", "Réessayez."))
	if _, ok := d.More(); ok {
		t.Fatal("more of a screen that fits")
	}
}
