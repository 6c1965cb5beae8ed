package hwtest

import (
	"fmt"

	"dmpkiosk/apdu"
	"dmpkiosk/ins"
)

// VitalePerson is one beneficiary of a virtual Vitale card. NIR is the 13
// characters without key; the key is computed unless BadKey is set.
type VitalePerson struct {
	Surname, FirstName string // written to the card in ISO-8859-1
	BirthDate          string // AAAAMMJJ, lunar dates allowed
	Rank               int
	Quality            string // 00 insured, 01 spouse, 06 child
	NIR                string // 13 characters, "" for none
	BadKey             bool
}

// VitaleProfile is a virtual Vitale 2 card as data, laid out by VitaleCard
// following the project's reference layout (shared/docs/domain.md).
type VitaleProfile struct {
	Name             string
	Serial           string
	ValidFrom, Until string
	People           []VitalePerson
	CorruptBenefic   bool // BENEFIC's first template claims more bytes than it has
	DropTag          apdu.Tag
}

// VitaleATR is the reference layout's ATR (T=0, TA1=13: 38400 bd after PPS).
var VitaleATR = []byte{0x3B, 0x75, 0x13, 0x00, 0x00, 0x47, 0x09, 0xEA, 0x90, 0x00}

// Vitale1ATR is a Vitale 1 card's (inverse convention).
var Vitale1ATR = []byte{0x3F, 0x65, 0x25, 0x00, 0x24, 0x09, 0x69, 0x90, 0x00}

// File identifiers of the reference layout's virtual cards: deliberately
// not consecutive, so that a reader that assumes ids instead of following
// the directory fails.
const (
	vitaleAppFID     = 0x0510
	vitaleDirFID     = 0x2001
	vitaleCarteFID   = 0x2D17
	vitaleBeneficFID = 0x2B05
	vitaleOtherFID   = 0x2A11
)

// NIRKeyed returns a 13-character NIR followed by its key.
func NIRKeyed(body string) string {
	k, err := ins.NIRKey(body)
	if err != nil {
		panic(fmt.Sprintf("hwtest: profile NIR %q: %v", body, err))
	}
	return fmt.Sprintf("%s%02d", body, k)
}

func latin1Bytes(s string) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xFF {
			r = '?'
		}
		out = append(out, byte(r))
	}
	return out
}

// VitaleCard lays a profile out as a virtual card.
func VitaleCard(p VitaleProfile) *ISOCard {
	dirEntry := func(name string, entry, fid uint16) []byte {
		v := append([]byte(name), byte(entry>>8), byte(entry), byte(fid>>8), byte(fid))
		return apdu.AppendTLV(nil, 0x80, v)
	}
	aidEntry := apdu.AppendTLV(nil, 0x82, append([]byte{0x00, 0x01, 0x00, 0x00}, []byte("VITALE")...))
	dir := apdu.Template(0xE0,
		apdu.Template(0xA0, aidEntry),
		dirEntry("ASSURE  ", 1, vitaleOtherFID),
		dirEntry("BENEFIC ", 2, vitaleBeneficFID),
		dirEntry("CARTE   ", 3, vitaleCarteFID),
	)
	carte := apdu.Template(0x66,
		apdu.AppendTLV(nil, 0x80, []byte(p.ValidFrom)),
		apdu.AppendTLV(nil, 0x81, []byte(p.Until)),
		apdu.AppendTLV(nil, 0x82, []byte(p.Serial)),
		apdu.AppendTLV(nil, 0x85, []byte{0x01}), // a tag the reader must ignore
	)
	var benefic []byte
	for _, pe := range p.People {
		fields := []struct {
			tag apdu.Tag
			v   []byte
		}{
			{0x80, latin1Bytes(pe.Surname)}, {0x81, latin1Bytes(pe.FirstName)},
			{0x82, []byte(pe.BirthDate)}, {0x83, []byte{byte('0' + pe.Rank)}},
			{0x84, []byte(pe.Quality)}, {0x90, []byte("FRA")},
		}
		var inner []byte
		for _, f := range fields {
			if f.tag != p.DropTag {
				inner = apdu.AppendTLV(inner, f.tag, f.v)
			}
		}
		if pe.NIR != "" {
			nir := NIRKeyed(pe.NIR)
			if pe.BadKey {
				nir = nir[:13] + fmt.Sprintf("%02d", (int(nir[13]-'0')*10+int(nir[14]-'0'))%97+1)
			}
			inner = apdu.AppendTLV(inner, 0x93, []byte(nir))
		}
		benefic = append(benefic, apdu.AppendTLV(nil, 0x65, inner)...)
	}
	if p.CorruptBenefic && len(benefic) > 2 {
		benefic[1] += 40
	}
	return &ISOCard{
		Answer: VitaleATR,
		MF: &File{FID: 0x3F00, Children: []*File{
			{FID: vitaleAppFID, AID: []byte{0xD2, 0x50, 0x00, 0x00, 0x02, 0x56, 0x49, 0x54, 0x41, 0x4C, 0x45}, Children: []*File{
				{FID: vitaleDirFID, Data: dir},
				{FID: vitaleCarteFID, Data: carte},
				{FID: vitaleBeneficFID, Data: benefic},
				{FID: vitaleOtherFID, Data: apdu.AppendTLV(nil, 0x67, []byte("ignored"))},
			}},
		}},
		FCIWith61: true,
		WrongLe6C: true,
	}
}

