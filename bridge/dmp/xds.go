package dmp

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// TD2.1's body: an XDS.b ProvideAndRegisterDocumentSetRequest (IHE ITI-41)
// carrying one CDA and the XAdES signature of the lot, every value of
// the document's entry derived from its CDA as ANS's mapping says
// (docs/reference/hl7v2-trans-cda/mapping.md, docs/feeding.md).

// Namespaces of XDS.b and ebXML RegRep 3.0.
const (
	NSXDS = "urn:ihe:iti:xds-b:2007"
	NSLCM = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
	NSRIM = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"
	NSRS  = "urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0"
)

// TD21 is TD2.1's transaction name and its SOAP action.
const (
	TD21       = "TD2.1"
	ActionTD21 = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b"
)

// XDS classification schemes and identifiers (IHE ITI TF-3 4.2.5).
const (
	xdsSubmissionSetAuthor = "urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d"
	xdsContentType         = "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500"
	xdsSubmissionSetNode   = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"
	xdsSubmissionSetPID    = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"
	xdsSourceID            = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832"
	xdsSubmissionSetUID    = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8"
	xdsEntryType           = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
	xdsEntryAuthor         = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d"
	xdsClassCode           = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a"
	xdsTypeCode            = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"
	xdsConfidentiality     = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f"
	xdsFormatCode          = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d"
	xdsFacilityType        = "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1"
	xdsPracticeSetting     = "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead"
	xdsEventCode           = "urn:uuid:2c6b8cb7-8b2a-4051-b291-b1ae6a575ef4"
	xdsEntryPID            = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
	xdsEntryUID            = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"
)

// The DMP's confidentiality codes (code system 1.2.250.1.213.1.1.4.13).
const (
	CSDMPConfidentiality   = "1.2.250.1.213.1.1.4.13"
	ConfMaskedToPros       = "MASQUE_PS"
	ConfInvisiblePatient   = "INVISIBLE_PATIENT"
	ConfInvisibleLegalReps = "INVISIBLE_REPRESENTANTS_LEGAUX"
)

// typeClass is the class (JDV_J57, code system 1.2.250.1.213.1.1.4.1)
// of each document type (JDV_J07) this bridge knows. Source of every row:
// the package DMP's TD3.1 answer, which pairs these types with their
// class (docs/feeding.md, "Type → class"); ANS's table ASS_X04 is not
// reachable here. A type missing here is refused before any call.
var typeClass = map[string]Code{
	"11488-4": classReport, "11490-0": classReport, "11493-4": classReport, "11502-2": classReport, "11506-3": classReport,
	"11526-1": classReport, "15507-7": classReport, "27899-4": classReport, "29554-3": classReport, "46241-6": classReport,
	"34133-9": classSynthesis, "SYNTH": classSynthesis,
	"52040-3": {"31", CSClass, "Imagerie médicale"},
	"29551-9": classPrescription, "52521-2": classPrescription,
	"29550-1": {"43", CSClass, "Dispensation"}, "DISP_AUT": {"43", CSClass, "Dispensation"},
	"18776-5": {"44", CSClass, "Plan de soins, protocole de soins"}, "PROT_ALD": {"44", CSClass, "Plan de soins, protocole de soins"},
	"CERT_DECL": {"52", CSClass, "Certificat, déclaration"},
	// Inferred (no official pairing here): three of the types the
	// establishment's financing counts — the CR d'imagerie and the CR
	// opératoire are comptes rendus, the ordonnance de sortie a
	// prescription, as their names and the classes of the pairs above say.
	// Without them the financed documents could not be sent at all.
	"18748-4": classReport, "34874-8": classReport, "57833-6": classPrescription,
}

// CSClass is JDV_J57's code system (the DMP's document classes).
const CSClass = "1.2.250.1.213.1.1.4.1"

var (
	classReport       = Code{"10", CSClass, "Compte rendu"}
	classSynthesis    = Code{"11", CSClass, "Synthèse"}
	classPrescription = Code{"42", CSClass, "Prescription"}
)

