package dmp

import (
	"embed"
	"fmt"
	"strings"
	"sync"

	"github.com/beevik/etree"

	"dmpkiosk/bridge/internal/cdabody"
)

// The header rules of the CI-SIS "structuration minimale" a connector
// depends on, checked natively: ANS's schematron (XSLT 2, Saxon, about
// 14 s a document with a fresh JVM) cannot run per document in
// production. Each rule below is one of the schematron's assertions, with
// its text's source (the rule's context in
// include/1.2.250.1.213.1.1.1.1-2017-12-13T103531.sch, testdata/cda); the
// value sets are the files the schematron loads (strucmin/SOURCES.md). The
// tests hold this checker and the schematron under Saxon to the same
// verdict on ANS's documents and a corpus of variants that each break one
// rule (strucmin_test.go). Rules of the body's sections and of the
// participants beyond the author and legal authenticator are not checked
// here.

// Violation is one rule a CDA document breaks: the rule's id and what is
// wrong, in French for the sender's team.
type Violation struct{ Rule, Text string }

func (v Violation) String() string { return v.Rule + " (" + v.Text + ")" }

//go:embed strucmin/*.xml
var valueSetFS embed.FS

var (
	valueSetsOnce sync.Once
	valueSets     map[string]map[string]bool
)

// valueSet is the codes of one of the rules' value sets, by its OID.
func valueSet(oid string) map[string]bool {
	valueSetsOnce.Do(func() {
		valueSets = map[string]map[string]bool{}
		entries, _ := valueSetFS.ReadDir("strucmin")
		for _, e := range entries {
			b, err := valueSetFS.ReadFile("strucmin/" + e.Name())
			if err != nil {
				continue
			}
			d := etree.NewDocument()
			if d.ReadFromBytes(b) != nil {
				continue
			}
			for _, vs := range d.FindElements("//valueSet") {
				codes := map[string]bool{}
				for _, c := range vs.FindElements(".//concept") {
					codes[c.SelectAttrValue("code", "")] = true
				}
				valueSets[vs.SelectAttrValue("id", "")] = codes
			}
		}
	})
	return valueSets[oid]
}

// The value sets' OIDs.
const (
	vsJ07             = "1.2.250.1.213.1.1.5.471"
	vsJ02             = "1.2.250.1.213.1.1.5.466"
	vsJ245            = "1.2.250.1.213.1.1.5.718"
	vsJ246            = "1.2.250.1.213.1.1.5.719"
	vsConfidentiality = "2.16.840.1.113883.1.11.10228"
)

// Templates a document declares: HL7 France, the CI-SIS, and IHE XDS-SD
// for an unstructured body.
const (
	tplHL7France = "2.16.840.1.113883.2.8.2.1"
	tplCISIS     = "1.2.250.1.213.1.1.1.1"
	tplXDSSD     = "1.3.6.1.4.1.19376.1.2.20"
)

