package vitale_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"dmpkiosk/apdu"
	"dmpkiosk/apdu/vitale"
	"dmpkiosk/hwtest/cards"
	"dmpkiosk/ins"
)

func profile(t *testing.T, name string) cards.VitaleProfile {
	t.Helper()
	for _, p := range cards.VitaleProfiles {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no profile %s", name)
	return cards.VitaleProfile{}
}

func read(t *testing.T, p cards.VitaleProfile) (*vitale.Card, *cards.Direct, error) {
	t.Helper()
	card := cards.VitaleCard(p)
	card.Reset()
	tr := &cards.Direct{Card: card}
	c, err := vitale.APDUReader{T: tr}.ReadVitale(context.Background())
	return c, tr, err
}

func TestRecognize(t *testing.T) {
	cases := map[string]vitale.Generation{
		"3B 75 13 00 00 47 09 EA 90 00":                      vitale.Vitale2,
		"3B 75 13 00 00 43 09 EA 90 00":                      vitale.Vitale2,
		"3B 75 13 00 00 45 09 FA 90 00":                      vitale.Vitale2,
		"3F 65 25 00 24 09 69 90 00":                         vitale.Vitale1,
		"3F 65 25 00 52 09 6A 90 00":                         vitale.Vitale1,
		"3F 65 25 00 A7 09 6A 90 00":                         vitale.Vitale1,
		"3B AC 00 40 2A 00 12 25 00 64 80 00 03 10 00 90 00": vitale.NotVitale,
	}
	for s, want := range cases {
		atr := apdu.MustATRPattern(s) // a pattern without x is a plain ATR
		b := atrBytes(t, atr.String())
		if got := vitale.Recognize(b); got != want {
			t.Errorf("%s: %v, want %v", s, got, want)
		}
	}
}

func atrBytes(t *testing.T, s string) []byte {
	t.Helper()
	var out []byte
	for i := 0; i < len(s); i += 3 {
		var b byte
		for _, c := range s[i : i+2] {
			b <<= 4
			if c >= 'A' {
				b |= byte(c-'A') + 10
			} else {
				b |= byte(c - '0')
			}
		}
		out = append(out, b)
	}
	return out
}

func TestReadEveryProfile(t *testing.T) {
	for _, p := range cards.VitaleProfiles {
		t.Run(p.Name, func(t *testing.T) {
			c, _, err := read(t, p)
			if err != nil {
				t.Fatal(err)
			}
			if c.Serial != p.Serial || c.ValidFrom != p.ValidFrom || c.ValidUntil != p.Until || len(c.Beneficiaries) != len(p.People) {
				t.Fatalf("card %+v", c)
			}
			// The profiles list the insured person first, with a NIR.
			insuredNIR := p.People[0].NIR
			for i, pe := range p.People {
				b := c.Beneficiaries[i]
				// Rank and quality are not on the card: not invented.
				if b.Surname != pe.Surname || b.FirstName != pe.FirstName || b.BirthDate != pe.BirthDate ||
					b.BirthRank != 0 || b.Quality != "" {
					t.Errorf("beneficiary %d: %+v, want %+v", i, b, pe)
				}
				if pe.NIR == "" && b.NIR != "" || pe.NIR != "" && b.NIR[:13] != pe.NIR {
					t.Errorf("beneficiary %d: NIR %q", i, b.NIR)
				}
				if pe.NIR != "" && (b.NIRValid == pe.BadKey || b.OwnNIR == pe.BadKey) {
					t.Errorf("beneficiary %d: nir_valid %v own %v with a bad key %v", i, b.NIRValid, b.OwnNIR, pe.BadKey)
				}
				// The INS-C uses the beneficiary's first name and birth date
				// with the insured person's NIR.
				want, err := ins.INSC(pe.FirstName, pe.BirthDate[2:], insuredNIR)
				if err != nil || b.INSC != want {
					t.Errorf("beneficiary %d: INS-C %s, want %s (%v)", i, b.INSC, want, err)
				}
			}
		})
	}
}

func TestReadFamilyCard(t *testing.T) {
	c, tr, err := read(t, profile(t, "vitale-famille"))
	if err != nil {
		t.Fatal(err)
	}
	// Accented first names come through ISO-8859-1 intact.
	if c.Beneficiaries[1].FirstName != "HÉLÈNE" || c.Beneficiaries[3].FirstName != "NOÉ-GABRIEL" {
		t.Fatalf("names %q %q", c.Beneficiaries[1].FirstName, c.Beneficiaries[3].FirstName)
	}
	// The NIR list is shorter than the identity list: the children, after
	// the two NIRs by position, have none.
	if c.Beneficiaries[1].NIR == "" || !c.Beneficiaries[1].OwnNIR || c.Beneficiaries[2].NIR != "" || c.Beneficiaries[2].NIRValid {
		t.Fatalf("NIRs by position %+v", c.Beneficiaries[1:3])
	}
	t.Logf("vitale family read: %d APDUs", tr.Count)
	if c.Expired(time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)) || c.ValidUntil != "" {
		t.Fatal("a Vitale 2 without an end of validity reported expired")
	}
	exp, _, err := read(t, profile(t, "vitale-expiree"))
	if err != nil || !exp.Expired(time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("a card declaring an end of validity: %v", err)
	}
}

