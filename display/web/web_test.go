package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"dmpkiosk/display"
	"dmpkiosk/display/input"
	"dmpkiosk/hwtest"
)

type fakeTray struct {
	mu  sync.Mutex
	log []string
}

func (f *fakeTray) Profiles() []string { return []string{"vitale-famille", "cps-medecin"} }
func (f *fakeTray) Insert(slot int, p string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, "insert "+strings.Repeat("I", slot+1)+" "+p)
	return nil
}
func (f *fakeTray) Remove(slot int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, "remove "+strings.Repeat("I", slot+1))
	return nil
}

// artifact is where a test leaves files a person may look at.
func artifact(t *testing.T, name string) string {
	dir := filepath.Join("..", "..", "artifacts", "display")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, name)
}

func browser(t *testing.T) context.Context {
	t.Helper()
	return hwtest.Browser(t, 1280, 900, 60*time.Second)
}

func waitText(want string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](`document.getElementById("text").textContent.includes(`+strconvQuote(want)+`)`,
		chromedp.WithPollingTimeout(10*time.Second))
}

func strconvQuote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

func TestWebViewInChromium(t *testing.T) {
	events := make(chan input.Event, 8)
	tray := &fakeTray{}
	srv := New(events, tray)
	r, err := display.NewRenderer(false)
	if err != nil {
		t.Fatal(err)
	}
	disp := display.New(r, srv)
	st := display.Status{Online: true, Slots: [2]string{"Vitale", ""}}
	if err := disp.Show(display.Idle(st)); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	// Cleanups run last first: the browser goes, then its event stream,
	// then the server.
	t.Cleanup(hs.Close)
	ctx := browser(t)

	if err := chromedp.Do(ctx, chromedp.Navigate(hs.URL), waitText("Insérez les cartes")); err != nil {
		t.Fatal(err)
	}
	width, err := chromedp.Run(ctx, chromedp.Poll[int](`document.getElementById("screen").naturalWidth`, chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click("#b-oui")); err != nil {
		t.Fatal(err)
	}
	if width != 800 {
		t.Fatalf("screen image %d pixels wide", width)
	}
	expect := func(want input.Event) {
		t.Helper()
		select {
		case e := <-events:
			if e != want {
				t.Fatalf("event %+v, want %+v", e, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no event, want %+v", want)
		}
	}
	expect(input.Event{Button: input.Oui, Source: "web"})

	// A new screen is pushed to the page without reloading it.
	if err := disp.Show(display.EnterPIN(st, 1, 4, 2)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, waitText("Il reste 2 essai(s)"), chromedp.Click(`[data-k="5"]`)); err != nil {
		t.Fatal(err)
	}
	expect(input.Event{Key: '5', Source: "web"})

	// The card tray of the simulation.
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible("#tray"),
		chromedp.SetValue("#profile", "cps-medecin"),
		chromedp.Click(`[data-slot="1"][data-act="insert"]`),
	); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	log := ""
	for time.Now().Before(deadline) && log == "" {
		time.Sleep(20 * time.Millisecond)
		tray.mu.Lock()
		log = strings.Join(tray.log, ";")
		tray.mu.Unlock()
	}
	if log != "insert II cps-medecin" {
		t.Fatalf("tray actions %q", log)
	}
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(artifact(t, "web-view.png"), buf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("web view driven in headless Chromium; screenshot in artifacts/display/web-view.png")
}

func TestWebViewRefusesCrossSitePosts(t *testing.T) {
	srv := New(make(chan input.Event, 1), nil)
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	req, _ := http.NewRequest("POST", hs.URL+"/input", strings.NewReader(url.Values{"b": {"oui"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site post: %d", resp.StatusCode)
	}
	for _, form := range []url.Values{{"b": {"peut-être"}}, {"k": {"55"}}, {}} {
		resp, err := http.PostForm(hs.URL+"/input", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("input %v: %d", form, resp.StatusCode)
		}
	}
	resp, err = http.PostForm(hs.URL+"/tray", url.Values{"slot": {"0"}, "action": {"insert"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("tray on a device without one: %d", resp.StatusCode)
	}
}
