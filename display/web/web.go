// Package web is the kiosk's web view: the live screen (pushed with
// server-sent events when it changes), its text for screen readers, the
// buttons and keypad as controls, and, in simulation, a tray of virtual
// cards. It is the bedside tablet's interface (a kiosk-mode browser on the
// tablet itself) and the display of make run.
package web

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"dmpkiosk/display"
	"dmpkiosk/display/input"
	"dmpkiosk/display/lang"
	"dmpkiosk/display/receipt"
)

//go:embed index.html
var page []byte

// Tray is the virtual card tray of a simulation; nil in production.
type Tray interface {
	Profiles() []string
	Insert(slot int, profile string) error
	Remove(slot int) error
}

// Server is the web view. It is a display.Panel.
type Server struct {
	inputs chan<- input.Event
	tray   Tray

	mu      sync.Mutex
	img     image.Image // the screen shown; encoded when a page asks for it
	png     []byte      // img encoded, nil until asked
	text    string
	lang    string // the language of the screen's text, "fr" when French
	rtl     bool
	version int64
	subs    map[chan struct{}]struct{}
	// the last patient's receipt, for the tablet to print (nil when none)
	receipt []receipt.Line
	recLang string
	recRTL  bool
	recGen  int // which receipt the expiry timer is for
	// the DMP document read at the bedside, in memory only (nil: none)
	doc    *display.Document
	docGen int
}

// ShowDocument implements display.DocumentPanel: the document's pages so
// far, kept in memory for the viewer until cleared.
func (s *Server) ShowDocument(d display.Document) {
	s.mu.Lock()
	s.doc = &display.Document{Title: d.Title, Pages: append([]display.Page(nil), d.Pages...)}
	s.docGen++
	s.mu.Unlock()
	s.changed()
}

// ClearDocument implements display.DocumentPanel: the document is
// forgotten (the pages' bytes wiped).
func (s *Server) ClearDocument() {
	s.mu.Lock()
	had := s.doc != nil
	if had {
		for _, p := range s.doc.Pages {
			clear(p.Data)
		}
	}
	s.doc = nil
	s.docGen++
	s.mu.Unlock()
	if had {
		s.changed()
	}
}

// docCSP is the policy a document's page is served under: nothing runs,
// nothing loads (but images inside the page), and the frame it sits in is
// sandboxed too.
const docCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"

// document answers what the viewer needs: the document's title and pages
// (document.json), one page (document/page?n=), each never cached.
func (s *Server) document(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	d, gen := s.doc, s.docGen
	s.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	if d == nil {
		http.Error(w, "aucun document", http.StatusNotFound)
		return
	}
	if r.URL.Path == "/document.json" {
		type page struct {
			N    int    `json:"n"`
			Type string `json:"type"`
		}
		out := struct {
			Gen   int    `json:"gen"`
			Title string `json:"title"`
			Of    int    `json:"of"`
			Pages []page `json:"pages"`
		}{Gen: gen, Title: d.Title}
		for _, p := range d.Pages {
			out.Pages = append(out.Pages, page{p.N, p.Type})
			out.Of = p.Of
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
		return
	}
	n, _ := strconv.Atoi(r.URL.Query().Get("n"))
	for _, p := range d.Pages {
		if p.N != n {
			continue
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", docCSP)
		switch p.Type {
		case "image/png":
			w.Header().Set("Content-Type", "image/png")
		case "text/html":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
		default:
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		}
		_, _ = w.Write(p.Data)
		return
	}
	http.Error(w, "page pas encore reçue", http.StatusNotFound)
}

// ReceiptKeep is how long the receipt page stays when no patient follows:
// it names the patient.
var ReceiptKeep = 5 * time.Minute

// PrintReceipt keeps the receipt as the page the tablet prints
// (firmware.ReceiptOut) and tells the open pages.
func (s *Server) PrintReceipt(_ context.Context, r receipt.Receipt, set *lang.Set) error {
	s.mu.Lock()
	s.receipt, s.recLang, s.recRTL = r.Lines(set), r.Lang.String(), lang.RightToLeft(r.Lang)
	s.recGen++
	gen := s.recGen
	s.mu.Unlock()
	s.changed()
	time.AfterFunc(ReceiptKeep, func() {
		s.mu.Lock()
		expired := s.recGen == gen && s.receipt != nil
		if expired {
			s.receipt = nil
		}
		s.mu.Unlock()
		if expired {
			s.changed()
		}
	})
	return nil
}

// ClearReceipt forgets the receipt: the next patient has come.
func (s *Server) ClearReceipt() {
	s.mu.Lock()
	had := s.receipt != nil
	s.receipt = nil
	s.mu.Unlock()
	if had {
		s.changed()
	}
}

// changed tells every page to fetch the state again.
func (s *Server) changed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.version++
	for ch := range s.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// New returns a web view that sends presses to inputs.
func New(inputs chan<- input.Event, tray Tray) *Server {
	return &Server{inputs: inputs, tray: tray, subs: map[chan struct{}]struct{}{}}
}

// Size implements display.Panel: the tablet layout.
func (s *Server) Size() display.Size { return display.Tablet }

// Show implements display.Panel and pushes the new screen to every page.
// The image is encoded when a page fetches it, not here: the session goes
// on at once (a PNG of the tablet's screen takes milliseconds, tens on a
// Raspberry Pi), and a screen no page fetched is never encoded.
func (s *Server) Show(sc display.Screen, img image.Image) error {
	s.mu.Lock()
	s.img, s.png, s.text, s.lang, s.rtl = img, nil, sc.Text(), sc.Lang, sc.RTL
	if s.lang == "" {
		s.lang = "fr"
	}
	s.mu.Unlock()
	s.changed()
	return nil
}

var pngEncoder = png.Encoder{CompressionLevel: png.BestSpeed}

// screenPNG is the screen shown, encoded once for every page that asks.
// It is encoded outside the lock: Show, on the session's path, never
// waits for an encoding.
func (s *Server) screenPNG() ([]byte, error) {
	s.mu.Lock()
	img, b, v := s.img, s.png, s.version
	s.mu.Unlock()
	if img == nil {
		return nil, errors.New("pas encore d'écran")
	}
	if b != nil {
		return b, nil
	}
	var buf bytes.Buffer
	if err := pngEncoder.Encode(&buf, img); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.version == v {
		s.png = buf.Bytes()
	}
	s.mu.Unlock()
	return buf.Bytes(), nil
}

// Handler serves the view.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline' 'self'; style-src 'unsafe-inline'; img-src 'self'")
		_, _ = w.Write(page)
	})
	mux.HandleFunc("GET /screen.png", func(w http.ResponseWriter, r *http.Request) {
		b, err := s.screenPNG()
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(b)
	})
	mux.HandleFunc("GET /events", s.events)
	mux.HandleFunc("GET /document.json", s.document)
	mux.HandleFunc("GET /document/page", s.document)
	mux.HandleFunc("GET /receipt", s.receiptPage)
	mux.HandleFunc("POST /input", s.sameOrigin(s.input))
	mux.HandleFunc("GET /tray", func(w http.ResponseWriter, r *http.Request) {
		out := struct {
			Enabled  bool     `json:"enabled"`
			Profiles []string `json:"profiles"`
		}{Enabled: s.tray != nil}
		if s.tray != nil {
			out.Profiles = s.tray.Profiles()
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("POST /tray", s.sameOrigin(s.trayAction))
	return mux
}

// sameOrigin refuses a POST that another site's page makes the browser send.
func (s *Server) sameOrigin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
			http.Error(w, "requête d'un autre site refusée", http.StatusForbidden)
			return
		}
		if o := r.Header.Get("Origin"); o != "" {
			if u, err := url.Parse(o); err != nil || u.Host != r.Host {
				http.Error(w, "requête d'un autre site refusée", http.StatusForbidden)
				return
			}
		}
		h(w, r)
	}
}

