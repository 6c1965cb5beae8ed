package patients

import (
	_ "embed"
	"fmt"
	"strings"
	"time"

	"dmpkiosk/bridge/insi/insisim"
)

//go:embed cda/DOC_NON_STRUCTURE_CDA-R2-N1.xml
var goldenCDA string

// DocumentSpec is a demo document: its type (JDV_J07) and label, title,
// id (an OID, also the root of its set), and time.
type DocumentSpec struct {
	TypeCode, TypeLabel, Title string
	ID                         string
	Time                       time.Time
}

// DemoCDA writes a level-1 CDA for p from ANS's golden document: the
// patient's INS and INSi traits, the document's type, title, id, setId and
// time replaced, ANS's PDF kept. Its next version is dmpsim.Revise's.
func DemoCDA(p insisim.Person, s DocumentSpec) ([]byte, error) {
	t := p.Traits
	if len(t.FirstNames) == 0 || t.BirthPlace == "" {
		return nil, fmt.Errorf("patients: %s has no first name or birth place", t.BirthName)
	}
	first := strings.Fields(t.FirstNames[0])[0]
	sex := map[string]string{"M": "Masculin", "F": "Féminin"}[t.Sex]
	doc := goldenCDA
	for _, r := range []struct{ old, new string }{
		{`<id root="1.3.6.1.4.1.19376.1.2.20.12345.1.1"/>`, `<id root="` + s.ID + `"/>`},
		{`<setId root="1.3.6.1.4.1.19376.1.2.20.12345.1"/>`, `<setId root="` + s.ID + `.0"/>`},
		{`code="11502-2" displayName="CR d'examens biologiques"`, `code="` + s.TypeCode + `" displayName="` + s.TypeLabel + `"`},
		{`<title>Compte rendu d'examens biologiques</title>`, `<title>` + s.Title + `</title>`},
		{`<effectiveTime value="20210401134745+0100"/>`, `<effectiveTime value="` + s.Time.Format("20060102150405-0700") + `"/>`},
		{`<id extension="279035121518989" root="1.2.250.1.213.1.4.10"/>`, `<id extension="` + p.INS.Number + p.INS.Key + `" root="` + p.INS.OID + `"/>`},
		{`<family qualifier="BR">PAT-TROIS</family>`, `<family qualifier="BR">` + t.BirthName + `</family>`},
		{`<given>DOMINIQUE MARIE-LOUISE</given>`, `<given>` + strings.Join(t.FirstNames, " ") + `</given>`},
		{`<given qualifier="BR">DOMINIQUE</given>`, `<given qualifier="BR">` + first + `</given>`},
		{`<family qualifier="CL">PAT-TROIS</family>`, `<family qualifier="CL">` + t.BirthName + `</family>`},
		{`<given qualifier="CL">DOMINIQUE</given>`, `<given qualifier="CL">` + first + `</given>`},
		{`<administrativeGenderCode code="F" displayName="Féminin"`, `<administrativeGenderCode code="` + t.Sex + `" displayName="` + sex + `"`},
		{`<birthTime value="19790328"/>`, `<birthTime value="` + strings.ReplaceAll(t.BirthDate, "-", "") + `"/>`},
		{`<county>51215</county>`, `<county>` + t.BirthPlace + `</county>`},
		{`<city>DOMPREMY</city>`, ``},
	} {
		if !strings.Contains(doc, r.old) {
			return nil, fmt.Errorf("patients: the golden document has no %s", r.old)
		}
		doc = strings.Replace(doc, r.old, r.new, 1)
	}
	return []byte(doc), nil
}
