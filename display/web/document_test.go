package web

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"dmpkiosk/display"
	"dmpkiosk/display/input"
)

// The tablet shows a DMP document: its first page as soon as it is given,
// the next one after, pages turned and zoomed on the page; a structured
// document's HTML in a sandboxed frame served under a policy that lets
// nothing run nor load; once cleared, nothing of it is served and its
// bytes are wiped.
func TestDocumentViewer(t *testing.T) {
	srv := New(make(chan input.Event, 8), nil)
	r, err := display.NewRenderer(false)
	if err != nil {
		t.Fatal(err)
	}
	disp := display.New(r, srv)
	if err := disp.Show(display.DMPDocument(display.Status{Online: true}, "Lettre de liaison", 1, 3)); err != nil {
		t.Fatal(err)
	}
	pagePNG := func(c color.Color) []byte {
		img := image.NewRGBA(image.Rect(0, 0, 120, 170))
		for x := 0; x < 120; x++ {
			for y := 0; y < 170; y++ {
				img.Set(x, y, c)
			}
		}
		var b bytes.Buffer
		png.Encode(&b, img)
		return b.Bytes()
	}
	html := []byte(`<!DOCTYPE html><html><body><h1>Compte rendu</h1><p id="t">Texte du compte rendu</p></body></html>`)
	doc := display.Document{Title: "Lettre de liaison", Pages: []display.Page{{N: 1, Of: 3, Type: "image/png", Data: pagePNG(color.White)}}}
	disp.ShowDocument(doc)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	ctx := browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(hs.URL)); err != nil {
		t.Fatal(err)
	}
	poll := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Poll[string](js, chromedp.WithPollingTimeout(10*time.Second)))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	if got := poll(`(() => { const i = document.querySelector("#page img"); return i && i.naturalWidth === 120 ? document.getElementById("pageno").textContent : false })()`); got != "Page 1 / 3" {
		t.Errorf("the first page: %q", got)
	}
	// The next pages come; the professional turns to the third.
	doc.Pages = append(doc.Pages, display.Page{N: 2, Of: 3, Type: "image/png", Data: pagePNG(color.Black)},
		display.Page{N: 3, Of: 3, Type: "text/html", Data: html})
	disp.ShowDocument(doc)
	poll(`(() => { const b = document.getElementById("next"); return document.querySelector("#page img") ? (b.click(), b.click(), "x") : false })()`)
	if got := poll(`(() => { const f = document.querySelector("#page iframe"); return f && f.getAttribute("sandbox") === "" ? document.getElementById("pageno").textContent : false })()`); got != "Page 3 / 3" {
		t.Errorf("the structured page: %q", got)
	}
	resp, err := http.Get(hs.URL + "/document/page?n=3")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "sandbox") ||
		resp.Header.Get("Cache-Control") != "no-store" || !bytes.Equal(body, html) {
		t.Errorf("the page's policy: %q, cache %q", csp, resp.Header.Get("Cache-Control"))
	}
	// Cleared: the viewer closes, nothing is served, the bytes are wiped.
	kept := srv.doc.Pages[2].Data
	disp.ClearDocument()
	poll(`document.getElementById("viewer").hidden ? "closed" : false`)
	for _, path := range []string{"/document.json", "/document/page?n=1"} {
		resp, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s after clearing: %d", path, resp.StatusCode)
		}
	}
	if !bytes.Equal(kept, make([]byte, len(kept))) {
		t.Error("the page's bytes were not wiped")
	}
}

// A document or page that does not come the first time (the kiosk busy,
// a connection dropped) is asked again: the page still shows.
func TestDocumentViewerAsksAgain(t *testing.T) {
	srv := New(make(chan input.Event, 8), nil)
	r, err := display.NewRenderer(false)
	if err != nil {
		t.Fatal(err)
	}
	disp := display.New(r, srv)
	if err := disp.Show(display.DMPDocument(display.Status{Online: true}, "Compte rendu", 1, 1)); err != nil {
		t.Fatal(err)
	}
	img := image.NewRGBA(image.Rect(0, 0, 90, 60))
	var b bytes.Buffer
	png.Encode(&b, img)
	disp.ShowDocument(display.Document{Title: "Compte rendu", Pages: []display.Page{{N: 1, Of: 1, Type: "image/png", Data: b.Bytes()}}})
	var mu sync.Mutex
	failed := map[string]bool{}
	h := srv.Handler()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		first := !failed[r.URL.Path] && (r.URL.Path == "/document.json" || r.URL.Path == "/document/page")
		failed[r.URL.Path] = true
		mu.Unlock()
		if first {
			http.Error(w, "occupé", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	ctx := browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(hs.URL)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`(() => { const i = document.querySelector("#page img"); return !!i && i.naturalWidth === 90 })()`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("the page after a failed first try: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !failed["/document.json"] {
		t.Error("the document was never asked")
	}
}
