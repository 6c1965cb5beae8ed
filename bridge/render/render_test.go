package render

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"dmpkiosk/hwtest"
)

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// withBody is the golden level-1 document with another body.
func withBody(t *testing.T, media, repr, body string) []byte {
	g := read(t, "DOC_NON_STRUCTURE_CDA-R2-N1.xml")
	re := regexp.MustCompile(`(?s)<text mediaType="application/pdf" representation="B64">.*?</text>`)
	if !re.MatchString(g) {
		t.Fatal("no body in the golden document")
	}
	return []byte(re.ReplaceAllLiteralString(g, `<text mediaType="`+media+`" representation="`+repr+`">`+body+`</text>`))
}

func goldenPDF(t *testing.T) string {
	m := regexp.MustCompile(`(?s)representation="B64">(.*?)</text>`).FindStringSubmatch(read(t, "DOC_NON_STRUCTURE_CDA-R2-N1.xml"))
	return m[1]
}

func collect(t *testing.T, r *Renderer, cda []byte) ([]Page, error) {
	t.Helper()
	var pages []Page
	err := r.Document(context.Background(), cda, func(p Page) error { pages = append(pages, p); return nil })
	return pages, err
}

// ANS's golden level-1 document: its PDF's two pages as PNG images, in
// order, the first handed over before the second is rendered (a screen
// that stops after it stops the rendering).
func TestPDFPages(t *testing.T) {
	hwtest.LookPath(t, "pdftoppm", "poppler-utils")
	r := &Renderer{}
	pages, err := collect(t, r, []byte(read(t, "DOC_NON_STRUCTURE_CDA-R2-N1.xml")))
	if err != nil || len(pages) != 2 {
		t.Fatalf("%d pages, %v", len(pages), err)
	}
	for i, p := range pages {
		img, err := png.Decode(bytes.NewReader(p.Data))
		if err != nil || p.N != i+1 || p.Of != 2 || p.Type != PNG || img.Bounds().Dx() < 800 {
			t.Errorf("page %d: %+v %v", i+1, p.Type, err)
		}
	}
	stop := errors.New("the screen has what it needs")
	n := 0
	err = r.Document(context.Background(), []byte(read(t, "DOC_NON_STRUCTURE_CDA-R2-N1.xml")), func(p Page) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("stopped after the first page: %d pages, %v", n, err)
	}
	if _, err := collect(t, &Renderer{MaxPages: 1}, []byte(read(t, "DOC_NON_STRUCTURE_CDA-R2-N1.xml"))); !errors.Is(err, ErrTooLong) {
		t.Errorf("a document longer than allowed: %v", err)
	}
}

