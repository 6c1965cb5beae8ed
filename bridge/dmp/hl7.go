package dmp

import (
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"

	"dmpkiosk/ins"
)

// OIDs and code systems of the HL7 v3 messages (the package DMP's
// examples and nomenclatures).
const (
	OIDINSC       = "1.2.250.1.213.1.4.2"   // INS-C, the legacy regime's identifier
	OIDDMPDevice  = "1.2.250.1.213.4.1.1.1" // the DMP as an application
	OIDRPPS       = "1.2.250.1.71.4.2.1"    // professionals' national identifiers
	OIDStructure  = "1.2.250.1.71.4.2.2"    // structures' identifiers ("1" + FINESS)
	CSReason      = "1.2.250.1.213.1.1.4.11"
	CSAttention   = "1.2.250.1.213.4.1.2.6.1" // AUTORISATION
	CSAuthStatus  = "1.2.250.1.213.4.1.2.6.2"
	CSStatusMT    = "1.2.250.1.213.4.1.2.6.3" // STATUT_MT
	CSObservation = "1.2.250.1.213.4.1.2.3"
	// InteractionOID qualifies interactionId.
	InteractionOID = "2.16.840.1.113883.1.6"
)

// Transactions.
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

// Services of each transaction (the WSDLs' soapAction values).
var Services = map[string]Service{
	TD02:  {"patients", "urn:hl7-org:v3:PRPA_IN201307UV02"},
	TD13a: {"patients", "urn:hl7-org:v3:PRPA_IN201307UV02"},
	TD11:  {"patients", "urn:hl7-org:v3:PRPA_IN201311UV02"},
	TD03:  {"habilitations", "urn:si-dmp-habilitations:HabilitationsEndPoint:setAuthorization"},
	TD21:  {"repository", ActionTD21},
	TD31:  {"registry", ActionTD31},
	TD16:  {"habilitations", ActionTD16},
	TD04:  {"patientsSpecific", ActionTD04},
	TD32:  {"repository", ActionTD32},
	// TD3.3c to the registry (inferred: an XDS metadata update, ITI-57,
	// is a registry transaction; the package's example has no To).
	TD33c: {"registry", ActionTD33c},
}

// Reason codes of the controlActProcess, with the package's display names.
var Reasons = map[string]struct{ Code, Display string }{
	TD02:  {"TEST_EXST", "Test d'existence de dossier"},
	TD13a: {"CNSLT_DATA", "Consultation des données de gestion de dossier"},
	TD11:  {"CREA_RD", "Création de dossier"},
}

// PatientID is the patient's identifier: an INS (NIR, NIA) or, in the
// legacy regime for someone with no NIR of their own, the INS-C.
type PatientID struct {
	Root, Extension string
}

// CX is the identifier as the VIHF resource-id and XDS write it.
func (p PatientID) CX() string { return ins.FormatCX(p.Extension, p.Root) }

// Demographics are what the DMP holds of the patient's identity.
type Demographics struct {
	BirthName, FirstName, Sex, BirthDate string
}

// Authorization statuses of TD0.2, and TD0.3's actions.
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

// ObservationNames are the package's display names of the observations.
var ObservationNames = map[string]string{
	ObsConsent:     "consentement à l'ouverture du DMP",
	ObsBrisDeGlace: "opposition au mode bris de glace",
	ObsEmergency:   "opposition à l'accès au mode urgence",
}

// Device is an application as the HL7 transmission wrapper names it.
type Device struct {
	OID, Name string
}

// DMP is the receiver of every request.
var DMP = Device{OID: OIDDMPDevice, Name: "DMP"}

// Message is what every HL7 v3 message's transmission wrapper says.
type Message struct {
	Interaction        string
	ID                 string // the message id's extension (a UUID); its root is the sender's
	Created            time.Time
	Sender, Receiver   Device
	Answer             bool // an answer: processingCode P, acceptAckCode NE
	ProcessingCodeTest bool // a request to a test environment (processingCode D, as the package's examples)
}

