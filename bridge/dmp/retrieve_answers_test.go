package dmp

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

const td32Answer = "TD3.2_Consultation-d-un-document_answer.xml"

// mtomAround builds the package the DMP sends around an answer's root
// part: the root, then a part for each include, its Content-ID the
// include's href decoded (the href is URL-encoded, the Content-ID not).
func mtomAround(root []byte, parts map[string][]byte) []byte {
	var b bytes.Buffer
	b.WriteString("--uuid:b\r\nContent-Type: application/xop+xml; charset=UTF-8; type=\"application/soap+xml\"\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <root.message@cxf.apache.org>\r\n\r\n")
	b.Write(root)
	for id, body := range parts {
		b.WriteString("\r\n--uuid:b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <" + id + ">\r\n\r\n")
		b.Write(body)
	}
	b.WriteString("\r\n--uuid:b--\r\n")
	return b.Bytes()
}

// The official TD3.2 answer, in the MTOM package the DMP sends it in (the
// example holds only its root part), gives the document byte for byte;
// variants: a refusal, an include of no part, an empty document, another
// answer.
func TestOfficialRetrieveAnswer(t *testing.T) {
	cda, err := os.ReadFile("testdata/cda/DOC_NON_STRUCTURE_CDA-R2-N1.xml")
	if err != nil {
		t.Fatal(err)
	}
	const part = "b857abb7-a2c3-4db8-bd69-d5ff76826e72-2@urn:ihe:iti:xds-b:2007"
	read := func(pkg []byte) (Retrieved, error) {
		plain, err := UnpackMTOM("", pkg)
		if err != nil {
			return Retrieved{}, err
		}
		env, err := ParseEnvelope(plain)
		if err != nil {
			return Retrieved{}, err
		}
		return ParseRetrieveResponse(env.Body)
	}
	d, err := read(mtomAround(official(t, td32Answer), map[string][]byte{part: cda}))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.Data, cda) || d.UniqueID != "1.2.250.1.999.1.1.7898.1.995657292" || d.MimeType != "text/xml" {
		t.Errorf("%s %s %d bytes", d.UniqueID, d.MimeType, len(d.Data))
	}
	refused := variant(t, td32Answer, func(r *etree.Element) {
		rr := r.SelectElement("RegistryResponse")
		rr.CreateAttr("status", "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure")
		e := rr.CreateElement("ns2:RegistryErrorList").CreateElement("ns2:RegistryError")
		e.CreateAttr("errorCode", "XDSDocumentUniqueIdError")
		e.CreateAttr("codeContext", "document introuvable")
		e.CreateAttr("severity", "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error")
		r.RemoveChild(r.SelectElement("DocumentResponse"))
	})
	var re *RegistryError
	if _, err := read(mtomAround(refused, nil)); !errors.As(err, &re) || re.Code != "XDSDocumentUniqueIdError" {
		t.Errorf("refused: %v", err)
	}
	for name, pkg := range map[string][]byte{
		"an include of no part": mtomAround(official(t, td32Answer), nil),
		"an empty document":     mtomAround(official(t, td32Answer), map[string][]byte{part: nil}),
		"another answer":        mtomAround(variant(t, td32Answer, func(r *etree.Element) { r.Tag = "RetrieveDocumentSetRequest" }), map[string][]byte{part: cda}),
		"no RegistryResponse": mtomAround(variant(t, td32Answer, func(r *etree.Element) { r.RemoveChild(r.SelectElement("RegistryResponse")) }),
			map[string][]byte{part: cda}),
	} {
		if _, err := read(pkg); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if !strings.Contains(string(official(t, td32Answer)), "urn%3Aihe%3Aiti") {
		t.Fatal("the official answer's href is not URL-encoded any more: the test proves nothing")
	}
}