// The other bodies of a level-1 document: an image re-encoded as a PNG,
// UTF-8 text as text; RTF is not shown, and what cannot be read says so.
func TestOtherBodies(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	img.Set(3, 4, color.RGBA{200, 10, 10, 255})
	var jb bytes.Buffer
	jpeg.Encode(&jb, img, nil)
	r := &Renderer{}
	pages, err := collect(t, r, withBody(t, "image/jpeg", "B64", base64.StdEncoding.EncodeToString(jb.Bytes())))
	if err != nil || len(pages) != 1 || pages[0].Type != PNG {
		t.Fatalf("an image: %+v %v", pages, err)
	}
	if got, err := png.Decode(bytes.NewReader(pages[0].Data)); err != nil || got.Bounds() != img.Bounds() {
		t.Errorf("the image: %v", err)
	}
	text := "Compte rendu : RAS. Épreuve d'effort normale."
	pages, err = collect(t, r, withBody(t, "text/plain", "B64", base64.StdEncoding.EncodeToString([]byte(text))))
	if err != nil || len(pages) != 1 || pages[0].Type != Text || string(pages[0].Data) != text {
		t.Errorf("text: %+v %v", pages, err)
	}
	// Big bodies (read from the bytes, not the tree): base64 in CRLF lines,
	// and a text body (TXT) whose entities only the XML reader resolves.
	long := strings.Repeat("Épreuve d'effort normale. ", 400)
	var lines []string
	for b64 := base64.StdEncoding.EncodeToString([]byte(long)); len(b64) > 0; b64 = b64[min(76, len(b64)):] {
		lines = append(lines, b64[:min(76, len(b64))])
	}
	for name, c := range map[string]struct {
		cda  []byte
		want string
	}{
		"base64 in CRLF lines": {withBody(t, "text/plain", "B64", "\r\n"+strings.Join(lines, "\r\n")+"\r\n"), long},
		"text with entities":   {withBody(t, "text/plain", "TXT", strings.Repeat("R &amp; D ", 600)), strings.Repeat("R & D ", 600)},
		"base64 and an entity": {withBody(t, "text/plain", "B64", strings.Join(lines, "&#10;")), long},
	} {
		if pages, err := collect(t, r, c.cda); err != nil || len(pages) != 1 || string(pages[0].Data) != c.want {
			t.Errorf("%s: %d pages, %v", name, len(pages), err)
		}
	}
	for name, c := range map[string]struct {
		cda  []byte
		want error
	}{
		"RTF":           {withBody(t, "text/rtf", "B64", base64.StdEncoding.EncodeToString([]byte(`{\rtf1 RAS}`))), ErrUnsupported},
		"bad base64":    {withBody(t, "application/pdf", "B64", "@@@"), ErrUnreadable},
		"not a PDF":     {withBody(t, "application/pdf", "B64", base64.StdEncoding.EncodeToString([]byte("%PDF-1.4 no"))), ErrUnreadable},
		"not an image":  {withBody(t, "image/png", "B64", base64.StdEncoding.EncodeToString([]byte("PNG?"))), ErrUnreadable},
		"Latin-1 text":  {withBody(t, "text/plain", "B64", base64.StdEncoding.EncodeToString([]byte("\xe9t\xe9"))), ErrUnreadable},
		"not XML":       {[]byte("%PDF-1.4"), ErrUnreadable},
		"not a CDA":     {[]byte(`<html xmlns="http://www.w3.org/1999/xhtml"/>`), ErrUnreadable},
		"an empty body": {withBody(t, "application/pdf", "B64", ""), ErrUnreadable},
	} {
		if _, err := collect(t, r, c.cda); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}

// A structured document with a PDF copy section (FR-Document-PDF-copie)
// is shown as that PDF, first.
func TestPDFCopyFirst(t *testing.T) {
	hwtest.LookPath(t, "pdftoppm", "poppler-utils")
	l := read(t, "LDL-SES_2022.01.xml")
	section := `<component><section><templateId root="1.2.250.1.213.1.1.2.243"/><code code="55108-5" codeSystem="2.16.840.1.113883.6.1"/>` +
		`<title>Document PDF copie</title><text><renderMultiMedia referencedObject="pdf1"/></text>` +
		`<entry><observationMedia classCode="OBS" moodCode="EVN" ID="pdf1"><value mediaType="application/pdf" representation="B64">` +
		goldenPDF(t) + `</value></observationMedia></entry></section></component>`
	cda := strings.Replace(l, "<structuredBody>", "<structuredBody>"+section, 1)
	pages, err := collect(t, &Renderer{}, []byte(cda))
	if err != nil || len(pages) != 2 || pages[0].Type != PNG {
		t.Fatalf("%d pages, %v", len(pages), err)
	}
}

// A structured document becomes HTML by HL7's stylesheet with French
// labels, and nothing in it runs or loads: no script, no handler, no
// reference out of the page — even from a document written to do so (its
// own stylesheet, links and images elsewhere, script in the narrative).
// Headless Chromium shows it under the tablet's policy with no request
// leaving the page.
func TestStructuredDocumentAsInertHTML(t *testing.T) {
	hwtest.LookPath(t, "xsltproc", "xsltproc")
	l := read(t, "LDL-SES_2022.01.xml")
	hostile := strings.Replace(l, `<?xml version="1.0" encoding="UTF-8"?>`,
		`<?xml version="1.0" encoding="UTF-8"?><?xml-stylesheet type="text/xsl" href="http://evil.example/steal.xsl"?>`, 1)
	hostile = strings.Replace(hostile, `<content ID="statutDoc">En cours</content>`,
		`<content ID="statutDoc">En cours</content><linkHtml href="http://evil.example/x">b</linkHtml>`+
			`<renderMultiMedia referencedObject="img1"/>`, 1)
	hostile = strings.Replace(hostile, "<structuredBody>", `<structuredBody><component><section><title>Images</title><text>vue</text>`+
		`<entry><observationMedia classCode="OBS" moodCode="EVN" ID="img1"><value mediaType="image/png"><reference value="http://evil.example/i.png"/></value>`+
		`</observationMedia></entry></section></component>`, 1)
	if hostile == l {
		t.Fatal("the hostile variant did not change the document")
	}
	r := &Renderer{}
	for name, doc := range map[string]string{"ANS's lettre de liaison": l, "a hostile variant": hostile} {
		pages, err := collect(t, r, []byte(doc))
		if err != nil || len(pages) != 1 || pages[0].Type != HTML {
			t.Fatalf("%s: %+v %v", name, pages, err)
		}
		page := string(pages[0].Data)
		for _, want := range []string{"Patient", "Auteur", "Date de naissance", "Statut du document", "En cours"} {
			if !strings.Contains(page, want) {
				t.Errorf("%s: no %q", name, want)
			}
		}
		lower := strings.ToLower(page)
		// (The stylesheet names an address it refused in a warning, as
		// text: what matters is that nothing refers to it.)
		for _, bad := range []string{"<script", "javascript:", " onload=", " onclick=", "<iframe", "<object", "@import"} {
			if strings.Contains(lower, bad) {
				t.Errorf("%s: the page holds %q", name, bad)
			}
		}
		for _, m := range regexp.MustCompile(`(?i)\s([a-z:-]+)="([^"]*)"`).FindAllStringSubmatch(page, -1) {
			ref := m[1] == "src" || m[1] == "href" || strings.Contains(m[2], "://")
			if ref && !strings.HasPrefix(m[1], "xmlns") && !strings.HasPrefix(m[2], "#") && !strings.HasPrefix(m[2], "data:image/") &&
				m[1] != "title" {
				t.Errorf("%s: a reference out of the page: %s", name, m[0])
			}
		}
		inChromium(t, pages[0].Data)
	}
	// Script in the narrative: HL7's stylesheet stops, the document is
	// refused as carrying active code.
	script := strings.Replace(l, `<content ID="statutDoc">En cours</content>`,
		`<content ID="statutDoc">En cours</content><linkHtml href="javascript:alert(1)">a</linkHtml>`, 1)
	if _, err := collect(t, r, []byte(script)); !errors.Is(err, ErrUnsafe) {
		t.Errorf("a javascript: link: %v", err)
	}
}

// inChromium loads page under the tablet's policy (no script, no
// network; inline styles and images in the page only) and fails on any
// request other than the page's own.
func inChromium(t *testing.T, page []byte) {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	}))
	defer hs.Close()
	ctx := hwtest.Browser(t, 800, 1200, 60*time.Second)
	var mu sync.Mutex
	var requests []string
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			requests = append(requests, e.Request.URL)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(hs.URL+"/doc")); err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "Statut du document") {
		t.Errorf("the page shows nothing of the document: %.200s", text)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, u := range requests {
		if u != hs.URL+"/doc" {
			t.Errorf("a request left the page: %s", u)
		}
	}
}

