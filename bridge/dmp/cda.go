package dmp

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"

	"dmpkiosk/bridge/internal/cdabody"
	"dmpkiosk/provisioning"
)

// Code is a coded value: code, code system and its label.
type Code struct{ Code, System, Display string }

// CDAPerson is a person of a CDA header: an id (root and extension) and
// the name.
type CDAPerson struct {
	ID, Root      string
	Family, Given string
}

// CDAHeader is what TD2.1's metadata are derived from in a CDA header
// (reference/hl7v2-trans-cda/mapping.md: each XDS value from its CDA
// element).
type CDAHeader struct {
	UniqueID        string // id/@root (an OID alone)
	Type            Code   // code (JDV_J07)
	Title           string
	Effective       time.Time // effectiveTime, with its offset
	Confidentiality Code
	Language        string
	SetID           string
	Version         string
	// Replaces is the id of the version this one replaces
	// (relatedDocument RPLC's parentDocument), empty for a first version.
	Replaces string
	// The patient: the INS (recordTarget's id of an INS root), birth
	// name and first name, sex, birth date (as written: YYYYMMDD).
	INS, INSOID                   string
	Family, Given, Sex, BirthDate string
	Author                        CDAPerson
	AuthorSpecialty               Code
	AuthorOrganization            string // its name
	AuthorOrganizationID          string // its id (extension), under AuthorOrganizationRoot
	AuthorOrganizationRoot        string
	LegalAuthenticator            CDAPerson
	ServiceStart, ServiceStop     time.Time // the main serviceEvent's
	FacilityType                  Code      // healthCareFacility/code (JDV_J02)
	PracticeSetting               Code      // the serviceEvent performer's organisation's standardIndustryClassCode (JDV_J04)
	// MediaType is a level-1 body's (nonXMLBody/text/@mediaType); empty for
	// a structured body.
	MediaType string
	// Templates are the header's templateIds (a structured document's
	// model among them).
	Templates []string
}

// ErrCDA is a document TD2.1 cannot be derived from.
var ErrCDA = errors.New("dmp: CDA document")

var insRoots = map[string]bool{"1.2.250.1.213.1.4.8": true, "1.2.250.1.213.1.4.9": true, "1.2.250.1.213.1.4.10": true, "1.2.250.1.213.1.4.11": true}

