package ins

import (
	"errors"
	"testing"
)

func TestParseNIR(t *testing.T) {
	cases := []struct {
		in     string
		body   string
		key    int
		flags  NIRFlag
		field  string // "" when valid
		reason string
	}{
		{in: "161027575428992", body: "1610275754289", key: 92},
		{in: "1 61 02 75 754 289 92", body: "1610275754289", key: 92},
		{in: "2790351215188 90", body: "2790351215188", key: 90},
		// Corsica: 2A counts as 19, 2B as 18 (keys computed independently
		// on the substituted numbers 1850219004012 and 1850218004012).
		{in: "185022A00401222", body: "185022A004012", key: 22},
		{in: "185022B00401249", body: "185022B004012", key: 49},
		{in: "185022000401292", body: "1850220004012", key: 92},
		{in: "785029912345647", body: "7850299123456", key: 47, flags: FlagTemporary | FlagBornAbroad},
		{in: "185259912345636", body: "1852599123456", key: 36, flags: FlagPseudoMonth | FlagBornAbroad},
		{in: "2850597101234 20", body: "2850597101234", key: 20},
		{in: "16102757542899", field: "longueur"},
		{in: "1610275754289921", field: "longueur"},
		{in: "161027575428993", field: "clé"},
		{in: "1610275754289AB", field: "clé"},
		{in: "561027575428992", field: "sexe"},
		{in: "061027575428992", field: "sexe"},
		{in: "1611375754289xx", field: "mois"},
		{in: "1610075754289xx", field: "mois"},
		{in: "1614575754289xx", field: "mois"},
		{in: "1610200754289xx", field: "département"},
		{in: "1610297054289xx", field: "département"},
		{in: "16102A7754289xx", field: "caractères"},
		{in: "16102757542C9xx", field: "caractères"},
	}
	for _, c := range cases {
		n, err := ParseNIR(c.in)
		if c.field != "" {
			var ne *NIRError
			if !errors.As(err, &ne) || ne.Field != c.field || !errors.Is(err, ErrNIR) {
				t.Errorf("ParseNIR(%q): %v, want a %q error", c.in, err, c.field)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseNIR(%q): %v", c.in, err)
			continue
		}
		if n.Body() != c.body || n.Key() != c.key || n.Flags != c.flags {
			t.Errorf("ParseNIR(%q) = %s key %d flags %b; want %s %d %b", c.in, n.Body(), n.Key(), n.Flags, c.body, c.key, c.flags)
		}
		if got := n.String(); got != c.body+string(rune('0'+c.key/10))+string(rune('0'+c.key%10)) {
			t.Errorf("String() = %s", got)
		}
		if n.Certified() != (c.flags&FlagTemporary == 0) {
			t.Errorf("%q: Certified() = %v", c.in, n.Certified())
		}
	}
}

func TestNIRKeyCorsica(t *testing.T) {
	// 2A → 19 and 2B → 18 before 97 − N mod 97.
	for _, c := range []struct{ nir, sub string }{
		{"185022A004012", "1850219004012"},
		{"185022B004012", "1850218004012"},
	} {
		got, err := NIRKey(c.nir)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := NIRKey(c.sub)
		if got != want {
			t.Errorf("NIRKey(%s) = %d, want %d (as %s)", c.nir, got, want, c.sub)
		}
	}
	if _, err := NIRKey("12"); !errors.Is(err, ErrNIR) {
		t.Errorf("short NIR: %v", err)
	}
}

func TestNIRSex(t *testing.T) {
	for in, want := range map[string]string{"161027575428992": "M", "279035121518890": "F"} {
		n, err := ParseNIR(in)
		if err != nil {
			t.Fatal(err)
		}
		if n.Sex() != want {
			t.Errorf("%s: sex %s", in, n.Sex())
		}
	}
}

func FuzzParseNIR(f *testing.F) {
	for _, s := range []string{"161027575428992", "185022A00401222", "1 61 02", "", "2B2B2B2B2B2B2B2", "785029912345647"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseNIR(s)
		if err != nil {
			if !errors.Is(err, ErrNIR) {
				t.Fatalf("error %v does not unwrap to ErrNIR", err)
			}
			return
		}
		// A parsed NIR round-trips and its key checks.
		again, err := ParseNIR(n.String())
		if err != nil || again != n {
			t.Fatalf("round trip of %q: %v", s, err)
		}
		if k, _ := NIRKey(n.Body()); k != n.Key() || k < 1 || k > 97 {
			t.Fatalf("key %d", k)
		}
	})
}

func TestNIRBornIn(t *testing.T) {
	n, err := ParseNIR13("1800269123045")
	if err != nil {
		t.Fatal(err)
	}
	for date, want := range map[string]bool{
		"19800215": true, "19800315": false, "19810215": false, "19800015": true, "2010": false, "20800215": true,
	} {
		if got := n.BornIn(date); got != want {
			t.Errorf("%s: %v, want %v", date, got, want)
		}
	}
	pseudo, err := ParseNIR13("1622099350123") // pseudo-month 20
	if err != nil {
		t.Fatal(err)
	}
	if !pseudo.BornIn("19620000") || !pseudo.BornIn("19620512") || pseudo.BornIn("19630512") {
		t.Error("pseudo-month")
	}
}