// Wrapper writes the transmission wrapper's elements, in the schema's
// order, up to the attention lines (included by the caller).
func (m Message) Wrapper() *etree.Element {
	el := etree.NewElement(m.Interaction)
	el.CreateAttr("xmlns", NSHL7)
	el.CreateAttr("xmlns:xsi", NSXSI)
	el.CreateAttr("ITSVersion", "XML_1.0")
	id := el.CreateElement("id")
	id.CreateAttr("root", MessageRoot(m.Sender))
	id.CreateAttr("extension", m.ID)
	el.CreateElement("creationTime").CreateAttr("value", m.Created.UTC().Format("20060102150405"))
	ii := el.CreateElement("interactionId")
	ii.CreateAttr("root", InteractionOID)
	ii.CreateAttr("extension", m.Interaction)
	processing, ack := "P", "AL"
	if m.ProcessingCodeTest {
		processing = "D"
	}
	if m.Answer {
		ack = "NE"
	}
	el.CreateElement("processingCode").CreateAttr("code", processing)
	el.CreateElement("processingModeCode").CreateAttr("code", "T")
	el.CreateElement("acceptAckCode").CreateAttr("code", ack)
	device(el, "receiver", "RCV", m.Receiver)
	device(el, "sender", "SND", m.Sender)
	return el
}

// MessageRoot is the root of a sender's message ids: the DMP's own for its
// answers, the software's OID with the arc .1.1 for the bridge's requests
// (the arcs of the package's examples).
func MessageRoot(d Device) string {
	if d.OID == OIDDMPDevice {
		return OIDDMPDevice + ".1"
	}
	return d.OID + ".1.1"
}

// QueryRoot is the root of a sender's query ids.
func QueryRoot(d Device) string { return d.OID + ".2" }

func device(m *etree.Element, name, typ string, d Device) {
	r := m.CreateElement(name)
	r.CreateAttr("typeCode", typ)
	dev := r.CreateElement("device")
	dev.CreateAttr("classCode", "DEV")
	dev.CreateAttr("determinerCode", "INSTANCE")
	dev.CreateElement("id").CreateAttr("root", d.OID)
	dev.CreateElement("softwareName").SetText(d.Name)
}

// ControlAct starts the controlActProcess with its reason.
func ControlAct(m *etree.Element, tx string) *etree.Element {
	cap := m.CreateElement("controlActProcess")
	cap.CreateAttr("classCode", "CACT")
	cap.CreateAttr("moodCode", "EVN")
	r := cap.CreateElement("reasonCode")
	r.CreateAttr("code", Reasons[tx].Code)
	r.CreateAttr("codeSystem", CSReason)
	r.CreateAttr("displayName", Reasons[tx].Display)
	return cap
}

// QueryBody is the PRPA_IN201307UV02 of TD0.2 or TD1.3a: the patient's
// identifier as the only parameter.
func QueryBody(tx string, m Message, p PatientID) *etree.Element {
	m.Interaction = "PRPA_IN201307UV02"
	el := m.Wrapper()
	q := ControlAct(el, tx).CreateElement("queryByParameter")
	qid := q.CreateElement("queryId")
	qid.CreateAttr("root", QueryRoot(m.Sender))
	qid.CreateAttr("extension", m.ID)
	q.CreateElement("statusCode").CreateAttr("code", "new")
	pi := q.CreateElement("parameterList").CreateElement("patientIdentifier")
	v := pi.CreateElement("value")
	v.CreateAttr("root", p.Root)
	v.CreateAttr("extension", p.Extension)
	pi.CreateElement("semanticsText").SetText("Patient.id")
	return el
}

// Author is who records a creation: the professional, in the structure.
type Author struct {
	NationalID          string // RPPS/ADELI-based national id of the card
	Surname, FirstName  string
	StructureID         string // "1" + the site's geographic FINESS
	StructureName       string
	Profession, Display string // the role code and its label, when known
}

// Creation is what TD1.1 sends.
type Creation struct {
	Patient      PatientID
	Demographics Demographics
	Consent      bool
	OppBrisGlace bool
	OppUrgence   bool
}

