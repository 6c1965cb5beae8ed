// Package lang holds what the kiosk says to the patient — the DMP
// information pages and the receipt — in the patient's language. The
// texts are message catalogs (golang.org/x/text/message/catalog) built
// from files in gotext's JSON format: French, English, Spanish and Arabic
// are embedded; an establishment adds a language, or its own page, with a
// file of the same shape in a directory of its configuration.
package lang

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"unicode"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/message/catalog"
)

//go:embed catalogs/*.json
var builtin embed.FS

// Default is the language shown first: French.
var Default = language.French

// file is a catalog file in gotext's format (messages.gotext.json): only
// the fields the kiosk uses are read.
type file struct {
	Language string `json:"language"`
	Messages []struct {
		ID          string `json:"id"`
		Translation string `json:"translation"`
	} `json:"messages"`
}

// Keys an establishment's catalog may add: its own information page.
const (
	KeyEstablishmentTitle = "establishment.title"
	KeyEstablishmentBody  = "establishment.body"
)

// Set is the languages the kiosk offers and their catalog.
type Set struct {
	cat   *catalog.Builder
	tags  []language.Tag
	has   map[language.Tag]map[string]bool
	order []string // the keys every language must have (French's)
}

// Builtin returns the embedded languages: French, English, Spanish, Arabic.
func Builtin() *Set {
	s := &Set{cat: catalog.NewBuilder(catalog.Fallback(Default)), has: map[language.Tag]map[string]bool{}}
	for _, name := range []string{"fr", "en", "es", "ar"} {
		b, err := builtin.ReadFile("catalogs/" + name + ".json")
		if err != nil {
			panic(err) // embedded
		}
		if err := s.add(b, name+".json", true); err != nil {
			panic(err) // the embedded catalogs are checked by the tests
		}
	}
	return s
}

// Load adds the catalogs of dir (*.json, gotext's format): a new language
// must carry every message French has; a file for a language already
// offered may override its messages or add the establishment's page.
func (s *Set) Load(dir string) error {
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return err
	}
	if len(names) == 0 {
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("catalogues de langues %s : dossier absent", dir)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return err
		}
		if err := s.add(b, n, false); err != nil {
			return err
		}
	}
	return nil
}

func (s *Set) add(b []byte, name string, embedded bool) error {
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("catalogue %s : %v", name, err)
	}
	tag, err := language.Parse(f.Language)
	if err != nil || f.Language == "" {
		return fmt.Errorf("catalogue %s : langue %q illisible (une étiquette BCP 47 : fr, en, pt-BR…)", name, f.Language)
	}
	keys := map[string]bool{}
	for i, m := range f.Messages {
		if m.ID == "" || strings.TrimSpace(m.Translation) == "" {
			return fmt.Errorf("catalogue %s : message %d sans identifiant ou sans traduction", name, i+1)
		}
		if keys[m.ID] {
			return fmt.Errorf("catalogue %s : message %s deux fois", name, m.ID)
		}
		keys[m.ID] = true
	}
	known := s.has[tag] != nil
	if s.order == nil {
		for _, m := range f.Messages {
			s.order = append(s.order, m.ID)
		}
	} else if !known {
		var missing []string
		for _, k := range s.order {
			if !keys[k] {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("catalogue %s (%s) : il manque %d message(s) : %s", name, tag, len(missing), strings.Join(missing, ", "))
		}
	}
	for _, m := range f.Messages {
		if !embedded && !slices.Contains(s.order, m.ID) && m.ID != KeyEstablishmentTitle && m.ID != KeyEstablishmentBody {
			return fmt.Errorf("catalogue %s : message %s inconnu de la borne", name, m.ID)
		}
		if err := s.cat.SetString(tag, m.ID, m.Translation); err != nil {
			return fmt.Errorf("catalogue %s : message %s : %v", name, m.ID, err)
		}
	}
	if !known {
		s.tags = append(s.tags, tag)
		s.has[tag] = map[string]bool{}
	}
	for k := range keys {
		s.has[tag][k] = true
	}
	return nil
}

// Tags are the languages offered, French first, then in the order added.
func (s *Set) Tags() []language.Tag { return s.tags }

// Has reports whether language t has message key (of its own, not French's).
func (s *Set) Has(t language.Tag, key string) bool { return s.has[t][key] }

// Printer formats the messages of language t.
func (s *Set) Printer(t language.Tag) *message.Printer {
	return message.NewPrinter(t, message.Catalog(s.cat))
}

// Name is a language's name in that language.
func (s *Set) Name(t language.Tag) string { return s.Printer(t).Sprintf("language.name") }

// RightToLeft reports whether language t is written right to left.
func RightToLeft(t language.Tag) bool {
	sc, _ := t.Script()
	switch sc.String() {
	case "Arab", "Hebr", "Syrc", "Thaa", "Nkoo", "Adlm", "Rohg":
		return true
	}
	return false
}

// Page is one information page.
type Page struct{ Title, Body string }

// infoPages are the DMP information's pages, in the order shown.
var infoPages = []string{"info.what", "info.who", "info.refuse", "info.hide", "info.emergency"}

// Pages are the information pages in language t: what the DMP is, who
// reads it, the right to refuse, hiding documents, emergency access, then
// the establishment's own page when its catalogs give one (in t, else in
// French).
func (s *Set) Pages(t language.Tag) []Page {
	p := s.Printer(t)
	var out []Page
	for _, k := range infoPages {
		out = append(out, Page{Title: p.Sprintf(k + ".title"), Body: p.Sprintf(k + ".body")})
	}
	for _, tag := range []language.Tag{t, Default} {
		if s.Has(tag, KeyEstablishmentTitle) && s.Has(tag, KeyEstablishmentBody) {
			ep := s.Printer(tag)
			out = append(out, Page{Title: ep.Sprintf(KeyEstablishmentTitle), Body: ep.Sprintf(KeyEstablishmentBody)})
			break
		}
	}
	return out
}

// Words splits text at its spaces, but not at a no-break space: French
// puts one before : ; ? and !, which must not begin a line.
func Words(text string) []string {
	return strings.FieldsFunc(text, func(r rune) bool { return r != '\u00a0' && r != '\u202f' && unicode.IsSpace(r) })
}
