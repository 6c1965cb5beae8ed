package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"dmpkiosk/hwtest"
	"dmpkiosk/ins"
)

// vitaleOut is the contract's "vitale" object.
type vitaleOut struct {
	Serial        string `json:"serial"`
	ValidFrom     string `json:"valid_from"`
	ValidUntil    string `json:"valid_until"`
	Beneficiaries []struct {
		Surname   string  `json:"surname"`
		FirstName string  `json:"first_name"`
		BirthDate string  `json:"birth_date"`
		BirthRank int     `json:"birth_rank"`
		Quality   string  `json:"quality"`
		NIR       *string `json:"nir"`
		NIRValid  bool    `json:"nir_valid"`
		INSC      string  `json:"ins_c"`
	} `json:"beneficiaries"`
}

// readOutput mirrors the documented contract of kiosk read --json, written
// here independently of the implementation's types.
type readOutput struct {
	Slots []struct {
		Reader string     `json:"reader"`
		ATR    string     `json:"atr"`
		Card   string     `json:"card"`
		Error  string     `json:"error"`
		Vitale *vitaleOut `json:"vitale"`
		CPS    *struct {
			CardType       string `json:"card_type"`
			NationalID     string `json:"national_id"`
			NationalIDType string `json:"national_id_type"`
			Surname        string `json:"surname"`
			FirstName      string `json:"first_name"`
			Profession     string `json:"profession"`
			Speciality     string `json:"speciality"`
			Serial         string `json:"serial"`
			NotAfter       string `json:"not_after"`
		} `json:"cps"`
	} `json:"slots"`
}

func TestReadEveryVirtualCard(t *testing.T) {
	d := hwtest.StartPCSCD(t)
	ca, err := hwtest.NewIGCSante()
	if err != nil {
		t.Fatal(err)
	}
	cards := hwtest.Cards(ca)
	vitales := map[string]hwtest.VitaleProfile{}
	for _, p := range hwtest.VitaleProfiles {
		vitales[p.Name] = p
	}
	cpss := map[string]hwtest.CPSProfile{}
	for _, p := range hwtest.CPSProfiles {
		cpss[p.Name] = p
	}
	rounds := []struct {
		slot   [2]string // profile names, "" for empty
		exit   int
		errors [2]string
	}{
		{slot: [2]string{"vitale-famille", "cps-medecin"}},
		{slot: [2]string{"cpe-accueil", "vitale-seul"}},
		{slot: [2]string{"vitale-accents", "cpf-interne"}},
		{slot: [2]string{"cde-directeur", "vitale-lunaire"}},
		{slot: [2]string{"vitale-corse", "cps-bloquee"}},
		{slot: [2]string{"cps-expiree", "vitale-cle-invalide"}},
		{slot: [2]string{"vitale-expiree", ""}},
		{slot: [2]string{"vitale1", "cps2ter"}, exit: 1, errors: [2]string{"Vitale 1", "CPS2ter"}},
		{slot: [2]string{"", "demo"}, exit: 1, errors: [2]string{"", "carte non reconnue"}},
	}
	ctx := context.Background()
	for _, r := range rounds {
		name := fmt.Sprintf("%s+%s", r.slot[0], r.slot[1])
		var inserted []*hwtest.Inserted
		for i, p := range r.slot {
			if p == "" {
				continue
			}
			card, err := cards[p]()
			if err != nil {
				t.Fatal(err)
			}
			in, err := hwtest.Insert(ctx, hwtest.SlotAddr(i), card)
			if err != nil {
				t.Fatal(err)
			}
			inserted = append(inserted, in)
			if err := d.WaitCard(ctx, i, true); err != nil {
				t.Fatal(err)
			}
		}
		out, stderr, code := run(t, "", "read", "--json")
		if code != r.exit {
			t.Fatalf("%s: exit %d, want %d\n%s%s", name, code, r.exit, out, stderr)
		}
		var got readOutput
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		if len(got.Slots) != 2 {
			t.Fatalf("%s: %d slots", name, len(got.Slots))
		}
		for i, p := range r.slot {
			s := got.Slots[i]
			if s.Reader != hwtest.Reader(i) {
				t.Fatalf("%s: slot %d reader %q", name, i, s.Reader)
			}
			if !strings.Contains(s.Error, r.errors[i]) || (r.errors[i] == "") != (s.Error == "") {
				t.Errorf("%s: slot %d error %q, want one about %q", name, i, s.Error, r.errors[i])
			}
			switch vp, cp := vitales[p], cpss[p]; {
			case p == "":
				if s.Card != "empty" || s.ATR != "" {
					t.Errorf("%s: empty slot %d: %+v", name, i, s)
				}
			case vp.Name != "":
				checkVitale(t, name, vp, s.Card, s.Vitale)
			case cp.Name != "":
				if s.Card != "cps3" || s.CPS == nil {
					t.Fatalf("%s: slot %d: card %q", name, i, s.Card)
				}
				c := s.CPS
				if c.CardType != cp.CardType || c.NationalID != cp.NationalID || c.Surname != cp.Surname || c.FirstName != cp.FirstName ||
					// The speciality is not in the certificate, and the serial is
					// shown without the issuer's prefix.
					c.Profession != cp.Profession || c.Speciality != "" || c.Serial != cp.Serial || c.NotAfter != cp.NotAfter {
					t.Errorf("%s: CPS %+v, want %+v", name, c, cp)
				}
			}
		}
		for _, in := range inserted {
			in.Remove()
		}
		for i, p := range r.slot {
			if p != "" {
				if err := d.WaitCard(ctx, i, false); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	t.Logf("kiosk read --json: %d rounds through real pcscd, every virtual card read", len(rounds))
}

func checkVitale(t *testing.T, round string, p hwtest.VitaleProfile, kind string, v *vitaleOut) {
	t.Helper()
	if kind != "vitale2" || v == nil {
		t.Fatalf("%s: card %q, vitale %v", round, kind, v)
	}
	if v.Serial != p.Serial || v.ValidFrom != p.ValidFrom || v.ValidUntil != p.Until || len(v.Beneficiaries) != len(p.People) {
		t.Fatalf("%s: vitale %+v", round, v)
	}
	insured := ""
	for _, pe := range p.People {
		if pe.Quality == "00" {
			insured = pe.NIR
		}
	}
	for i, pe := range p.People {
		b := v.Beneficiaries[i]
		insc, _ := ins.INSC(pe.FirstName, pe.BirthDate[2:], insured)
		if b.Surname != pe.Surname || b.FirstName != pe.FirstName || b.BirthDate != pe.BirthDate || b.BirthRank != pe.Rank ||
			b.Quality != pe.Quality || b.INSC != insc || len(b.INSC) != 22 {
			t.Errorf("%s: beneficiary %d %+v, want %+v (INS-C %s)", round, i, b, pe, insc)
		}
		switch {
		case pe.NIR == "" && b.NIR != nil:
			t.Errorf("%s: beneficiary %d has a nir field", round, i)
		case pe.NIR != "" && (b.NIR == nil || (*b.NIR)[:13] != pe.NIR || b.NIRValid == pe.BadKey):
			t.Errorf("%s: beneficiary %d NIR %v valid %v", round, i, b.NIR, b.NIRValid)
		}
	}
}
