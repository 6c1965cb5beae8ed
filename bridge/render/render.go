// Package render turns a document of the DMP (a CDA, as TD3.2 gives it)
// into inert content for the bedside tablet: a PDF (a level-1 document's
// body, or a structured document's PDF copy section, which comes first)
// as page images (poppler's pdftoppm), an image as a PNG, text as text,
// a structured CDA as HTML by HL7's CDA.xsl (xsltproc, scripts off,
// external images and PDFs refused, French labels; never the document's
// own stylesheet) with nothing but inert markup kept. The first page is
// given before the others are rendered. Nothing is written to disk: the
// tools read the document on their standard input and write on their
// standard output (docs/consultation.md, "Showing a document safely").
//
// It knows nothing of the DMP's transactions nor of the kiosks.
package render

import (
	"bytes"
	"context"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // the images a level-1 document may carry
	"image/png"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/beevik/etree"

	"dmpkiosk/bridge/internal/cdabody"

	"dmpkiosk/bridge/internal/xsd"
)

// Kinds of page.
const (
	PNG  = "image/png"
	HTML = "text/html"
	Text = "text/plain"
)

// Page is one piece of the rendered document: page N of Of (1 of 1 for
// HTML and text), its media type and bytes.
type Page struct {
	N, Of int
	Type  string
	Data  []byte
}

// Errors of a document that cannot be shown.
var (
	// ErrUnreadable: not a CDA, or its body cannot be read.
	ErrUnreadable = errors.New("render: document illisible")
	// ErrUnsupported: a body of a type the tablet does not show.
	ErrUnsupported = errors.New("render: format non affichable sur la tablette")
	// ErrTooLong: more pages than the tablet is given.
	ErrTooLong = errors.New("render: document trop long pour la tablette")
	// ErrUnsafe: the document carries script (CDA.xsl's own check).
	ErrUnsafe = errors.New("render: document refusé, il contient du code actif")
)

// Renderer renders documents. The zero value works: 110 dpi (a tablet
// page's width), 200 pages at most, 30 s a tool's run.
type Renderer struct {
	DPI      int
	MaxPages int
	Timeout  time.Duration
}

func (r *Renderer) defaults() (dpi, max int, timeout time.Duration) {
	dpi, max, timeout = r.DPI, r.MaxPages, r.Timeout
	if dpi == 0 {
		dpi = 110
	}
	if max == 0 {
		max = 200
	}
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	return
}

const nsCDA = "urn:hl7-org:v3"

// pdfCopySection is the CI-SIS section FR-Document-PDF-copie: a
// structured document's PDF copy, shown first.
const pdfCopySection = "1.2.250.1.213.1.1.2.243"

// Document renders cda, calling emit for each page in order (the first as
// soon as it is rendered); it stops at emit's first error.
func (r *Renderer) Document(ctx context.Context, cda []byte, emit func(Page) error) error {
	// A level-1 body of plain base64 is taken from the bytes, the rest
	// read as XML without it: megabytes are not put through the tree.
	if head, raw, tail, ok := cdabody.Split(cda); ok && bytes.IndexByte(raw, '&') < 0 {
		root, err := rootOf(append(append(make([]byte, 0, len(head)+len(tail)), head...), tail...))
		if err != nil {
			return err
		}
		if body := root.FindElement("./component/nonXMLBody/text"); body != nil && body.SelectAttrValue("representation", "TXT") == "B64" {
			return r.embedded(ctx, body.SelectAttrValue("mediaType", "text/plain"), "B64", raw, emit)
		}
	}
	root, err := rootOf(cda)
	if err != nil {
		return err
	}
	if body := root.FindElement("./component/nonXMLBody/text"); body != nil {
		return r.embeddedIn(ctx, body, emit)
	}
	for _, sec := range root.FindElements("./component/structuredBody/component/section") {
		for _, t := range sec.SelectElements("templateId") {
			if t.SelectAttrValue("root", "") != pdfCopySection {
				continue
			}
			for _, v := range sec.FindElements(".//*[@mediaType='application/pdf']") {
				return r.embeddedIn(ctx, v, emit)
			}
		}
	}
	if root.FindElement("./component/structuredBody") == nil {
		return fmt.Errorf("%w: ni corps structuré ni corps non structuré", ErrUnreadable)
	}
	html, err := r.structured(ctx, cda)
	if err != nil {
		return err
	}
	return emit(Page{N: 1, Of: 1, Type: HTML, Data: html})
}

// rootOf reads a CDA's root element.
func rootOf(cda []byte) (*etree.Element, error) {
	doc := etree.NewDocument()
	doc.ReadSettings.Permissive = false
	if err := doc.ReadFromBytes(cda); err != nil {
		return nil, fmt.Errorf("%w: ce n'est pas du XML", ErrUnreadable)
	}
	root := doc.Root()
	if root == nil || root.Tag != "ClinicalDocument" || root.NamespaceURI() != nsCDA {
		return nil, fmt.Errorf("%w: ce n'est pas un document CDA", ErrUnreadable)
	}
	return root, nil
}

// embeddedIn renders the body element e carries.
func (r *Renderer) embeddedIn(ctx context.Context, e *etree.Element, emit func(Page) error) error {
	return r.embedded(ctx, e.SelectAttrValue("mediaType", "text/plain"), e.SelectAttrValue("representation", "TXT"), []byte(e.Text()), emit)
}

