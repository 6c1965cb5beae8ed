package dmp

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"dmpkiosk/firmware/event"
)

// Authentication modes of the VIHF.
const (
	ModeDirect     = "DIRECTE"
	ModeIndirect   = "INDIRECTE"
	ModeReinforced = "INDIRECTE_RENFORCEE"
	// Access modes (purposeofuse, TRE_R248, code system
	// 1.2.250.1.213.1.1.4.248).
	PurposeNormal      = "normal"
	PurposeBrisDeGlace = "bris_de_glace"
)

// VIHF attribute names (domain.md section 5).
const (
	AttrVersion      = "VIHF_Version"
	AttrMode         = "Authentification_mode" // lower-case m, as every official example and ANS's generator
	AttrStructure    = "Identifiant_Structure"
	AttrSector       = "Secteur_Activite"
	AttrSubjectID    = "urn:oasis:names:tc:xspa:1.0:subject:subject-id"
	AttrRole         = "urn:oasis:names:tc:xacml:2.0:subject:role"
	AttrResourceID   = "urn:oasis:names:tc:xacml:2.0:resource:resource-id"
	AttrResourceURN  = "Ressource_URN"
	AttrPurposeOfUse = "urn:oasis:names:tc:xspa:1.0:subject:purposeofuse"
	AttrLPSID        = "LPS_ID"
	AttrLPSName      = "LPS_Nom"
	AttrLPSVersion   = "LPS_Version"
	AttrLPSHomolog   = "LPS_ID_HOMOLOGATION_DMP"
)

// RequiredAttributes must all be in a VIHF (the simulator refuses one
// without them).
var RequiredAttributes = []string{AttrVersion, AttrMode, AttrStructure, AttrSector, AttrSubjectID, AttrRole,
	AttrResourceID, AttrResourceURN, AttrPurposeOfUse, AttrLPSID, AttrLPSName, AttrLPSVersion, AttrLPSHomolog}

// Code systems.
const (
	CSProfession = "1.2.250.1.71.1.2.7"
	CSSpeciality = "1.2.250.1.71.4.2.5"
	CSPurpose    = "1.2.250.1.213.1.1.4.248"
)

// LPS is the software (logiciel de professionnel de santé) as the DMP
// homologation knows it.
type LPS struct {
	ID           string `toml:"id"`
	Name         string `toml:"name"` // also the HL7 sender's softwareName
	Version      string `toml:"version"`
	Homologation string `toml:"homologation"`
	// DeviceOID is the software's OID, the HL7 sender device's id (its
	// message ids are under DeviceOID.1.1, its query ids under DeviceOID.2).
	DeviceOID string `toml:"device_oid"`
}

// Role is a coded role of the VIHF (an HL7 CE).
type Role struct {
	Code       string `toml:"code"`
	CodeSystem string `toml:"code_system"`
	Display    string `toml:"display"`
}

// ErrNoRole is a card holder with no profession code (a CPE) while the
// establishment has not configured the role its staff act under.
var ErrNoRole = errors.New("dmp: the card holder has no profession code and dmp.staff_role is not configured")

// Credentials are a key with its certificate chain (leaf first). The key
// may sit on a PKCS#11 token.
type Credentials struct {
	Key   crypto.Signer
	Chain []*x509.Certificate
}

// VIHF is what an identification token says.
type VIHF struct {
	Professional event.Professional
	Structure    string // Identifiant_Structure: "1" + the site's geographic FINESS
	Sector       string // Secteur_Activite, e.g. SA07^1.2.250.1.71.4.2.4
	Patient      PatientID
	Mode         string // ModeReinforced for the bridge
	Purpose      string // normal
	LPS          LPS
	Issued       time.Time
	ID           string // the assertion's ID; random when empty
	// StaffRole is the role sent for a card holder with no profession
	// code (establishment staff on a CPE).
	StaffRole Role
}

