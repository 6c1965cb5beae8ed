package admin

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"dmpkiosk/bridge/insi"
	"dmpkiosk/bridge/journal"
	"dmpkiosk/bridge/journal/journaltest"
	"dmpkiosk/hwtest"
)

var screens = flag.Bool("screens", false, "also write the README's screenshot of the infocentre to bridge/screens")

// The infocentre and the lists as the project lead and the IT team use
// them, in headless Chromium over a generated month: the filters typed in
// the form, the charts drawn and their tables, the detail and a CSV
// downloaded by the browser all agree with the journal; the events list
// filters by state and site and pages through.
func TestInfocentreInChromium(t *testing.T) {
	j := journaltest.OpenSQLite(t)
	today := time.Now().In(paris)
	start := time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, paris).AddDate(0, 0, -29)
	evs := journaltest.MonthOfEvents(t, j, start, 300)
	var calls insi.Calls
	observe := calls.Observer(j.Audit, nil)
	for i, o := range []string{"00", "00", "00", "00", "01", "02", "00", "insi_102", "00", "transport"} {
		observe(insi.Call{Operation: insi.OpVitale, Mode: insi.Manu, Outcome: o, MessageID: fmt.Sprint("m", i)})
	}
	admin := &Admin{Journal: j, Fleet: NewFleet(), Password: "pw"}
	hs := httptest.NewServer(admin.Handler())
	defer hs.Close()

	ctx := hwtest.Browser(t, 1280, 1400, 2*time.Minute)
	// Signed in as a person is, once: the browser keeps the password for
	// the pages, their charts and the downloads.
	u, _ := url.Parse(hs.URL)
	u.User = url.UserPassword("admin", "pw")
	if err := chromedp.Do(ctx, chromedp.Navigate(u.String()+"/infocentre")); err != nil {
		t.Fatal(err)
	}
	js := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return v
	}
	// until waits for a condition on a page that may still be loading (an
	// evaluation in a page being replaced fails, and is tried again).
	until := func(cond string) {
		t.Helper()
		var err error
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			var ok bool
			if ok, err = chromedp.Run(ctx, chromedp.Evaluate[bool](cond)); err == nil && ok {
				return
			}
		}
		t.Fatalf("waiting for %s: %v", cond, err)
	}
	// table reads a table's body rows, cells joined by "|".
	table := func(sel string) []string {
		t.Helper()
		v := js(`[...document.querySelectorAll(` + strconv.Quote(sel+" tr") + `)].slice(1).map(r => [...r.cells].map(c => c.textContent.trim()).join("|")).join("\n")`)
		if v == "" {
			return nil
		}
		return strings.Split(v, "\n")
	}

	// The default view: the last 30 days, by day; four charts drawn.
	if err := chromedp.Do(ctx, chromedp.Navigate(u.String()+"/infocentre")); err != nil {
		t.Fatal(err)
	}
	until(`document.readyState === "complete" && document.getElementById("totals") !== null`)
	// Six charts drawn (no lookup at the desk this month), lettered in the font the bridge serves; the
	// activity's four lines told apart by their dashes, not only colour.
	until(`document.querySelectorAll("figure svg").length === 6 && document.fonts.status === "loaded" && document.fonts.check("10px 'Liberation Sans'")`)
	if n := js(`String(new Set([...document.querySelectorAll("#chart-activite svg path")].map(p => getComputedStyle(p).strokeDasharray)).size)`); n < "4" {
		t.Errorf("the activity chart's lines have %s dash patterns", n)
	}
	if got := js(`String([...document.querySelectorAll("figure svg")].every(s => s.getBoundingClientRect().width > 300))`); got != "true" {
		t.Errorf("a chart is not laid out")
	}
	if got := table("#chart-insi-recherches table"); strings.Join(got, ";") != "recherche par carte Vitale, au guichet (INSI-MANU)|10" {
		t.Errorf("INSi searches table: %q", got)
	}
	if got := table("#chart-insi table"); strings.Join(got, ";") != "identité trouvée|6;aucune identité trouvée|1;erreur INSi insi_102|1;plusieurs identités : préciser le lieu de naissance|1;service injoignable|1" {
		t.Errorf("INSi lookups table: %q", got)
	}
	if *screens { // the README's: the month by week
		if err := chromedp.Do(ctx, chromedp.Navigate(u.String()+"/infocentre?by=week")); err != nil {
			t.Fatal(err)
		}
		until(`document.readyState === "complete" && document.querySelectorAll("figure svg").length === 6 && document.fonts.status === "loaded"`)
		buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll("screens", 0o755)
		if err := os.WriteFile(filepath.Join("screens", "infocentre.png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(u.String()+"/infocentre")); err != nil {
			t.Fatal(err)
		}
		until(`document.readyState === "complete" && document.getElementById("totals") !== null`)
	}

	// The project lead asks for weeks, admissions only, in the form.
	if err := chromedp.Do(ctx,
		chromedp.SetValue(`select[name="by"]`, "week"), chromedp.SetValue(`select[name="context"]`, "admission"),
		chromedp.Click(`form.filters button`)); err != nil {
		t.Fatal(err)
	}
	until(`location.search.includes("by=week") && document.readyState === "complete" && document.getElementById("detail") !== null`)
	from, to := start.Format(time.DateOnly), today.Format(time.DateOnly)
	q, _ := journal.ParseIndicatorQuery(from, to, "week", "", "", "admission")
	want, err := j.Indicators(context.Background(), q)
	if err != nil || len(want) == 0 {
		t.Fatalf("journal: %v %v", want, err)
	}
	detail := table("#detail")
	if len(detail) != len(want) {
		t.Fatalf("detail: %d lines, the journal %d:\n%s", len(detail), len(want), strings.Join(detail, "\n"))
	}
	perWeek := map[string][4]int{}
	for i, in := range want {
		line := fmt.Sprintf("%s|%s|%s|Admission|%d|%d|%d|%d|%d|%d|%d|%d|%d|%d / %d", in.Period, in.Site, in.Unit, in.Completed, in.Created,
			in.Existing, in.Authorized, in.Withdrawn, in.Oppositions, in.Refused, in.Dead, in.Offline, in.Qualified(), in.IdentityKnown())
		if detail[i] != line {
			t.Errorf("detail line %d: %q, journal %q", i, detail[i], line)
		}
		w := perWeek[in.Period]
		perWeek[in.Period] = [4]int{w[0] + in.Created, w[1] + in.Authorized, w[2] + in.Existing, w[3] + in.Refused}
	}
	activity := table("#chart-activite table")
	if len(activity) != len(q.AllPeriods()) {
		t.Errorf("activity table: %d weeks, want %d", len(activity), len(q.AllPeriods()))
	}
	for _, row := range activity {
		c := strings.Split(row, "|")
		w := perWeek[c[0]]
		if got := strings.Join(c[1:], "|"); got != fmt.Sprintf("%d|%d|%d|%d", w[0], w[1], w[2], w[3]) {
			t.Errorf("activity %s: %s, journal %v", c[0], got, w)
		}
	}

	// The CSV the browser downloads is the journal's figures.
	dir := t.TempDir()
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click("#export-csv")); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("indicateurs-dmp-%s-%s.csv", from, to)
	// The browser may show the file before it has written all of it:
	// read until it holds every line, or the deadline.
	var lines [][]string
	var body []byte
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		body, _ = os.ReadFile(filepath.Join(dir, name))
		r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\ufeff"))))
		r.Comma = ';'
		if l, err := r.ReadAll(); err == nil && len(l) == len(want)+1 {
			lines = l
			break
		}
	}
	if lines == nil {
		entries, _ := os.ReadDir(dir)
		t.Fatalf("downloaded CSV: %d bytes of %s, want %d lines (%v)", len(body), name, len(want)+1, entries)
	}
	for i, in := range want {
		l := lines[i+1]
		if l[0] != in.Period || l[1] != in.Site || l[2] != in.Unit || l[4] != fmt.Sprint(in.Completed) || l[5] != fmt.Sprint(in.Created) ||
			l[7] != fmt.Sprint(in.Authorized) || l[10] != fmt.Sprint(in.Refused) || l[17] != fmt.Sprint(in.Qualified()) {
			t.Errorf("CSV line %d: %q, journal %+v", i+1, l, in)
		}
	}

	// The events list: processed events of one site, 50 a page.
	site := evs[0].Rec.Site
	total := 0
	for _, g := range evs {
		if g.State == journal.StateDone && g.Rec.Site == site {
			total++
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(u.String()+"/events")); err != nil {
		t.Fatal(err)
	}
	until(`document.readyState === "complete" && document.getElementById("events") !== null`)
	if err := chromedp.Do(ctx, chromedp.SetValue(`select[name="state"]`, journal.StateDone), chromedp.SetValue(`input[name="site"]`, site),
		chromedp.Click(`form.filters button`)); err != nil {
		t.Fatal(err)
	}
	until(`location.search.includes("state=done") && document.readyState === "complete" && document.getElementById("events") !== null`)
	pages := (total + pageSize - 1) / pageSize
	if got := js(`document.querySelector(".pages span").textContent`); got != fmt.Sprintf("Page 1 sur %d (%d au total)", pages, total) {
		t.Errorf("pager: %q, the journal has %d", got, total)
	}
	seen := map[string]bool{}
	for page := 1; page <= pages; page++ {
		rows := table("#events")
		if len(rows) != min(pageSize, total-(page-1)*pageSize) {
			t.Errorf("page %d: %d rows", page, len(rows))
		}
		for _, row := range rows {
			c := strings.Split(row, "|")
			if c[7] != "traité" || !strings.HasPrefix(c[3], site+" / ") || seen[c[1]] {
				t.Errorf("page %d: %q", page, row)
			}
			seen[c[1]] = true
		}
		if page < pages {
			if err := chromedp.Do(ctx, chromedp.Click(`a[rel="next"]`)); err != nil {
				t.Fatal(err)
			}
			until(fmt.Sprintf(`location.search.includes("page=%d") && document.readyState === "complete" && document.getElementById("events") !== null`, page+1))
		}
	}
	if len(seen) != total {
		t.Errorf("%d events seen over the pages, %d in the journal", len(seen), total)
	}
	// A date that cannot be read is said, not silently ignored.
	if err := chromedp.Do(ctx, chromedp.Navigate(u.String()+"/dead?from=31/10/2026")); err != nil {
		t.Fatal(err)
	}
	until(`document.readyState === "complete" && document.getElementById("dead") !== null`)
	if got := js(`document.querySelector("[role=alert]")?.textContent ?? ""`); !strings.Contains(got, "date de début illisible") {
		t.Errorf("a bad date: %q", got)
	}
}

