package ins

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrTraits is the error every identity-trait failure unwraps to.
var ErrTraits = errors.New("traits d'identité invalides")

// TraitError names the trait that is wrong, in French, without its value.
type TraitError struct {
	Trait  string // "nom de naissance", "prénom", "sexe", "date de naissance", "lieu de naissance"
	Reason string
}

func (e *TraitError) Error() string { return e.Trait + " : " + e.Reason }

// Unwrap makes every TraitError match ErrTraits.
func (e *TraitError) Unwrap() error { return ErrTraits }

// Traits are the INS identity traits. After NormalizeTraits they compare and
// display as the national identity rules require.
type Traits struct {
	BirthName  string   `json:"birth_name"`            // nom de naissance
	FirstName  string   `json:"first_name"`            // premier prénom de naissance
	FirstNames []string `json:"first_names"`           // liste des prénoms de naissance
	Sex        string   `json:"sex"`                   // "M", "F" or "I" (indéterminé)
	BirthDate  string   `json:"birth_date"`            // AAAAMMJJ as written; lunar dates kept
	BirthPlace string   `json:"birth_place,omitempty"` // INSEE COG code (5), 99xxx abroad; "" unknown
}

// NormalizeName returns a name as the identity rules write it: upper case,
// diacritics removed (ligatures expanded), only letters, space, hyphen and
// apostrophe; the typographic apostrophe becomes ', runs of spaces become
// one, and leading or trailing separators go. A character outside the
// allowed set (a digit, a comma...) is an error, not silently dropped: it
// means the name was mistyped.
func NormalizeName(s string) (string, error) {
	var b strings.Builder
	b.Grow(len(s))
	pendingSpace := false
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return "", errors.New("texte mal encodé (UTF-8 attendu)")
			}
		}
		var out string
		switch r {
		case ' ', '\t', '\u00a0':
			pendingSpace = b.Len() > 0
			continue
		case '-', '\'':
			out = string(r)
		case '\u2019', '\u02bc', '`', '\u00b4':
			out = "'"
		case '\u2010', '\u2011', '\u2013':
			out = "-"
		default:
			out = upperASCII(r)
			if out == "" {
				return "", fmt.Errorf("caractère non autorisé en position %d", utf8.RuneCountInString(s[:i])+1)
			}
		}
		if pendingSpace {
			b.WriteByte(' ')
			pendingSpace = false
		}
		b.WriteString(out)
	}
	return strings.Trim(b.String(), " -'"), nil
}

// NormalizeTraits checks every trait and returns them normalised. The first
// name is the first of the list of birth first names when only the list is
// given; when both are given they must agree.
func NormalizeTraits(t Traits) (Traits, error) {
	var out Traits
	var err error
	if out.BirthName, err = NormalizeName(t.BirthName); err != nil {
		return out, &TraitError{"nom de naissance", err.Error()}
	}
	if out.BirthName == "" {
		return out, &TraitError{"nom de naissance", "obligatoire"}
	}
	for _, fn := range t.FirstNames {
		n, err := NormalizeName(fn)
		if err != nil {
			return out, &TraitError{"prénoms", err.Error()}
		}
		if n != "" {
			out.FirstNames = append(out.FirstNames, n)
		}
	}
	if out.FirstName, err = NormalizeName(t.FirstName); err != nil {
		return out, &TraitError{"prénom", err.Error()}
	}
	switch {
	case out.FirstName == "" && len(out.FirstNames) > 0:
		out.FirstName = out.FirstNames[0]
	case out.FirstName != "" && len(out.FirstNames) == 0:
		out.FirstNames = []string{out.FirstName}
	case out.FirstName != "" && out.FirstName != out.FirstNames[0]:
		return out, &TraitError{"prénom", "doit être le premier de la liste des prénoms de naissance"}
	}
	switch s := strings.ToUpper(strings.TrimSpace(t.Sex)); s {
	case "M", "F", "I":
		out.Sex = s
	default:
		return out, &TraitError{"sexe", "M, F ou I attendu"}
	}
	if !Digits(t.BirthDate, 8) || t.BirthDate[:4] == "0000" {
		return out, &TraitError{"date de naissance", "8 chiffres AAAAMMJJ attendus"}
	}
	out.BirthDate = t.BirthDate
	if t.BirthPlace != "" {
		p := strings.ToUpper(t.BirthPlace)
		if len(p) != 5 || !(Digits(p, 5) || (p[:2] == "2A" || p[:2] == "2B") && Digits(p[2:], 3)) {
			return out, &TraitError{"lieu de naissance", "code INSEE de 5 caractères attendu"}
		}
		out.BirthPlace = p
	}
	return out, nil
}

// ListePrenom is the list of birth first names as INSi writes it: one
// string, first names separated by a space.
func (t Traits) ListePrenom() string { return strings.Join(t.FirstNames, " ") }

// Lunar reports whether the birth date is a "lunar" date (day 00, month 00
// or month above 12), which is kept as written and never corrected.
func (t Traits) Lunar() bool {
	if len(t.BirthDate) != 8 {
		return false
	}
	m, _ := twoDigits(t.BirthDate[4], t.BirthDate[5])
	d, _ := twoDigits(t.BirthDate[6], t.BirthDate[7])
	return m == 0 || m > 12 || d == 0 || d > 31
}

// SameIdentity compares two sets of normalised traits as identity matching
// does: every trait equal, birth place only when both are known.
func (t Traits) SameIdentity(o Traits) bool {
	if t.BirthName != o.BirthName || t.FirstName != o.FirstName || t.Sex != o.Sex || t.BirthDate != o.BirthDate {
		return false
	}
	if t.BirthPlace != "" && o.BirthPlace != "" && t.BirthPlace != o.BirthPlace {
		return false
	}
	return t.ListePrenom() == o.ListePrenom()
}

// Digits reports whether s is exactly n ASCII digits (dates, codes and
// numbers read from cards and forms).
func Digits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < n; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