// formatOf is the formatCode of a level-1 document by its media type
// (JDV_J60; mapping.md: a CDA N1 is urn:ihe:iti:xds-sd:pdf:2008).
var formatOf = map[string]Code{
	"application/pdf": {"urn:ihe:iti:xds-sd:pdf:2008", "1.3.6.1.4.1.19376.1.2.3", "Document à corps non structuré en Pdf/A-1"},
	"text/plain":      {"urn:ihe:iti:xds-sd:text:2008", "1.3.6.1.4.1.19376.1.2.3", "Document à corps non structuré en texte brut"},
}

// Code systems of the formatCodes of structured documents: the CI-SIS's
// own (TRE_A06) and IHE's (TRE_A11).
const (
	CSFormatCISIS = "1.2.250.1.213.1.1.4.2.282"
	CSFormatIHE   = "1.3.6.1.4.1.19376.1.2.3"
)

// formatOfModel is a structured document's formatCode by its model (the
// header's templateId), as ANS's table ASS_A11-CorresModeleCDA-
// XdsFormatCode-CISIS (urn:oid:1.2.250.1.213.1.1.4.331, version
// 20260629120000, published on ANS's terminology server) pairs them: the
// CI-SIS's models, then IHE's.
var formatOfModel = map[string]Code{
	"1.2.250.1.213.1.1.1.5.1": {"urn:asip:ci-sis:cse-cs8:2017", CSFormatCISIS, ""}, "1.2.250.1.213.1.1.1.5.2": {"urn:asip:ci-sis:cse-cs9:2017", CSFormatCISIS, ""},
	"1.2.250.1.213.1.1.1.5.3": {"urn:asip:ci-sis:cse-cs24:2017", CSFormatCISIS, ""}, "1.2.250.1.213.1.1.1.5.4": {"urn:ans:ci-sis:cse-mde:2023", CSFormatCISIS, ""},
	"1.2.250.1.213.1.1.1.8": {"urn:asip:ci-sis:frcp:2011", CSFormatCISIS, ""}, "1.2.250.1.213.1.1.1.9": {"urn:asip:ci-sis:idap:2011", CSFormatCISIS, ""},
	"1.2.250.1.213.1.1.1.10": {"urn:asip:ci-sis:cva:2017", CSFormatCISIS, ""}, "1.2.250.1.213.1.1.1.13": {"urn:asip:ci-sis:vsm:2012", CSFormatCISIS, ""},
	"1.2.250.1.213.1.1.1.15": {"urn:asip:ci-sis:aunv:2013", CSFormatCISIS, ""}, "1.2.250.1.213.1.1.1.16": {"urn:asip:ci-sis:eunv:2013", CSFormatCISIS, ""},
	"1.2.250.1.213.1.1.1.17": {"urn:asip:ci-sis:sunv:2013", CSFormatCISIS, ""}, "1.2.250.1.213.1.1.1.18": {"urn:asip:ci-sis:crrtn:2013", CSFormatCISIS, ""},
	"1.2.250.1.213.1.1.1.20": {"urn:asip:ci-sis:pps-paerpa:2017", CSFormatCISIS, ""}, "1.2.250.1.213.1.1.1.21": {"urn:asip:ci-sis:ldl-ees:2017", CSFormatCISIS, ""},
	"1.2.250.1.213.1.1.1.22": {"urn:asip:ci-sis:dlu:2015", CSFormatCISIS, ""}, "1.2.250.1.213.1.1.1.25": {"urn:asip:ci-sis:pavc:2016", CSFormatCISIS, ""},
	"1.2.250.1.213.1.1.1.26": {"urn:asip:ci-sis:pps-cancer:2017", CSFormatCISIS, ""}, "1.2.250.1.213.1.1.1.29": {"urn:asip:ci-sis:ldl-ses:2017", CSFormatCISIS, ""},
	"1.2.250.1.213.1.1.1.30": {"urn:asip:ci-sis:sdm-mr:2017", CSFormatCISIS, ""}, "1.2.250.1.213.1.1.1.32": {"urn:asip:ci-sis:crgm:2018", CSFormatCISIS, ""},
	"1.2.250.1.213.1.1.1.36": {"urn:asip:ci-sis:hr:2019", CSFormatCISIS, ""}, "1.2.250.1.213.1.1.1.37": {"urn:asip:ci-sis:vac:2019", CSFormatCISIS, ""},
	"1.2.250.1.213.1.1.1.38": {"urn:asip:ci-sis:tlm-da:2020", CSFormatCISIS, ""}, "1.2.250.1.213.1.1.1.40": {"urn:asip:ci-sis:cr-anest:2020", CSFormatCISIS, ""},
	"1.2.250.1.213.1.1.1.41": {"urn:asip:ci-sis:cr-cpa:2020", CSFormatCISIS, ""}, "1.2.250.1.213.1.1.1.46": {"urn:asip:ci-sis:vac-note:2021", CSFormatCISIS, ""},
	"1.2.250.1.213.1.1.1.47": {"urn:ans:ci-sis:img-da:2022", CSFormatCISIS, ""}, "1.2.250.1.213.1.1.1.52": {"urn:ans:ci-sis:bio-ep-bio:2022", CSFormatCISIS, ""},
	"1.2.250.1.213.1.1.1.56": {"urn:asip:ci-sis:ppp:2023", CSFormatCISIS, ""},
	"1.2.250.1.213.1.1.1.39": {"urn:ihe:pharm:pre:2010", CSFormatIHE, ""}, "1.2.250.1.213.1.1.1.54": {"urn:ihe:pharm:dis:2010", CSFormatIHE, ""},
	"1.2.250.1.213.1.1.1.45": {"urn:ihe:rad:CDA:ImagingReportStructuredHeadings:2013", CSFormatIHE, ""},
	"1.2.250.1.213.1.1.1.55": {"urn:ihe:lab:xd-lab:2008", CSFormatIHE, ""}, "1.3.6.1.4.1.19376.1.3.3": {"urn:ihe:lab:xd-lab:2008", CSFormatIHE, ""},
	"1.2.250.1.213.1.1.1.51": {"urn:ihe:pcc:ips:2020", CSFormatIHE, ""},
}

