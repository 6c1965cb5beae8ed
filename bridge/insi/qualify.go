package insi

import (
	"errors"
	"fmt"
	"strings"

	"dmpkiosk/ins"
)

// Difference is one of the five official traits on which the identity
// document the professional checked and INSi's answer differ.
type Difference struct {
	Trait    string `json:"trait"` // birth_name, first_names, sex, birth_date, birth_place
	Document string `json:"document"`
	Official string `json:"official"`
}

// ErrTraitsDiffer: the document and INSi's traits differ; the identity is
// not qualified.
var ErrTraitsDiffer = errors.New("insi: the identity document and INSi's traits differ")

// Compare compares the traits read from a high-trust identity document
// with the five traits INSi returned. The rules (strict, as many sites
// apply them: the least difference prevents qualification):
//   - birth name: equal after the identity rules' normalisation (upper
//     case, diacritics removed, hyphen, apostrophe and single spaces kept);
//   - first names: the document's birth first names, normalised and in
//     order, are INSi's list, all of them;
//   - sex: equal;
//   - birth date: equal (AAAA-MM-JJ, or AAAAMMJJ);
//   - birth place: the same INSEE code; a document without one differs
//     (the place was not compared).
func Compare(doc, official Traits) []Difference {
	var out []Difference
	norm := func(s string) string {
		n, err := ins.NormalizeName(s)
		if err != nil {
			return "\x00" + s // never equal to a normalised name
		}
		return n
	}
	names := func(l []string) string {
		var out []string
		for _, f := range l {
			for _, w := range strings.Fields(f) {
				out = append(out, norm(w))
			}
		}
		return strings.Join(out, " ")
	}
	date := func(d string) string { return strings.ReplaceAll(d, "-", "") }
	for _, c := range []struct{ trait, doc, off string }{
		{"birth_name", norm(doc.BirthName), norm(official.BirthName)},
		{"first_names", names(doc.FirstNames), names(official.FirstNames)},
		{"sex", doc.Sex, official.Sex},
		{"birth_date", date(doc.BirthDate), date(official.BirthDate)},
		{"birth_place", doc.BirthPlace, official.BirthPlace},
	} {
		if c.doc != c.off || c.doc == "" {
			out = append(out, Difference{Trait: c.trait, Document: c.doc, Official: c.off})
		}
	}
	return out
}

// Qualify records what INSi returned and the document the professional
// checked on id: récupérée by the answer, qualifiée when the document is
// of high trust and its traits are INSi's (Compare). Differences leave the
// identity récupérée (validée documents do not raise it) and are returned
// with ErrTraitsDiffer.
func Qualify(id *ins.Identity, r *Result, doc ins.Document, minor bool, docTraits Traits) ([]Difference, error) {
	if r == nil || r.CR != CRFound || r.Traits == nil {
		return nil, errors.New("insi: no INS to qualify")
	}
	if err := id.CanCallINSi(); err != nil {
		return nil, err
	}
	if diff := Compare(docTraits, *r.Traits); len(diff) > 0 {
		// The document cannot vouch for INSi's identity: what INSi gave
		// stands alone, whatever the document made of the identity before.
		id.Status = ins.Recuperee
		return diff, fmt.Errorf("%w: %d trait(s)", ErrTraitsDiffer, len(diff))
	}
	if err := id.Recovered(); err != nil {
		return nil, err
	}
	return nil, id.DocumentChecked(doc, minor)
}
