package web

import (
	"bufio"
	"context"
	"encoding/json"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/language"

	"dmpkiosk/display"
	"dmpkiosk/display/input"
	"dmpkiosk/display/lang"
	"dmpkiosk/display/receipt"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The pushed screen says its language and direction apart from the
// staff's status line; the image is encoded when a page asks for it; the
// receipt page is served from the end of a session to the next patient.
func TestLanguageScreenAndReceiptPage(t *testing.T) {
	s := New(make(chan input.Event, 1), nil)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	if code, _ := get(t, srv.URL+"/screen.png"); code != http.StatusServiceUnavailable {
		t.Fatalf("no screen yet: %d", code)
	}
	set := lang.Builtin()
	rend, _ := display.NewRenderer(false)
	sc := display.InfoPage(display.Status{Online: true}, set, language.Arabic, 0)
	img, _ := rend.Render(sc, display.Tablet)
	if err := s.Show(sc, img); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(srv.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	resp.Body.Close()
	var ev struct{ Status, Text, Lang, Dir string }
	if err := json.Unmarshal([]byte(strings.TrimPrefix(strings.TrimSpace(line), "data: ")), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Lang != "ar" || ev.Dir != "rtl" || !strings.HasPrefix(ev.Status, "en ligne") || !strings.Contains(ev.Text, sc.Title) || strings.Contains(ev.Text, "en ligne") {
		t.Fatalf("pushed screen: %+v", ev)
	}
	code, body := get(t, srv.URL+"/screen.png")
	if code != 200 {
		t.Fatal(code)
	}
	got, err := png.Decode(strings.NewReader(body))
	if err != nil || got.Bounds() != img.Bounds() {
		t.Fatalf("screen.png: %v %v", err, got)
	}
	if code, _ := get(t, srv.URL+"/receipt"); code != http.StatusNotFound {
		t.Fatalf("a receipt before any: %d", code)
	}
	r := receipt.Receipt{Establishment: "CHU <Test>", At: time.Now(), Lang: language.Arabic, Patient: "MARTIN PAUL", Outcome: receipt.Exists, Authorized: true}
	if err := s.PrintReceipt(context.Background(), r, set); err != nil {
		t.Fatal(err)
	}
	code, body = get(t, srv.URL+"/receipt")
	if code != 200 || !strings.Contains(body, `lang="ar" dir="rtl"`) || !strings.Contains(body, "CHU &lt;Test&gt;") || !strings.Contains(body, set.Printer(language.Arabic).Sprintf("receipt.exists")) {
		t.Fatalf("receipt page %d:\n%s", code, body)
	}
	s.ClearReceipt()
	if code, _ := get(t, srv.URL+"/receipt"); code != http.StatusNotFound {
		t.Fatalf("the receipt kept after the next patient: %d", code)
	}
	// No patient follows: the page, which names the patient, goes after
	// ReceiptKeep all the same.
	keep := ReceiptKeep
	ReceiptKeep = 100 * time.Millisecond
	defer func() { ReceiptKeep = keep }()
	s.PrintReceipt(context.Background(), r, set)
	if code, _ := get(t, srv.URL+"/receipt"); code != 200 {
		t.Fatalf("receipt page: %d", code)
	}
	time.Sleep(300 * time.Millisecond)
	if code, _ := get(t, srv.URL+"/receipt"); code != http.StatusNotFound {
		t.Fatalf("the receipt kept past ReceiptKeep: %d", code)
	}
}
