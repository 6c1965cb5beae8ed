package firmware

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dmpkiosk/display"
	"dmpkiosk/display/input"
	"dmpkiosk/display/lang"
)

// next is the next screen shown.
func (r *memRig) next() display.Screen {
	r.t.Helper()
	select {
	case sc := <-r.screens.ch:
		r.last = sc
		return sc
	case <-time.After(10 * time.Second):
		r.t.Fatal("no screen")
	}
	return display.Screen{}
}

// nextPage presses Valider until another information page shows, the
// small panel's scrolling on the way, and returns it.
func (r *memRig) nextPage() display.Screen {
	r.t.Helper()
	title := r.last.Title
	for range 50 {
		r.press(valider)
		if sc := r.next(); sc.Kind != display.KindInfo || sc.Title != title {
			return sc
		}
	}
	r.t.Fatal("the information's pages never turn")
	return display.Screen{}
}

// readInformation presses Valider through the information up to the
// first question.
func (r *memRig) readInformation() {
	r.t.Helper()
	for range 200 {
		r.press(valider)
		if sc := r.next(); sc.Kind == display.KindConsent {
			return
		}
	}
	r.t.Fatal("the information never ends")
}

func infoPages(set *lang.Set) func(*Config) {
	return func(c *Config) { c.InfoPages, c.langs = true, set }
}

// The patient reads the DMP information before any question: the
// language first (French under the cursor), then the pages, which go
// forwards and back; 0 chooses the language again, a digit picks one at
// once; Arabic is right to left; after the last page, the questions,
// whose first says the pages were read. The establishment's own page
// comes last.
func TestSessionInformationPages(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "fr.json"), []byte(`{"language":"fr","messages":[
		{"id":"establishment.title","translation":"Au CHU de Sainte-Anne"},
		{"id":"establishment.body","translation":"Le bureau des entrées, hall A, vous aide à ouvrir Mon espace santé."}]}`), 0o644)
	set := lang.Builtin()
	if err := set.Load(dir); err != nil {
		t.Fatal(err)
	}
	r := newMemRig(t, "current", time.Minute, infoPages(set))
	r.link.online.Store(false)
	r.insert(0, "vitale-seul")
	r.insert(1, "cps-medecin")
	r.wait(display.KindEnterPIN, "Code")
	r.press(keys("1234#")...)
	r.wait(display.KindIdentity, "MARTIN")
	r.press(non)
	if sc := r.wait(display.KindLanguage, "Choisissez votre langue"); sc.Cursor != 0 || sc.Items[1] != "English" {
		t.Fatalf("language choice: %+v", sc)
	}
	r.press(non)
	r.wait(display.KindLanguage, "Choose your language")
	r.press(valider)
	first := r.wait(display.KindInfo, "shared medical record")
	if first.Lang != "en" || first.RTL || first.Scroll != 0 {
		t.Fatalf("English page: lang %q rtl %v scroll %d", first.Lang, first.RTL, first.Scroll)
	}
	// The OLED shows a few lines: Valider shows the rest of the page
	// first, Non goes back up.
	r.press(valider)
	if sc := r.next(); sc.Title != first.Title || sc.Scroll == 0 {
		t.Fatalf("Valider on a page the panel cannot show whole: %q scroll %d", sc.Title, sc.Scroll)
	}
	r.press(non)
	if sc := r.next(); sc.Title != first.Title || sc.Scroll != 0 {
		t.Fatalf("Non back up: %q scroll %d", sc.Title, sc.Scroll)
	}
	if sc := r.nextPage(); sc.Title != "Who can read it?" {
		t.Fatalf("the second page: %q", sc.Title)
	}
	r.press(non)
	r.wait(display.KindInfo, "Page 1 of 6")
	r.press(input.Event{Key: '0'})
	r.wait(display.KindLanguage, "Choose your language")
	r.press(input.Event{Key: '4'})
	sc := r.wait(display.KindInfo, "الملف الطبي المشترك")
	if sc.Lang != "ar" || !sc.RTL {
		t.Fatalf("Arabic page: lang %q rtl %v", sc.Lang, sc.RTL)
	}
	for range 4 {
		r.nextPage()
	}
	// The establishment gave its page in French only: French it is.
	if sc := r.nextPage(); !strings.Contains(sc.Text(), "hall A") {
		t.Fatalf("the establishment's page: %q", sc.Text())
	}
	r.readInformation()
	if sc := r.last; !strings.Contains(sc.Text(), "pages d'information lues") {
		t.Fatalf("the first question: %q", sc.Text())
	}
	r.press(oui, oui, valider, valider)
	r.wait(display.KindQueued, "")
	if evs := r.stored(); len(evs) != 1 || !evs[0].Consent.Informed {
		t.Fatalf("events: %+v", evs)
	}
}

// An establishment's catalog that cannot serve is refused at start,
// saying what is wrong: a new language missing messages, a message the
// kiosk does not know, a file that is not JSON, no language.
func TestLanguageCatalogsRefused(t *testing.T) {
	for name, body := range map[string]string{
		"missing": `{"language":"pt","messages":[{"id":"language.name","translation":"Português"}]}`,
		"unknown": `{"language":"fr","messages":[{"id":"info.typo","translation":"x"}]}`,
		"json":    `{"language":"pt",`,
		"nolang":  `{"messages":[]}`,
		"empty":   `{"language":"fr","messages":[{"id":"info.what.title","translation":" "}]}`,
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, name+".json"), []byte(body), 0o644)
		err := lang.Builtin().Load(dir)
		if err == nil || !strings.Contains(err.Error(), name+".json") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := lang.Builtin().Load(filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Error("an absent directory accepted")
	}
}
