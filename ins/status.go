package ins

import (
	"errors"
	"fmt"
)

// Status is the identity status of the national identity rules (RNIV).
type Status uint8

// The four statuses, from the weakest.
const (
	// Provisoire: the default; traits typed or read, nothing confirmed.
	Provisoire Status = iota
	// Recuperee: the INS and traits were returned by the INSi teleservice.
	Recuperee
	// Validee: an identity document with a high level of trust was checked.
	Validee
	// Qualifiee: both récupérée and validée; the only status whose INS may
	// be shared (referenced in documents, sent to the DMP).
	Qualifiee
)

var statusNames = [...]string{"provisoire", "récupérée", "validée", "qualifiée"}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("statut(%d)", uint8(s))
}

// MarshalText writes the French name.
func (s Status) MarshalText() ([]byte, error) {
	if int(s) >= len(statusNames) {
		return nil, fmt.Errorf("statut d'identité %d inconnu", uint8(s))
	}
	return []byte(statusNames[s]), nil
}

// UnmarshalText reads the French name, with or without accents.
func (s *Status) UnmarshalText(b []byte) error {
	for i, n := range statusNames {
		if string(b) == n {
			*s = Status(i)
			return nil
		}
		if folded, _ := NormalizeName(n); string(b) == folded || string(b) == toLowerASCII(folded) {
			*s = Status(i)
			return nil
		}
	}
	return fmt.Errorf("statut d'identité %q inconnu", b)
}

func toLowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// Document is an identity document shown by the patient.
type Document uint8

// Documents. Only the first three (and, for a minor, a birth certificate
// extract) carry the trust level that validates an identity.
const (
	DocNone Document = iota
	DocPassport
	DocIdentityCard    // carte nationale d'identité (EU)
	DocResidencePermit // titre de séjour
	DocBirthCertificate
	DocDrivingLicence
	DocOther
)

// Errors of status changes a caller branches on.
var (
	// ErrINSiForbidden: the identity is doubtful or fictitious, INSi must
	// not be called and the status cannot rise.
	ErrINSiForbidden = errors.New("identité douteuse ou fictive : appel INSi interdit")
	// ErrDocumentRefused: the document cannot validate an identity.
	ErrDocumentRefused = errors.New("pièce d'identité non recevable pour valider l'identité")
)

// Identity is an identity's status and the flags that hold it at
// provisoire.
type Identity struct {
	Status     Status `json:"status"`
	Doubtful   bool   `json:"douteuse,omitempty"`
	Fictitious bool   `json:"fictive,omitempty"`
}

// CanCallINSi reports ErrINSiForbidden for a doubtful or fictitious identity.
func (id Identity) CanCallINSi() error {
	if id.Doubtful || id.Fictitious {
		return ErrINSiForbidden
	}
	return nil
}

// Recovered records that INSi returned this identity:
// provisoire → récupérée, validée → qualifiée.
func (id *Identity) Recovered() error {
	if err := id.CanCallINSi(); err != nil {
		return err
	}
	switch id.Status {
	case Provisoire:
		id.Status = Recuperee
	case Validee:
		id.Status = Qualifiee
	}
	return nil
}

// DocumentChecked records that the professional checked an identity
// document: provisoire → validée, récupérée → qualifiée. A birth certificate
// extract counts only for a minor.
func (id *Identity) DocumentChecked(doc Document, minor bool) error {
	switch doc {
	case DocPassport, DocIdentityCard, DocResidencePermit:
	case DocBirthCertificate:
		if !minor {
			return fmt.Errorf("%w : extrait d'acte de naissance réservé aux mineurs", ErrDocumentRefused)
		}
	default:
		return ErrDocumentRefused
	}
	if id.Doubtful || id.Fictitious {
		return ErrINSiForbidden
	}
	switch id.Status {
	case Provisoire:
		id.Status = Validee
	case Recuperee:
		id.Status = Qualifiee
	}
	return nil
}

// MarkDoubtful flags the identity as doubtful: it falls back to provisoire
// until the doubt is lifted by a new check.
func (id *Identity) MarkDoubtful() { id.Doubtful, id.Status = true, Provisoire }

// MarkFictitious flags an identity as fictitious (anonymous care, tests): it
// stays provisoire.
func (id *Identity) MarkFictitious() { id.Fictitious, id.Status = true, Provisoire }

// Shareable reports whether the INS may be shared: qualifiée and unflagged.
func (id Identity) Shareable() bool {
	return id.Status == Qualifiee && !id.Doubtful && !id.Fictitious
}

// CanTransition reports whether an identity may go from one status to
// another in one step: a rise by one source of trust (INSi or document),
// staying, or a fall to provisoire (doubt, traits changed).
func CanTransition(from, to Status) bool {
	switch {
	case from == to, to == Provisoire:
		return true
	case from == Provisoire:
		return to == Recuperee || to == Validee
	case from == Recuperee || from == Validee:
		return to == Qualifiee
	}
	return false
}
