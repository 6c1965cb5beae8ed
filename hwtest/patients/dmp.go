// Package patients gives the virtual Vitale cards' fictitious patients to
// the simulators (the DMP's and INSi's), which take them through their
// options: the simulators themselves link no test rig.
package patients

import (
	"fmt"
	"strings"

	"dmpkiosk/bridge/dmp"
	"dmpkiosk/bridge/dmp/dmpsim"
	"dmpkiosk/bridge/insi/insisim"
	"dmpkiosk/hwtest/cards"
	"dmpkiosk/ins"
)

// DMP are the virtual Vitale cards' fictitious patients as the DMP
// simulator knows them (its Options.People): each known by their INS when
// they have a NIR of their own, and by the INS-C the kiosk computes (the
// legacy regime's identifier).
func DMP() ([]dmpsim.Person, error) {
	// A child INSi gives an INS of their own (INSi()) is known by it too.
	known, err := INSi()
	if err != nil {
		return nil, err
	}
	insOf := map[string]string{}
	for _, k := range known {
		insOf[k.Traits.BirthName+"|"+strings.Join(k.Traits.FirstNames, " ")+"|"+strings.ReplaceAll(k.Traits.BirthDate, "-", "")] = k.INS.Number + k.INS.Key
	}
	var out []dmpsim.Person
	for _, p := range cards.VitaleProfiles {
		insured := ""
		for _, v := range p.People {
			if v.Quality == "00" {
				insured = v.NIR
			}
		}
		for _, v := range p.People {
			if v.BadKey {
				continue
			}
			first, _, _ := strings.Cut(v.FirstName, " ")
			d := dmp.Demographics{BirthName: v.Surname, FirstName: first, Sex: "I", BirthDate: v.BirthDate}
			var ids []dmp.PatientID
			if v.NIR != "" {
				n, err := ins.ParseNIR13(v.NIR)
				if err != nil {
					return nil, fmt.Errorf("patients: %s: %w", p.Name, err)
				}
				d.Sex = n.Sex()
				if n.Certified() {
					ids = append(ids, dmp.PatientID{Root: ins.OIDNIR, Extension: n.String()})
				}
			}
			if v.NIR == "" {
				name, _ := ins.NormalizeName(v.Surname)
				var first []string
				for _, f := range strings.Fields(v.FirstName) {
					n, _ := ins.NormalizeName(f)
					first = append(first, n)
				}
				if nir, ok := insOf[name+"|"+strings.Join(first, " ")+"|"+v.BirthDate]; ok {
					ids = append(ids, dmp.PatientID{Root: ins.OIDNIR, Extension: nir})
				}
			}
			if insured != "" && len(v.BirthDate) == 8 {
				insc, err := ins.INSC(v.FirstName, v.BirthDate[2:], insured)
				if err == nil {
					ids = append(ids, dmp.PatientID{Root: dmp.OIDINSC, Extension: insc})
				}
			}
			if len(ids) > 0 {
				out = append(out, dmpsim.Person{IDs: ids, Demographics: d})
			}
		}
	}
	// A card's person INSi does not know by their card has homonyms among
	// INSi's public identities: each has a DMP under the INS INSi gives.
	for _, p := range cards.VitaleProfiles {
		for _, v := range p.People {
			if !v.UnknownToINSi {
				continue
			}
			name, _ := ins.NormalizeName(v.Surname)
			for _, h := range insisim.Public() {
				if h.Traits.BirthName == name && strings.ReplaceAll(h.Traits.BirthDate, "-", "") == v.BirthDate {
					out = append(out, dmpsim.Person{IDs: []dmp.PatientID{{Root: ins.OIDNIR, Extension: h.INS.Matricule.Number + h.INS.Matricule.Key}},
						Demographics: dmp.Demographics{BirthName: h.Traits.BirthName, FirstName: h.Traits.FirstNames[0], Sex: h.Traits.Sex, BirthDate: v.BirthDate}})
				}
			}
		}
	}
	a := ANSExample()
	out = append(out, dmpsim.Person{IDs: []dmp.PatientID{{Root: ins.OIDNIR, Extension: a.INS.Number + a.INS.Key}},
		Demographics: dmp.Demographics{BirthName: a.Traits.BirthName, FirstName: a.Traits.FirstNames[0], Sex: a.Traits.Sex, BirthDate: "19790328"}})
	return out, nil
}

// WithINS is a virtual card's person with an INS of their own (a
// certified NIR), as an event names them.
type WithINS struct {
	INS    string // the NIR and its key
	Traits ins.Traits
}

// AllWithINS lists the virtual cards' people who have an INS of their own
// (INSi knows them by it).
func AllWithINS() []WithINS {
	var out []WithINS
	for _, p := range cards.VitaleProfiles {
		for _, v := range p.People {
			if v.NIR == "" || v.BadKey || v.UnknownToINSi {
				continue
			}
			n, err := ins.ParseNIR13(v.NIR)
			if err != nil || !n.Certified() {
				continue
			}
			first, _, _ := strings.Cut(v.FirstName, " ")
			// The five traits as an identity document gives them: every
			// first name, and the birth place (the NIR's, as INSi has it).
			out = append(out, WithINS{INS: n.String(), Traits: ins.Traits{BirthName: v.Surname, FirstName: first, FirstNames: strings.Fields(v.FirstName),
				Sex: n.Sex(), BirthDate: v.BirthDate, BirthPlace: v.NIR[5:10]}})
		}
	}
	return out
}
