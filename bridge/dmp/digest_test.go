package dmp_test

import (
	"crypto/sha256"
	"os"
	"strings"
	"testing"

	"dmpkiosk/bridge/dmp"
	"dmpkiosk/bridge/internal/cdabody"
)

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
		if name == "'>' in an attribute" && string(cdabody.View([]byte(doc))) != doc {
			t.Errorf("%s: cut inside the start tag", name)
		}
	}
}
