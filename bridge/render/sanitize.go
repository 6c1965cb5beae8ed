package render

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"golang.org/x/net/html"
)

// dropped are elements whose content goes with them: what runs, what
// loads or embeds, what submits.
var dropped = map[string]bool{
	"script": true, "noscript": true, "iframe": true, "frame": true, "frameset": true, "object": true, "embed": true,
	"applet": true, "link": true, "meta": true, "base": true, "form": true, "input": true, "button": true, "textarea": true,
	"select": true, "svg": true, "math": true, "template": true, "audio": true, "video": true, "source": true, "track": true,
	"portal": true,
}

// urlAttrs are attributes that point somewhere: kept only for an anchor
// inside the page (#…) or, for src, an image in the page (data:image/…).
var urlAttrs = map[string]bool{
	"src": true, "href": true, "action": true, "formaction": true, "background": true, "poster": true, "srcset": true,
	"lowsrc": true, "dynsrc": true, "longdesc": true, "usemap": true, "data": true, "cite": true, "xlink:href": true,
	"ping": true, "manifest": true, "codebase": true,
}

var (
	cssURL    = regexp.MustCompile(`(?i)url\s*\([^)]*\)|@import[^;]*;?|expression\s*\(`)
	cssInline = regexp.MustCompile(`(?i)^data:image/(png|jpeg|gif);base64,`)
)

// Sanitize keeps only inert markup of an HTML page: no element that runs,
// loads, embeds or submits, no event handler, no reference out of the page
// (links and images only within it), no style that loads anything. The
// page is parsed as a browser does (HTML5), cleaned, and written again.
func Sanitize(page []byte) ([]byte, error) {
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		return nil, fmt.Errorf("%w: page HTML illisible", ErrUnreadable)
	}
	clean(doc)
	var out bytes.Buffer
	if err := html.Render(&out, doc); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// clean removes what is not inert below n.
func clean(n *html.Node) {
	for c := n.FirstChild; c != nil; {
		next := c.NextSibling
		switch c.Type {
		case html.CommentNode:
			n.RemoveChild(c) // conditional comments run in old engines
		case html.ElementNode:
			if dropped[strings.ToLower(c.Data)] || c.Namespace != "" {
				n.RemoveChild(c)
				break
			}
			kept := c.Attr[:0]
			for _, a := range c.Attr {
				if k, v, ok := keepAttr(a); ok {
					kept = append(kept, html.Attribute{Key: k, Val: v})
				}
			}
			c.Attr = kept
			if strings.ToLower(c.Data) == "style" {
				for t := c.FirstChild; t != nil; t = t.NextSibling {
					if t.Type == html.TextNode {
						t.Data = cssURL.ReplaceAllString(t.Data, "none")
					}
				}
			}
			clean(c)
		}
		c = next
	}
}

// keepAttr says whether an attribute stays, and how.
func keepAttr(a html.Attribute) (string, string, bool) {
	k := strings.ToLower(a.Key)
	if a.Namespace != "" {
		k = strings.ToLower(a.Namespace) + ":" + k
	}
	v := strings.TrimSpace(a.Val)
	switch {
	case strings.HasPrefix(k, "on"), k == "formaction", k == "http-equiv", k == "srcdoc":
		return "", "", false
	case urlAttrs[k]:
		if strings.HasPrefix(v, "#") || k == "src" && cssInline.MatchString(v) {
			return k, v, true
		}
		return "", "", false
	case k == "style":
		return k, cssURL.ReplaceAllString(v, "none"), true
	}
	return k, v, true
}