// structuredFormat is the formatCode of the first model among templates
// the table knows.
func structuredFormat(templates []string) (Code, bool) {
	for _, t := range templates {
		if c, ok := formatOfModel[t]; ok {
			return c, true
		}
	}
	return Code{}, false
}

// ContentTypeOfClass is the lot's contentTypeCode (JDV_J59) by the
// patient's class of PV1-2, as ANS's HL7 v2 guide proposes (mapping.md):
// I → 03, O → 07, R → 19, N → 97, E → 07.
var ContentTypeOfClass = map[string]string{"I": "03", "O": "07", "R": "19", "N": "97", "E": "07"}

// CSContentType is JDV_J59's code system.
const CSContentType = "1.2.250.1.213.2.2"

// XDSAuthor is an author of the lot or of an entry: the person (national
// id as the VIHF names it, names), their specialty, and the institution.
type XDSAuthor struct {
	ID, Family, Given string
	Specialty         Code
	Institution       string // its name
	InstitutionID     string // its national structure id (IDNST)
}

// Feeding is one document for TD2.1, what the connector adds to its
// CDA: the DMP's confidentiality asked, the IPP, the lot's author, the
// content type, the ids this bridge gives the lot and the signature
// entry, and the entry it replaces.
type Feeding struct {
	CDA    []byte
	Header CDAHeader
	// The flags of the message (MetaDMPMSS).
	MaskedToProfessionals, InvisibleToPatient, InvisibleToLegalRepresentatives bool
	// IPP is the patient's id in the establishment and IPPDomain its
	// assigning authority's OID (sourcePatientId; the INS when empty).
	IPP, IPPDomain string
	Author         XDSAuthor // the lot's author (PRT SB)
	ContentType    Code      // JDV_J59
	SourceID       string    // the software's OID
	LotID          string    // the lot's uniqueId (an OID)
	SignatureID    string    // the signature entry's uniqueId (an OID)
	// Replaces is the entryUUID of the entry this document replaces
	// (found by TD3.1); RPLC is then added.
	Replaces string
	Time     time.Time // the submission's
}

// The request's symbolic ids.
const (
	idLot       = "SubmissionSet01"
	idDocument  = "Document01"
	idSignature = "Signature01"
)

// ErrFeeding is a document this bridge will not send as it is.
var ErrFeeding = fmt.Errorf("dmp: TD2.1")

// ProvideAndRegister builds TD2.1's body for f and its signature (the
// XAdES document of the lot, signature.go): the documents travel base64
// in it, as the schema has them.
func ProvideAndRegister(f Feeding, signature []byte) (*etree.Element, error) {
	return provideAndRegister(f, signature, func(e *etree.Element, body []byte) {
		e.SetText(base64.StdEncoding.EncodeToString(body))
	})
}

