package dmp

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// TD3.1 (search: an XDS stored query FindDocuments, IHE ITI-18) and TD3.3c
// (deletion of the establishment's own document: an XDS metadata update,
// IHE ITI-57) — docs/consultation.md, docs/feeding.md, the package's
// TD3.1 and TD3.3c examples.

// Transactions, their SOAP actions and the query's namespace.
const (
	TD31        = "TD3.1"
	ActionTD31  = "urn:ihe:iti:2007:RegistryStoredQuery"
	TD33c       = "TD3.3c"
	ActionTD33c = "urn:ihe:iti:2010:UpdateDocumentSet"
	NSQuery     = "urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0"
	// FindDocuments is the stored query's id (IHE ITI TF-2a 3.18.4.1.2.3.7.1).
	FindDocuments = "urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d"
)

// Entry statuses of XDS and the DMP's own.
const (
	StatusApproved   = "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved"
	StatusDeprecated = "urn:oasis:names:tc:ebxml-regrep:StatusType:Deprecated"
	StatusArchived   = "urn:asip:ci-sis:2010:StatusType:Archived"
	StatusDeleted    = "urn:asip:ci-sis:2010:StatusType:Deleted"
)

// DocumentEntry is one entry of TD3.1's answer: what the list shows and
// what TD3.2 (UniqueID, RepositoryID) and TD3.3 (EntryUUID) need.
type DocumentEntry struct {
	EntryUUID, UniqueID, Title, Status, MimeType string
	Type, Class, Format                          Code
	Confidentiality                              []Code
	Created, ServiceStart, ServiceStop           time.Time
	Author                                       XDSAuthor
	// Hash is the document's SHA-1 in hexadecimal as the registry
	// computed it, Size its length in bytes.
	Hash         string
	Size         int64
	RepositoryID string
}

// Has tells whether the entry carries the confidentiality code c (of the
// DMP's, such as INVISIBLE_PATIENT, or of HL7's).
func (e DocumentEntry) Has(c string) bool {
	for _, x := range e.Confidentiality {
		if x.Code == c {
			return true
		}
	}
	return false
}

// FindQuery is TD3.1's body: FindDocuments for the patient pid, entries
// of the statuses given (Approved when none), returned whole (LeafClass).
func FindQuery(pid PatientID, statuses ...string) *etree.Element {
	if len(statuses) == 0 {
		statuses = []string{StatusApproved}
	}
	q := etree.NewElement("query:AdhocQueryRequest")
	q.CreateAttr("xmlns:query", NSQuery)
	q.CreateAttr("xmlns:rim", NSRIM)
	o := q.CreateElement("query:ResponseOption")
	o.CreateAttr("returnComposedObjects", "true")
	o.CreateAttr("returnType", "LeafClass")
	a := q.CreateElement("rim:AdhocQuery")
	a.CreateAttr("id", FindDocuments)
	b := &xdsBuilder{}
	b.slot(a, "$XDSDocumentEntryPatientId", "'"+pid.CX()+"'")
	quoted := make([]string, len(statuses))
	for i, s := range statuses {
		quoted[i] = "'" + s + "'"
	}
	b.slot(a, "$XDSDocumentEntryStatus", "("+strings.Join(quoted, ",")+")")
	return q
}

