package admin

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"dmpkiosk/bridge/journal"
	"dmpkiosk/bridge/journal/journaltest"
)

// The exports through the admin web: a CSV for spreadsheets (BOM,
// semicolons, French columns) whose figures are the journal's, a JSON
// for reports, each export audited; a bad range is refused, and nobody
// without the password gets anything.
func TestIndicatorExports(t *testing.T) {
	j := journaltest.OpenSQLite(t)
	loc, _ := time.LoadLocation("Europe/Paris")
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, loc)
	journaltest.MonthOfEvents(t, j, start, 300)
	admin := &Admin{Journal: j, Fleet: NewFleet(), Password: "pw"}
	hs := httptest.NewServer(admin.Handler())
	defer hs.Close()
	get := func(path, pw string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodGet, hs.URL+path, nil)
		if pw != "" {
			req.SetBasicAuth("admin", pw)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, body := get("/indicators.csv?from=2026-10-01&to=2026-10-31&by=week&context=admission", "pw")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("%d %v\n%s", resp.StatusCode, resp.Header, body)
	}
	if !bytes.HasPrefix(body, []byte("\ufeff")) {
		t.Fatal("no byte-order mark: spreadsheets would misread the accents")
	}
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\ufeff"))))
	r.Comma = ';'
	lines, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if lines[0][0] != "Période" || lines[0][4] != "Sessions terminées" || len(lines[0]) != len(indicatorHeader) {
		t.Fatalf("header %q", lines[0])
	}
	q, _ := journal.ParseIndicatorQuery("2026-10-01", "2026-10-31", "week", "", "", "admission")
	want, err := j.Indicators(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines)-1 != len(want) {
		t.Fatalf("%d lines, the journal has %d", len(lines)-1, len(want))
	}
	for i, in := range want {
		l := lines[i+1]
		if l[0] != in.Period || l[1] != in.Site || l[3] != "Admission" || l[4] != fmt.Sprint(in.Completed) || l[5] != fmt.Sprint(in.Created) ||
			l[12] != fmt.Sprint(in.Dead) || l[13] != fmt.Sprint(in.Offline) || in.Offline > 0 && !strings.Contains(l[14], ",") {
			t.Errorf("line %d: %q, journal %+v", i+1, l, in)
		}
	}
	resp, body = get("/indicators.json?from=2026-10-01&to=2026-10-31&by=month", "pw")
	var rows []map[string]any
	if err := json.Unmarshal(body, &rows); err != nil || resp.StatusCode != http.StatusOK || len(rows) == 0 {
		t.Fatalf("json: %d %v %s", resp.StatusCode, err, body)
	}
	total := 0.0
	for _, row := range rows {
		total += row["sessions_completed"].(float64) + row["refused"].(float64) + row["dead_letters"].(float64)
	}
	if total != 300 {
		t.Errorf("the month's JSON counts %v events of 300", total)
	}
	if resp, _ := get("/indicators.csv?from=2026-10-31&to=2026-10-01&by=week", "pw"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a reversed range: %d", resp.StatusCode)
	}
	if resp, body := get("/indicators.csv?from=2026-10-01&to=2026-10-31&by=week", ""); resp.StatusCode != http.StatusUnauthorized || len(body) > 100 {
		t.Errorf("without the password: %d", resp.StatusCode)
	}
	// Two exports, two audit links (who, which range), the chain intact.
	exports, err := j.AuditOf(context.Background(), "indicators.export")
	n := 0
	for _, e := range exports {
		if e.Ref == "admin:admin" && strings.HasPrefix(e.Detail, "2026-10-01 to 2026-10-31 by ") {
			n++
		}
	}
	if err != nil || n != 2 {
		t.Errorf("%d exports audited, %v", n, err)
	}
	if _, broken, err := j.VerifyAudit(context.Background()); err != nil || broken != 0 {
		t.Errorf("audit chain: %d %v", broken, err)
	}
}
