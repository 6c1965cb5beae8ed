package dmp

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/beevik/etree"
)

// TD3.2: a document's retrieval (XDS RetrieveDocumentSet, IHE ITI-43) by
// its uniqueId (docs/consultation.md, the package's TD3.2 example), the
// answer MTOM.

// TD32 is TD3.2's transaction name and its SOAP action.
const (
	TD32       = "TD3.2"
	ActionTD32 = "urn:ihe:iti:2007:RetrieveDocumentSet"
)

// RepositoryDMP is the DMP's repository (RepositoryUniqueId), the one
// the package's TD3.1 answer gives every entry.
const RepositoryDMP = "1.2.250.1.213.4.1.1.1.2"

// Retrieved is a document TD3.2 gave: its uniqueId, media type and bytes
// (a CDA for the DMP's documents).
type Retrieved struct {
	UniqueID, MimeType string
	Data               []byte
}

// RetrieveBody is TD3.2's body: one DocumentRequest.
func RetrieveBody(repository, uniqueID string) *etree.Element {
	r := etree.NewElement("xdsb:RetrieveDocumentSetRequest")
	r.CreateAttr("xmlns:xdsb", NSXDS)
	d := r.CreateElement("xdsb:DocumentRequest")
	d.CreateElement("xdsb:RepositoryUniqueId").SetText(repository)
	d.CreateElement("xdsb:DocumentUniqueId").SetText(uniqueID)
	return r
}

// ParseRetrieveResponse reads TD3.2's answer (its MTOM parts put back):
// the document of a Success, the first RegistryError of a failure.
func ParseRetrieveResponse(el *etree.Element) (Retrieved, error) {
	if el == nil || el.Tag != "RetrieveDocumentSetResponse" || el.NamespaceURI() != NSXDS {
		return Retrieved{}, fmt.Errorf("%w: not a RetrieveDocumentSetResponse", ErrMalformed)
	}
	rr := el.SelectElement("RegistryResponse")
	if rr == nil {
		return Retrieved{}, fmt.Errorf("%w: TD3.2 answer without RegistryResponse", ErrMalformed)
	}
	if err := ParseRegistryResponse(rr); err != nil {
		return Retrieved{}, err
	}
	dr := el.SelectElement("DocumentResponse")
	if dr == nil {
		return Retrieved{}, fmt.Errorf("%w: TD3.2 success without a document", ErrMalformed)
	}
	text := func(tag string) string {
		if e := dr.SelectElement(tag); e != nil {
			return strings.TrimSpace(e.Text())
		}
		return ""
	}
	data, err := base64.StdEncoding.DecodeString(text("Document"))
	if err != nil || len(data) == 0 {
		return Retrieved{}, fmt.Errorf("%w: TD3.2 document unreadable or empty", ErrMalformed)
	}
	return Retrieved{UniqueID: text("DocumentUniqueId"), MimeType: text("mimeType"), Data: data}, nil
}

// Retrieve is TD3.2: the document of uniqueID in repository (the entry's
// repositoryUniqueId, RepositoryDMP when empty), read for who. The
// exchange handed to the trace keeps the request and the answer's size,
// not the document: the bridge keeps no health document beyond the
// answer.
func (c *Client) Retrieve(ctx context.Context, who Who, repository, uniqueID string) (Retrieved, Exchange, error) {
	if repository == "" {
		repository = RepositoryDMP
	}
	msgID := NewMessageID()
	req, err := c.Request(TD32, who, RetrieveBody(repository, uniqueID), msgID)
	if err != nil {
		return Retrieved{}, Exchange{Transaction: TD32, RequestID: msgID}, err
	}
	body, x, err := c.post(ctx, TD32, msgID, req)
	var d Retrieved
	if err == nil {
		d, err = ParseRetrieveResponse(body)
	}
	// The answer may hold the document, read or not: never kept.
	x.Response = []byte(fmt.Sprintf("<!-- TD3.2 : réponse de %d octets, non conservée -->", len(x.Response)))
	return d, x, c.traced(&x, err)
}