// ParseQueryResponse reads TD3.1's answer: the entries of a Success, the
// first RegistryError of a Failure. An entry without its entryUUID or its
// uniqueId makes the answer unreadable.
func ParseQueryResponse(el *etree.Element) ([]DocumentEntry, error) {
	if el == nil || el.Tag != "AdhocQueryResponse" || el.NamespaceURI() != NSQuery {
		return nil, fmt.Errorf("%w: not an AdhocQueryResponse", ErrMalformed)
	}
	switch status := el.SelectAttrValue("status", ""); status {
	case "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success":
	case "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure", "urn:ihe:iti:2007:ResponseStatusType:PartialSuccess":
		if err := registryErrorOf(el); err != nil {
			return nil, err
		}
		if status != "urn:ihe:iti:2007:ResponseStatusType:PartialSuccess" {
			return nil, fmt.Errorf("%w: a failure without RegistryError", ErrMalformed)
		}
	default:
		return nil, fmt.Errorf("%w: AdhocQueryResponse status %q", ErrMalformed, status)
	}
	var out []DocumentEntry
	for _, list := range el.ChildElements() {
		if list.Tag != "RegistryObjectList" || list.NamespaceURI() != NSRIM {
			continue
		}
		for _, eo := range list.ChildElements() {
			if eo.Tag != "ExtrinsicObject" {
				continue
			}
			e, err := readEntry(eo)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// readEntry reads one ExtrinsicObject of a query's answer.
func readEntry(eo *etree.Element) (DocumentEntry, error) {
	e := DocumentEntry{EntryUUID: eo.SelectAttrValue("id", ""), Status: eo.SelectAttrValue("status", ""),
		MimeType: eo.SelectAttrValue("mimeType", "")}
	slots := slotsOf(eo)
	var err error
	for name, dst := range map[string]*time.Time{"creationTime": &e.Created, "serviceStartTime": &e.ServiceStart, "serviceStopTime": &e.ServiceStop} {
		if v := first(slots[name]); v != "" {
			if *dst, err = xdsTime(v); err != nil {
				return e, fmt.Errorf("%w: entry %s: %s %q", ErrMalformed, e.EntryUUID, name, v)
			}
		}
	}
	e.Hash, e.RepositoryID = first(slots["hash"]), first(slots["repositoryUniqueId"])
	if v := first(slots["size"]); v != "" {
		if e.Size, err = strconv.ParseInt(v, 10, 64); err != nil {
			return e, fmt.Errorf("%w: entry %s: size %q", ErrMalformed, e.EntryUUID, v)
		}
	}
	e.Title = localized(eo)
	for _, c := range eo.ChildElements() {
		switch c.Tag {
		case "Classification":
			code := Code{Code: c.SelectAttrValue("nodeRepresentation", ""), System: first(slotsOf(c)["codingScheme"]), Display: localized(c)}
			switch c.SelectAttrValue("classificationScheme", "") {
			case xdsEntryAuthor:
				if e.Author.ID == "" {
					e.Author = authorOf(slotsOf(c))
				}
			case xdsClassCode:
				e.Class = code
			case xdsTypeCode:
				e.Type = code
			case xdsFormatCode:
				e.Format = code
			case xdsConfidentiality:
				e.Confidentiality = append(e.Confidentiality, code)
			}
		case "ExternalIdentifier":
			if c.SelectAttrValue("identificationScheme", "") == xdsEntryUID {
				e.UniqueID = c.SelectAttrValue("value", "")
			}
		}
	}
	if e.EntryUUID == "" || e.UniqueID == "" {
		return e, fmt.Errorf("%w: an entry without its entryUUID or uniqueId", ErrMalformed)
	}
	return e, nil
}

func slotsOf(e *etree.Element) map[string][]string {
	out := map[string][]string{}
	for _, s := range e.ChildElements() {
		if s.Tag != "Slot" {
			continue
		}
		name := s.SelectAttrValue("name", "")
		for _, l := range s.ChildElements() {
			for _, v := range l.ChildElements() {
				out[name] = append(out[name], strings.TrimSpace(v.Text()))
			}
		}
	}
	return out
}

func first(l []string) string {
	if len(l) == 0 {
		return ""
	}
	return l[0]
}

func localized(e *etree.Element) string {
	for _, n := range e.ChildElements() {
		if n.Tag == "Name" {
			for _, ls := range n.ChildElements() {
				return ls.SelectAttrValue("value", "")
			}
		}
	}
	return ""
}

// authorOf reads an author classification: XCN person (id, family,
// given), XON institution (name, id in its tenth component), specialty
// (code^label^system).
func authorOf(s map[string][]string) XDSAuthor {
	p := strings.Split(first(s["authorPerson"]), "^")
	inst := strings.Split(first(s["authorInstitution"]), "^")
	spec := strings.Split(first(s["authorSpecialty"]), "^")
	at := func(l []string, i int) string {
		if i < len(l) {
			return l[i]
		}
		return ""
	}
	return XDSAuthor{ID: at(p, 0), Family: at(p, 1), Given: at(p, 2), Institution: at(inst, 0), InstitutionID: at(inst, 9),
		Specialty: Code{Code: at(spec, 0), Display: at(spec, 1), System: at(spec, 2)}}
}

// xdsTime reads an XDS DTM (UTC, YYYY[MM[DD[hh[mm[ss]]]]]).
func xdsTime(v string) (time.Time, error) {
	layouts := map[int]string{4: "2006", 6: "200601", 8: "20060102", 10: "2006010215", 12: "200601021504", 14: "20060102150405"}
	l, ok := layouts[len(v)]
	if !ok {
		return time.Time{}, fmt.Errorf("%q is not an XDS time", v)
	}
	return time.ParseInLocation(l, v, time.UTC)
}

// registryErrorOf is the first RegistryError of an answer's
// RegistryErrorList, nil when it has none.
func registryErrorOf(el *etree.Element) error {
	for _, l := range el.ChildElements() {
		if l.Tag != "RegistryErrorList" {
			continue
		}
		for _, e := range l.ChildElements() {
			if e.Tag == "RegistryError" {
				return &RegistryError{Code: e.SelectAttrValue("errorCode", ""), Context: e.SelectAttrValue("codeContext", ""),
					Location: e.SelectAttrValue("location", ""), Severity: e.SelectAttrValue("severity", "")}
			}
		}
	}
	return nil
}

// FindEntries is TD3.1: the patient's entries of the statuses given
// (Approved when none), as the DMP filters them for who.
func (c *Client) FindEntries(ctx context.Context, who Who, statuses ...string) ([]DocumentEntry, Exchange, error) {
	msgID := NewMessageID()
	req, err := c.Request(TD31, who, FindQuery(who.Patient, statuses...), msgID)
	if err != nil {
		return nil, Exchange{Transaction: TD31, RequestID: msgID}, err
	}
	body, x, err := c.post(ctx, TD31, msgID, req)
	var l []DocumentEntry
	if err == nil {
		l, err = ParseQueryResponse(body)
	}
	return l, x, c.traced(&x, err)
}

// Lot is what a submission set carries besides its content: its author
// (the professional the lot is sent by), content type, the software's
// OID, the lot's uniqueId and its time.
type Lot struct {
	Author      XDSAuthor
	ContentType Code
	SourceID    string
	ID          string
	Time        time.Time
}

// DeleteBody is TD3.3c's body: a lot of no document whose
// UpdateAvailabilityStatus association takes the entry entryUUID from
// Approved to Deleted (the package's TD3.3c example, there from Archived).
func DeleteBody(pid PatientID, entryUUID string, lot Lot) *etree.Element {
	req := etree.NewElement("lcm:SubmitObjectsRequest")
	req.CreateAttr("xmlns:lcm", NSLCM)
	req.CreateAttr("xmlns:rim", NSRIM)
	list := req.CreateElement("rim:RegistryObjectList")
	b := &xdsBuilder{}
	b.submissionSet(list, lot, "Suppression d'un document", pid.CX())
	a := list.CreateElement("rim:Association")
	a.CreateAttr("associationType", "urn:ihe:iti:2010:AssociationType:UpdateAvailabilityStatus")
	a.CreateAttr("id", b.next("as"))
	a.CreateAttr("objectType", "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Association")
	a.CreateAttr("sourceObject", idLot)
	a.CreateAttr("targetObject", entryUUID)
	b.slot(a, "OriginalStatus", StatusApproved)
	b.slot(a, "NewStatus", StatusDeleted)
	return req
}

// Delete is TD3.3c: the establishment deletes its own document, the entry
// entryUUID (found by TD3.1), in a lot sent on its behalf.
func (c *Client) Delete(ctx context.Context, who Who, entryUUID string, lot Lot) (Exchange, error) {
	msgID := NewMessageID()
	req, err := c.Request(TD33c, who, DeleteBody(who.Patient, entryUUID, lot), msgID)
	if err != nil {
		return Exchange{Transaction: TD33c, RequestID: msgID}, err
	}
	body, x, err := c.post(ctx, TD33c, msgID, req)
	if err == nil {
		err = ParseRegistryResponse(body)
	}
	return x, c.traced(&x, err)
}
