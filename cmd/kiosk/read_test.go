package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"dmpkiosk/hwtest"
	"dmpkiosk/hwtest/cards"
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
	ca, err := cards.NewIGCSante()
	if err != nil {
		t.Fatal(err)
	}
	virtual := cards.Cards(ca)
	vitales := map[string]cards.VitaleProfile{}
	for _, p := range cards.VitaleProfiles {
		vitales[p.Name] = p
	}
	cpss := map[string]cards.CPSProfile{}
	for _, p := range cards.CPSProfiles {
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
		var inserted []*cards.Inserted
		for i, p := range r.slot {
			if p == "" {
				continue
			}
			card, err := virtual[p]()
			if err != nil {
				t.Fatal(err)
			}
			in, err := cards.Insert(ctx, hwtest.SlotAddr(i), card)
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

func checkVitale(t *testing.T, round string, p cards.VitaleProfile, kind string, v *vitaleOut) {
	t.Helper()
	if kind != "vitale2" || v == nil {
		t.Fatalf("%s: card %q, vitale %v", round, kind, v)
	}
	if v.Serial != p.Serial || v.ValidFrom != p.ValidFrom || v.ValidUntil != p.Until || len(v.Beneficiaries) != len(p.People) {
		t.Fatalf("%s: vitale %+v", round, v)
	}
	insured := p.People[0].NIR // the profiles list the insured person first
	for i, pe := range p.People {
		b := v.Beneficiaries[i]
		insc, _ := ins.INSC(pe.FirstName, pe.BirthDate[2:], insured)
		// Rank and quality are not on a Vitale 2: not invented.
		if b.Surname != pe.Surname || b.FirstName != pe.FirstName || b.BirthDate != pe.BirthDate || b.BirthRank != 0 ||
			b.Quality != "" || b.INSC != insc || len(b.INSC) != 22 {
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

// kiosk cps-info: what the card declares, no PIN presented (the try
// counter is untouched); a CPS4 is named and refused plainly.
func TestCPSInfo(t *testing.T) {
	d := hwtest.StartPCSCD(t)
	ca, err := cards.NewIGCSante()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var p cards.CPSProfile
	for _, q := range cards.CPSProfiles {
		if q.Name == "cps-medecin" {
			p = q
		}
	}
	card, err := ca.CPSCard(p)
	if err != nil {
		t.Fatal(err)
	}
	vitale := cards.VitaleCard(cards.VitaleProfiles[0])
	var inserted []*cards.Inserted
	for i, c := range []cards.Card{vitale, card} {
		in, err := cards.Insert(ctx, hwtest.SlotAddr(i), c)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Remove()
		inserted = append(inserted, in)
		if err := d.WaitCard(ctx, i, true); err != nil {
			t.Fatal(err)
		}
	}
	out, stderr, code := run(t, "", "cps-info", "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	var got struct {
		Reader string `json:"reader"`
		ATR    string `json:"atr"`
		CPS    struct {
			Serial string `json:"serial"`
			PIN    struct {
				Reference    int  `json:"reference"`
				StoredLength int  `json:"stored_length"`
				NeedsPadding bool `json:"needs_padding"`
				PadChar      int  `json:"pad_char"`
				TriesLeft    int  `json:"tries_left"`
			} `json:"pin"`
			Keys []struct {
				Label     string `json:"label"`
				Reference int    `json:"reference"`
			} `json:"keys"`
			Certificates []struct {
				Subject  string `json:"subject"`
				NotAfter string `json:"not_after"`
			} `json:"certificates"`
			DataObjects []struct {
				Label string `json:"label"`
				Size  int    `json:"size"`
			} `json:"data_objects"`
		} `json:"cps"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	c := got.CPS
	if got.Reader != hwtest.Reader(1) || got.ATR != fmt.Sprintf("%X", cards.CPS3ATR) || c.Serial != p.Serial {
		t.Errorf("card %+v", got)
	}
	if c.PIN.Reference != 1 || c.PIN.StoredLength != 8 || !c.PIN.NeedsPadding || c.PIN.PadChar != 0xFF || c.PIN.TriesLeft != 3 {
		t.Errorf("PIN %+v", c.PIN)
	}
	if len(c.Keys) != 2 || c.Keys[0].Label != "CPS_PRIV_SIG" || c.Keys[0].Reference != 0x81 || c.Keys[1].Reference != 0x82 {
		t.Errorf("keys %+v", c.Keys)
	}
	if len(c.Certificates) != 2 || !strings.Contains(c.Certificates[0].Subject, "SN=LEROY") || c.Certificates[0].NotAfter != "2029-02-28" {
		t.Errorf("certificates %+v", c.Certificates)
	}
	sizes := map[string]int{}
	for _, o := range c.DataObjects {
		sizes[o.Label] = o.Size
	}
	if sizes["CPS_ID_CARD"] <= 0 || sizes["CPS_ACTIVITY_01_PS"] != -1 {
		t.Errorf("data objects %+v", c.DataObjects)
	}
	if card.TriesLeft() != 3 || card.Verified() {
		t.Error("cps-info touched the PIN")
	}

	inserted[1].Remove()
	if err := d.WaitCard(ctx, 1, false); err != nil {
		t.Fatal(err)
	}
	cps4, err := cards.Cards(ca)["cps4"]()
	if err != nil {
		t.Fatal(err)
	}
	in, err := cards.Insert(ctx, hwtest.SlotAddr(1), cps4)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Remove()
	if err := d.WaitCard(ctx, 1, true); err != nil {
		t.Fatal(err)
	}
	out, _, code = run(t, "", "cps-info")
	if code != 1 || !strings.Contains(out, "CPS4 non prise en charge") {
		t.Errorf("CPS4: exit %d\n%s", code, out)
	}
}
