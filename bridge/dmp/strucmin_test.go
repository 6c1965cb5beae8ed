package dmp_test

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"dmpkiosk/bridge/dmp"
	"dmpkiosk/hwtest"
)

// ruleMarks tie each rule of the native checker to the schematron's
// failed assertions it stands for (their location and text).
var ruleMarks = map[string]*regexp.Regexp{
	"SM-REALM":            regexp.MustCompile(`realmCode`),
	"SM-TEMPLATE":         regexp.MustCompile(`templateId`),
	"SM-TYPE":             regexp.MustCompile(`JDV_J07`),
	"SM-TITLE":            regexp.MustCompile(`ClinicalDocument/title|hl7:title`),
	"SM-CONFIDENTIALITY":  regexp.MustCompile(`confidentialityCode`),
	"SM-SETID":            regexp.MustCompile(`setId`),
	"SM-VERSION":          regexp.MustCompile(`versionNumber`),
	"SM-FAMILY-QUALIFIER": regexp.MustCompile(`Seuls les qualifiers`),
	"SM-BIRTHTIME":        regexp.MustCompile(`birthTime is required`),
	"SM-SEX":              regexp.MustCompile(`administrativeGenderCode is required`),
	"SM-INS-TRAITS":       regexp.MustCompile(`traits de l'INS`),
	"SM-AUTHOR":           regexp.MustCompile(`\(CI-SISAuthor\): element`),
	"SM-CIVILITE":         regexp.MustCompile(`JDV_J245`),
	"SM-TITRE":            regexp.MustCompile(`JDV_J246`),
	"SM-CUSTODIAN":        regexp.MustCompile(`custodian`),
	"SM-LEGAL":            regexp.MustCompile(`legalAuthenticator\[|CI-SISLegalAuthenticator\): element`),
	"SM-SERVICE-EVENT":    regexp.MustCompile(`(?i)documentationI?Of`),
	"SM-PRACTICE-SETTING": regexp.MustCompile(`standardIndustryClassCode`),
	"SM-ENCOUNTER":        regexp.MustCompile(`componentOf\[`),
	"SM-FACILITY":         regexp.MustCompile(`CI-SISComponentOf`),
}

// strucminCorpus is ANS's documents (testdata/cda) and variants of the
// golden level-1 document that each break one rule, with the rule the
// native checker must name ("" for ANS's own).
func strucminCorpus(t *testing.T) (map[string][]byte, map[string]string) {
	t.Helper()
	docs, want := map[string][]byte{}, map[string]string{}
	for _, name := range []string{"DOC_NON_STRUCTURE_CDA-R2-N1", "LDL-SES_2022.01", "CR_Radio_CDAN1_v1", "CR_Radio_CDAN1_v2", "TD2.1-DocumentME2"} {
		b, err := os.ReadFile(filepath.Join("testdata", "cda", name+".xml"))
		if err != nil {
			t.Fatal(err)
		}
		docs[name] = b
	}
	g := string(docs["DOC_NON_STRUCTURE_CDA-R2-N1"])
	variant := func(name, rule, old, new string) {
		t.Helper()
		re := regexp.MustCompile(old)
		if !re.MatchString(g) {
			t.Fatalf("variant %s: %q not in the golden document", name, old)
		}
		n := 0
		docs[name] = []byte(re.ReplaceAllStringFunc(g, func(s string) string {
			if n++; n > 1 {
				return s
			}
			return re.ReplaceAllString(s, new)
		}))
		want[name] = rule
	}
	variant("no-realm", "SM-REALM", `<realmCode code="FR"/>`, ``)
	variant("realm-us", "SM-REALM", `<realmCode code="FR"/>`, `<realmCode code="US"/>`)
	variant("no-cisis-template", "SM-TEMPLATE", `<templateId root="1\.2\.250\.1\.213\.1\.1\.1\.1"/>`, ``)
	variant("no-hl7fr-template", "SM-TEMPLATE", `<templateId root="2\.16\.840\.1\.113883\.2\.8\.2\.1"/>`, ``)
	variant("no-xdssd-template", "SM-TEMPLATE", `<templateId root="1\.3\.6\.1\.4\.1\.19376\.1\.2\.20"/>`, ``)
	variant("type-not-j07", "SM-TYPE", `code="11502-2"`, `code="27899-4"`)
	variant("no-title", "SM-TITLE", `<title>[^<]*</title>`, ``)
	variant("empty-title", "SM-TITLE", `<title>[^<]*</title>`, `<title></title>`)
	variant("confidentiality-x", "SM-CONFIDENTIALITY", `<confidentialityCode code="N"`, `<confidentialityCode code="X"`)
	variant("no-confidentiality", "SM-CONFIDENTIALITY", `(?s)<confidentialityCode[^>]*/>`, ``)
	variant("no-setid", "SM-SETID", `<setId [^>]*/>`, ``)
	variant("no-version", "SM-VERSION", `<versionNumber [^>]*/>`, ``)
	variant("family-sp", "SM-FAMILY-QUALIFIER", `<family qualifier="BR">PAT-TROIS</family>`, `<family qualifier="BR">PAT-TROIS</family><family qualifier="SP">X</family>`)
	variant("no-family-br", "SM-INS-TRAITS", `<family qualifier="BR">PAT-TROIS</family>`, ``)
	variant("no-given", "SM-INS-TRAITS", `<given>DOMINIQUE MARIE-LOUISE</given>`, ``)
	variant("no-given-br", "SM-INS-TRAITS", `<given qualifier="BR">DOMINIQUE</given>`, ``)
	variant("no-birthplace", "SM-INS-TRAITS", `(?s)<birthplace>.*?</birthplace>`, ``)
	variant("no-birthtime", "SM-BIRTHTIME", `<birthTime value="19790328"/>`, ``)
	variant("no-sex", "SM-SEX", `<administrativeGenderCode [^>]*/>`, ``)
	variant("author-no-time", "SM-AUTHOR", `<time value="20210104160527\+0100"/>`, ``)
	variant("author-no-id", "SM-AUTHOR", `<id root="1\.2\.250\.1\.71\.4\.2\.1" extension="801234534765"/>`, ``)
	variant("author-prefix", "SM-CIVILITE", `<prefix>M</prefix>`, `<prefix>Dr.</prefix>`)
	variant("author-suffix", "SM-TITRE", `<suffix>DR</suffix>`, `<suffix>Docteur</suffix>`)
	variant("no-custodian", "SM-CUSTODIAN", `(?s)<custodian>.*?</custodian>`, ``)
	variant("no-legal", "SM-LEGAL", `(?s)<legalAuthenticator>.*?</legalAuthenticator>`, ``)
	variant("legal-no-time", "SM-LEGAL", `<time value="20200701134745\+0100"/>`, ``)
	variant("no-documentation", "SM-SERVICE-EVENT", `(?s)<documentationOf>.*?</documentationOf>`, ``)
	variant("no-performer", "SM-SERVICE-EVENT", `(?s)<performer typeCode="PRF">.*?</performer>`, ``)
	variant("no-event-time", "SM-SERVICE-EVENT", `(?s)(<serviceEvent>.*?)<effectiveTime>.*?</effectiveTime>`, `$1`)
	variant("no-practice-setting", "SM-PRACTICE-SETTING", `(?s)<standardIndustryClassCode[^>]*/>`, ``)
	variant("no-encounter", "SM-ENCOUNTER", `(?s)<componentOf>.*?</componentOf>`, ``)
	variant("no-facility-code", "SM-FACILITY", `(?s)<code code="SA07"[^>]*/>`, ``)
	variant("facility-not-j02", "SM-FACILITY", `code="SA07"`, `code="ZZ99"`)
	return docs, want
}

