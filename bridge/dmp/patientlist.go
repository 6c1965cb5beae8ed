package dmp

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// TD0.4: the DMPs the establishment is authorized on, with their last
// access, update and document dates (patientList, service
// patientsSpecific; docs/consultation.md, the package's TD0.4 example): a
// ward's "new documents since" list.

// TD04 is TD0.4's transaction name, its SOAP action and namespace.
const (
	TD04       = "TD0.4"
	ActionTD04 = "urn:si-dmp-patients:PatientSpecificEndPoint:patientList"
	NSPatients = "urn:si-dmp-patients"
)

// Dates TD0.4 filters on.
const (
	SinceLastDocument      = "LASTDOC"
	SinceLastAuthorization = "LASTAUTORIZATION"
)

// AuthorizedPatient is one DMP of TD0.4's list.
type AuthorizedPatient struct {
	IDs                             []PatientID
	LastName, FirstName, BirthDate  string
	LastAccess, LastUpdate, LastAdd time.Time
}

// Has tells whether the DMP is the patient pid's.
func (p AuthorizedPatient) Has(pid PatientID) bool {
	for _, id := range p.IDs {
		if id == pid {
			return true
		}
	}
	return false
}

// PatientListBody is TD0.4's body: the DMPs with a date of dateType since
// since.
func PatientListBody(since time.Time, dateType string) *etree.Element {
	l := etree.NewElement("patientList")
	l.CreateAttr("xmlns", NSPatients)
	l.CreateElement("startDate").SetText(since.UTC().Format("20060102150405"))
	l.CreateElement("dateType").SetText(dateType)
	return l
}

// ParsePatientList reads TD0.4's answer.
func ParsePatientList(el *etree.Element) ([]AuthorizedPatient, error) {
	if el == nil || el.Tag != "patientListResponse" || el.NamespaceURI() != NSPatients {
		return nil, fmt.Errorf("%w: not a patientListResponse", ErrMalformed)
	}
	out := el.SelectElement("output")
	if out == nil {
		return nil, fmt.Errorf("%w: TD0.4 answer without output", ErrMalformed)
	}
	text := func(e *etree.Element, tag string) string {
		if c := e.SelectElement(tag); c != nil {
			return strings.TrimSpace(c.Text())
		}
		return ""
	}
	if st := text(out, "status"); st != "DMPOk" {
		return nil, fmt.Errorf("%w: TD0.4 status %q (%s)", ErrMalformed, st, text(out, "context"))
	}
	var l []AuthorizedPatient
	for _, d := range out.SelectElements("patientlistData") {
		p := AuthorizedPatient{LastName: text(d, "lastName"), FirstName: text(d, "firstName"), BirthDate: text(d, "dateOfBirth")}
		for _, id := range d.SelectElements("patientIdentifier") {
			p.IDs = append(p.IDs, PatientID{Root: text(id, "nationalIdType"), Extension: text(id, "nationalId")})
		}
		for name, dst := range map[string]*time.Time{"lastAccessDate": &p.LastAccess, "lastUpdateDate": &p.LastUpdate, "lastAddDate": &p.LastAdd} {
			if v := text(d, name); v != "" {
				t, err := xdsTime(v)
				if err != nil {
					return nil, fmt.Errorf("%w: TD0.4 %s %q", ErrMalformed, name, v)
				}
				*dst = t
			}
		}
		if len(p.IDs) == 0 {
			return nil, fmt.Errorf("%w: a TD0.4 DMP without an identifier", ErrMalformed)
		}
		l = append(l, p)
	}
	return l, nil
}

// PatientList is TD0.4 (who names any of the establishment's patients:
// the VIHF needs one).
func (c *Client) PatientList(ctx context.Context, who Who, since time.Time, dateType string) ([]AuthorizedPatient, Exchange, error) {
	msgID := NewMessageID()
	req, err := c.Request(TD04, who, PatientListBody(since, dateType), msgID)
	if err != nil {
		return nil, Exchange{Transaction: TD04, RequestID: msgID}, err
	}
	body, x, err := c.post(ctx, TD04, msgID, req)
	var l []AuthorizedPatient
	if err == nil {
		l, err = ParsePatientList(body)
	}
	return l, x, c.traced(&x, err)
}
