package dmpsim

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
)

// Revise writes the next version of a CDA document, as a sender of
// corrections does (docs/feeding.md: same setId, versionNumber + 1,
// relatedDocument RPLC naming the replaced id): the document id becomes
// id, the rest is left as it was. For the tests and the demo's sender.
func Revise(cda []byte, id string) ([]byte, error) {
	idRe := regexp.MustCompile(`(<ClinicalDocument[\s\S]*?\n\s*<id root=")([0-9.]+)("\s*/>)`)
	m := idRe.FindSubmatchIndex(cda)
	if m == nil {
		return nil, fmt.Errorf("dmpsim: no document id to revise")
	}
	old := string(cda[m[4]:m[5]])
	out := append(append(append([]byte{}, cda[:m[4]]...), id...), cda[m[5]:]...)
	verRe := regexp.MustCompile(`<versionNumber value="(\d+)"\s*/>`)
	vm := verRe.FindSubmatchIndex(out)
	if vm == nil {
		return nil, fmt.Errorf("dmpsim: no versionNumber to revise")
	}
	n, _ := strconv.Atoi(string(out[vm[2]:vm[3]]))
	out = append(append(append([]byte{}, out[:vm[2]]...), strconv.Itoa(n+1)...), out[vm[3]:]...)
	// relatedDocument comes after documentationOf and before
	// authorization and componentOf (the CDA schema's order).
	at := -1
	for _, tag := range []string{"<relatedDocument", "<authorization", "<componentOf", "<component>"} {
		if i := bytes.Index(out, []byte(tag)); i >= 0 {
			at = i
			break
		}
	}
	if at < 0 {
		return nil, fmt.Errorf("dmpsim: no place for relatedDocument")
	}
	rel := `<relatedDocument typeCode="RPLC"><parentDocument><id root="` + old + `"/></parentDocument></relatedDocument>
  `
	if bytes.HasPrefix(out[at:], []byte("<relatedDocument")) {
		end := bytes.Index(out[at:], []byte("</relatedDocument>"))
		out = append(append(append([]byte{}, out[:at]...), rel...), out[at+end+len("</relatedDocument>"):]...)
	} else {
		out = append(append(append([]byte{}, out[:at]...), rel...), out[at:]...)
	}
	return out, nil
}