// The native structuration-minimale checker and ANS's schematron under
// Saxon (one JVM for the whole corpus) agree on every document: the same
// verdict, each rule the checker names stands for assertions the
// schematron failed, and every assertion the schematron failed is one of
// the checker's rules. Each variant is refused for the very rule it
// breaks; ANS's golden documents pass; ANS's own examples fail as
// testdata/cda/SOURCES.md says.
func TestStructureCheckerAgreesWithTheSchematron(t *testing.T) {
	docs, want := strucminCorpus(t)
	native := map[string][]dmp.Violation{}
	for name, b := range docs {
		v, err := dmp.CheckStructure(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		native[name] = v
	}
	judged := hwtest.Schematron(t, filepath.Join("testdata", "schematron", "structurationMinimale", "ASIP-STRUCT-MIN-StrucMin.sch"),
		filepath.Join("testdata", "schematron", "engine"), docs)
	names := make([]string, 0, len(docs))
	for n := range docs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		var errs []hwtest.Failure
		for _, f := range judged[name] {
			if f.Role == "error" || f.Role == "" {
				errs = append(errs, f)
			}
		}
		rules := map[string]bool{}
		for _, v := range native[name] {
			rules[v.Rule] = true
		}
		if (len(errs) == 0) != (len(rules) == 0) {
			t.Errorf("%s: the checker says %v, the schematron %d errors %v", name, native[name], len(errs), errs)
			continue
		}
		if r := want[name]; r != "" && !rules[r] {
			t.Errorf("%s: breaks %s, the checker says %v", name, r, native[name])
		}
		for r := range rules {
			found := false
			for _, f := range errs {
				found = found || ruleMarks[r].MatchString(f.Location+" "+f.Text)
			}
			if !found {
				t.Errorf("%s: the checker names %s, which the schematron does not fail: %v", name, r, errs)
			}
		}
		for _, f := range errs {
			found := false
			for r := range rules {
				found = found || ruleMarks[r].MatchString(f.Location+" "+f.Text)
			}
			if !found {
				t.Errorf("%s: the schematron fails %q (%s), which no rule of the checker named says", name, f.Text, f.Location)
			}
		}
	}
	for _, golden := range []string{"DOC_NON_STRUCTURE_CDA-R2-N1", "LDL-SES_2022.01"} {
		if len(native[golden]) != 0 {
			t.Errorf("ANS's golden %s refused: %v", golden, native[golden])
		}
	}
	got := []string{}
	for _, v := range native["CR_Radio_CDAN1_v1"] {
		got = append(got, v.Rule)
	}
	if strings.Join(got, " ") != "SM-SETID SM-FAMILY-QUALIFIER" {
		t.Errorf("ANS's HL7 v2 example CDA: %v", native["CR_Radio_CDAN1_v1"])
	}
}

// Document types are named in French from JDV_J07.
func TestTypeLabel(t *testing.T) {
	if got := dmp.TypeLabel("11490-0"); got != "Lettre de liaison à la sortie d'un établissement de soins" {
		t.Errorf("11490-0: %q", got)
	}
	if got := dmp.TypeLabel("99999-9"); got != "99999-9" {
		t.Errorf("an unknown type: %q", got)
	}
}
