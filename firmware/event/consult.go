package event

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Reading the patient's DMP at the bedside: the tablet asks the bridge,
// on kiosk/<device>/dmp, for the list of the patient's documents or one
// of them; the bridge asks the DMP in reinforced indirect mode (AIR) in
// the name of the professional whose card signed the request, and
// answers on kiosk/<device>/results, encrypted to a key the tablet made
// for that request (as INSi's lookup is answered).
//
// The request is signed by the device (ES256) and by the professional's
// card (RS256), each with its chain, so that the bridge knows he is there
// (the card's signature needs its PIN), and encrypted to the bridge, as
// events are. A document comes back one page per message, the first as
// soon as it is rendered; only inert content travels (page images,
// cleaned HTML, text).

// ConsultKind marks a consultation request (an event has none).
const ConsultKind = "dmp-consult"

// Consultation actions.
const (
	// ConsultList: TD0.2, then the documents' list (TD3.1).
	ConsultList = "list"
	// ConsultAuthorize: the patient agreed; TD0.3 records the
	// establishment's authorization, then the list.
	ConsultAuthorize = "authorize"
	// ConsultDocument: one document (TD3.2), rendered.
	ConsultDocument = "document"
	// ConsultWard: the inpatients of the tablet's unit (no patient named;
	// no call to the DMP).
	ConsultWard = "ward"
)

// Access purposes (the VIHF's purposeofuse).
const (
	PurposeNormal      = "normal"
	PurposeBrisDeGlace = "bris_de_glace"
)

// EmergencyReasons are the reasons a professional picks to declare an
// emergency access (bris de glace), in French as the tablet shows them
// (inferred: the DMP asks for none, the establishment's audit does).
var EmergencyReasons = []string{
	"Patient inconscient ou hors d'état d'exprimer sa volonté",
	"Urgence vitale",
	"Détresse respiratoire ou cardio-circulatoire",
	"Autre urgence médicale",
}

// ConsultRequest is what the tablet asks.
type ConsultRequest struct {
	Kind   string    `json:"kind"` // ConsultKind
	ID     string    `json:"id"`   // UUIDv7; each answer carries it
	Device string    `json:"device"`
	Time   time.Time `json:"time"`
	Site   Site      `json:"site"`
	// Professional is who signed in with his card (the bridge holds it to
	// the card's certificate).
	Professional Professional `json:"professional"`
	// Patient is the patient's qualified INS.
	Patient INS    `json:"patient"`
	Action  string `json:"action"`
	// Purpose is normal or bris_de_glace; Reason, for an emergency, one of
	// EmergencyReasons.
	Purpose string `json:"purpose"`
	Reason  string `json:"reason,omitempty"`
	// Since, for the unit's list: mark the patients whose DMP received a
	// document since then (TD0.4).
	Since time.Time `json:"since,omitzero"`
	// UniqueID and Repository name the document (ConsultDocument), as
	// the list gave them.
	UniqueID   string `json:"unique_id,omitempty"`
	Repository string `json:"repository,omitempty"`
	// Reply is the public key the answers are encrypted to (JWK).
	Reply *jose.JSONWebKey `json:"reply"`
}

// Consultation outcomes.
const (
	ConsultOK            = "ok"
	ConsultNoDMP         = "no-dmp"         // the patient has no DMP
	ConsultNotAuthorized = "not-authorized" // the establishment is not authorized: ask the patient (normal mode)
	ConsultForbidden     = "forbidden"      // the patient or the DMP's rights refuse it: said in Message
	ConsultUnavailable   = "unavailable"    // the DMP did not answer: try again
	ConsultUnreadable    = "unreadable"     // the document cannot be shown on the tablet
	ConsultRefused       = "refused"        // the bridge would not ask (too old, a card that may not read…)
)

// ConsultAnswer is one of the bridge's answers to a request.
type ConsultAnswer struct {
	Request string `json:"request"`
	Outcome string `json:"outcome"`
	Message string `json:"message,omitempty"` // plain French, for the screen
	// Authorization is TD0.2's (VALIDE, NON_EXISTE, EXPIRE, INTERDIT).
	Authorization string `json:"authorization,omitempty"`
	// Entries are the documents, newest first (list, authorize).
	Entries []ConsultEntry `json:"entries,omitempty"`
	// Page is one page of the document (document); Last says it is the
	// last answer to the request.
	Page *ConsultPage `json:"page,omitempty"`
	Last bool         `json:"last,omitempty"`
	// Patients are the unit's inpatients (ward).
	Patients []WardPatient `json:"patients,omitempty"`
}

// WardPatient is an inpatient of the tablet's unit, as the GAM placed
// them: the INS only when the identity is qualified (the only ones whose
// DMP may be read).
type WardPatient struct {
	IPP       string `json:"ipp"`
	BirthName string `json:"birth_name"`
	FirstName string `json:"first_name"`
	BirthDate string `json:"birth_date"` // AAAAMMJJ
	Sex       string `json:"sex"`
	Room      string `json:"room,omitempty"`
	Bed       string `json:"bed,omitempty"`
	INS       *INS   `json:"ins,omitempty"`
	// NewDocuments: the DMP received documents since the request's Since.
	NewDocuments bool `json:"new_documents,omitempty"`
}

