package dmp_test

import (
	"bytes"
	"crypto/sha256"
	"os"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"dmpkiosk/bridge/dmp"
)

// The header's readers get the CDA without its level-1 body's base64 and
// nothing else changed; a body that is not plain text, or a small one,
// is left as it is.
func TestHeaderView(t *testing.T) {
	cda, err := os.ReadFile("testdata/cda/DOC_NON_STRUCTURE_CDA-R2-N1.xml")
	if err != nil {
		t.Fatal(err)
	}
	view := dmp.HeaderView(cda)
	if len(cda)-len(view) < 300_000 || !bytes.Contains(view, []byte(`representation="B64"></text>`)) {
		t.Fatalf("the view: %d bytes of %d", len(view), len(cda))
	}
	full, short := etree.NewDocument(), etree.NewDocument()
	if err := full.ReadFromBytes(cda); err != nil {
		t.Fatal(err)
	}
	if err := short.ReadFromBytes(view); err != nil {
		t.Fatal(err)
	}
	full.FindElement("//nonXMLBody/text").SetText("")
	a, _ := full.WriteToString()
	b, _ := short.WriteToString()
	if a != b {
		t.Error("the view differs from the document beyond its body's text")
	}
	h1, err1 := dmp.ReadCDAHeader(cda)
	h2, err2 := dmp.ReadCDAHeader(view)
	if err1 != nil || err2 != nil || h1.UniqueID != h2.UniqueID || h1.MediaType != "application/pdf" || h2.MediaType != h1.MediaType {
		t.Errorf("headers: %+v %v / %+v %v", h1.UniqueID, err1, h2.UniqueID, err2)
	}
	s := string(cda)
	i := strings.Index(s, `representation="B64">`) + len(`representation="B64">`)
	for name, doc := range map[string]string{
		"markup in the text": s[:i] + "<reference value=\"x\"/>" + s[i:],
		"a small body":       s[:i] + "QUJD" + s[strings.Index(s, "</text>"):],
	} {
		if got := dmp.HeaderView([]byte(doc)); string(got) != doc {
			t.Errorf("%s: the view changed the document", name)
		}
	}
}

// The digest of the canonical form taken without putting a big body
// through the tree is the digest of the whole canonical form: on ANS's
// golden document, with its base64 broken in CRLF lines, with characters
// the canonical form escapes (read whole), with a '>' in an attribute of
// the text's start tag (read whole).
func TestCanonicalDigest(t *testing.T) {
	cda, err := os.ReadFile("testdata/cda/DOC_NON_STRUCTURE_CDA-R2-N1.xml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(cda)
	i := strings.Index(s, `representation="B64">`) + len(`representation="B64">`)
	j := strings.Index(s, "</text>")
	var lines []string
	for k := i; k < j; k += 76 {
		lines = append(lines, s[k:min(k+76, j)])
	}
	for name, doc := range map[string]string{
		"golden":                 s,
		"CRLF lines":             s[:i] + "\r\n" + strings.Join(lines, "\r\n") + "\r\n" + s[j:],
		"escaped characters":     s[:i] + s[i:i+5000] + "&amp;&gt;" + s[i+5000:],
		"'>' in an attribute":    strings.Replace(s, `representation="B64">`, `representation="B64" ID="a>b">`, 1),
		"a lone CR in the lines": s[:i] + strings.Join(lines, "\r") + s[j:],
	} {
		c, err := dmp.CanonicalDocument([]byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := dmp.CanonicalDigest([]byte(doc))
		if err != nil || got != sha256.Sum256(c) {
			t.Errorf("%s: the digest is not the canonical form's (%v)", name, err)
		}
		if name == "'>' in an attribute" && string(dmp.HeaderView([]byte(doc))) != doc {
			t.Errorf("%s: cut inside the start tag", name)
		}
	}
}