// Build returns the unsigned assertion.
func (v *VIHF) Build(issuer *x509.Certificate) (*etree.Element, error) {
	role := Role{Code: v.Professional.Profession, CodeSystem: CSProfession}
	if role.Code == "" {
		if v.StaffRole.Code == "" || v.StaffRole.CodeSystem == "" {
			return nil, ErrNoRole
		}
		role = v.StaffRole
	}
	if v.ID == "" {
		var b [16]byte
		_, _ = rand.Read(b[:])
		v.ID = "_" + hex.EncodeToString(b[:])
	}
	at := v.Issued.UTC()
	stamp := at.Format("2006-01-02T15:04:05.000Z")
	a := etree.NewElement("saml2:Assertion")
	a.CreateAttr("xmlns:saml2", NSSAML)
	a.CreateAttr("xmlns:xsi", NSXSI)
	a.CreateAttr("ID", v.ID)
	a.CreateAttr("IssueInstant", stamp)
	a.CreateAttr("Version", "2.0")
	is := a.CreateElement("saml2:Issuer")
	is.CreateAttr("Format", "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName")
	is.SetText(issuer.Subject.String())
	n := a.CreateElement("saml2:Subject").CreateElement("saml2:NameID")
	n.SetText(v.Professional.NationalID)
	c := a.CreateElement("saml2:Conditions")
	c.CreateAttr("NotBefore", at.Add(-time.Minute).Format("2006-01-02T15:04:05.000Z"))
	c.CreateAttr("NotOnOrAfter", at.Add(5*time.Minute).Format("2006-01-02T15:04:05.000Z"))
	as := a.CreateElement("saml2:AuthnStatement")
	as.CreateAttr("AuthnInstant", stamp)
	ac := as.CreateElement("saml2:AuthnContext")
	ac.CreateElement("saml2:AuthnContextClassRef").SetText("urn:oasis:names:tc:SAML:2.0:ac:classes:SmartcardPKI")
	if v.Mode == ModeReinforced {
		// As the package's reinforced-mode example: the professional
		// authenticated with a smart card (the kiosk checked its PIN).
		ac.CreateElement("saml2:AuthnContextDecl").SetText("urn:oasis:names:tc:SAML:2.0:ac:classes:SmartcardPKI")
	}
	st := a.CreateElement("saml2:AttributeStatement")
	attr := func(name string) *etree.Element {
		at := st.CreateElement("saml2:Attribute")
		at.CreateAttr("Name", name)
		return at.CreateElement("saml2:AttributeValue")
	}
	str := func(name, value string) {
		attr(name).SetText(value)
	}
	ce := func(name, elem, code, system, display string) {
		el := attr(name).CreateElement(elem)
		el.CreateAttr("xmlns", NSHL7)
		el.CreateAttr("xsi:type", "CE")
		el.CreateAttr("code", code)
		el.CreateAttr("codeSystem", system)
		if display != "" {
			el.CreateAttr("displayName", display)
		}
	}
	str(AttrVersion, "3.0")
	str(AttrMode, v.Mode)
	str(AttrStructure, v.Structure)
	str(AttrSector, v.Sector)
	str(AttrSubjectID, strings.TrimSpace(v.Professional.FirstName+" "+v.Professional.Surname))
	ce(AttrRole, "Role", role.Code, role.CodeSystem, role.Display)
	if v.Professional.Speciality != "" {
		ce(AttrRole, "Role", v.Professional.Speciality, CSSpeciality, "")
	}
	str(AttrResourceID, v.Patient.CX())
	str(AttrResourceURN, "urn:dmp")
	ce(AttrPurposeOfUse, "PurposeOfUse", v.Purpose, CSPurpose, "")
	str(AttrLPSID, v.LPS.ID)
	str(AttrLPSName, v.LPS.Name)
	str(AttrLPSVersion, v.LPS.Version)
	str(AttrLPSHomolog, v.LPS.Homologation)
	return a, nil
}

// Sign builds the assertion and signs it with the ORG SIGN key: an
// enveloped XML-DSig right after Issuer, exclusive C14N, RSA-SHA256,
// the signing certificate in KeyInfo.
func (v *VIHF) Sign(signer Credentials) (*etree.Element, error) {
	if signer.Key == nil || len(signer.Chain) == 0 {
		return nil, errors.New("dmp: no ORG SIGN key to sign the VIHF with")
	}
	a, err := v.Build(signer.Chain[0])
	if err != nil {
		return nil, err
	}
	ctx, err := dsig.NewSigningContext(signer.Key, [][]byte{signer.Chain[0].Raw})
	if err != nil {
		return nil, err
	}
	// No prefix list: the assertion uses no prefix inside attribute values
	// only (an xsi:type="xs:string" would lose its xs declaration to
	// exclusive C14N).
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	ctx.IdAttribute = "ID"
	ctx.Prefix = "ds"
	sig, err := ctx.ConstructSignature(a, true)
	if err != nil {
		return nil, fmt.Errorf("dmp: signing the VIHF: %w", err)
	}
	a.InsertChildAt(a.SelectElement("Issuer").Index()+1, sig)
	return a, nil
}