// ConsultEntry is one document of the list.
type ConsultEntry struct {
	UniqueID   string    `json:"unique_id"`
	EntryUUID  string    `json:"entry_uuid"`
	Repository string    `json:"repository,omitempty"`
	Title      string    `json:"title"`
	Type       string    `json:"type"`       // JDV_J07 code
	TypeLabel  string    `json:"type_label"` // in French
	Date       time.Time `json:"date"`       // creation, UTC: the tablet shows local time
	Author     string    `json:"author,omitempty"`
	// Institution is the author's establishment.
	Institution string `json:"institution,omitempty"`
	// InvisibleToPatient: the patient does not see it in Mon espace santé.
	InvisibleToPatient bool `json:"invisible_to_patient,omitempty"`
}

// ConsultPage is one page of a rendered document (a PNG image, cleaned
// HTML or text), or one part of it: a page larger than a message the
// brokers take comes in Parts parts, Part from 1, in order.
type ConsultPage struct {
	N     int    `json:"n"`
	Of    int    `json:"of"`
	Type  string `json:"type"`
	Part  int    `json:"part,omitempty"`
	Parts int    `json:"parts,omitempty"`
	Data  []byte `json:"data"`
}

// MaxPagePart bounds a page part's bytes: once in base64, encrypted and in
// base64 again, with its headers, a part stays within the brokers'
// largest packet (provisioning.MaxPacketBytes, 128 KiB).
const MaxPagePart = 48 << 10

// Split cuts a page into parts of at most MaxPagePart bytes.
func (p ConsultPage) Split() []ConsultPage {
	n := max(1, (len(p.Data)+MaxPagePart-1)/MaxPagePart)
	out := make([]ConsultPage, n)
	for i := range out {
		end := min(len(p.Data), (i+1)*MaxPagePart)
		out[i] = ConsultPage{N: p.N, Of: p.Of, Type: p.Type, Part: i + 1, Parts: n, Data: p.Data[i*MaxPagePart : end]}
	}
	return out
}

// SealConsult signs the request with the device and the card, its reply
// key set from reply, and encrypts it to the bridge.
func SealConsult(r *ConsultRequest, reply *ecdsa.PrivateKey, device, card Signer, bridge *ecdsa.PublicKey) (string, error) {
	r.Kind = ConsultKind
	r.Reply = &jose.JSONWebKey{Key: &reply.PublicKey, Algorithm: string(jose.ECDH_ES_A256KW), Use: "enc"}
	payload, err := json.Marshal(r)
	if err != nil {
		return "", err
	}
	jws, err := SignBoth(payload, device, card)
	if err != nil {
		return "", err
	}
	return encryptTo(bridge, jws, "JOSE+JSON")
}

// OpenConsult decrypts a request and verifies both signatures and their
// chains at at (the device's to the kiosk CA, the card's to the cards'
// authority). The caller checks the device's revocation and name, the
// request's age and that the professional is the card's.
func OpenConsult(jwe string, bridge *ecdsa.PrivateKey, kioskCA, cardCA *x509.CertPool, at time.Time, cache *ChainCache) (*ConsultRequest, *x509.Certificate, *x509.Certificate, error) {
	var r ConsultRequest
	_, device, card, err := openBoth(jwe, bridge, kioskCA, cardCA, at, cache, func(payload []byte) (time.Time, error) {
		if err := json.Unmarshal(payload, &r); err != nil {
			return time.Time{}, err
		}
		if r.Kind != ConsultKind {
			return time.Time{}, fmt.Errorf("not a consultation request")
		}
		return r.Time, nil
	})
	if err != nil {
		return nil, device, nil, err
	}
	if err := checkReply(r.Reply); err != nil {
		return nil, device, nil, err
	}
	return &r, device, card, nil
}

// SealConsultAnswer encrypts an answer to the request's reply key.
func SealConsultAnswer(a *ConsultAnswer, reply *jose.JSONWebKey) ([]byte, error) {
	jwe, err := sealTo(reply, a)
	if err != nil {
		return nil, err
	}
	return json.Marshal(Sealed{Consult: a.Request, JWE: jwe})
}

// OpenConsultAnswer decrypts an answer with the request's reply key; an
// answer for another request is refused.
func OpenConsultAnswer(s Sealed, reply *ecdsa.PrivateKey, request string) (*ConsultAnswer, error) {
	var a ConsultAnswer
	if err := openWith(s.JWE, reply, &a); err != nil {
		return nil, err
	}
	if a.Request != request || s.Consult != request {
		return nil, fmt.Errorf("%w: the answer is for request %q, not %q", ErrMalformed, a.Request, request)
	}
	return &a, nil
}