// provideAndRegister builds TD2.1's body, each document's content put in
// its element by put (base64 text, or an MTOM include of a part).
func provideAndRegister(f Feeding, signature []byte, put func(e *etree.Element, body []byte)) (*etree.Element, error) {
	h := f.Header
	class, ok := typeClass[h.Type.Code]
	if !ok {
		return nil, fmt.Errorf("%w: document type %s has no class known to this bridge", ErrFeeding, h.Type.Code)
	}
	format, ok := formatOf[h.MediaType]
	if h.MediaType == "" {
		format, ok = structuredFormat(h.Templates)
	}
	if !ok {
		if h.MediaType == "" {
			return nil, fmt.Errorf("%w: no format code for this structured document's model (templateId %v)", ErrFeeding, h.Templates)
		}
		return nil, fmt.Errorf("%w: no format code for a body of type %q", ErrFeeding, h.MediaType)
	}
	if f.MaskedToProfessionals && f.InvisibleToPatient {
		return nil, fmt.Errorf("%w: a document cannot be both masked to professionals and invisible to the patient", ErrFeeding)
	}
	pid := h.INS + "^^^&" + h.INSOID + "&ISO^NH"
	b := &xdsBuilder{}
	req := etree.NewElement("xdsb:ProvideAndRegisterDocumentSetRequest")
	req.CreateAttr("xmlns:xdsb", NSXDS)
	req.CreateAttr("xmlns:lcm", NSLCM)
	req.CreateAttr("xmlns:rim", NSRIM)
	list := req.CreateElement("lcm:SubmitObjectsRequest").CreateElement("rim:RegistryObjectList")

	// The lot.
	b.submissionSet(list, Lot{Author: f.Author, ContentType: f.ContentType, SourceID: f.SourceID, ID: f.LotID, Time: f.Time},
		"Document "+h.Title, pid)

	// The document's entry, from its CDA.
	doc := b.entry(list, idDocument)
	b.slot(doc, "creationTime", utc(h.Effective))
	b.slot(doc, "languageCode", h.Language)
	b.slot(doc, "legalAuthenticator", xcn(h.LegalAuthenticator.ID, h.LegalAuthenticator.Family, h.LegalAuthenticator.Given))
	b.slot(doc, "serviceStartTime", utc(h.ServiceStart))
	if !h.ServiceStop.IsZero() {
		b.slot(doc, "serviceStopTime", utc(h.ServiceStop))
	}
	source := pid
	if f.IPP != "" {
		source = f.IPP + "^^^&" + f.IPPDomain + "&ISO^PI"
	}
	b.slot(doc, "sourcePatientId", source)
	b.slot(doc, "sourcePatientInfo", "PID-5|"+h.Family+"^"+h.Given+"^^^^^L", "PID-7|"+h.BirthDate, "PID-8|"+h.Sex)
	b.name(doc, h.Title)
	b.author(doc, xdsEntryAuthor, idDocument, XDSAuthor{ID: h.Author.ID, Family: h.Author.Family, Given: h.Author.Given,
		Specialty: h.AuthorSpecialty, Institution: h.AuthorOrganization, InstitutionID: h.AuthorOrganizationID})
	b.classification(doc, xdsClassCode, idDocument, class)
	b.classification(doc, xdsTypeCode, idDocument, h.Type)
	b.classification(doc, xdsConfidentiality, idDocument, h.Confidentiality)
	for _, c := range f.confidentiality() {
		b.classification(doc, xdsConfidentiality, idDocument, c)
	}
	b.classification(doc, xdsFormatCode, idDocument, format)
	b.classification(doc, xdsFacilityType, idDocument, h.FacilityType)
	b.classification(doc, xdsPracticeSetting, idDocument, h.PracticeSetting)
	b.external(doc, xdsEntryPID, idDocument, pid, "XDSDocumentEntry.patientId")
	b.external(doc, xdsEntryUID, idDocument, h.UniqueID, "XDSDocumentEntry.uniqueId")

	// The signature's entry (docs/feeding.md: its fixed codes).
	sig := b.entry(list, idSignature)
	b.slot(sig, "creationTime", utc(f.Time))
	b.slot(sig, "languageCode", "art")
	b.slot(sig, "legalAuthenticator", xcn(f.Author.ID, f.Author.Family, f.Author.Given))
	b.slot(sig, "serviceStartTime", utc(f.Time))
	b.slot(sig, "serviceStopTime", utc(f.Time))
	b.slot(sig, "sourcePatientId", pid)
	b.name(sig, "Source")
	b.author(sig, xdsEntryAuthor, idSignature, f.Author)
	b.classification(sig, xdsClassCode, idSignature, Code{"urn:oid:1.3.6.1.4.1.19376.1.2.1.1.1", "URN", "Digital Signature"})
	b.classification(sig, xdsTypeCode, idSignature, Code{"E1762", "ASTM", "Full Document"})
	b.classification(sig, xdsConfidentiality, idSignature, Code{"N", "2.16.840.1.113883.5.25", "Normal"})
	b.classification(sig, xdsConfidentiality, idSignature, Code{ConfMaskedToPros, CSDMPConfidentiality, "Masqué aux professionnels de santé"})
	b.classification(sig, xdsConfidentiality, idSignature, Code{ConfInvisiblePatient, CSDMPConfidentiality, "Non visible par le patient"})
	b.classification(sig, xdsFormatCode, idSignature, Code{"http://www.w3.org/2000/09/xmldsig#", "URN", "Default Signature Style"})
	b.classification(sig, xdsFacilityType, idSignature, h.FacilityType)
	b.classification(sig, xdsPracticeSetting, idSignature, h.PracticeSetting)
	b.classification(sig, xdsEventCode, idSignature, Code{"1.2.840.10065.1.12.1.14", "1.2.840.10065.1.12", "Source"})
	b.external(sig, xdsEntryPID, idSignature, pid, "XDSDocumentEntry.patientId")
	b.external(sig, xdsEntryUID, idSignature, f.SignatureID, "XDSDocumentEntry.uniqueId")

	// The associations.
	b.association(list, "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember", idLot, idDocument, "Original")
	b.association(list, "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember", idLot, idSignature, "Original")
	b.association(list, "urn:ihe:iti:2007:AssociationType:signs", idSignature, idLot, "Original")
	if f.Replaces != "" {
		b.association(list, "urn:ihe:iti:2007:AssociationType:RPLC", idDocument, f.Replaces, "")
	}

	// The documents.
	for _, d := range []struct {
		id   string
		body []byte
	}{{idDocument, f.CDA}, {idSignature, signature}} {
		e := req.CreateElement("xdsb:Document")
		e.CreateAttr("id", d.id)
		put(e, d.body)
	}
	return req, nil
}

