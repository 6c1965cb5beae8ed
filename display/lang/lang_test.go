package lang

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/language"
)

// The built-in languages each carry every message, in their own words;
// Arabic alone is right to left; numbers are formatted by each language.
func TestBuiltinLanguages(t *testing.T) {
	s := Builtin()
	want := []string{"fr", "en", "es", "ar"}
	if len(s.Tags()) != len(want) {
		t.Fatalf("tags %v", s.Tags())
	}
	french := s.Pages(language.French)
	for i, tag := range s.Tags() {
		if tag.String() != want[i] {
			t.Fatalf("tag %d: %s", i, tag)
		}
		for _, k := range s.order {
			if !s.Has(tag, k) {
				t.Errorf("%s: no %s", tag, k)
			}
		}
		pages := s.Pages(tag)
		if len(pages) != 5 {
			t.Fatalf("%s: %d pages", tag, len(pages))
		}
		if tag != language.French && pages[2].Body == french[2].Body {
			t.Errorf("%s: page 3 is French's", tag)
		}
		if RightToLeft(tag) != (tag.String() == "ar") {
			t.Errorf("%s: right to left %v", tag, RightToLeft(tag))
		}
	}
	if got := s.Printer(language.Arabic).Sprintf("info.page", 1, 5); !strings.Contains(got, "١") {
		t.Errorf("Arabic page number: %q", got)
	}
}

// An establishment adds a language with every message: it is offered
// after the built-in ones, with its own name.
func TestEstablishmentAddsALanguage(t *testing.T) {
	b, err := builtin.ReadFile("catalogs/es.json")
	if err != nil {
		t.Fatal(err)
	}
	pt := strings.Replace(string(b), `"language": "es"`, `"language": "pt-BR"`, 1)
	pt = strings.Replace(pt, `"Español"`, `"Português"`, 1)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "pt.json"), []byte(pt), 0o644)
	s := Builtin()
	if err := s.Load(dir); err != nil {
		t.Fatal(err)
	}
	tags := s.Tags()
	if last := tags[len(tags)-1]; last.String() != "pt-BR" || s.Name(last) != "Português" || len(s.Pages(last)) != 5 {
		t.Fatalf("added language: %v %q", last, s.Name(last))
	}
}

// French puts a no-break space before : ; ? and !: a line never begins
// with one; ordinary spaces still separate words.
func TestWordsKeepNoBreakSpaces(t *testing.T) {
	got := Words("Accès de l'établissement\u00a0: autorisé.\tFin")
	if len(got) != 5 || got[2] != "l'établissement\u00a0:" {
		t.Fatalf("%q", got)
	}
	fr := Builtin().Printer(language.French).Sprintf("receipt.authorized")
	if !strings.Contains(fr, "DMP\u00a0:") {
		t.Fatalf("French catalog without its no-break space: %q", fr)
	}
}
