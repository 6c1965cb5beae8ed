package ins

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeName(t *testing.T) {
	cases := []struct{ in, want string }{
		{"Dupont", "DUPONT"},
		{"  de   la  Fontaine ", "DE LA FONTAINE"},
		{"Jean-François", "JEAN-FRANCOIS"},
		{"d’Estaing", "D'ESTAING"},
		{"N'Diaye", "N'DIAYE"},
		{"Lætitia", "LAETITIA"},
		{"Œuvray", "OEUVRAY"},
		{"Groß", "GROSS"},
		{"ÉLOÏSE", "ELOISE"},
		{"-Marie-", "MARIE"},
		{"Zoë–Anne", "ZOE-ANNE"},
		{"", ""},
	}
	for _, c := range cases {
		got, err := NormalizeName(c.in)
		if err != nil || got != c.want {
			t.Errorf("NormalizeName(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"Dupont2", "Du,pont", "Dupont.", "Ærø\xff", "Ли"} {
		if got, err := NormalizeName(bad); err == nil {
			t.Errorf("NormalizeName(%q) = %q, want an error", bad, got)
		}
	}
}

func TestNormalizeTraits(t *testing.T) {
	in := Traits{
		BirthName: "de la Fontaine", FirstNames: []string{"Jean-François", "Éric"},
		Sex: "m", BirthDate: "19610017", BirthPlace: "2a004",
	}
	got, err := NormalizeTraits(in)
	if err != nil {
		t.Fatal(err)
	}
	if got.BirthName != "DE LA FONTAINE" || got.FirstName != "JEAN-FRANCOIS" || got.ListePrenom() != "JEAN-FRANCOIS ERIC" ||
		got.Sex != "M" || got.BirthDate != "19610017" || got.BirthPlace != "2A004" {
		t.Fatalf("normalised traits: %+v", got)
	}
	if !got.Lunar() {
		t.Error("month 00 is a lunar date and must be reported as such")
	}
	// The same person typed differently is the same identity.
	other, err := NormalizeTraits(Traits{BirthName: "DE LA FONTAINE", FirstName: "Jean-Francois", FirstNames: []string{"JEAN-FRANCOIS", "ERIC"},
		Sex: "M", BirthDate: "19610017"})
	if err != nil {
		t.Fatal(err)
	}
	if !got.SameIdentity(other) {
		t.Error("the same identity typed differently does not match")
	}
	other.BirthDate = "19610117"
	if got.SameIdentity(other) {
		t.Error("a different birth date matched")
	}

	bad := []struct {
		t     Traits
		trait string
	}{
		{Traits{BirthName: "", FirstName: "A", Sex: "M", BirthDate: "19610217"}, "nom de naissance"},
		{Traits{BirthName: "X1", FirstName: "A", Sex: "M", BirthDate: "19610217"}, "nom de naissance"},
		{Traits{BirthName: "X", FirstName: "A", Sex: "H", BirthDate: "19610217"}, "sexe"},
		{Traits{BirthName: "X", FirstName: "A", Sex: "F", BirthDate: "610217"}, "date de naissance"},
		{Traits{BirthName: "X", FirstName: "A", Sex: "F", BirthDate: "00000217"}, "date de naissance"},
		{Traits{BirthName: "X", FirstName: "A", Sex: "F", BirthDate: "19610217", BirthPlace: "7505"}, "lieu de naissance"},
		{Traits{BirthName: "X", FirstName: "A", Sex: "F", BirthDate: "19610217", BirthPlace: "2C004"}, "lieu de naissance"},
		{Traits{BirthName: "X", FirstName: "Paul", FirstNames: []string{"Jean", "Paul"}, Sex: "M", BirthDate: "19610217"}, "prénom"},
	}
	for _, c := range bad {
		_, err := NormalizeTraits(c.t)
		var te *TraitError
		if !errors.As(err, &te) || te.Trait != c.trait || !errors.Is(err, ErrTraits) {
			t.Errorf("%+v: %v, want a %q error", c.t, err, c.trait)
		}
	}
}

func FuzzNormalizeName(f *testing.F) {
	for _, s := range []string{"Jean-François", "d’Estaing", "  a  b ", "Œ", "\xff", "--''--"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizeName(s)
		if err != nil {
			return
		}
		for _, c := range []byte(got) {
			if !(c >= 'A' && c <= 'Z' || c == ' ' || c == '-' || c == '\'') {
				t.Fatalf("NormalizeName(%q) = %q holds %q", s, got, c)
			}
		}
		if strings.Contains(got, "  ") || strings.TrimSpace(got) != got {
			t.Fatalf("NormalizeName(%q) = %q has stray spaces", s, got)
		}
		// Idempotent: a normalised name normalises to itself.
		if again, err := NormalizeName(got); err != nil || again != got {
			t.Fatalf("NormalizeName(%q) = %q, then %q, %v", s, got, again, err)
		}
	})
}