// The charts gonum/plot draws are well-formed SVG, their lines told apart
// without colour (dashes), their legend and bar values written out; a
// chart saved on its own carries its font; an unknown chart is not found.
func TestChartSVG(t *testing.T) {
	lines := chartData{Name: "activite", Categories: []string{"2026-S45", "2026-S46", "2026-S47"}, Lines: true,
		Series: []chartSeries{{"DMP créés", []int{1, 2, 3}}, {"Accès autorisés", []int{3, 1, 2}}, {"DMP existants", []int{0, 4, 1}}, {"Refus aux contrôles", []int{2, 2, 0}}}}
	bars := breakdown("refus", "Refus", "Refus", map[string]int{"trop ancien": 7, "borne révoquée": 2}, "")
	for _, c := range []chartData{lines, bars} {
		svg, err := c.SVG(false)
		if err != nil {
			t.Fatal(err)
		}
		d := xml.NewDecoder(bytes.NewReader(svg))
		dashes, texts := map[string]bool{}, []string{}
		for {
			tok, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: not well-formed: %v", c.Name, err)
			}
			switch tok := tok.(type) {
			case xml.StartElement:
				for _, a := range tok.Attr {
					if a.Name.Local == "style" {
						if _, dash, ok := strings.Cut(a.Value, "stroke-dasharray:"); ok {
							dashes[strings.SplitN(dash, ";", 2)[0]] = true
						}
					}
				}
			case xml.CharData:
				if s := strings.TrimSpace(string(tok)); s != "" {
					texts = append(texts, s)
				}
			}
		}
		all := strings.Join(texts, "|")
		for _, s := range c.Series {
			if c.Lines && !strings.Contains(all, s.Name) {
				t.Errorf("%s: the legend lacks %q: %s", c.Name, s.Name, all)
			}
		}
		if c.Lines && len(dashes) < 3 { // and one solid line
			t.Errorf("%s: %d dash patterns for 4 lines", c.Name, len(dashes))
		}
		if !c.Lines && (!strings.Contains(all, "trop ancien") || !strings.Contains(all, "|7|") && !strings.HasSuffix(all, "|7")) {
			t.Errorf("%s: labels and values: %s", c.Name, all)
		}
	}
	if bars.Categories[0] != "trop ancien" {
		t.Errorf("the breakdown is not largest first: %v", bars.Categories)
	}
	if svg, _ := lines.SVG(true); !bytes.Contains(svg, []byte("@font-face")) {
		t.Error("a saved chart does not carry its font")
	}

	j := journaltest.OpenSQLite(t)
	hs := httptest.NewServer((&Admin{Journal: j, Fleet: NewFleet(), Password: "pw"}).Handler())
	defer hs.Close()
	for path, want := range map[string]int{"/infocentre?from=2026-10-31&to=2026-10-01": 400, "/infocentre/activite.svg": 200, "/infocentre/nope.svg": 404, "/infocentre/activite.svg?from=x": 400, "/assets/liberation-sans.ttf": 200} {
		req, _ := http.NewRequest(http.MethodGet, hs.URL+path, nil)
		req.SetBasicAuth("admin", "pw")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, want)
		}
		if strings.HasPrefix(path, "/infocentre?") && !strings.Contains(string(body), "la période finit avant de commencer") {
			t.Errorf("a reversed range is not explained:\n%s", body)
		}
		if path == "/infocentre/activite.svg" && resp.Header.Get("Content-Type") != "image/svg+xml" {
			t.Errorf("%s: %s", path, resp.Header.Get("Content-Type"))
		}
	}
}
