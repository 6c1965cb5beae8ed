package cards

import (
	"fmt"

	"dmpkiosk/apdu"
	"dmpkiosk/ins"
)

// VitalePerson is one beneficiary of a virtual Vitale card. NIR is the 13
// characters without key; the key is computed unless BadKey is set. Rank
// and Quality are the profile's truth (the insured person is listed first,
// quality 00); the card does not write them, as no real-card code knows
// where a card would.
type VitalePerson struct {
	Surname, FirstName string // written to the card in ISO-8859-1
	BirthDate          string // AAAAMMJJ, lunar dates allowed
	Rank               int
	Quality            string // 00 insured, 01 spouse, 06 child
	NIR                string // 13 characters, "" for none
	BadKey             bool
	// Sex is the profile's truth for a person without a NIR (the card
	// does not say; INSi's answer does).
	Sex string
	// UnknownToINSi: INSi does not know this NIR (the Vitale search finds
	// nobody), and the traits search decides.
	UnknownToINSi bool
}

// VitaleProfile is a virtual Vitale 2 card as data, laid out by VitaleCard
// as code run on real cards reads one (../shared/docs/vitale.md).
type VitaleProfile struct {
	Name      string
	Serial    string // the PAN file's digits
	ValidFrom string // 66/80
	// Until is an end of validity (66/81), which a Vitale 2 does not have:
	// set only on the profile that tests a card declaring one.
	Until          string
	People         []VitalePerson
	CorruptBenefic bool // the identity file's first template claims more bytes than it has
}

// VitaleATR is a Vitale 2's ATR (T=0, TA1=13: 38400 bd after PPS).
var VitaleATR = []byte{0x3B, 0x75, 0x13, 0x00, 0x00, 0x47, 0x09, 0xEA, 0x90, 0x00}

// Vitale1ATR is a Vitale 1 card's (inverse convention).
var Vitale1ATR = []byte{0x3F, 0x65, 0x25, 0x00, 0x24, 0x09, 0x69, 0x90, 0x00}

// The virtual Vitale 2's applications and files. The AIDs, EF 2001 (the
// directory, under VITALE) and MF_VITALE's 2F00 and 2F02 are those
// real-card code selects; the other identifiers and the directory's file
// names are the project's (real ones are not published), deliberately not
// consecutive, so that a reader that assumes them instead of following the
// directory fails.
var (
	aidVitale   = []byte{0xD2, 0x50, 0x00, 0x00, 0x02, 0x56, 0x49, 0x54, 0x41, 0x4C, 0x45}
	aidMFVitale = []byte{0xD2, 0x50, 0x00, 0x00, 0x02, 0x4D, 0x46, 0x5F, 0x56, 0x49, 0x54, 0x41, 0x4C, 0x45}
)

