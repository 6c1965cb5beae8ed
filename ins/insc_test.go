package ins

import (
	"bufio"
	"errors"
	"os"
	"strings"
	"testing"
)

// The official ASIP sample (a copy of shared/testdata): first name; AAMMJJ;
// NIR 13; NIR key; INS-C 20 digits; INS-C key. Two header lines.
const ascipSample = "testdata/insc_asip_sample.csv"

func TestINSCOfficialVectors(t *testing.T) {
	f, err := os.Open(ascipSample)
	if err != nil {
		t.Fatalf("official INS-C vectors: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	rows, corsican := 0, 0
	for line := 0; sc.Scan(); line++ {
		if line < 2 {
			continue
		}
		fs := strings.Split(strings.TrimRight(sc.Text(), "\r"), ";")
		if len(fs) != 6 {
			t.Fatalf("line %d: %d fields", line+1, len(fs))
		}
		got, err := INSC(fs[0], fs[1], fs[2])
		if err != nil {
			t.Fatalf("line %d: %v", line+1, err)
		}
		if want := fs[4] + fs[5]; got != want {
			t.Errorf("line %d: INS-C %s, want %s", line+1, got, want)
		}
		// The sample's NIR keys check the Corsican substitution too.
		n, err := ParseNIR(fs[2] + fs[3])
		if err != nil {
			t.Errorf("line %d: NIR: %v", line+1, err)
		} else if n.Body() != fs[2] {
			t.Errorf("line %d: NIR body %s", line+1, n.Body())
		}
		if strings.ContainsAny(fs[2][5:7], "AB") {
			corsican++
		}
		rows++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if rows != 14369 {
		t.Fatalf("read %d vectors, the sample holds 14,369", rows)
	}
	if corsican == 0 {
		t.Fatal("no Corsican NIR in the sample: the 2A/2B path went untested")
	}
	t.Logf("INS-C: %d official vectors pass (%d Corsican NIRs)", rows, corsican)
}

func TestINSCNormalisation(t *testing.T) {
	// Each first name must give the same INS-C as its plain spelling: the
	// normalisation is the only thing that differs.
	const date, nir = "610217", "1610275754289"
	cases := []struct{ written, plain string }{
		{"Philippe", "PHILIPPE"},
		{"  philippe ", "PHILIPPE"},
		{"Jean-François", "JEANFRANCOIS"},
		{"JEAN FRANCOIS", "JEANFRANCOIS"},
		{"Hélène", "HELENE"},
		{"Anne-Cécile d'Arc", "ANNECECILEDARC"},
		{"Maël", "MAEL"},
		{"Zoë", "ZOE"},
		{"Œdipe", "OEDIPE"},
		{"Lætitia", "LAETITIA"},
		{"Ñuño", "NUNO"},
		{"Jérôme2", "JEROME"},
		{"MARIE-THÉRÈSE-BERNADETTE", "MARIETHERESEBERNADETTE"},
	}
	for _, c := range cases {
		got, err := INSC(c.written, date, nir)
		if err != nil {
			t.Fatalf("%q: %v", c.written, err)
		}
		want, err := INSC(c.plain, date, nir)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%q: %s, want %s (as %q)", c.written, got, want, c.plain)
		}
	}
	// The documented example.
	if got, _ := INSC("PHILIPPE", "610217", "1610275754289"); got != "0833910461279517589858" {
		t.Errorf("example: %s", got)
	}
	// Truncation at 10 letters: anything after the tenth letter is ignored.
	a, _ := INSC("MARIETHERESE", date, nir)
	b, _ := INSC("MARIETHEREXX", date, nir)
	if a != b {
		t.Errorf("letters after the tenth changed the INS-C")
	}
	// No first name at all hashes ten spaces, as the official vectors do.
	e1, _ := INSC("", date, nir)
	e2, _ := INSC(" - ", date, nir)
	if e1 != e2 || e1 == "" {
		t.Errorf("empty first names: %q %q", e1, e2)
	}
	// Lunar dates are hashed as written, not corrected.
	l1, err := INSC("PHILIPPE", "610200", nir)
	if err != nil {
		t.Fatal(err)
	}
	l2, _ := INSC("PHILIPPE", "611317", nir)
	if l1 == l2 || len(l1) != 22 {
		t.Errorf("lunar dates: %s %s", l1, l2)
	}
}

func TestINSCBadInput(t *testing.T) {
	cases := []struct {
		first, date, nir string
		want             error
	}{
		{"", "610217", "1610275754289", nil},
		{"- '", "610217", "1610275754289", nil},
		{"PHIL\xffIPPE", "610217", "1610275754289", ErrBadUTF8},
		{"PHILIPPE", "61021", "1610275754289", ErrBirthDate},
		{"PHILIPPE", "6102170", "1610275754289", ErrBirthDate},
		{"PHILIPPE", "61O217", "1610275754289", ErrBirthDate},
		{"PHILIPPE", "610217", "161027575428", ErrNIR13},
		{"PHILIPPE", "610217", "16102757542899", ErrNIR13},
		{"PHILIPPE", "610217", "1610275X54289", ErrNIR13},
		{"PHILIPPE", "610217", "1610222754289", nil},
		{"PHILIPPE", "610217", "16102A7754289", ErrNIR13}, // A only in 2A/2B
		{"PHILIPPE", "610217", "161022A754289", nil},
		{"PHILIPPE", "610217", "161022C754289", ErrNIR13},
	}
	for _, c := range cases {
		got, err := INSC(c.first, c.date, c.nir)
		if !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Errorf("INSC(%q, %q, %q) = %q, %v; want %v", c.first, c.date, c.nir, got, err, c.want)
		}
	}
}

func TestAppendINSCAllocatesNothing(t *testing.T) {
	buf := make([]byte, 0, 64)
	allocs := testing.AllocsPerRun(100, func() {
		_, _ = AppendINSC(buf[:0], "Hélène", "610217", "1610275754289")
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per INS-C, want 0", allocs)
	}
}

func FuzzINSC(f *testing.F) {
	f.Add("PHILIPPE", "610217", "1610275754289")
	f.Add("Jean-François", "000000", "22A0000000000")
	f.Add("\xff", "", "")
	f.Fuzz(func(t *testing.T, first, date, nir string) {
		got, err := INSC(first, date, nir)
		if err != nil {
			return
		}
		if len(got) != INSCLen {
			t.Fatalf("INS-C %q is not 22 characters", got)
		}
		for _, c := range []byte(got) {
			if c < '0' || c > '9' {
				t.Fatalf("INS-C %q has a non-digit", got)
			}
		}
	})
}
