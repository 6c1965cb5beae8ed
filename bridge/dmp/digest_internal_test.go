package dmp

import (
	"os"
	"strings"
	"testing"
)

// The body is hashed apart when it is plain base64 (CRLF lines too), and
// the document put through the tree whole otherwise: TestCanonicalDigest
// checks both give the canonical form's digest.
func TestCanonicalDigestTakesTheBodyApart(t *testing.T) {
	cda, err := os.ReadFile("testdata/cda/DOC_NON_STRUCTURE_CDA-R2-N1.xml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(cda)
	i := strings.Index(s, `representation="B64">`) + len(`representation="B64">`)
	for doc, apart := range map[string]bool{
		s:                      true,
		s[:i] + "\r\n" + s[i:]: true,
		s[:i] + s[i:i+5000] + "&amp;" + s[i+5000:]:       false,
		s[:i] + s[i:i+5000] + "é" + s[i+5000:]:           false,
		s[:i] + "QUJD" + s[strings.Index(s, "</text>"):]: false,
	} {
		if _, got, err := canonicalDigest([]byte(doc)); err != nil || got != apart {
			t.Errorf("apart %v, want %v (%v)", got, apart, err)
		}
	}
}