// ReadCDAHeader reads the header of a CDA R2 document.
func ReadCDAHeader(b []byte) (CDAHeader, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(cdabody.View(b)); err != nil {
		return CDAHeader{}, fmt.Errorf("%w: not XML: %v", ErrCDA, err)
	}
	r := doc.Root()
	if r == nil || r.Tag != "ClinicalDocument" || r.NamespaceURI() != NSHL7 {
		return CDAHeader{}, fmt.Errorf("%w: not a ClinicalDocument", ErrCDA)
	}
	var h CDAHeader
	id := hl7(r, "id")
	h.UniqueID = attr(id, "root")
	if h.UniqueID == "" || id.SelectAttr("extension") != nil {
		return CDAHeader{}, fmt.Errorf("%w: its id is not an OID alone", ErrCDA)
	}
	h.Type = codeOf(hl7(r, "code"))
	h.Title = strings.TrimSpace(text(hl7(r, "title")))
	var err error
	if h.Effective, err = cdaTime(attr(hl7(r, "effectiveTime"), "value")); err != nil {
		return CDAHeader{}, fmt.Errorf("%w: effectiveTime: %v", ErrCDA, err)
	}
	h.Confidentiality = codeOf(hl7(r, "confidentialityCode"))
	h.Language = attr(hl7(r, "languageCode"), "code")
	h.SetID = attr(hl7(r, "setId"), "root")
	for _, t := range children(r, "templateId") {
		h.Templates = append(h.Templates, attr(t, "root"))
	}
	h.Version = attr(hl7(r, "versionNumber"), "value")
	for _, rd := range children(r, "relatedDocument") {
		if attr(rd, "typeCode") == "RPLC" {
			h.Replaces = attr(hl7(rd, "parentDocument", "id"), "root")
		}
	}
	role := hl7(r, "recordTarget", "patientRole")
	for _, e := range children(role, "id") {
		if insRoots[attr(e, "root")] && h.INS == "" {
			h.INS, h.INSOID = attr(e, "extension"), attr(e, "root")
		}
	}
	if h.INS == "" {
		return CDAHeader{}, fmt.Errorf("%w: no INS in its recordTarget", ErrCDA)
	}
	pat := hl7(role, "patient")
	for _, n := range children(hl7(pat, "name"), "family") {
		if attr(n, "qualifier") == "BR" || h.Family == "" {
			h.Family = strings.TrimSpace(n.Text())
		}
	}
	for _, n := range children(hl7(pat, "name"), "given") {
		if attr(n, "qualifier") == "BR" || h.Given == "" {
			h.Given = strings.TrimSpace(n.Text())
		}
	}
	h.Sex = attr(hl7(pat, "administrativeGenderCode"), "code")
	h.BirthDate = attr(hl7(pat, "birthTime"), "value")
	aa := hl7(r, "author", "assignedAuthor")
	h.Author = personOf(aa)
	h.AuthorSpecialty = codeOf(hl7(aa, "code"))
	org := hl7(aa, "representedOrganization")
	h.AuthorOrganization = strings.TrimSpace(text(hl7(org, "name")))
	h.AuthorOrganizationID, h.AuthorOrganizationRoot = attr(hl7(org, "id"), "extension"), attr(hl7(org, "id"), "root")
	h.LegalAuthenticator = personOf(hl7(r, "legalAuthenticator", "assignedEntity"))
	ev := hl7(r, "documentationOf", "serviceEvent")
	if h.ServiceStart, err = cdaTime(attr(hl7(ev, "effectiveTime", "low"), "value")); err != nil {
		return CDAHeader{}, fmt.Errorf("%w: serviceEvent's start: %v", ErrCDA, err)
	}
	if v := attr(hl7(ev, "effectiveTime", "high"), "value"); v != "" {
		if h.ServiceStop, err = cdaTime(v); err != nil {
			return CDAHeader{}, fmt.Errorf("%w: serviceEvent's end: %v", ErrCDA, err)
		}
	}
	h.PracticeSetting = codeOf(hl7(ev, "performer", "assignedEntity", "representedOrganization", "standardIndustryClassCode"))
	h.FacilityType = codeOf(hl7(r, "componentOf", "encompassingEncounter", "location", "healthCareFacility", "code"))
	if t := hl7(r, "component", "nonXMLBody", "text"); t != nil {
		h.MediaType = attr(t, "mediaType")
	}
	return h, nil
}

func children(e *etree.Element, tag string) []*etree.Element {
	if e == nil {
		return nil
	}
	var out []*etree.Element
	for _, c := range e.ChildElements() {
		if c.Tag == tag && c.NamespaceURI() == NSHL7 {
			out = append(out, c)
		}
	}
	return out
}

func codeOf(e *etree.Element) Code {
	return Code{Code: attr(e, "code"), System: attr(e, "codeSystem"), Display: attr(e, "displayName")}
}

func personOf(e *etree.Element) CDAPerson {
	id := hl7(e, "id")
	name := hl7(e, "assignedPerson", "name")
	return CDAPerson{ID: attr(id, "extension"), Root: attr(id, "root"),
		Family: strings.TrimSpace(text(hl7(name, "family"))), Given: strings.TrimSpace(text(hl7(name, "given")))}
}

// cdaTime reads an HL7 TS: YYYYMMDD[HH[MM[SS]]][±ZZZZ]; without an
// offset, Europe/Paris (inferred: the establishment's own time).
func cdaTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, errors.New("missing")
	}
	digits, zone := v, ""
	if i := strings.IndexAny(v, "+-"); i > 0 {
		digits, zone = v[:i], v[i:]
	}
	if i := strings.IndexByte(digits, '.'); i > 0 {
		digits = digits[:i]
	}
	layouts := map[int]string{8: "20060102", 10: "2006010215", 12: "200601021504", 14: "20060102150405"}
	layout, ok := layouts[len(digits)]
	if !ok {
		return time.Time{}, fmt.Errorf("%q is not an HL7 time", v)
	}
	if zone != "" {
		return time.Parse(layout+"-0700", digits+zone)
	}
	return time.ParseInLocation(layout, digits, provisioning.Paris)
}