// CheckStructure checks a CDA document's header against the
// structuration-minimale rules listed in this file. It returns the rules
// broken (none: the header holds), or an error when the document is not
// a ClinicalDocument at all.
func CheckStructure(b []byte) ([]Violation, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(cdabody.View(b)); err != nil {
		return nil, fmt.Errorf("%w: not XML: %v", ErrCDA, err)
	}
	r := doc.Root()
	if r == nil || r.Tag != "ClinicalDocument" || r.NamespaceURI() != NSHL7 {
		return nil, fmt.Errorf("%w: not a ClinicalDocument", ErrCDA)
	}
	var out []Violation
	fail := func(rule, text string) { out = append(out, Violation{rule, text}) }
	has := func(e *etree.Element) bool { return e != nil && e.SelectAttr("nullFlavor") == nil }
	in := func(vs string, e *etree.Element) bool { return valueSet(vs)[attr(e, "code")] }

	// SMDS_CDAClinicalDocument: realmCode FR, the templates.
	realm := false
	for _, e := range children(r, "realmCode") {
		realm = realm || attr(e, "code") == "FR"
	}
	if !realm {
		fail("SM-REALM", "realmCode FR absent")
	}
	tpl := map[string]bool{}
	for _, e := range children(r, "templateId") {
		tpl[attr(e, "root")] = true
	}
	for _, t := range []string{tplHL7France, tplCISIS} {
		if !tpl[t] {
			fail("SM-TEMPLATE", "templateId "+t+" absent")
		}
	}
	if hl7(r, "component", "nonXMLBody") != nil && !tpl[tplXDSSD] {
		fail("SM-TEMPLATE", "templateId "+tplXDSSD+" (IHE XDS-SD) absent d'un document non structuré")
	}
	// code in JDV_J07, title, confidentialityCode, setId, versionNumber.
	if c := hl7(r, "code"); !has(c) || !in(vsJ07, c) {
		fail("SM-TYPE", "type de document (code) "+attr(c, "code")+" absent du JDV_J07")
	}
	if t := hl7(r, "title"); !has(t) || strings.TrimSpace(t.Text()) == "" {
		fail("SM-TITLE", "titre (title) absent ou vide")
	}
	if c := hl7(r, "confidentialityCode"); !has(c) || !in(vsConfidentiality, c) {
		fail("SM-CONFIDENTIALITY", "confidentialityCode absent ou hors du jeu de valeurs")
	}
	if !has(hl7(r, "setId")) {
		fail("SM-SETID", "setId absent")
	}
	if !has(hl7(r, "versionNumber")) {
		fail("SM-VERSION", "versionNumber absent")
	}

	// CI-SISRecordTarget and the INS traits.
	role := hl7(r, "recordTarget", "patientRole")
	pat := hl7(role, "patient")
	names := children(pat, "name")
	for _, n := range names {
		for _, f := range children(n, "family") {
			if q := f.SelectAttr("qualifier"); q != nil && q.Value != "BR" && q.Value != "CL" {
				fail("SM-FAMILY-QUALIFIER", "nom de famille de qualifier "+q.Value+" (BR ou CL seulement)")
			}
		}
	}
	if pat != nil && hl7(pat, "birthTime") == nil {
		fail("SM-BIRTHTIME", "date de naissance (birthTime) absente")
	}
	if pat != nil && hl7(pat, "administrativeGenderCode") == nil {
		fail("SM-SEX", "sexe (administrativeGenderCode) absent")
	}
	withINS := false
	for _, id := range children(role, "id") {
		withINS = withINS || insRoots[attr(id, "root")]
	}
	if withINS {
		familyBR, givenBR, given := false, false, false
		for _, n := range names {
			for _, f := range children(n, "family") {
				familyBR = familyBR || attr(f, "qualifier") == "BR"
			}
			for _, g := range children(n, "given") {
				givenBR = givenBR || attr(g, "qualifier") == "BR"
				given = given || g.SelectAttr("qualifier") == nil
			}
		}
		county := hl7(pat, "birthplace", "place", "addr", "county") != nil
		sex := attr(hl7(pat, "administrativeGenderCode"), "code") != ""
		if !familyBR || !givenBR || !given || hl7(pat, "birthTime") == nil || !county || !sex {
			fail("SM-INS-TRAITS", "traits de l'INS incomplets (nom de naissance, premier prénom et prénoms de naissance, date et lieu de naissance, sexe)")
		}
	}

	// CI-SISAuthor: its time and id; the civilité and titre of the
	// author and the legal authenticator in JDV_J245 and JDV_J246.
	for _, a := range children(r, "author") {
		if hl7(a, "time") == nil {
			fail("SM-AUTHOR", "auteur sans heure (author/time)")
		}
		if hl7(a, "assignedAuthor", "id") == nil {
			fail("SM-AUTHOR", "auteur sans identifiant (assignedAuthor/id)")
		}
		checkTitles(hl7(a, "assignedAuthor", "assignedPerson", "name"), "auteur", fail)
	}
	if len(children(r, "custodian")) == 0 || !has(hl7(r, "custodian", "assignedCustodian")) {
		fail("SM-CUSTODIAN", "organisation responsable (custodian) absente")
	}
	legal := hl7(r, "legalAuthenticator")
	if legal == nil || attr(hl7(legal, "signatureCode"), "code") != "S" {
		fail("SM-LEGAL", "responsable (legalAuthenticator avec signatureCode S) absent")
	}
	if legal != nil {
		if hl7(legal, "time") == nil {
			fail("SM-LEGAL", "legalAuthenticator sans heure (time)")
		}
		checkTitles(hl7(legal, "assignedEntity", "assignedPerson", "name"), "responsable", fail)
	}

	// The main act (documentationOf[1]/serviceEvent): its time, its
	// performer and the performer's practice setting.
	ev := hl7(r, "documentationOf", "serviceEvent")
	if ev == nil {
		fail("SM-SERVICE-EVENT", "acte principal (documentationOf/serviceEvent) absent")
	} else {
		if hl7(ev, "effectiveTime") == nil {
			fail("SM-SERVICE-EVENT", "acte principal sans date (effectiveTime)")
		}
		if p := hl7(ev, "performer"); p == nil {
			fail("SM-SERVICE-EVENT", "acte principal sans exécutant (performer)")
		} else if !has(hl7(p, "assignedEntity", "representedOrganization", "standardIndustryClassCode")) {
			fail("SM-PRACTICE-SETTING", "cadre d'exercice (standardIndustryClassCode) absent de l'exécutant")
		}
	}

	// CI-SISComponentOf: the encounter and its facility's type (JDV_J02).
	enc := hl7(r, "componentOf", "encompassingEncounter")
	if !has(hl7(r, "componentOf")) || enc == nil {
		fail("SM-ENCOUNTER", "prise en charge (componentOf/encompassingEncounter) absente")
	} else if f := hl7(enc, "location", "healthCareFacility"); f != nil {
		if c := hl7(f, "code"); !has(c) || !in(vsJ02, c) {
			fail("SM-FACILITY", "type d'établissement (healthCareFacility/code) absent ou hors du JDV_J02")
		}
	}
	return out, nil
}

