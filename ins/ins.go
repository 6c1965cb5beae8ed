package ins

import (
	"errors"
	"fmt"
	"strings"
)

// OIDs of the authorities that assign an INS matricule.
const (
	OIDNIR     = "1.2.250.1.213.1.4.8"  // NIR certified by the RNIPP
	OIDNIA     = "1.2.250.1.213.1.4.9"  // NIA, a waiting number
	OIDTestNIR = "1.2.250.1.213.1.4.10" // NIR of a test person
	OIDDemoNIR = "1.2.250.1.213.1.4.11" // NIR of a demonstration person
)

var oidKinds = map[string]string{
	OIDNIR:     "NIR",
	OIDNIA:     "NIA",
	OIDTestNIR: "NIR de test",
	OIDDemoNIR: "NIR de démonstration",
}

// ErrINS is the error every INS parsing failure unwraps to.
var ErrINS = errors.New("INS invalide")

// INS is the national health identifier: a matricule (NIR or NIA, 13
// characters and key) and the OID of the authority that assigned it.
type INS struct {
	Matricule NIR
	OID       string
}

// NewINS validates a 15-character matricule and the OID of its authority.
// A temporary number is not a matricule INS.
func NewINS(matricule, oid string) (INS, error) {
	if _, ok := oidKinds[oid]; !ok {
		return INS{}, fmt.Errorf("%w : autorité %q inconnue", ErrINS, oid)
	}
	n, err := ParseNIR(matricule)
	if err != nil {
		return INS{}, fmt.Errorf("%w : %w", ErrINS, err)
	}
	// NIR or NIA is told by the OID, never by the digits: a NIA is a
	// waiting number and may start as a temporary one does.
	if !n.Certified() && oid != OIDNIA {
		return INS{}, fmt.Errorf("%w : un numéro provisoire n'est pas un matricule INS", ErrINS)
	}
	return INS{Matricule: n, OID: oid}, nil
}

// Value is the 15-character matricule.
func (i INS) Value() string { return i.Matricule.String() }

// Kind names the authority in French ("NIR", "NIA", ...).
func (i INS) Kind() string { return oidKinds[i.OID] }

// IsZero reports whether i holds no INS.
func (i INS) IsZero() bool { return i.OID == "" }

// FormatCX writes an identifier and the OID of its authority as an HL7 v2
// CX (also the VIHF resource-id and the XDS patientId):
// <id>^^^&<OID>&ISO^NH. It is the one writer of the form, for INS and INS-C
// alike.
func FormatCX(id, oid string) string { return id + "^^^&" + oid + "&ISO^NH" }

// SplitCX reads an identifier and its authority's OID from the CX form,
// without judging the identifier.
func SplitCX(s string) (id, oid string, err error) {
	comps := strings.Split(s, "^")
	if len(comps) != 5 || comps[0] == "" || comps[1] != "" || comps[2] != "" || comps[4] != "NH" {
		return "", "", fmt.Errorf("%w : forme CX <matricule>^^^&<OID>&ISO^NH attendue", ErrINS)
	}
	auth := strings.Split(comps[3], "&")
	if len(auth) != 3 || auth[0] != "" || auth[1] == "" || auth[2] != "ISO" {
		return "", "", fmt.Errorf("%w : autorité CX &<OID>&ISO attendue", ErrINS)
	}
	return comps[0], auth[1], nil
}

// CX renders the INS in the CX form.
func (i INS) CX() string { return FormatCX(i.Value(), i.OID) }

// ParseCX reads an INS from its HL7 CX form.
func ParseCX(s string) (INS, error) {
	id, oid, err := SplitCX(s)
	if err != nil {
		return INS{}, err
	}
	return NewINS(id, oid)
}

// FHIRIdentifier is the FHIR Identifier of an INS (system and value only;
// the French profiles add a type coding "INS-NIR" or "INS-NIA").
type FHIRIdentifier struct {
	System string `json:"system"`
	Value  string `json:"value"`
}

// FHIR renders the INS as a FHIR identifier with system urn:oid:<OID>.
func (i INS) FHIR() FHIRIdentifier {
	return FHIRIdentifier{System: "urn:oid:" + i.OID, Value: i.Value()}
}

// ParseFHIR reads an INS from a FHIR identifier.
func ParseFHIR(id FHIRIdentifier) (INS, error) {
	oid, ok := strings.CutPrefix(id.System, "urn:oid:")
	if !ok {
		return INS{}, fmt.Errorf("%w : système urn:oid:<OID> attendu", ErrINS)
	}
	return NewINS(id.Value, oid)
}