// embedded renders a body carried in the document (B64 or text): a PDF as
// pages, an image as a PNG, text as text.
func (r *Renderer) embedded(ctx context.Context, media, representation string, content []byte, emit func(Page) error) error {
	data := content
	if representation == "B64" {
		// Line breaks and spaces left out.
		clean := bytes.Map(func(r rune) rune {
			if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
				return -1
			}
			return r
		}, content)
		b := make([]byte, base64.StdEncoding.DecodedLen(len(clean)))
		n, err := base64.StdEncoding.Decode(b, clean)
		if err != nil {
			return fmt.Errorf("%w: contenu base64 illisible", ErrUnreadable)
		}
		data = b[:n]
	}
	if len(data) == 0 {
		return fmt.Errorf("%w: document vide", ErrUnreadable)
	}
	switch media {
	case "application/pdf":
		return r.pdf(ctx, data, emit)
	case "image/jpeg", "image/png":
		img, _, err := image.Decode(bytes.NewReader(data))
		if err != nil {
			return fmt.Errorf("%w: image illisible", ErrUnreadable)
		}
		// Re-encoded: only its pixels reach the tablet.
		var out bytes.Buffer
		if err := png.Encode(&out, img); err != nil {
			return err
		}
		return emit(Page{N: 1, Of: 1, Type: PNG, Data: out.Bytes()})
	case "text/plain":
		if !utf8.Valid(data) {
			return fmt.Errorf("%w: texte dans un autre codage que UTF-8", ErrUnreadable)
		}
		return emit(Page{N: 1, Of: 1, Type: Text, Data: data})
	}
	return fmt.Errorf("%w (%s)", ErrUnsupported, media)
}

// pdf renders a PDF's pages one at a time, the first while the count of
// the pages is asked.
func (r *Renderer) pdf(ctx context.Context, pdf []byte, emit func(Page) error) error {
	dpi, max, timeout := r.defaults()
	page := func(n int) ([]byte, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return run(ctx, pdf, "pdftoppm", "-png", "-r", strconv.Itoa(dpi), "-f", strconv.Itoa(n), "-l", strconv.Itoa(n), "-singlefile", "-")
	}
	// The page count (pdfinfo) is asked while the first page renders.
	type result struct {
		out []byte
		err error
	}
	counted := make(chan result, 1)
	go func() {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		out, err := run(cctx, pdf, "pdfinfo", "-")
		counted <- result{out, err}
	}()
	first, err := page(1)
	c := <-counted
	if err != nil || len(first) == 0 {
		return fmt.Errorf("%w: PDF illisible", ErrUnreadable)
	}
	info, err := c.out, c.err
	if err != nil {
		return fmt.Errorf("%w: PDF illisible", ErrUnreadable)
	}
	n := 0
	for _, l := range strings.Split(string(info), "\n") {
		if v, ok := strings.CutPrefix(l, "Pages:"); ok {
			n, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	if n < 1 {
		return fmt.Errorf("%w: PDF sans page", ErrUnreadable)
	}
	if n > max {
		return fmt.Errorf("%w (%d pages, %d au plus)", ErrTooLong, n, max)
	}
	if err := emit(Page{N: 1, Of: n, Type: PNG, Data: first}); err != nil {
		return err
	}
	for i := 2; i <= n; i++ {
		b, err := page(i)
		if err != nil || len(b) == 0 {
			return fmt.Errorf("%w: page %d du PDF illisible", ErrUnreadable, i)
		}
		if err := emit(Page{N: i, Of: n, Type: PNG, Data: b}); err != nil {
			return err
		}
	}
	return nil
}

// run runs a tool with in on its standard input and returns its output.
func run(ctx context.Context, in []byte, name string, args ...string) ([]byte, error) {
	out, _, err := runErr(ctx, in, name, args...)
	return out, err
}

// runErr is run, with what the tool wrote on its standard error.
func runErr(ctx context.Context, in []byte, name string, args ...string) ([]byte, []byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = bytes.NewReader(in)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, stderr.Bytes(), ctx.Err()
		}
		return nil, stderr.Bytes(), fmt.Errorf("%s: %w", name, err)
	}
	return out.Bytes(), stderr.Bytes(), nil
}

//go:embed cdaxsl/*.xsl cdaxsl/*.xml
var xslFS embed.FS

var (
	xslOnce sync.Once
	xslPath string
	xslErr  error
)

// structured renders a structured CDA with HL7's CDA.xsl, then keeps only
// inert markup (Sanitize).
func (r *Renderer) structured(ctx context.Context, cda []byte) ([]byte, error) {
	xslOnce.Do(func() {
		dir, err := xsd.Cache(xslFS, "cdaxsl", "cda-xsl", 1, nil)
		xslPath, xslErr = filepath.Join(dir, "CDA.xsl"), err
	})
	if xslErr != nil {
		return nil, xslErr
	}
	_, _, timeout := r.defaults()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, stderr, err := runErr(ctx, cda, "xsltproc", "--nonet", "--nowrite", "--nomkdir",
		"--stringparam", "useJavascript", "false", "--stringparam", "limit-external-images", "yes",
		"--stringparam", "limit-pdf", "yes", "--stringparam", "external-image-whitelist", "",
		"--stringparam", "textLang", "fr-FR", xslPath, "-")
	switch {
	case err != nil && bytes.Contains(stderr, []byte("injection Javascript")):
		// The stylesheet found script in the document and stopped.
		return nil, ErrUnsafe
	case err != nil:
		return nil, fmt.Errorf("%w: mise en page impossible", ErrUnreadable)
	}
	return Sanitize(out)
}
