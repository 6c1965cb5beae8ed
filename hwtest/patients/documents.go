package patients

import (
	_ "embed"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"time"

	"dmpkiosk/bridge/insi/insisim"
)

//go:embed cda/DOC_NON_STRUCTURE_CDA-R2-N1.xml
var goldenCDA string

//go:embed cda/LDL-SES_2022.01.xml
var structuredCDA string

// DocumentSpec is a demo document: its type (JDV_J07) and label, title,
// id (an OID, also the root of its set), and time.
type DocumentSpec struct {
	TypeCode, TypeLabel, Title string
	ID                         string
	Time                       time.Time
	// PDF, when set, replaces the model's PDF (a level-1 document only).
	PDF []byte
}

// DemoCDA writes a level-1 CDA for p from ANS's golden document: the
// patient's INS and INSi traits, the document's type, title, id, setId and
// time replaced, ANS's PDF kept. Its next version is dmpsim.Revise's.
func DemoCDA(p insisim.Person, s DocumentSpec) ([]byte, error) { return fromTemplate(goldenCDA, p, s) }

// DemoStructuredCDA writes a structured CDA (ANS's lettre de liaison à la
// sortie) for p the same way.
func DemoStructuredCDA(p insisim.Person, s DocumentSpec) ([]byte, error) {
	return fromTemplate(structuredCDA, p, s)
}

var (
	docID    = regexp.MustCompile(`(?s)(<ClinicalDocument.*?<id root=")[^"]+("\s*/>)`)
	docSet   = regexp.MustCompile(`<setId root="[^"]+"\s*/>`)
	docCode  = regexp.MustCompile(`(?s)(</templateId>|<templateId [^>]*/>)(\s*(?:<!--.*?-->\s*)*<id root="[^"]+"\s*/>\s*(?:<!--.*?-->\s*)*)<code code="[^"]+"[^>]*?displayName="[^"]*"`)
	docTitle = regexp.MustCompile(`<title>[^<]*</title>`)
	docTime  = regexp.MustCompile(`(?s)(</title>\s*(?:<!--.*?-->\s*)*)<effectiveTime value="[^"]+"\s*/>`)
)

func fromTemplate(tpl string, p insisim.Person, s DocumentSpec) ([]byte, error) {
	t := p.Traits
	if len(t.FirstNames) == 0 || t.BirthPlace == "" {
		return nil, fmt.Errorf("patients: %s has no first name or birth place", t.BirthName)
	}
	first := strings.Fields(t.FirstNames[0])[0]
	sex := map[string]string{"M": "Masculin", "F": "Féminin"}[t.Sex]
	doc := tpl
	for _, re := range []struct {
		re  *regexp.Regexp
		new string
	}{
		{docID, "${1}" + s.ID + "${2}"},
		{docSet, `<setId root="` + s.ID + `.0"/>`},
		{docCode, "${1}${2}" + `<code code="` + s.TypeCode + `" displayName="` + s.TypeLabel + `"`},
		{docTitle, `<title>` + s.Title + `</title>`},
		{docTime, "${1}" + `<effectiveTime value="` + s.Time.Format("20060102150405-0700") + `"/>`},
	} {
		loc := re.re.FindStringIndex(doc)
		if loc == nil {
			return nil, fmt.Errorf("patients: the model has no %s", re.re)
		}
		doc = doc[:loc[0]] + re.re.ReplaceAllString(doc[loc[0]:loc[1]], re.new) + doc[loc[1]:]
	}
	for _, r := range []struct{ old, new string }{
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
			return nil, fmt.Errorf("patients: the model has no %s", r.old)
		}
		doc = strings.Replace(doc, r.old, r.new, 1)
	}
	// The rest of the model's mentions of its patient's INS (a mail
	// address) go too.
	doc = strings.ReplaceAll(doc, "279035121518989", p.INS.Number+p.INS.Key)
	if s.PDF != nil {
		const open = `<text mediaType="application/pdf" representation="B64">`
		head, rest, ok := strings.Cut(doc, open)
		_, tail, ok2 := strings.Cut(rest, "</text>")
		if !ok || !ok2 {
			return nil, fmt.Errorf("patients: the model has no PDF to replace")
		}
		doc = head + open + base64.StdEncoding.EncodeToString(s.PDF) + "</text>" + tail
	}
	return []byte(doc), nil
}

// GoldenPDF is the PDF of ANS's golden level-1 document (two pages).
func GoldenPDF() ([]byte, error) {
	const open = `<text mediaType="application/pdf" representation="B64">`
	_, rest, ok := strings.Cut(goldenCDA, open)
	b64, _, ok2 := strings.Cut(rest, "</text>")
	if !ok || !ok2 {
		return nil, fmt.Errorf("patients: the golden document has no PDF")
	}
	return base64.StdEncoding.DecodeString(strings.Join(strings.Fields(b64), ""))
}