// confidentiality are the DMP's codes the flags ask for.
func (f Feeding) confidentiality() []Code {
	var out []Code
	if f.MaskedToProfessionals {
		out = append(out, Code{ConfMaskedToPros, CSDMPConfidentiality, "Masqué aux professionnels de santé"})
	}
	if f.InvisibleToPatient {
		out = append(out, Code{ConfInvisiblePatient, CSDMPConfidentiality, "Non visible par le patient"})
	}
	if f.InvisibleToLegalRepresentatives {
		out = append(out, Code{ConfInvisibleLegalReps, CSDMPConfidentiality, "Non visible par les représentants légaux du patient"})
	}
	return out
}

// submissionSet writes the lot's RegistryPackage: its time, name, author,
// content type, patient, source and uniqueId.
func (b *xdsBuilder) submissionSet(list *etree.Element, l Lot, name, pid string) {
	lot := list.CreateElement("rim:RegistryPackage")
	lot.CreateAttr("id", idLot)
	b.slot(lot, "submissionTime", utc(l.Time))
	b.name(lot, name)
	b.author(lot, xdsSubmissionSetAuthor, idLot, l.Author)
	b.classification(lot, xdsContentType, idLot, l.ContentType)
	node := lot.CreateElement("rim:Classification")
	node.CreateAttr("classificationNode", xdsSubmissionSetNode)
	node.CreateAttr("classifiedObject", idLot)
	node.CreateAttr("id", b.next("cl"))
	b.external(lot, xdsSubmissionSetPID, idLot, pid, "XDSSubmissionSet.patientId")
	b.external(lot, xdsSourceID, idLot, l.SourceID, "XDSSubmissionSet.sourceId")
	b.external(lot, xdsSubmissionSetUID, idLot, l.ID, "XDSSubmissionSet.uniqueId")
}

