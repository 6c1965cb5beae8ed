package dmp

import (
	"context"
	"fmt"
	"strings"

	"github.com/beevik/etree"
)

// TD1.6: the professionals the patient authorized or blocked
// (listAuthorizationByPatient, service habilitations;
// docs/consultation.md, the package's TD1.6 example), to explain a
// refusal: normal-mode professionals only.

// TD16 is TD1.6's transaction name and its SOAP action.
const (
	TD16       = "TD1.6"
	ActionTD16 = "urn:si-dmp-habilitations:HabilitationsEndPoint:listAuthorizationByPatient"
)

// Modes of TD1.6's list.
const (
	ListActive    = "ACTIVE"    // the professionals authorized
	ListForbidden = "INTERDITE" // the professionals the patient blocked
	ListAll       = "TOUTE"
)

// ProfessionalAuthorization is one professional of TD1.6's list.
type ProfessionalAuthorization struct {
	NationalID, NationalIDType, FirstName, LastName string
	Specialities                                    []string
	Mode                                            string // ACTIVE or INTERDITE
}

// AuthorizationListBody is TD1.6's body.
func AuthorizationListBody(mode string) *etree.Element {
	l := etree.NewElement("listAuthorizationByPatient")
	l.CreateAttr("xmlns", NSHabil)
	l.CreateElement("mode").SetText(mode)
	return l
}

// ParseAuthorizationList reads TD1.6's answer: the professionals of a
// DMPOk status, an error with the status and context otherwise.
func ParseAuthorizationList(el *etree.Element) ([]ProfessionalAuthorization, error) {
	if el == nil || el.Tag != "listAuthorizationByPatientResponse" || el.NamespaceURI() != NSHabil {
		return nil, fmt.Errorf("%w: not a listAuthorizationByPatientResponse", ErrMalformed)
	}
	out := el.SelectElement("output")
	if out == nil {
		return nil, fmt.Errorf("%w: TD1.6 answer without output", ErrMalformed)
	}
	text := func(e *etree.Element, tag string) string {
		if c := e.SelectElement(tag); c != nil {
			return strings.TrimSpace(c.Text())
		}
		return ""
	}
	if st := text(out, "status"); st != "DMPOk" {
		return nil, fmt.Errorf("%w: TD1.6 status %q (%s)", ErrMalformed, st, text(out, "context"))
	}
	var l []ProfessionalAuthorization
	for _, a := range out.SelectElements("listOfAuthorizationByPatient") {
		p := ProfessionalAuthorization{NationalID: text(a, "nationalId"), NationalIDType: text(a, "nationalIdType"), FirstName: text(a, "firstName"),
			LastName: text(a, "lastName"), Mode: text(a, "mode")}
		for _, s := range a.SelectElements("codeSpeciality") {
			p.Specialities = append(p.Specialities, strings.TrimSpace(s.Text()))
		}
		if p.NationalID == "" {
			return nil, fmt.Errorf("%w: a TD1.6 professional without national id", ErrMalformed)
		}
		l = append(l, p)
	}
	return l, nil
}

// ListAuthorizations is TD1.6 for who's patient.
func (c *Client) ListAuthorizations(ctx context.Context, who Who, mode string) ([]ProfessionalAuthorization, Exchange, error) {
	msgID := NewMessageID()
	req, err := c.Request(TD16, who, AuthorizationListBody(mode), msgID)
	if err != nil {
		return nil, Exchange{Transaction: TD16, RequestID: msgID}, err
	}
	body, x, err := c.post(ctx, TD16, msgID, req)
	var l []ProfessionalAuthorization
	if err == nil {
		l, err = ParseAuthorizationList(body)
	}
	return l, x, c.traced(&x, err)
}

// Blocks tells whether the patient blocked the professional of national
// id.
func Blocks(l []ProfessionalAuthorization, nationalID string) bool {
	for _, p := range l {
		if p.Mode == ListForbidden && p.NationalID == nationalID {
			return true
		}
	}
	return false
}
