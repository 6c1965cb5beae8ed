package patients

import (
	"fmt"
	"strings"
	"time"

	"dmpkiosk/bridge/insi/insisim"
	"dmpkiosk/bridge/sih"
)

// Admission is a GAM's ADT^A01 (HL7 2.5) for p, one of INSi's people: the
// IPP of domain, the INS qualified (PID-32 VALI), the unit and room in
// PV1-3 — what a bedside tablet's list of the unit's inpatients comes from.
func Admission(domain sih.Domain, control, ipp string, p insisim.Person, unit, room string) []byte {
	first := strings.Fields(p.Traits.FirstNames[0])[0]
	pid := make([]string, 33)
	pid[0], pid[1] = "PID", "1"
	pid[3] = ipp + "^^^" + domain.Namespace + "&" + domain.UniversalID + "&ISO^PI~" + p.INS.Number + p.INS.Key + "^^^ASIP-SANTE-INS-NIR&" + p.INS.OID + "&ISO^INS"
	pid[5] = p.Traits.BirthName + "^" + first + "^" + first + "^^^^L"
	pid[7], pid[8], pid[32] = strings.ReplaceAll(p.Traits.BirthDate, "-", ""), p.Traits.Sex, "VALI"
	ts := time.Now().Format("20060102150405")
	return []byte("MSH|^~\\&|GAM|" + domain.Namespace + "|DMPKIOSK|" + domain.Namespace + "|" + ts + "||ADT^A01^ADT_A01|" + control + "|P|2.5\r" +
		"EVN||" + ts + "\r" + strings.Join(pid, "|") + "\rPV1|1|I|" + unit + "^" + room + "\r")
}

// Admitted is one demo patient admitted by Admissions.
type Admitted struct {
	Person insisim.Person
	Room   string
	Msg    []byte
}

// Admissions are the ADT^A01 admitting the patients of INSi with these
// NIRs (13 digits) to unit, in rooms 12, 13… in that order.
func Admissions(domain sih.Domain, unit string, nirs ...string) ([]Admitted, error) {
	known, err := INSi()
	if err != nil {
		return nil, err
	}
	var out []Admitted
	for _, nir := range nirs {
		found := false
		for i, p := range known {
			if p.INS.Number != nir {
				continue
			}
			room := fmt.Sprint(12 + len(out))
			out = append(out, Admitted{Person: p, Room: room,
				Msg: Admission(domain, fmt.Sprintf("ADM%d", i), fmt.Sprintf("%06d", 100001+i), p, unit, room)})
			found = true
			break
		}
		if !found {
			return nil, fmt.Errorf("patients: INSi knows no %s", nir)
		}
	}
	return out, nil
}
