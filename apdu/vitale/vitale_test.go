package vitale_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"dmpkiosk/apdu"
	"dmpkiosk/apdu/vitale"
	"dmpkiosk/hwtest"
	"dmpkiosk/ins"
)

func profile(t *testing.T, name string) hwtest.VitaleProfile {
	t.Helper()
	for _, p := range hwtest.VitaleProfiles {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no profile %s", name)
	return hwtest.VitaleProfile{}
}

func read(t *testing.T, p hwtest.VitaleProfile) (*vitale.Card, *hwtest.Direct, error) {
	t.Helper()
	card := hwtest.VitaleCard(p)
	card.Reset()
	tr := &hwtest.Direct{Card: card}
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
	for _, p := range hwtest.VitaleProfiles {
		t.Run(p.Name, func(t *testing.T) {
			c, _, err := read(t, p)
			if err != nil {
				t.Fatal(err)
			}
			if c.Serial != p.Serial || c.ValidFrom != p.ValidFrom || c.ValidUntil != p.Until || len(c.Beneficiaries) != len(p.People) {
				t.Fatalf("card %+v", c)
			}
			insuredNIR := ""
			for _, pe := range p.People {
				if pe.Quality == "00" {
					insuredNIR = pe.NIR
				}
			}
			for i, pe := range p.People {
				b := c.Beneficiaries[i]
				if b.Surname != pe.Surname || b.FirstName != pe.FirstName || b.BirthDate != pe.BirthDate ||
					b.BirthRank != pe.Rank || b.Quality != pe.Quality {
					t.Errorf("beneficiary %d: %+v, want %+v", i, b, pe)
				}
				if pe.NIR == "" && b.NIR != "" || pe.NIR != "" && b.NIR[:13] != pe.NIR {
					t.Errorf("beneficiary %d: NIR %q", i, b.NIR)
				}
				if pe.NIR != "" && b.NIRValid == pe.BadKey {
					t.Errorf("beneficiary %d: nir_valid %v with a bad key %v", i, b.NIRValid, pe.BadKey)
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
	// Children have no NIR of their own: none reported.
	if c.Beneficiaries[2].NIR != "" || c.Beneficiaries[2].NIRValid {
		t.Fatalf("child NIR %+v", c.Beneficiaries[2])
	}
	// Twins: the same birth date, told apart by their rank.
	if c.Beneficiaries[4].BirthRank != 1 || c.Beneficiaries[5].BirthRank != 2 {
		t.Fatal("birth ranks")
	}
	// select app, select dir, read dir (6C + resend), select CARTE, read
	// (6C + resend), select BENEFIC, read 256, read the rest (6C + resend).
	t.Logf("vitale family read: %d APDUs", tr.Count)
	if tr.Count > 11 {
		t.Fatalf("%d APDUs for a family card", tr.Count)
	}
	if c.Expired(time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)) {
		t.Fatal("valid card reported expired")
	}
	exp, _, err := read(t, profile(t, "vitale-expiree"))
	if err != nil || !exp.Expired(time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("expired card: %v", err)
	}
}

func TestReadBadCards(t *testing.T) {
	fam := profile(t, "vitale-famille")
	corrupt := fam
	corrupt.CorruptBenefic = true
	if _, _, err := read(t, corrupt); !errors.Is(err, vitale.ErrMalformed) || !errors.Is(err, apdu.ErrTLV) {
		t.Errorf("corrupted TLV: %v", err)
	}
	for _, tag := range []apdu.Tag{0x80, 0x81, 0x82, 0x83, 0x84} {
		missing := fam
		missing.DropTag = tag
		if c, _, err := read(t, missing); !errors.Is(err, vitale.ErrMalformed) || c != nil {
			t.Errorf("missing tag %v: %v", tag, err)
		}
	}
	noNIR := profile(t, "vitale-seul")
	noNIR.People = []hwtest.VitalePerson{{Surname: "X", FirstName: "Y", BirthDate: "19900101", Rank: 1, Quality: "00"}}
	if _, _, err := read(t, noNIR); !errors.Is(err, vitale.ErrMalformed) {
		t.Errorf("insured without NIR: %v", err)
	}
	// Not a Vitale application at all.
	demo := hwtest.DemoCard()
	demo.Reset()
	if _, err := (vitale.APDUReader{T: &hwtest.Direct{Card: demo}}).ReadVitale(context.Background()); !errors.Is(err, vitale.ErrNotVitale) {
		t.Errorf("demo card: %v", err)
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
		card := hwtest.VitaleCard(p)
		card.Reset()
		tr := &hwtest.Direct{Card: card, FailAfter: n, Err: removed}
		c, err := vitale.APDUReader{T: tr}.ReadVitale(context.Background())
		if !errors.Is(err, removed) || c != nil {
			t.Fatalf("pulled out after %d APDUs: %v, %v", n, c, err)
		}
	}
}