const (
	vitaleAppFID      = 0x0510
	vitaleDirFID      = 0x2001
	vitaleIdentityFID = 0xD001 // under MF_VITALE: 65 {80, 81, 82, 90}
	vitaleNIRFID      = 0x2D17 // under VITALE: 65 {93}
	vitaleCarteFID    = 0x2B05 // under VITALE: 66 {80}
	vitaleRawFID      = 0x2A11 // under VITALE: not BER-TLV (04 00 …)
	vitaleCertFID     = 0x2C03 // under VITALE: 7F 21 {5F 37, 5F 38}
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

// padTo pads b with 00 to a multiple of n bytes, plus n more: real Vitale
// files are fixed-size and padded.
func padTo(b []byte, n int) []byte {
	size := (len(b)/n + 2) * n
	return append(b, make([]byte, size-len(b))...)
}

// VitaleCard lays a profile out as a virtual Vitale 2 shaped like a real
// one: two applications (MF_VITALE, the MF, and VITALE), a directory under
// VITALE whose application entries hold full AIDs and whose file entries
// name their application by reference, identity and NIR split across the
// two (matched by position), only attested tags, 00 padding, a file that
// is not BER-TLV. People with a NIR come first in a profile: the NIR list
// holds only theirs.
func VitaleCard(p VitaleProfile) *ISOCard {
	appEntry := func(ref uint16, aid []byte) []byte {
		return apdu.AppendTLV(nil, 0x82, append([]byte{byte(ref >> 8), byte(ref), 0x00, 0x00}, aid...))
	}
	fileEntry := func(name string, app, fid uint16) []byte {
		v := append([]byte(name), byte(app>>8), byte(app), byte(fid>>8), byte(fid))
		return apdu.AppendTLV(nil, 0x80, v)
	}
	const refMF, refVitale = 0x0001, 0x0002
	dir := apdu.Template(0xE0,
		apdu.Template(0xA0, appEntry(refMF, aidMFVitale), appEntry(refVitale, aidVitale)),
		fileEntry("FICHIER1", refMF, vitaleIdentityFID),
		fileEntry("FICHIER2", refVitale, vitaleCarteFID),
		fileEntry("FICHIER3", refVitale, vitaleNIRFID),
		fileEntry("FICHIER4", refVitale, vitaleRawFID),
		fileEntry("FICHIER5", refVitale, vitaleCertFID),
	)
	carte := apdu.AppendTLV(nil, 0x80, []byte(p.ValidFrom))
	if p.Until != "" {
		carte = apdu.AppendTLV(carte, 0x81, []byte(p.Until))
	}
	var identity, nirs []byte
	noNIRYet := false
	for _, pe := range p.People {
		identity = append(identity, apdu.Template(0x65,
			apdu.AppendTLV(nil, 0x80, latin1Bytes(pe.Surname)), apdu.AppendTLV(nil, 0x81, latin1Bytes(pe.FirstName)),
			apdu.AppendTLV(nil, 0x82, []byte(pe.BirthDate)), apdu.AppendTLV(nil, 0x90, []byte("FRA")))...)
		if pe.NIR == "" {
			noNIRYet = true
			continue
		}
		if noNIRYet {
			panic("hwtest: profile " + p.Name + ": people with a NIR come first")
		}
		nir := NIRKeyed(pe.NIR)
		if pe.BadKey {
			nir = nir[:13] + fmt.Sprintf("%02d", (int(nir[13]-'0')*10+int(nir[14]-'0'))%97+1)
		}
		nirs = append(nirs, apdu.Template(0x65, apdu.AppendTLV(nil, 0x93, []byte(nir)))...)
	}
	if p.CorruptBenefic && len(identity) > 2 {
		identity[1] += 40
	}
	var pan []byte
	for i := 0; i+1 < len(p.Serial); i += 2 {
		pan = append(pan, (p.Serial[i]-'0')<<4|(p.Serial[i+1]-'0'))
	}
	cert := apdu.Template(0x7F21, apdu.AppendTLV(nil, 0x5F37, make([]byte, 64)), apdu.AppendTLV(nil, 0x5F38, make([]byte, 16)))
	return &ISOCard{
		Answer: VitaleATR,
		MF: &File{FID: 0x3F00, AID: aidMFVitale, Children: []*File{
			{FID: 0x2F00, Data: padTo(apdu.Template(0x61, apdu.AppendTLV(nil, 0x4F, aidVitale), apdu.AppendTLV(nil, 0x50, []byte("VITALE"))), 16)},
			{FID: 0x2F02, Data: apdu.AppendTLV(nil, 0x5A, pan)},
			{FID: vitaleIdentityFID, SFI: 2, Data: padTo(identity, 32)},
			{FID: vitaleAppFID, AID: aidVitale, Children: []*File{
				{FID: vitaleDirFID, Data: padTo(dir, 16)},
				{FID: vitaleCarteFID, Data: padTo(apdu.AppendTLV(nil, 0x66, carte), 16)},
				{FID: vitaleNIRFID, SFI: 2, Data: padTo(nirs, 32)},
				{FID: vitaleRawFID, Data: []byte{0x04, 0x00, 0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC}},
				{FID: vitaleCertFID, Data: cert},
			}},
		}},
		FCIWith61: true,
		WrongLe6C: true,
	}
}

// The fictitious families of the virtual Vitale cards. Their identities are
// invented; the DMP simulator is pre-loaded with the same people.
var VitaleProfiles = []VitaleProfile{
	{Name: "vitale-seul", Serial: "0123456701", ValidFrom: "20210104", People: []VitalePerson{
		{Surname: "MARTIN", FirstName: "PAUL", BirthDate: "19750612", Rank: 1, Quality: "00", NIR: "1750675112033"},
	}},
	{Name: "vitale-famille", Serial: "0123456702", ValidFrom: "20220301", People: []VitalePerson{
		{Surname: "DURAND", FirstName: "JEAN-PIERRE", BirthDate: "19800215", Rank: 1, Quality: "00", NIR: "1800269123045"},
		{Surname: "DURAND", FirstName: "HÉLÈNE", BirthDate: "19820930", Rank: 1, Quality: "01", NIR: "2820933063112"},
		{Surname: "DURAND", FirstName: "LÉA", BirthDate: "20100504", Rank: 1, Quality: "06", Sex: "F"},
		{Surname: "DURAND", FirstName: "NOÉ-GABRIEL", BirthDate: "20130117", Rank: 1, Quality: "06", Sex: "M"},
		{Surname: "DURAND", FirstName: "MAËLYS", BirthDate: "20160811", Rank: 1, Quality: "06", Sex: "F"},
		{Surname: "DURAND", FirstName: "ZOÉ", BirthDate: "20160811", Rank: 2, Quality: "06", Sex: "F"},
	}},
	{Name: "vitale-accents", Serial: "0123456703", ValidFrom: "20230701", People: []VitalePerson{
		{Surname: "LEFÈVRE-D'ORÇAY", FirstName: "FRANÇOISE ÉLOÏSE", BirthDate: "19671103", Rank: 1, Quality: "00", NIR: "2671159350087"},
	}},
	{Name: "vitale-lunaire", Serial: "0123456704", ValidFrom: "20200101", People: []VitalePerson{
		{Surname: "N'DIAYE", FirstName: "AMADOU", BirthDate: "19620000", Rank: 1, Quality: "00", NIR: "1622099350123"},
	}},
	{Name: "vitale-corse", Serial: "0123456705", ValidFrom: "20240115", People: []VitalePerson{
		{Surname: "SANTONI", FirstName: "MARIE-ANGE", BirthDate: "19780422", Rank: 1, Quality: "00", NIR: "278042A004018"},
	}},
	{Name: "vitale-cle-invalide", Serial: "0123456706", ValidFrom: "20220101", People: []VitalePerson{
		{Surname: "PETIT", FirstName: "LOUIS", BirthDate: "19900307", Rank: 1, Quality: "00", NIR: "1900375056123", BadKey: true},
	}},
	// The name and birth date of INSi's public homonyms (the two DE VINCI
	// LEONARDO of the CNDA cases) under a NIR INSi does not know: the
	// traits search answers 02 until the birth place is given.
	{Name: "vitale-homonyme", Serial: "0123456708", ValidFrom: "20240301", People: []VitalePerson{
		{Surname: "DE VINCI", FirstName: "LEONARDO", BirthDate: "20140201", Rank: 1, Quality: "00", NIR: "1140263220999", UnknownToINSi: true},
	}},
	// Someone INSi knows neither by their card nor by their traits (CR 01).
	{Name: "vitale-inconnue", Serial: "0123456709", ValidFrom: "20250105", People: []VitalePerson{
		{Surname: "QUINTAL", FirstName: "ARMELLE", BirthDate: "19910714", Rank: 1, Quality: "00", NIR: "2910775056123", UnknownToINSi: true},
	}},
	{Name: "vitale-expiree", Serial: "0123456707", ValidFrom: "20080101", Until: "20180101", People: []VitalePerson{
		{Surname: "ROUX", FirstName: "CLAIRE", BirthDate: "19550720", Rank: 1, Quality: "00", NIR: "2550713055321"},
	}},
}