// A NIR matched by position whose year or month of birth is not the
// beneficiary's is not taken as theirs (a child's 93 may be the insured's).
func TestNIRNotTheBeneficiarys(t *testing.T) {
	p := profile(t, "vitale-seul")
	p.People = append(p.People, cards.VitalePerson{Surname: "MARTIN", FirstName: "JULES", BirthDate: "20150301", NIR: "1750675112033"})
	c, _, err := read(t, p)
	if err != nil {
		t.Fatal(err)
	}
	if b := c.Beneficiaries[1]; !b.NIRValid || b.OwnNIR {
		t.Fatalf("the father's NIR on the son: %+v", b)
	}
}

// What real-card code tolerates is tolerated; what names nobody is
// refused with ErrMalformed.
func TestReadBadCards(t *testing.T) {
	fam := profile(t, "vitale-famille")
	corrupt := fam
	corrupt.CorruptBenefic = true
	if _, _, err := read(t, corrupt); !errors.Is(err, vitale.ErrMalformed) {
		t.Errorf("corrupted identity file: %v", err)
	}
	// A card without any NIR is read: the INS-C cannot be computed, the
	// INSi lookup will give the identity.
	noNIR := profile(t, "vitale-seul")
	noNIR.People = []cards.VitalePerson{{Surname: "X", FirstName: "Y", BirthDate: "19900101", Rank: 1, Quality: "00"}}
	c, _, err := read(t, noNIR)
	if err != nil || c.Beneficiaries[0].INSC != "" || c.Beneficiaries[0].NIR != "" {
		t.Errorf("a card without NIR: %+v %v", c, err)
	}
	mutations := map[string]struct {
		mutate func(*cards.ISOCard)
		ok     bool
	}{
		// A file the directory lists is absent: the others are still read.
		"listed file absent": {func(vc *cards.ISOCard) { vc.Drop(0x2C03) }, true},
		// The end of a file signalled by 62 82 with the last bytes, not 6C.
		"end of file by 62 82": {func(vc *cards.ISOCard) { vc.WrongLe6C = false }, true},
		"directory entry for an unknown application": {func(vc *cards.ISOCard) {
			f := vc.Find(0x2001)
			f.Data = bytes.Replace(f.Data, []byte("FICHIER4\x00\x02"), []byte("FICHIER4\x00\x09"), 1)
		}, false},
		"identity file absent": {func(vc *cards.ISOCard) { vc.Drop(0xD001) }, false},
		"no directory":         {func(vc *cards.ISOCard) { vc.Drop(0x2001) }, false},
	}
	for name, m := range mutations {
		vc := cards.VitaleCard(fam)
		vc.Reset()
		m.mutate(vc)
		c, err := vitale.APDUReader{T: &cards.Direct{Card: vc}}.ReadVitale(context.Background())
		if m.ok != (err == nil) || (err != nil && (c != nil || !errors.Is(err, vitale.ErrMalformed) && !errors.Is(err, apdu.ErrNotFound))) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Not a Vitale application at all.
	demo := cards.DemoCard()
	demo.Reset()
	if _, err := (vitale.APDUReader{T: &cards.Direct{Card: demo}}).ReadVitale(context.Background()); !errors.Is(err, vitale.ErrNotVitale) {
		t.Errorf("demo card: %v", err)
	}
}

// The APDU sequence is cardpeek's (vitale_2.lua, written by dumping real
// cards): select VITALE with P2=00, its directory EF 2001, read by offset
// with Le=00; then each application the directory names, by its full AID,
// and each of its files (MF_VITALE's 2F00 and 2F02 added), each answer's
// 61 xx fetched by GET RESPONSE; never P2=0C.
func TestAPDUSequenceIsCardpeeks(t *testing.T) {
	vc := cards.VitaleCard(profile(t, "vitale-famille"))
	vc.Reset()
	rec := &cards.Recorder{Next: &cards.Direct{Card: vc}}
	if _, err := (vitale.APDUReader{T: rec}).ReadVitale(context.Background()); err != nil {
		t.Fatal(err)
	}
	var seq []string // selects and reads, GET RESPONSE and 6C resends folded
	for _, a := range rec.Sent {
		switch {
		case strings.HasPrefix(a, "00 C0"):
		case strings.HasPrefix(a, "00 B0") && len(seq) > 0 && strings.HasPrefix(seq[len(seq)-1], a[:11]):
		default:
			seq = append(seq, a)
		}
	}
	want := []string{
		"00 A4 04 00 0B D2 50 00 00 02 56 49 54 41 4C 45 00", // VITALE
		"00 A4 02 00 02 20 01 00", "00 B0 00 00 00",          // its directory
		"00 A4 04 00 0E D2 50 00 00 02 4D 46 5F 56 49 54 41 4C 45 00", // MF_VITALE (reference 0001)
		"00 A4 02 00 02 D0 01 00", "00 B0 00 00 00", "00 B0 01 00 00",
		"00 A4 02 00 02 2F 00 00", "00 B0 00 00 00",
		"00 A4 02 00 02 2F 02 00", "00 B0 00 00 00",
		"00 A4 04 00 0B D2 50 00 00 02 56 49 54 41 4C 45 00", // VITALE (0002)
		"00 A4 02 00 02 2B 05 00", "00 B0 00 00 00",
		"00 A4 02 00 02 2D 17 00", "00 B0 00 00 00",
		"00 A4 02 00 02 2A 11 00", "00 B0 00 00 00",
		"00 A4 02 00 02 2C 03 00", "00 B0 00 00 00",
	}
	if !slices.Equal(seq, want) {
		t.Errorf("APDU sequence:\n%s\nwant cardpeek's:\n%s", strings.Join(seq, "\n"), strings.Join(want, "\n"))
	}
	for _, a := range rec.Sent {
		if strings.HasPrefix(a, "00 A4") && a[9:11] == "0C" {
			t.Errorf("P2=0C: %s", a)
		}
	}
}

// A card pulled out at any APDU of the read sequence gives a clean error
// and no partial result.
func TestPulledOutAtEveryAPDU(t *testing.T) {
	p := profile(t, "vitale-famille")
	_, full, err := read(t, p)
	if err != nil {
		t.Fatal(err)
	}
	removed := errors.New("card removed")
	for n := 0; n < full.Count; n++ {
		card := cards.VitaleCard(p)
		card.Reset()
		tr := &cards.Direct{Card: card, FailAfter: n, Err: removed}
		c, err := vitale.APDUReader{T: tr}.ReadVitale(context.Background())
		if !errors.Is(err, removed) || c != nil {
			t.Fatalf("pulled out after %d APDUs: %v, %v", n, c, err)
		}
	}
}
