package hwtest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestChromiumRunsPageScripts(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><html><body><p id="s">…</p>
<script>document.getElementById("s").textContent = "Insérez les cartes " + (6*7);</script></body></html>`))
	}))
	defer srv.Close()
	dom := DumpDOM(t, srv.URL)
	// The text exists only once the page's script has run in the browser.
	if !strings.Contains(dom, "Insérez les cartes 42") {
		t.Fatalf("page script did not run in Chromium; DOM:\n%s", dom)
	}
	t.Logf("rig: headless Chromium loaded a loopback page and ran its script")
}