// The fictitious families of the virtual Vitale cards. Their identities are
// invented; the DMP simulator is pre-loaded with the same people.
var VitaleProfiles = []VitaleProfile{
	{Name: "vitale-seul", Serial: "0123456701", ValidFrom: "20210104", Until: "20310103", People: []VitalePerson{
		{Surname: "MARTIN", FirstName: "PAUL", BirthDate: "19750612", Rank: 1, Quality: "00", NIR: "1750675112033"},
	}},
	{Name: "vitale-famille", Serial: "0123456702", ValidFrom: "20220301", Until: "20320228", People: []VitalePerson{
		{Surname: "DURAND", FirstName: "JEAN-PIERRE", BirthDate: "19800215", Rank: 1, Quality: "00", NIR: "1800269123045"},
		{Surname: "DURAND", FirstName: "HÉLÈNE", BirthDate: "19820930", Rank: 1, Quality: "01", NIR: "2820933063112"},
		{Surname: "DURAND", FirstName: "LÉA", BirthDate: "20100504", Rank: 1, Quality: "06"},
		{Surname: "DURAND", FirstName: "NOÉ-GABRIEL", BirthDate: "20130117", Rank: 1, Quality: "06"},
		{Surname: "DURAND", FirstName: "MAËLYS", BirthDate: "20160811", Rank: 1, Quality: "06"},
		{Surname: "DURAND", FirstName: "ZOÉ", BirthDate: "20160811", Rank: 2, Quality: "06"},
	}},
	{Name: "vitale-accents", Serial: "0123456703", ValidFrom: "20230701", Until: "20330630", People: []VitalePerson{
		{Surname: "LEFÈVRE-D'ORÇAY", FirstName: "FRANÇOISE ÉLOÏSE", BirthDate: "19671103", Rank: 1, Quality: "00", NIR: "2671159350087"},
	}},
	{Name: "vitale-lunaire", Serial: "0123456704", ValidFrom: "20200101", Until: "20301231", People: []VitalePerson{
		{Surname: "N'DIAYE", FirstName: "AMADOU", BirthDate: "19620000", Rank: 1, Quality: "00", NIR: "1622099350123"},
	}},
	{Name: "vitale-corse", Serial: "0123456705", ValidFrom: "20240115", Until: "20340114", People: []VitalePerson{
		{Surname: "SANTONI", FirstName: "MARIE-ANGE", BirthDate: "19780422", Rank: 1, Quality: "00", NIR: "278042A004018"},
	}},
	{Name: "vitale-cle-invalide", Serial: "0123456706", ValidFrom: "20220101", Until: "20320101", People: []VitalePerson{
		{Surname: "PETIT", FirstName: "LOUIS", BirthDate: "19900307", Rank: 1, Quality: "00", NIR: "1900375056123", BadKey: true},
	}},
	{Name: "vitale-expiree", Serial: "0123456707", ValidFrom: "20080101", Until: "20180101", People: []VitalePerson{
		{Surname: "ROUX", FirstName: "CLAIRE", BirthDate: "19550720", Rank: 1, Quality: "00", NIR: "2550713055321"},
	}},
}
