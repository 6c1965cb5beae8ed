// Package cdabody finds a level-1 CDA's body (nonXMLBody/text: a PDF or
// an image in base64, megabytes of it) in the document's bytes, so that
// the readers of its header, the canonical form's digest and the
// renderer do not put it through an XML tree.
package cdabody

import "bytes"

// View is the CDA as its header's readers need it: a level-1
// document's body (nonXMLBody/text, megabytes of base64) left empty, its
// attributes kept; the rest as it is. Only a plain text content is left
// out (the first markup after the text's start tag is its end tag);
// otherwise, or with prefixed tags, the document is returned whole. The
// CDA schema's check (xmllint) reads the whole document.
func View(b []byte) []byte {
	head, _, tail, ok := Split(b)
	if !ok {
		return b
	}
	out := make([]byte, 0, len(head)+len(tail))
	return append(append(out, head...), tail...)
}

// Split cuts a level-1 CDA around its body's text content: what comes
// before (up to the text's start tag), the content, and the rest (from
// its end tag). ok is false when there is no such body, when it is small
// (under 4 kB) or when its content holds markup.
func Split(b []byte) (head, text, tail []byte, ok bool) {
	body := bytes.Index(b, []byte("<nonXMLBody"))
	if body < 0 {
		return nil, nil, nil, false
	}
	open := bytes.Index(b[body:], []byte("<text"))
	if open < 0 {
		return nil, nil, nil, false
	}
	open += body
	gt := bytes.IndexByte(b[open:], '>')
	if gt < 0 || b[open+gt-1] == '/' || bytes.Count(b[open:open+gt], []byte(`"`))%2 != 0 || bytes.Count(b[open:open+gt], []byte("'"))%2 != 0 {
		return nil, nil, nil, false // no content, or a '>' inside an attribute's value
	}
	start := open + gt + 1
	lt := bytes.IndexByte(b[start:], '<')
	if lt < 4096 || !bytes.HasPrefix(b[start+lt:], []byte("</text>")) {
		return nil, nil, nil, false
	}
	return b[:start], b[start : start+lt], b[start+lt:], true
}