// receiptPage is the last patient's receipt as a page to print.
func (s *Server) receiptPage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	lines, lng, rtl := s.receipt, s.recLang, s.recRTL
	s.mu.Unlock()
	if lines == nil {
		http.Error(w, "pas de reçu : il s'affiche à la fin de la saisie d'un patient, jusqu'au patient suivant", http.StatusNotFound)
		return
	}
	dir := "ltr"
	if rtl {
		dir = "rtl"
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'")
	_ = receiptTmpl.Execute(w, struct {
		Lang, Dir string
		Lines     []receipt.Line
	}{lng, dir, lines})
}

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	s.subs[ch] = struct{}{}
	s.mu.Unlock()
	defer func() { s.mu.Lock(); delete(s.subs, ch); s.mu.Unlock() }()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	for {
		s.mu.Lock()
		// The first line is the status line, for the staff, in French;
		// the rest is in the screen's language, so that a screen reader
		// reads it in that language's voice.
		status, rest, _ := strings.Cut(s.text, "\n")
		dir := "ltr"
		if s.rtl {
			dir = "rtl"
		}
		msg, _ := json.Marshal(struct {
			V       int64  `json:"v"`
			Status  string `json:"status"`
			Text    string `json:"text"`
			Lang    string `json:"lang"`
			Dir     string `json:"dir"`
			Receipt bool   `json:"receipt"`
			Doc     int    `json:"doc"` // the document's generation, 0 when none
		}{s.version, status, rest, s.lang, dir, s.receipt != nil, docGenOf(s.doc, s.docGen)})
		s.mu.Unlock()
		if _, err := fmt.Fprintf(w, "data: %s\n\n", msg); err != nil {
			return
		}
		fl.Flush()
		select {
		case <-ch:
		case <-r.Context().Done():
			return
		}
	}
}

func (s *Server) input(w http.ResponseWriter, r *http.Request) {
	var ev input.Event
	switch b, k := r.FormValue("b"), r.FormValue("k"); {
	case b != "":
		btn, err := input.ParseButton(b)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ev = input.Event{Button: btn, Source: "web"}
	case len(k) == 1 && (k[0] >= '0' && k[0] <= '9' || k[0] == '*' || k[0] == '#'):
		ev = input.Event{Key: rune(k[0]), Source: "web"}
	default:
		http.Error(w, "bouton ou touche inconnu", http.StatusBadRequest)
		return
	}
	select {
	case s.inputs <- ev:
		w.WriteHeader(http.StatusNoContent)
	case <-r.Context().Done():
	}
}

func (s *Server) trayAction(w http.ResponseWriter, r *http.Request) {
	if s.tray == nil {
		http.Error(w, "pas de plateau de cartes sur cette borne", http.StatusNotFound)
		return
	}
	slot, err := strconv.Atoi(r.FormValue("slot"))
	if err != nil || slot < 0 || slot > 1 {
		http.Error(w, "lecteur 0 ou 1", http.StatusBadRequest)
		return
	}
	switch r.FormValue("action") {
	case "insert":
		err = s.tray.Insert(slot, r.FormValue("profile"))
	case "remove":
		err = s.tray.Remove(slot)
	default:
		http.Error(w, "action insert ou remove", http.StatusBadRequest)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func docGenOf(d *display.Document, gen int) int {
	if d == nil {
		return 0
	}
	return gen
}
