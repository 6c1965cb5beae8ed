package dmp

import (
	"context"
	"fmt"
	"strings"

	"github.com/beevik/etree"

	"dmpkiosk/firmware/event"
)

// ProfessionOf reads a JDV_J01 author code ("G15_10/SM26": the
// profession 10, the specialty SM26; "G15_60": the profession 60). Inferred
// from the value set's codes: G15_ then the profession's code, then after
// a slash the specialty's.
func ProfessionOf(code string) (profession, specialty string) {
	c := strings.TrimPrefix(code, "G15_")
	if c == code {
		return "", ""
	}
	profession, specialty, _ = strings.Cut(c, "/")
	return profession, specialty
}

// FeedRequest builds TD2.1's whole request for f: the lot signed with
// ORG SIGN, the SOAP envelope with the VIHF in indirect mode (the
// establishment's certificate alone: AIR may not feed) naming the lot's
// author, on behalf of the structure of FINESS, and the documents as
// MTOM parts. It returns the package and its Content-Type.
func (c *Client) FeedRequest(f Feeding, finess, msgID string) ([]byte, string, error) {
	sig, err := SignLot(c.cfg.Sign, f.LotID, f.Header.UniqueID, f.CDA, f.Time)
	if err != nil {
		return nil, "", err
	}
	// The documents go straight to the package's parts: a CDA of
	// megabytes is not written in base64 to be read back.
	var parts []Part
	body, err := provideAndRegister(f, sig, func(e *etree.Element, b []byte) {
		parts = append(parts, include(e, fmt.Sprintf("part%d@dmpkiosk", len(parts)+1), func(id string) string { return id }, b))
	})
	if err != nil {
		return nil, "", err
	}
	prof, spec := ProfessionOf(f.Author.Specialty.Code)
	v := &VIHF{Professional: event.Professional{NationalID: f.Author.ID, Surname: f.Author.Family, FirstName: f.Author.Given,
		Profession: prof, Speciality: spec}, Structure: "1" + finess, Sector: c.cfg.Sector,
		Patient: PatientID{Root: f.Header.INSOID, Extension: f.Header.INS}, Mode: ModeIndirect, Purpose: "normal", LPS: c.cfg.LPS,
		Issued: c.cfg.Now(), StaffRole: c.cfg.StaffRole}
	assertion, err := v.Sign(c.cfg.Sign)
	if err != nil {
		return nil, "", err
	}
	env := &Envelope{Action: ActionTD21, MessageID: msgID, To: c.cfg.BaseURL + Services[TD21].Path, Security: assertion, Body: body}
	return writeMTOM(env.Build(), parts, ActionTD21)
}

// RegistryError is an IHE error of an XDS answer (RegistryErrorList).
type RegistryError struct {
	Code, Context, Location, Severity string
}

func (e *RegistryError) Error() string {
	return fmt.Sprintf("dmp: TD2.1 refused: %s (%s)", e.Code, e.Context)
}

// Transient reports whether the registry may take the lot later
// (XDSRegistryBusy, XDSRepositoryBusy and other …Busy codes).
func (e *RegistryError) Transient() bool { return strings.HasSuffix(e.Code, "Busy") }

// ParseRegistryResponse reads an XDS answer: nil for Success, the first
// error of a Failure or PartialSuccess.
func ParseRegistryResponse(el *etree.Element) error {
	if el == nil || el.Tag != "RegistryResponse" || el.NamespaceURI() != NSRS {
		return fmt.Errorf("%w: not an XDS RegistryResponse", ErrMalformed)
	}
	status := el.SelectAttrValue("status", "")
	switch status {
	case "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success":
		return nil
	case "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure", "urn:ihe:iti:2007:ResponseStatusType:PartialSuccess":
	default:
		return fmt.Errorf("%w: RegistryResponse status %q", ErrMalformed, status)
	}
	if err := registryErrorOf(el); err != nil {
		return err
	}
	return fmt.Errorf("%w: a failure without RegistryError", ErrMalformed)
}

// Feed is TD2.1: it sends f on behalf of the structure of FINESS and
// reads the registry's answer (nil: the document is in the DMP).
func (c *Client) Feed(ctx context.Context, f Feeding, finess string) (Exchange, error) {
	msgID := NewMessageID()
	req, ct, err := c.FeedRequest(f, finess, msgID)
	if err != nil {
		return Exchange{Transaction: TD21, RequestID: msgID}, err
	}
	body, x, err := c.postAs(ctx, TD21, msgID, ct, req)
	if err == nil {
		err = ParseRegistryResponse(body)
	}
	return x, c.traced(&x, err)
}
