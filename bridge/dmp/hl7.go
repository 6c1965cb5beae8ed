package dmp

import (
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// OIDs of the HL7 messages.
const (
	OIDINSC        = "1.2.250.1.213.1.4.2" // INS-C, the legacy regime's identifier
	OIDDMPDevice   = "1.2.250.1.213.4.1.1.1"
	CSReason       = "1.2.250.1.213.1.1.4.11"
	CSAttention    = "1.2.250.1.213.4.1.2.6.1"
	CSAuthStatus   = "1.2.250.1.213.4.1.2.6.2"
	CSStatusMT     = "1.2.250.1.213.4.1.2.6.3"
	CSObservation  = "1.2.250.1.213.4.1.2.3"
	interactionOID = "2.16.840.1.113883.1.6"
)

// Transactions and their services and actions.
const (
	TD02  = "TD0.2"
	TD03  = "TD0.3"
	TD11  = "TD1.1"
	TD13a = "TD1.3a"
)

// Service is where a transaction goes and what it says it is.
type Service struct {
	Path, Action string
}

// Services of each transaction.
var Services = map[string]Service{
	TD02:  {"patients", "urn:hl7-org:v3:PRPA_IN201307UV02"},
	TD13a: {"patients", "urn:hl7-org:v3:PRPA_IN201307UV02"},
	TD11:  {"patients", "urn:hl7-org:v3:PRPA_IN201311UV02"},
	TD03:  {"habilitations", "urn:si-dmp-habilitations:HabilitationsEndPoint:setAuthorization"},
}

// PatientID is the patient's identifier: an INS (NIR, NIA) or, in the
// legacy regime for someone with no NIR of their own, the INS-C.
type PatientID struct {
	Root, Extension string
}

// CX is the identifier as the VIHF resource-id and XDS write it.
func (p PatientID) CX() string { return p.Extension + "^^^&" + p.Root + "&ISO^NH" }

// Demographics are what the DMP holds of the patient's identity.
type Demographics struct {
	BirthName, FirstName, Sex, BirthDate string
}

// Authorization statuses of TD0.2.
const (
	AuthValid    = "VALIDE"
	AuthExpired  = "EXPIRE"
	AuthRefused  = "INTERDIT"
	AuthNone     = "NON_EXISTE"
	ActionAdd    = "AJOUT"
	ActionRemove = "SUPPRESSION"
)

// Observations of creation and administrative data.
const (
	ObsConsent     = "CONSENTEMENT_OUVERTURE_DMP"
	ObsBrisDeGlace = "OPPOSITION_BRIS_DE_GLACE"
	ObsEmergency   = "OPPOSITION_ACCES_URGENCE"
)

func hl7Message(interaction, id string, at time.Time) *etree.Element {
	m := etree.NewElement(interaction)
	m.CreateAttr("xmlns", NSHL7)
	m.CreateAttr("xmlns:xsi", NSXSI)
	m.CreateAttr("ITSVersion", "XML_1.0")
	m.CreateElement("id").CreateAttr("root", id)
	m.CreateElement("creationTime").CreateAttr("value", at.UTC().Format("20060102150405"))
	ii := m.CreateElement("interactionId")
	ii.CreateAttr("root", interactionOID)
	ii.CreateAttr("extension", interaction)
	m.CreateElement("processingCode").CreateAttr("code", "P")
	m.CreateElement("processingModeCode").CreateAttr("code", "T")
	m.CreateElement("acceptAckCode").CreateAttr("code", "AL")
	d := m.CreateElement("receiver")
	d.CreateAttr("typeCode", "RCV")
	dev := d.CreateElement("device")
	dev.CreateAttr("classCode", "DEV")
	dev.CreateAttr("determinerCode", "INSTANCE")
	dev.CreateElement("id").CreateAttr("root", OIDDMPDevice)
	return m
}

func reason(cap *etree.Element, code string) {
	r := cap.CreateElement("reasonCode")
	r.CreateAttr("code", code)
	r.CreateAttr("codeSystem", CSReason)
}

// QueryBody is the PRPA_IN201307UV02 of TD0.2 (reason TEST_EXST) or
// TD1.3a (CNSLT_DATA).
func QueryBody(tx, msgID string, p PatientID, at time.Time) *etree.Element {
	m := hl7Message("PRPA_IN201307UV02", msgID, at)
	cap := m.CreateElement("controlActProcess")
	cap.CreateAttr("classCode", "CACT")
	cap.CreateAttr("moodCode", "EVN")
	if tx == TD13a {
		reason(cap, "CNSLT_DATA")
	} else {
		reason(cap, "TEST_EXST")
	}
	q := cap.CreateElement("queryByParameter")
	q.CreateElement("queryId").CreateAttr("root", msgID)
	q.CreateElement("statusCode").CreateAttr("code", "new")
	q.CreateElement("responsePriorityCode").CreateAttr("code", "I")
	pi := q.CreateElement("parameterList").CreateElement("patientIdentifier")
	v := pi.CreateElement("value")
	v.CreateAttr("root", p.Root)
	v.CreateAttr("extension", p.Extension)
	pi.CreateElement("semanticsText").SetText("Patient.id")
	return m
}

// Creation is what TD1.1 sends.
type Creation struct {
	Patient      PatientID
	Demographics Demographics
	Consent      bool
	OppBrisGlace bool
	OppUrgence   bool
}

// CreateBody is the PRPA_IN201311UV02 of TD1.1 (reason CREA_RD).
func CreateBody(msgID string, c Creation, at time.Time) *etree.Element {
	m := hl7Message("PRPA_IN201311UV02", msgID, at)
	cap := m.CreateElement("controlActProcess")
	cap.CreateAttr("classCode", "CACT")
	cap.CreateAttr("moodCode", "EVN")
	reason(cap, "CREA_RD")
	pat := cap.CreateElement("subject").CreateElement("registrationRequest").CreateElement("subject1").CreateElement("patient")
	pat.CreateAttr("classCode", "PAT")
	id := pat.CreateElement("id")
	id.CreateAttr("root", c.Patient.Root)
	id.CreateAttr("extension", c.Patient.Extension)
	pat.CreateElement("statusCode").CreateAttr("code", "active")
	writePerson(pat, c.Demographics)
	for _, o := range []struct {
		code string
		v    bool
	}{{ObsConsent, c.Consent}, {ObsBrisDeGlace, c.OppBrisGlace}, {ObsEmergency, c.OppUrgence}} {
		writeObservation(pat, o.code, o.v)
	}
	return m
}

func writePerson(pat *etree.Element, d Demographics) {
	pp := pat.CreateElement("patientPerson")
	n := pp.CreateElement("name")
	f := n.CreateElement("family")
	f.CreateAttr("qualifier", "BR")
	f.SetText(d.BirthName)
	n.CreateElement("given").SetText(d.FirstName)
	pp.CreateElement("administrativeGenderCode").CreateAttr("code", d.Sex)
	pp.CreateElement("birthTime").CreateAttr("value", d.BirthDate)
}

func writeObservation(pat *etree.Element, code string, v bool) {
	o := pat.CreateElement("subjectOf2").CreateElement("administrativeObservation")
	o.CreateAttr("classCode", "OBS")
	o.CreateAttr("moodCode", "EVN")
	c := o.CreateElement("code")
	c.CreateAttr("code", code)
	c.CreateAttr("codeSystem", CSObservation)
	val := o.CreateElement("value")
	val.CreateAttr("xsi:type", "BL")
	val.CreateAttr("value", fmt.Sprint(v))
}

// AuthorizationBody is TD0.3's setAuthorization.
func AuthorizationBody(action string) *etree.Element {
	s := etree.NewElement("setAuthorization")
	s.CreateAttr("xmlns", NSHabil)
	s.CreateElement("action").SetText(action)
	return s
}

// Existence is TD0.2's answer.
type Existence struct {
	Exists        bool
	Authorization string // VALIDE, EXPIRE, INTERDIT, NON_EXISTE
	Doctor        bool   // STATUT_MT: the establishment is the patient's doctor's
}

// Admin is TD1.3a's answer.
type Admin struct {
	Demographics Demographics
	Observations map[string]bool
}

// hl7 finds the path below el in the HL7 namespace (local names).
func hl7(el *etree.Element, path ...string) *etree.Element {
	for _, p := range path {
		el = child(el, p, NSHL7)
	}
	return el
}

// ackCode checks the acknowledgement: AA, or an AE/AR with the DMP's code
// (a refusal answered in the message rather than as a fault).
func ackCode(m *etree.Element) error {
	ack := hl7(m, "acknowledgement")
	code := ""
	if tc := hl7(ack, "typeCode"); tc != nil {
		code = tc.SelectAttrValue("code", "")
	}
	switch code {
	case "AA", "CA":
		return nil
	case "AE", "AR", "CE", "CR":
		d := hl7(ack, "acknowledgementDetail")
		sub := ""
		if dc := hl7(d, "code"); dc != nil {
			sub = dc.SelectAttrValue("code", "")
		}
		return &Fault{Code: "Sender", Subcode: sub, Reason: text(hl7(d, "text"))}
	}
	return fmt.Errorf("%w: acknowledgement %q", ErrMalformed, code)
}

// ParseExistence reads a PRPA_IN201308UV02.
func ParseExistence(m *etree.Element) (Existence, error) {
	if m.Tag != "PRPA_IN201308UV02" || m.NamespaceURI() != NSHL7 {
		return Existence{}, fmt.Errorf("%w: %s instead of PRPA_IN201308UV02", ErrMalformed, m.Tag)
	}
	if err := ackCode(m); err != nil {
		return Existence{}, err
	}
	var e Existence
	for _, al := range m.ChildElements() {
		if al.Tag != "attentionLine" {
			continue
		}
		kw := hl7(al, "keyWordText")
		v := hl7(al, "value")
		if kw == nil || v == nil {
			continue
		}
		switch kw.SelectAttrValue("code", "") {
		case "AUTORISATION":
			e.Authorization = v.SelectAttrValue("code", "")
		case "STATUT_MT":
			e.Doctor = v.SelectAttrValue("value", "") == "true"
		}
	}
	qa := hl7(m, "controlActProcess", "queryAck", "queryResponseCode")
	if qa == nil {
		return Existence{}, fmt.Errorf("%w: no queryResponseCode", ErrMalformed)
	}
	switch qa.SelectAttrValue("code", "") {
	case "OK":
		e.Exists = true
	case "NF":
	default:
		return Existence{}, fmt.Errorf("%w: queryResponseCode %q", ErrMalformed, qa.SelectAttrValue("code", ""))
	}
	switch e.Authorization {
	case AuthValid, AuthExpired, AuthRefused, AuthNone:
	default:
		return Existence{}, fmt.Errorf("%w: authorization status %q", ErrMalformed, e.Authorization)
	}
	return e, nil
}

// ParseAdmin reads TD1.3a's PRPA_IN201308UV02.
func ParseAdmin(m *etree.Element) (Admin, error) {
	if m.Tag != "PRPA_IN201308UV02" || m.NamespaceURI() != NSHL7 {
		return Admin{}, fmt.Errorf("%w: %s instead of PRPA_IN201308UV02", ErrMalformed, m.Tag)
	}
	if err := ackCode(m); err != nil {
		return Admin{}, err
	}
	pat := hl7(m, "controlActProcess", "subject", "registrationEvent", "subject1", "patient")
	if pat == nil {
		return Admin{}, fmt.Errorf("%w: no patient", ErrMalformed)
	}
	a := Admin{Demographics: readPerson(pat), Observations: readObservations(pat)}
	return a, nil
}

func readPerson(pat *etree.Element) Demographics {
	pp := hl7(pat, "patientPerson")
	var d Demographics
	if n := hl7(pp, "name"); n != nil {
		d.BirthName, d.FirstName = text(hl7(n, "family")), text(hl7(n, "given"))
	}
	if g := hl7(pp, "administrativeGenderCode"); g != nil {
		d.Sex = g.SelectAttrValue("code", "")
	}
	if b := hl7(pp, "birthTime"); b != nil {
		d.BirthDate = b.SelectAttrValue("value", "")
	}
	return d
}

func readObservations(pat *etree.Element) map[string]bool {
	out := map[string]bool{}
	for _, s := range pat.ChildElements() {
		if s.Tag != "subjectOf2" {
			continue
		}
		o := hl7(s, "administrativeObservation")
		c, v := hl7(o, "code"), hl7(o, "value")
		if c != nil && v != nil {
			out[c.SelectAttrValue("code", "")] = v.SelectAttrValue("value", "") == "true"
		}
	}
	return out
}

// ParseCreated reads TD1.1's answer: PRPA_IN201312UV02 (created) or
// PRPA_IN201313UV02 (refused, with the DMP's code, DMPFound for a patient
// who has one).
func ParseCreated(m *etree.Element) error {
	if m.NamespaceURI() != NSHL7 || (m.Tag != "PRPA_IN201312UV02" && m.Tag != "PRPA_IN201313UV02") {
		return fmt.Errorf("%w: %s instead of PRPA_IN201312UV02", ErrMalformed, m.Tag)
	}
	if err := ackCode(m); err != nil {
		return err
	}
	if m.Tag == "PRPA_IN201313UV02" {
		return fmt.Errorf("%w: PRPA_IN201313UV02 acknowledged AA", ErrMalformed)
	}
	return nil
}

// ParseAuthorization reads setAuthorizationResponse.
func ParseAuthorization(m *etree.Element) error {
	if m.Tag != "setAuthorizationResponse" || m.NamespaceURI() != NSHabil {
		return fmt.Errorf("%w: %s instead of setAuthorizationResponse", ErrMalformed, m.Tag)
	}
	if s := text(child(m, "status", NSHabil)); s != "DMPOk" {
		return fmt.Errorf("%w: status %q", ErrMalformed, s)
	}
	return nil
}

// PatientOf reads the patient identifier of a request (simulator side).
func PatientOf(m *etree.Element) (PatientID, bool) {
	var v *etree.Element
	switch m.Tag {
	case "PRPA_IN201307UV02":
		v = hl7(m, "controlActProcess", "queryByParameter", "parameterList", "patientIdentifier", "value")
	case "PRPA_IN201311UV02":
		v = hl7(m, "controlActProcess", "subject", "registrationRequest", "subject1", "patient", "id")
	}
	if v == nil {
		return PatientID{}, false
	}
	p := PatientID{Root: v.SelectAttrValue("root", ""), Extension: v.SelectAttrValue("extension", "")}
	return p, p.Root != "" && p.Extension != ""
}

// ReasonOf is a request's reasonCode (simulator side).
func ReasonOf(m *etree.Element) string {
	if r := hl7(m, "controlActProcess", "reasonCode"); r != nil {
		return r.SelectAttrValue("code", "")
	}
	return ""
}

// CreationOf reads a TD1.1 request (simulator side).
func CreationOf(m *etree.Element) (Creation, bool) {
	p, ok := PatientOf(m)
	pat := hl7(m, "controlActProcess", "subject", "registrationRequest", "subject1", "patient")
	if !ok || pat == nil {
		return Creation{}, false
	}
	obs := readObservations(pat)
	return Creation{Patient: p, Demographics: readPerson(pat), Consent: obs[ObsConsent],
		OppBrisGlace: obs[ObsBrisDeGlace], OppUrgence: obs[ObsEmergency]}, true
}

// ActionOf reads a setAuthorization's action (simulator side).
func ActionOf(m *etree.Element) string {
	if m.Tag != "setAuthorization" || m.NamespaceURI() != NSHabil {
		return ""
	}
	return strings.TrimSpace(text(child(m, "action", NSHabil)))
}

// The answers, as the simulator writes them.

func ack(m *etree.Element, typ, target, detail, detailText string) {
	a := m.CreateElement("acknowledgement")
	a.CreateElement("typeCode").CreateAttr("code", typ)
	a.CreateElement("targetMessage").CreateElement("id").CreateAttr("root", target)
	if detail != "" {
		d := a.CreateElement("acknowledgementDetail")
		d.CreateAttr("typeCode", "E")
		d.CreateElement("code").CreateAttr("code", detail)
		d.CreateElement("text").SetText(detailText)
	}
}

func attention(m *etree.Element, key, keySystem string, value func(v *etree.Element)) {
	al := m.CreateElement("attentionLine")
	kw := al.CreateElement("keyWordText")
	kw.CreateAttr("code", key)
	kw.CreateAttr("codeSystem", keySystem)
	value(al.CreateElement("value"))
}

// ExistenceResponse is TD0.2's (or, with admin set, TD1.3a's) answer.
func ExistenceResponse(msgID, target string, at time.Time, p PatientID, insc string, e Existence, d *Demographics, obs map[string]bool) *etree.Element {
	m := etree.NewElement("PRPA_IN201308UV02")
	m.CreateAttr("xmlns", NSHL7)
	m.CreateAttr("xmlns:xsi", NSXSI)
	m.CreateAttr("ITSVersion", "XML_1.0")
	m.CreateElement("id").CreateAttr("root", msgID)
	m.CreateElement("creationTime").CreateAttr("value", at.UTC().Format("20060102150405"))
	ack(m, "AA", target, "", "")
	attention(m, "AUTORISATION", CSAttention, func(v *etree.Element) {
		v.CreateAttr("xsi:type", "CV")
		v.CreateAttr("code", e.Authorization)
		v.CreateAttr("codeSystem", CSAuthStatus)
	})
	attention(m, "STATUT_MT", CSAttention, func(v *etree.Element) {
		v.CreateAttr("xsi:type", "BL")
		v.CreateAttr("value", fmt.Sprint(e.Doctor))
	})
	cap := m.CreateElement("controlActProcess")
	cap.CreateAttr("classCode", "CACT")
	cap.CreateAttr("moodCode", "EVN")
	code := "NF"
	if e.Exists {
		code = "OK"
		pat := cap.CreateElement("subject").CreateElement("registrationEvent").CreateElement("subject1").CreateElement("patient")
		if insc != "" {
			id := pat.CreateElement("id")
			id.CreateAttr("root", OIDINSC)
			id.CreateAttr("extension", insc)
		}
		if p.Root != OIDINSC {
			id := pat.CreateElement("id")
			id.CreateAttr("root", p.Root)
			id.CreateAttr("extension", p.Extension)
		}
		pat.CreateElement("statusCode").CreateAttr("code", "active")
		if d != nil {
			writePerson(pat, *d)
		}
		for _, k := range []string{ObsBrisDeGlace, ObsEmergency} {
			if v, ok := obs[k]; ok {
				writeObservation(pat, k, v)
			}
		}
	}
	qa := cap.CreateElement("queryAck")
	qa.CreateElement("queryResponseCode").CreateAttr("code", code)
	return m
}

// CreatedResponse is TD1.1's answer: PRPA_IN201312UV02 when refusal is
// empty, else PRPA_IN201313UV02 with that code.
func CreatedResponse(msgID, target string, at time.Time, refusal, why string) *etree.Element {
	name, typ := "PRPA_IN201312UV02", "AA"
	if refusal != "" {
		name, typ = "PRPA_IN201313UV02", "AE"
	}
	m := etree.NewElement(name)
	m.CreateAttr("xmlns", NSHL7)
	m.CreateAttr("ITSVersion", "XML_1.0")
	m.CreateElement("id").CreateAttr("root", msgID)
	m.CreateElement("creationTime").CreateAttr("value", at.UTC().Format("20060102150405"))
	ack(m, typ, target, refusal, why)
	return m
}

// AuthorizationResponse is TD0.3's answer.
func AuthorizationResponse() *etree.Element {
	m := etree.NewElement("setAuthorizationResponse")
	m.CreateAttr("xmlns", NSHabil)
	m.CreateElement("status").SetText("DMPOk")
	return m
}
