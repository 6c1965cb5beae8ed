package patients

import (
	"fmt"
	"strings"

	"dmpkiosk/bridge/insi"
	"dmpkiosk/bridge/insi/insisim"
	"dmpkiosk/hwtest/cards"
	"dmpkiosk/hwtest/gam"
	"dmpkiosk/ins"
)

// INSi are the virtual Vitale cards' patients as INSi knows them,
// for the INSi simulator: those with a NIR under it, the others (children)
// with an INS of their own, a fictitious NIR born in Paris (75056) made
// from their sex and birth date. Cards with a wrong key on purpose, and
// the people INSi is not to know by their card, are left out.
func INSi() ([]insisim.Person, error) {
	var out []insisim.Person
	order := 900
	for _, p := range cards.VitaleProfiles {
		insured := p.People[0].NIR // the profiles list the insured person first
		for _, v := range p.People {
			if v.BadKey || v.UnknownToINSi {
				continue
			}
			name, err := ins.NormalizeName(v.Surname)
			if err != nil {
				return nil, fmt.Errorf("patients: %s: %w", p.Name, err)
			}
			var first []string
			for _, f := range strings.Fields(v.FirstName) {
				n, err := ins.NormalizeName(f)
				if err != nil {
					return nil, fmt.Errorf("patients: %s: %w", p.Name, err)
				}
				first = append(first, n)
			}
			body, place := v.NIR, ""
			if body == "" {
				sex := map[string]string{"M": "1", "F": "2"}[v.Sex]
				if sex == "" {
					return nil, fmt.Errorf("patients: %s: %s has neither a NIR nor a sex", p.Name, v.FirstName)
				}
				order++
				body = fmt.Sprintf("%s%s%s75056%03d", sex, v.BirthDate[2:4], v.BirthDate[4:6], order)
				place = "75056"
			}
			n, err := ins.ParseNIR13(body)
			if err != nil {
				return nil, fmt.Errorf("patients: %s: %w", p.Name, err)
			}
			if place == "" {
				place = body[5:10]
			}
			t := insi.Traits{BirthName: name, FirstNames: first, Sex: n.Sex(), BirthDate: v.BirthDate[:4] + "-" + v.BirthDate[4:6] + "-" + v.BirthDate[6:], BirthPlace: place}
			out = append(out, insisim.Person{Traits: t, INS: insi.INS{Matricule: insi.Matricule{Number: body, Key: fmt.Sprintf("%02d", n.Key())}, OID: ins.OIDNIR},
				Insured: insured, Rank: v.Rank})
		}
	}
	// ANS's HL7 PAM France examples' test patient (bridge/sih's fixtures);
	// INSi gives her NIR under the NIR's OID.
	out = append(out, ANSExample())
	return out, nil
}

// ANSExample is the test patient of ANS's HL7 PAM France examples
// (shared/testdata/hl7-pamfr-examples): PAT-TROIS DOMINIQUE, INS
// 279035121518989, born 28 March 1979 in 63220.
func ANSExample() insisim.Person {
	return insisim.Person{Traits: insi.Traits{BirthName: "PAT-TROIS", FirstNames: []string{"DOMINIQUE"}, Sex: "F", BirthDate: "1979-03-28", BirthPlace: "63220"},
		INS: insi.INS{Matricule: insi.Matricule{Number: "2790351215189", Key: "89"}, OID: ins.OIDNIR}}
}

// GAM are the virtual cards' patients as the test GAM knows them (its IPPs
// from 100001 on), with the traits INSi gives them, and ANS's test patient.
func GAM() ([]gam.Patient, error) {
	known, err := INSi()
	if err != nil {
		return nil, err
	}
	var out []gam.Patient
	for i, k := range known {
		first := ""
		if len(k.Traits.FirstNames) > 0 {
			first = strings.Fields(k.Traits.FirstNames[0])[0]
		}
		out = append(out, gam.Patient{IPP: fmt.Sprintf("%06d", 100001+i), BirthName: k.Traits.BirthName, FirstName: first,
			BirthDate: strings.ReplaceAll(k.Traits.BirthDate, "-", ""), Sex: k.Traits.Sex})
	}
	return out, nil
}