// xdsBuilder numbers the ids of the classifications and identifiers.
type xdsBuilder struct{ n int }

func (b *xdsBuilder) next(prefix string) string {
	b.n++
	return fmt.Sprintf("%s%02d", prefix, b.n)
}

func (b *xdsBuilder) entry(list *etree.Element, id string) *etree.Element {
	e := list.CreateElement("rim:ExtrinsicObject")
	e.CreateAttr("id", id)
	e.CreateAttr("mimeType", "text/xml")
	e.CreateAttr("objectType", xdsEntryType)
	return e
}

func (b *xdsBuilder) slot(parent *etree.Element, name string, values ...string) {
	s := parent.CreateElement("rim:Slot")
	s.CreateAttr("name", name)
	l := s.CreateElement("rim:ValueList")
	for _, v := range values {
		l.CreateElement("rim:Value").SetText(v)
	}
}

func (b *xdsBuilder) name(parent *etree.Element, v string) {
	ls := parent.CreateElement("rim:Name").CreateElement("rim:LocalizedString")
	ls.CreateAttr("charset", "UTF8")
	ls.CreateAttr("value", v)
	ls.CreateAttr("xml:lang", "FR")
}

func (b *xdsBuilder) classification(parent *etree.Element, scheme, object string, c Code) {
	e := parent.CreateElement("rim:Classification")
	e.CreateAttr("classificationScheme", scheme)
	e.CreateAttr("classifiedObject", object)
	e.CreateAttr("id", b.next("cl"))
	e.CreateAttr("nodeRepresentation", c.Code)
	b.slot(e, "codingScheme", c.System)
	b.name(e, c.Display)
}

func (b *xdsBuilder) author(parent *etree.Element, scheme, object string, a XDSAuthor) {
	e := parent.CreateElement("rim:Classification")
	e.CreateAttr("classificationScheme", scheme)
	e.CreateAttr("classifiedObject", object)
	e.CreateAttr("id", b.next("cl"))
	e.CreateAttr("nodeRepresentation", "")
	b.slot(e, "authorPerson", xcn(a.ID, a.Family, a.Given))
	if a.Specialty.Code != "" {
		b.slot(e, "authorSpecialty", a.Specialty.Code+"^"+a.Specialty.Display+"^"+a.Specialty.System)
	}
	if a.Institution != "" || a.InstitutionID != "" {
		b.slot(e, "authorInstitution", a.Institution+"^^^^^&1.2.250.1.71.4.2.2&ISO^IDNST^^^"+a.InstitutionID)
	}
}

func (b *xdsBuilder) external(parent *etree.Element, scheme, object, value, name string) {
	e := parent.CreateElement("rim:ExternalIdentifier")
	e.CreateAttr("id", b.next("ei"))
	e.CreateAttr("identificationScheme", scheme)
	e.CreateAttr("registryObject", object)
	e.CreateAttr("value", value)
	b.name(e, name)
}

func (b *xdsBuilder) association(list *etree.Element, kind, source, target, status string) {
	e := list.CreateElement("rim:Association")
	e.CreateAttr("associationType", kind)
	e.CreateAttr("id", b.next("as"))
	e.CreateAttr("sourceObject", source)
	e.CreateAttr("targetObject", target)
	if status != "" {
		b.slot(e, "SubmissionSetStatus", status)
	}
}

// xcn is a person as XDS writes them: national id (IDNPS under the
// national professionals' OID), family and given names.
func xcn(id, family, given string) string {
	return strings.Join([]string{id, family, given, "", "", "", "", "", "&1.2.250.1.71.4.2.1&ISO", "D", "", "", "IDNPS"}, "^")
}

// utc is an XDS time: UTC, to the second.
func utc(t time.Time) string { return t.UTC().Format("20060102150405") }

// NewLotIDs are the uniqueIds of a new lot and of its signature entry:
// under the software's OID, .3 for lots and .4 for signatures, then the
// time in microseconds (the shape of the package's example ids;
// inferred: one bridge makes at most one lot a microsecond).
func NewLotIDs(deviceOID string, at time.Time) (lot, signature string) {
	n := at.UnixMicro()
	return fmt.Sprintf("%s.3.%d", deviceOID, n), fmt.Sprintf("%s.4.%d", deviceOID, n)
}
