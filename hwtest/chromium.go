package hwtest

import (
	"context"
	"encoding/base64"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"os/exec"
	"testing"
	"time"
)

// ChromiumFlags start Debian's Chromium headless on a machine with no
// display and no network beyond loopback: the background-networking flags
// keep it from reaching out (and being refused) at every start.
var ChromiumFlags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
}

// Chromium returns the path of the browser binary or stops the test.
func Chromium(t testing.TB) string {
	t.Helper()
	return LookPath(t, "chromium", "chromium")
}

// DumpDOM loads url in a fresh headless Chromium, runs its scripts and
// returns the resulting DOM as HTML.
func DumpDOM(t testing.TB, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append(append([]string{}, ChromiumFlags...), "--user-data-dir="+t.TempDir(), "--dump-dom", url)
	out, err := exec.CommandContext(ctx, Chromium(t), args...).Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom %s: %v", url, err)
	}
	return string(out)
}

// Browser starts a headless Chromium for the test (Debian's) and returns
// its first tab, cancelled after timeout. extra adds allocator options.
func Browser(t testing.TB, width, height int, timeout time.Duration, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(Chromium(t)), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(width, height))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), append(opts, extra...)...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, timeout)
	t.Cleanup(cancel3)
	return ctx
}

// BasicAuth makes the tab send the user and password with every request
// (the admin web's pages, their images, their downloads).
func BasicAuth(ctx context.Context, user, password string) error {
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		return err
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		return err
	}
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	_, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": "Basic " + auth}})
	return err
}
