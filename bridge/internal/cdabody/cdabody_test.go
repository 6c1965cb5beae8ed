package cdabody_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"dmpkiosk/bridge/dmp"
	"dmpkiosk/bridge/internal/cdabody"
)

// The header's readers get the CDA without its level-1 body's base64 and
// nothing else changed; a body that is not plain text, or a small one,
// is left as it is.
func TestView(t *testing.T) {
	cda, err := os.ReadFile("../../dmp/testdata/cda/DOC_NON_STRUCTURE_CDA-R2-N1.xml")
	if err != nil {
		t.Fatal(err)
	}
	view := cdabody.View(cda)
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
		if got := cdabody.View([]byte(doc)); string(got) != doc {
			t.Errorf("%s: the view changed the document", name)
		}
	}
}
