// Package xmlq reads SOAP messages by namespace, not by prefix: the web
// services the bridge speaks to write their prefixes as they like.
package xmlq

import (
	"strings"

	"github.com/beevik/etree"
)

// Child is el's first child element named local in namespace ns (nil when
// el is nil or has none).
func Child(el *etree.Element, local, ns string) *etree.Element {
	if el == nil {
		return nil
	}
	for _, c := range el.ChildElements() {
		if c.Tag == local && c.NamespaceURI() == ns {
			return c
		}
	}
	return nil
}

// Text is el's text, trimmed ("" when el is nil).
func Text(el *etree.Element) string {
	if el == nil {
		return ""
	}
	return strings.TrimSpace(el.Text())
}