// CreateBody is the PRPA_IN201311UV02 of TD1.1.
func CreateBody(m Message, c Creation, a Author) *etree.Element {
	m.Interaction = "PRPA_IN201311UV02"
	el := m.Wrapper()
	rr, pat := Registration(ControlAct(el, TD11), "registrationRequest", "RQO", "active")
	id := pat.CreateElement("id")
	id.CreateAttr("root", c.Patient.Root)
	id.CreateAttr("extension", c.Patient.Extension)
	pat.CreateElement("statusCode").CreateAttr("code", "active")
	WritePerson(pat, c.Demographics)
	organization(pat.CreateElement("providerOrganization"), a)
	for _, o := range []struct {
		code string
		v    bool
	}{{ObsConsent, c.Consent}, {ObsBrisDeGlace, c.OppBrisGlace}, {ObsEmergency, c.OppUrgence}} {
		WriteObservation(pat, o.code, o.v)
	}
	au := rr.CreateElement("author")
	au.CreateAttr("typeCode", "AUT")
	ae := au.CreateElement("assignedEntity")
	ae.CreateAttr("classCode", "ASSIGNED")
	aid := ae.CreateElement("id")
	aid.CreateAttr("root", OIDRPPS)
	aid.CreateAttr("extension", a.NationalID)
	if a.Profession != "" {
		code := ae.CreateElement("code")
		code.CreateAttr("code", a.Profession)
		code.CreateAttr("codeSystem", CSProfession)
		if a.Display != "" {
			code.CreateAttr("displayName", a.Display)
		}
	}
	ap := ae.CreateElement("assignedPerson")
	ap.CreateAttr("classCode", "PSN")
	ap.CreateAttr("determinerCode", "INSTANCE")
	n := ap.CreateElement("name")
	n.CreateElement("family").SetText(a.Surname)
	n.CreateElement("given").SetText(a.FirstName)
	organization(ae.CreateElement("representedOrganization"), a)
	return el
}

// Registration writes controlActProcess/subject/<name>/subject1/patient:
// a registrationRequest (mood RQO) in TD1.1, a registrationEvent (EVN) in
// the DMP's answers. It returns the registration and the patient.
func Registration(cap *etree.Element, name, mood, status string) (reg, patient *etree.Element) {
	subj := cap.CreateElement("subject")
	subj.CreateAttr("typeCode", "SUBJ")
	subj.CreateAttr("contextConductionInd", "false")
	reg = subj.CreateElement(name)
	reg.CreateAttr("classCode", "REG")
	reg.CreateAttr("moodCode", mood)
	reg.CreateElement("statusCode").CreateAttr("code", status)
	s1 := reg.CreateElement("subject1")
	s1.CreateAttr("typeCode", "SBJ")
	patient = s1.CreateElement("patient")
	patient.CreateAttr("classCode", "PAT")
	return reg, patient
}

func organization(org *etree.Element, a Author) {
	org.CreateAttr("classCode", "ORG")
	org.CreateAttr("determinerCode", "INSTANCE")
	id := org.CreateElement("id")
	id.CreateAttr("root", OIDStructure)
	id.CreateAttr("extension", a.StructureID)
	if a.StructureName != "" {
		org.CreateElement("name").SetText(a.StructureName)
	}
	// The organization's contact (required by COCT_MT150003UV03): the
	// structure itself, its details are the DMP's from the FINESS.
	org.CreateElement("contactParty").CreateAttr("classCode", "CON")
}

// WritePersonName writes patientPerson with the name alone: the birth
// name (qualifier BR) and the first name.
func WritePersonName(pat *etree.Element, d Demographics) *etree.Element {
	pp := pat.CreateElement("patientPerson")
	pp.CreateAttr("classCode", "PSN")
	pp.CreateAttr("determinerCode", "INSTANCE")
	n := pp.CreateElement("name")
	f := n.CreateElement("family")
	f.CreateAttr("qualifier", "BR")
	f.SetText(d.BirthName)
	n.CreateElement("given").SetText(d.FirstName)
	return pp
}

// WritePerson writes patientPerson: the name, sex and birth date.
func WritePerson(pat *etree.Element, d Demographics) {
	pp := WritePersonName(pat, d)
	pp.CreateElement("administrativeGenderCode").CreateAttr("code", d.Sex)
	pp.CreateElement("birthTime").CreateAttr("value", d.BirthDate)
}

// WriteObservation writes subjectOf/administrativeObservation with a BL
// value.
func WriteObservation(pat *etree.Element, code string, v bool) {
	s := pat.CreateElement("subjectOf")
	s.CreateAttr("typeCode", "SBJ")
	o := s.CreateElement("administrativeObservation")
	o.CreateAttr("classCode", "OBS")
	o.CreateAttr("moodCode", "EVN")
	c := o.CreateElement("code")
	c.CreateAttr("code", code)
	c.CreateAttr("codeSystem", CSObservation)
	if d := ObservationNames[code]; d != "" {
		c.CreateAttr("displayName", d)
	}
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
	Doctor        bool   // STATUT_MT: the professional is the patient's attending physician
	// IDs are the patient's identifiers the DMP returns (INS-C, INS).
	IDs          []PatientID
	Demographics Demographics
	Observations map[string]bool
}