// checkTitles holds a person's name prefixes to JDV_J245 (civilités) and
// suffixes to JDV_J246 (titres).
func checkTitles(name *etree.Element, who string, fail func(rule, text string)) {
	for _, p := range children(name, "prefix") {
		if !valueSet(vsJ245)[strings.TrimSpace(p.Text())] {
			fail("SM-CIVILITE", who+" : civilité "+strings.TrimSpace(p.Text())+" absente du JDV_J245")
		}
	}
	for _, s := range children(name, "suffix") {
		if !valueSet(vsJ246)[strings.TrimSpace(s.Text())] {
			fail("SM-TITRE", who+" : titre "+strings.TrimSpace(s.Text())+" absent du JDV_J246")
		}
	}
}

//go:embed jdv/JDV_J07_XdsTypeCode_CISIS.xml
var j07 []byte

var (
	typeLabelsOnce sync.Once
	typeLabels     map[string]string
)

// TypeLabel is a document type's French label (JDV_J07's displayName),
// the code itself when the value set does not know it.
func TypeLabel(code string) string {
	typeLabelsOnce.Do(func() {
		typeLabels = map[string]string{}
		d := etree.NewDocument()
		if d.ReadFromBytes(j07) != nil {
			return
		}
		for _, c := range d.FindElements("//Concept") {
			typeLabels[c.SelectAttrValue("code", "")] = c.SelectAttrValue("displayName", "")
		}
	})
	if l := typeLabels[code]; l != "" {
		return l
	}
	return code
}
