package dmp

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"net/url"
	"strings"

	"github.com/beevik/etree"
)

// MTOM/XOP (W3C): a SOAP message whose binary content travels as MIME
// parts of a multipart/related package, each replaced in the XML by an
// xop:Include naming its Content-ID. TD2.1 sends its documents so.

// NSXOP is XOP's namespace.
const NSXOP = "http://www.w3.org/2004/08/xop/include"

// Part is one binary part of an MTOM package.
type Part struct {
	ID          string // its Content-ID, without the angle brackets
	ContentType string
	Body        []byte
}

// PackMTOMAsTheDMP writes doc (a SOAP envelope) as an MTOM package, as
// the DMP does: every element of tag in namespace ns whose text is base64
// becomes an xop:Include of a part holding the decoded bytes, the part
// ids <n>-<uuid>@urn:ihe:iti:xds-b:2007 and each include's href
// URL-encoded while the part's Content-ID is not (docs/consultation.md: a
// client seen live reports it). It returns the package and its
// Content-Type: what the simulator answers.
func PackMTOMAsTheDMP(doc *etree.Document, ns, tag, action string) ([]byte, string, error) {
	u := strings.TrimPrefix(NewMessageID(), "urn:uuid:")
	return packMTOM(doc, ns, tag, action, func(n int) string { return fmt.Sprintf("%s-%d@urn:ihe:iti:xds-b:2007", u, n+1) },
		func(id string) string { return strings.ReplaceAll(id, ":", "%3A") })
}

func packMTOM(doc *etree.Document, ns, tag, action string, idOf func(n int) string, hrefOf func(id string) string) ([]byte, string, error) {
	var parts []Part
	for _, el := range doc.FindElements("//" + tag) {
		if el.NamespaceURI() != ns {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(el.Text()))
		if err != nil {
			return nil, "", fmt.Errorf("dmp: MTOM: %s is not base64: %w", tag, err)
		}
		el.SetText("")
		parts = append(parts, include(el, idOf(len(parts)+1), hrefOf, b))
	}
	return writeMTOM(doc, parts, action)
}

// include makes el an xop:Include of a part holding body.
func include(el *etree.Element, id string, hrefOf func(id string) string, body []byte) Part {
	inc := el.CreateElement("xop:Include")
	inc.CreateAttr("xmlns:xop", NSXOP)
	inc.CreateAttr("href", "cid:"+hrefOf(id))
	return Part{ID: id, ContentType: "text/xml", Body: body}
}

// writeMTOM writes doc, whose includes name parts, and the parts as an
// MTOM package.
func writeMTOM(doc *etree.Document, parts []Part, action string) ([]byte, string, error) {
	doc.WriteSettings.CanonicalEndTags = true
	root, err := doc.WriteToBytes()
	if err != nil {
		return nil, "", err
	}
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Type", `application/xop+xml; charset=UTF-8; type="application/soap+xml"; action="`+action+`"`)
	h.Set("Content-Transfer-Encoding", "binary")
	h["Content-ID"] = []string{"<root@dmpkiosk>"}
	pw, err := w.CreatePart(h)
	if err != nil {
		return nil, "", err
	}
	pw.Write(root)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", p.ContentType)
		h.Set("Content-Transfer-Encoding", "binary")
		h["Content-ID"] = []string{"<" + p.ID + ">"}
		pw, err := w.CreatePart(h)
		if err != nil {
			return nil, "", err
		}
		pw.Write(p.Body)
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	ct := `multipart/related; type="application/xop+xml"; boundary="` + w.Boundary() +
		`"; start="<root@dmpkiosk>"; start-info="application/soap+xml"; action="` + action + `"`
	return buf.Bytes(), ct, nil
}

// UnpackMTOM reads an MTOM package (contentType its Content-Type): the
// root part with every xop:Include replaced by its part's bytes in
// base64, as the schemas have them. A message that is not multipart is
// returned as it is. It reads the bytes of each part, whatever their
// encoding (a fault may come multipart too).
func UnpackMTOM(contentType string, body []byte) ([]byte, error) {
	root, parts, err := splitMTOM(contentType, body)
	if err != nil || parts == nil {
		return root, err
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(root); err != nil {
		return nil, fmt.Errorf("%w: MTOM root: %v", ErrMalformed, err)
	}
	if err := inlineXOP(doc.Root(), parts); err != nil {
		return nil, err
	}
	return doc.WriteToBytes()
}

// splitMTOM reads an MTOM package's parts: its root (the message itself
// when not multipart, parts nil) and the others by Content-ID.
func splitMTOM(contentType string, body []byte) (root []byte, parts map[string][]byte, _ error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		// No header to go by: a body that opens with a boundary is still
		// a package.
		if !bytes.HasPrefix(body, []byte("--")) {
			return body, nil, nil
		}
		line, _, _ := bytes.Cut(body, []byte("\n"))
		params = map[string]string{"boundary": strings.TrimSpace(strings.TrimPrefix(string(line), "--"))}
	}
	r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	parts = map[string][]byte{}
	for i := 0; ; i++ {
		p, err := r.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%w: MTOM: %v", ErrMalformed, err)
		}
		b, err := io.ReadAll(io.LimitReader(p, MaxDocumentAnswer))
		if err != nil {
			return nil, nil, fmt.Errorf("%w: MTOM: %v", ErrMalformed, err)
		}
		id := strings.Trim(p.Header.Get("Content-ID"), "<> ")
		if i == 0 || id == strings.Trim(params["start"], "<> ") {
			root = b
			continue
		}
		parts[id] = b
	}
	if root == nil {
		return nil, nil, fmt.Errorf("%w: MTOM: no root part", ErrMalformed)
	}
	return root, parts, nil
}

// inlineXOP puts each part back in place of its xop:Include under el, as
// base64 text, in the parsed tree: a document of megabytes is neither
// escaped into XML nor parsed again.
func inlineXOP(el *etree.Element, parts map[string][]byte) error {
	for _, inc := range el.FindElements("//Include") {
		if inc.NamespaceURI() != NSXOP {
			continue
		}
		// The href may be URL-encoded, the Content-ID not (RFC 2392).
		id := strings.TrimPrefix(inc.SelectAttrValue("href", ""), "cid:")
		if u, err := url.PathUnescape(id); err == nil {
			id = u
		}
		b, ok := parts[id]
		if !ok {
			return fmt.Errorf("%w: MTOM: no part %q", ErrMalformed, id)
		}
		parent := inc.Parent()
		parent.RemoveChild(inc)
		parent.SetText(base64.StdEncoding.EncodeToString(b))
	}
	return nil
}