// Sanitize, alone: what runs, loads, embeds or submits goes; text,
// anchors within the page, inline images and styles that load nothing
// stay.
func TestSanitize(t *testing.T) {
	in := `<!DOCTYPE html><html><head><meta http-equiv="refresh" content="0;url=http://x"><link rel="stylesheet" href="http://x/s.css">` +
		`<style>body{background:url(http://x/b.png)} @import "http://x/i.css"; p{color:red}</style><script>alert(1)</script></head>` +
		`<body onload="alert(2)"><p style="background-image:url('http://x/p.png');color:blue">Texte <a href="#s1">ancre</a> ` +
		`<a href="http://x">dehors</a></p><img src="http://x/t.png"><img src="data:image/png;base64,iVBORw0KGgo="><iframe src="http://x"></iframe>` +
		`<svg><script>alert(3)</script></svg><form action="http://x"><input name="q"></form><!--[if IE]><script>alert(4)</script><![endif]-->` +
		`<table><tr><td>cellule</td></tr></table></body></html>`
	out, err := Sanitize([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, bad := range []string{"http://x", "alert", "<script", "onload", "<iframe", "<svg", "<form", "<input", "<meta", "<link", "@import"} {
		if strings.Contains(s, bad) {
			t.Errorf("kept %q: %s", bad, s)
		}
	}
	for _, good := range []string{"Texte", `href="#s1"`, "data:image/png;base64", "color:blue", "p{color:red}", "cellule", "dehors"} {
		if !strings.Contains(s, good) {
			t.Errorf("lost %q: %s", good, s)
		}
	}
}