// Admin is TD1.3a's answer.
type Admin struct {
	IDs          []PatientID
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

func attr(el *etree.Element, name string) string {
	if el == nil {
		return ""
	}
	return el.SelectAttrValue(name, "")
}

// ackCode checks the acknowledgement (its typeCode attribute): AA, or an
// AE/AR with the DMP's code (a refusal answered in the message rather than
// as a fault).
func ackCode(m *etree.Element) error {
	ack := hl7(m, "acknowledgement")
	if ack == nil {
		return fmt.Errorf("%w: %s without acknowledgement", ErrMalformed, m.Tag)
	}
	switch code := attr(ack, "typeCode"); code {
	case "AA", "CA":
		return nil
	case "AE", "AR", "CE", "CR":
		d := hl7(ack, "acknowledgementDetail")
		f := &Fault{Code: "Sender", Subcode: attr(hl7(d, "code"), "code"), Reason: text(hl7(d, "text"))}
		if f.Subcode == "" {
			f.Subcode = code
		}
		return f
	default:
		return fmt.Errorf("%w: acknowledgement %q", ErrMalformed, code)
	}
}

func isHL7(m *etree.Element, tag string) error {
	if m == nil || m.Tag != tag || m.NamespaceURI() != NSHL7 {
		got := "nothing"
		if m != nil {
			got = m.Tag
		}
		return fmt.Errorf("%w: %s instead of %s", ErrMalformed, got, tag)
	}
	return nil
}

// ParseExistence reads TD0.2's PRPA_IN201308UV02.
func ParseExistence(m *etree.Element) (Existence, error) {
	if err := isHL7(m, "PRPA_IN201308UV02"); err != nil {
		return Existence{}, err
	}
	if err := ackCode(m); err != nil {
		return Existence{}, err
	}
	var e Existence
	for _, al := range m.ChildElements() {
		if al.Tag != "attentionLine" || al.NamespaceURI() != NSHL7 {
			continue
		}
		v := hl7(al, "value")
		switch attr(hl7(al, "keyWordText"), "code") {
		case "AUTORISATION":
			e.Authorization = attr(v, "code")
		case "STATUT_MT":
			b, err := boolValue(v)
			if err != nil {
				return Existence{}, fmt.Errorf("%w: STATUT_MT: %v", ErrMalformed, err)
			}
			e.Doctor = b
		}
	}
	exists, err := queryResponse(m)
	if err != nil {
		return Existence{}, err
	}
	e.Exists = exists
	if pat := hl7(m, "controlActProcess", "subject", "registrationEvent", "subject1", "patient"); pat != nil {
		e.IDs, e.Demographics, e.Observations = readIDs(pat), readPerson(pat), readObservations(pat)
	}
	switch e.Authorization {
	case AuthValid, AuthExpired, AuthRefused, AuthNone:
	case "":
		// The attention lines are optional in the schema and readers of
		// TD0.2 elsewhere treat them so: no line is no authorization (and
		// NF with no patient is no DMP, whatever lines come with it).
		e.Authorization = AuthNone
	default:
		return Existence{}, fmt.Errorf("%w: authorization status %q", ErrMalformed, e.Authorization)
	}
	return e, nil
}

// queryResponse reads queryAck/queryResponseCode: OK (a DMP), NF (none).
func queryResponse(m *etree.Element) (bool, error) {
	qa := hl7(m, "controlActProcess", "queryAck", "queryResponseCode")
	if qa == nil {
		return false, fmt.Errorf("%w: no queryResponseCode", ErrMalformed)
	}
	switch c := attr(qa, "code"); c {
	case "OK":
		return true, nil
	case "NF":
		return false, nil
	default:
		return false, fmt.Errorf("%w: queryResponseCode %q", ErrMalformed, c)
	}
}

func boolValue(v *etree.Element) (bool, error) {
	switch s := attr(v, "value"); s {
	case "true":
		return true, nil
	case "false":
		return false, nil
	default:
		return false, fmt.Errorf("BL value %q", s)
	}
}

// ParseAdmin reads TD1.3a's PRPA_IN201308UV02.
func ParseAdmin(m *etree.Element) (Admin, error) {
	if err := isHL7(m, "PRPA_IN201308UV02"); err != nil {
		return Admin{}, err
	}
	if err := ackCode(m); err != nil {
		return Admin{}, err
	}
	exists, err := queryResponse(m)
	if err != nil {
		return Admin{}, err
	}
	pat := hl7(m, "controlActProcess", "subject", "registrationEvent", "subject1", "patient")
	if !exists || pat == nil {
		return Admin{}, fmt.Errorf("%w: TD1.3a answer without the patient", ErrMalformed)
	}
	return Admin{IDs: readIDs(pat), Demographics: readPerson(pat), Observations: readObservations(pat)}, nil
}

func readIDs(pat *etree.Element) []PatientID {
	var ids []PatientID
	for _, id := range pat.ChildElements() {
		if id.Tag == "id" && id.NamespaceURI() == NSHL7 {
			ids = append(ids, PatientID{Root: attr(id, "root"), Extension: attr(id, "extension")})
		}
	}
	return ids
}

// readPerson reads patientPerson. The birth name is the family part
// qualified BR when there is one, else the first family part (the package's
// examples write the DMP's name with qualifier SP).
func readPerson(pat *etree.Element) Demographics {
	pp := hl7(pat, "patientPerson")
	var d Demographics
	if n := hl7(pp, "name"); n != nil {
		for _, f := range n.ChildElements() {
			if f.Tag == "family" && (d.BirthName == "" || attr(f, "qualifier") == "BR") {
				d.BirthName = text(f)
			}
		}
		d.FirstName = text(hl7(n, "given"))
	}
	d.Sex = attr(hl7(pp, "administrativeGenderCode"), "code")
	d.BirthDate = attr(hl7(pp, "birthTime"), "value")
	return d
}

// readObservations reads every subjectOf/administrativeObservation with a
// BL value; others (none is known) are skipped.
func readObservations(pat *etree.Element) map[string]bool {
	out := map[string]bool{}
	for _, s := range pat.ChildElements() {
		if s.Tag != "subjectOf" || s.NamespaceURI() != NSHL7 {
			continue
		}
		o := hl7(s, "administrativeObservation")
		c, v := hl7(o, "code"), hl7(o, "value")
		if b, err := boolValue(v); c != nil && err == nil {
			out[attr(c, "code")] = b
		}
	}
	return out
}

// ParseCreated reads TD1.1's answer: PRPA_IN201311UV02_Response holding
// PRPA_IN201312UV02 (created) or PRPA_IN201313UV02 (refused, with the
// DMP's code: DMPFound for a patient who has one).
func ParseCreated(m *etree.Element) error {
	if m.Tag != "PRPA_IN201311UV02_Response" || m.NamespaceURI() != NSGDP {
		return fmt.Errorf("%w: %s instead of PRPA_IN201311UV02_Response", ErrMalformed, m.Tag)
	}
	kids := m.ChildElements()
	if len(kids) != 1 || kids[0].NamespaceURI() != NSHL7 {
		return fmt.Errorf("%w: PRPA_IN201311UV02_Response holds %d HL7 messages", ErrMalformed, len(kids))
	}
	a := kids[0]
	switch a.Tag {
	case "PRPA_IN201312UV02":
		return ackCode(a)
	case "PRPA_IN201313UV02":
		if err := ackCode(a); err != nil {
			return err
		}
		return fmt.Errorf("%w: PRPA_IN201313UV02 (refusal) acknowledged AA", ErrMalformed)
	}
	return fmt.Errorf("%w: %s in PRPA_IN201311UV02_Response", ErrMalformed, a.Tag)
}

// AuthorizationResult is TD0.3's answer: DMPOk, and the service's context
// text (e.g. that the authorization was already there).
type AuthorizationResult struct {
	Status, Context string
}

// ParseAuthorization reads setAuthorizationResponse/output.
func ParseAuthorization(m *etree.Element) (AuthorizationResult, error) {
	if m.Tag != "setAuthorizationResponse" || m.NamespaceURI() != NSHabil {
		return AuthorizationResult{}, fmt.Errorf("%w: %s instead of setAuthorizationResponse", ErrMalformed, m.Tag)
	}
	out := child(m, "output", NSHabil)
	r := AuthorizationResult{Status: text(child(out, "status", NSHabil)), Context: text(child(out, "context", NSHabil))}
	switch {
	case out == nil:
		return r, fmt.Errorf("%w: setAuthorizationResponse without output", ErrMalformed)
	case r.Status == "":
		return r, fmt.Errorf("%w: setAuthorizationResponse without status", ErrMalformed)
	case r.Status != "DMPOk":
		// The service's status names what it refused; keep it as its code.
		return r, &Fault{Code: "Sender", Subcode: strings.TrimSpace(r.Status), Reason: r.Context}
	}
	return r, nil
}
