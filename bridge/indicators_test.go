package bridge

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dmpkiosk/bridge/insi"
	"dmpkiosk/firmware/event"
)

// genEvent is one event of a generated month, and what became of it.
type genEvent struct {
	rec     Record
	state   string // done, refused or dead
	outcome string
	reason  string
}

// monthOfEvents generates a month of events over two sites, two units and
// the three contexts, processed, refused and given up, some of them
// queued offline, and stores them in j as the service would.
func monthOfEvents(t *testing.T, j Journal, start time.Time, n int) []genEvent {
	t.Helper()
	ctx := context.Background()
	rnd := rand.New(rand.NewPCG(1, 2))
	seq := map[string]int64{}
	var out []genEvent
	var at time.Time
	for i := range n {
		// In time order, as they arrive.
		at = start.Add(time.Duration(i) * 30 * 24 * time.Hour / time.Duration(n)).Add(time.Duration(rnd.IntN(60000)) * time.Millisecond).Truncate(time.Millisecond)
		device := fmt.Sprintf("kiosk-%d", rnd.IntN(4))
		seq[device]++
		g := genEvent{rec: Record{ID: fmt.Sprintf("ev-%04d", i), Device: device, Seq: seq[device],
			Site: []string{"750712184", "130784234"}[rnd.IntN(2)], Unit: []string{"ACCUEIL", "URGENCES"}[rnd.IntN(2)],
			Context: []string{"admission", "bedside", "consultation-exit"}[rnd.IntN(3)], Type: event.TypeConsent,
			Received: at, Signed: at.Add(-time.Duration(rnd.IntN(20)) * time.Second), Authorize: rnd.IntN(4) != 0,
			Oppositions: rnd.IntN(3), Payload: []byte(`{}`),
			Identity: []string{"", "provisoire", "récupérée", "qualifiée", "qualifiée"}[rnd.IntN(5)]}}
		if rnd.IntN(5) == 0 { // queued offline, up to three hours
			g.rec.Signed = at.Add(-time.Duration(2+rnd.IntN(180)) * time.Minute)
		}
		switch r := rnd.IntN(10); {
		case r < 7:
			g.state, g.outcome = StateDone, []string{event.OutcomeCreated, event.OutcomeExists, event.OutcomeAuthorized, event.OutcomeRefused}[rnd.IntN(4)]
		case r < 9:
			g.state, g.reason = StateRefused, []string{RejectTooOld, RejectSite, RejectRegime}[rnd.IntN(3)]
			g.rec.State, g.rec.Message, g.rec.LastError = StateRefused, "refusée", g.reason+": event "+g.rec.ID
		default:
			g.state = StateDead
		}
		if _, _, err := j.Accept(ctx, g.rec); err != nil {
			t.Fatal(err)
		}
		if g.state == StateDone || g.state == StateDead {
			claimed, err := j.Claim(ctx, at.Add(time.Hour), 1)
			if err != nil || len(claimed) != 1 || claimed[0].ID != g.rec.ID {
				t.Fatalf("claim %s: %+v %v", g.rec.ID, claimed, err)
			}
			if g.state == StateDone {
				err = j.Finish(ctx, g.rec.ID, g.outcome, "ok")
			} else {
				err = j.Fail(ctx, g.rec.ID, "DMP refused", time.Time{}, true)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, g)
	}
	return out
}

// expected computes the indicators from the generated events themselves,
// as the infocentre defines them.
func expected(evs []genEvent, q IndicatorQuery) map[[4]string]Indicator {
	loc, _ := time.LoadLocation("Europe/Paris")
	out := map[[4]string]Indicator{}
	for _, g := range evs {
		r := g.rec
		if r.Received.Before(q.From) || !r.Received.Before(q.To) || q.Site != "" && r.Site != q.Site || q.Context != "" && r.Context != q.Context {
			continue
		}
		local := r.Received.In(loc)
		period := local.Format("2006-01-02")
		switch q.By {
		case "week":
			y, w := local.ISOWeek()
			period = fmt.Sprintf("%d-S%02d", y, w)
		case "month":
			period = local.Format("2006-01")
		case "range":
			period = q.From.In(loc).Format("2006-01-02") + " au " + q.To.Add(-time.Millisecond).In(loc).Format("2006-01-02")
		}
		k := [4]string{period, r.Site, r.Unit, r.Context}
		in, ok := out[k]
		if !ok {
			in = Indicator{Period: period, Site: r.Site, Unit: r.Unit, Context: r.Context, RefusedBy: map[string]int{}, ByStatus: map[string]int{}}
		}
		switch g.state {
		case StateDone:
			in.Completed++
			if g.outcome == event.OutcomeCreated {
				in.Created++
				in.Oppositions += r.Oppositions
			}
			if g.outcome == event.OutcomeExists {
				in.Existing++
			}
			if r.Identity != "" {
				in.ByStatus[r.Identity]++
			}
			if !r.Authorize {
				in.Withdrawn++
			} else if g.outcome != event.OutcomeRefused {
				in.Authorized++
			}
		case StateRefused:
			in.Refused++
			in.RefusedBy[g.reason]++
		case StateDead:
			in.Dead++
		}
		if wait := r.Received.Sub(r.Signed); wait > OfflineAfter {
			in.Offline++
			in.OfflineMax = max(in.OfflineMax, wait)
			in.OfflineTotal += wait
		}
		out[k] = in
	}
	return out
}

func indicatorSuite(t *testing.T, open func(t *testing.T) Journal) {
	j := open(t)
	loc, _ := time.LoadLocation("Europe/Paris")
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, loc) // the month holds the change to winter time
	evs := monthOfEvents(t, j, start, 600)
	ctx := context.Background()
	for _, q := range []IndicatorQuery{
		{From: start, To: start.AddDate(0, 1, 0), By: "day"},
		{From: start, To: start.AddDate(0, 1, 0), By: "week"},
		{From: start, To: start.AddDate(0, 1, 0), By: "month"},
		{From: start.AddDate(0, 0, 7), To: start.AddDate(0, 0, 14), By: "range"},
		{From: start, To: start.AddDate(0, 1, 0), By: "week", Site: "130784234", Context: "bedside"},
	} {
		name := fmt.Sprintf("%s %s–%s %s %s", q.By, q.From.Format("01-02"), q.To.Format("01-02"), q.Site, q.Context)
		got, err := j.Indicators(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := expected(evs, q)
		if len(got) != len(want) || len(got) == 0 {
			t.Fatalf("%s: %d lines, want %d", name, len(got), len(want))
		}
		for _, in := range got {
			w := want[[4]string{in.Period, in.Site, in.Unit, in.Context}]
			if fmt.Sprint(in) != fmt.Sprint(w) {
				t.Errorf("%s:\n got %+v\nwant %+v", name, in, w)
			}
			if in.Qualified() != w.ByStatus["qualifiée"] || in.IdentityKnown() != w.ByStatus["provisoire"]+w.ByStatus["récupérée"]+w.ByStatus["qualifiée"] {
				t.Errorf("%s: %d qualified of %d known, want %v", name, in.Qualified(), in.IdentityKnown(), w.ByStatus)
			}
		}
	}
	insiLookupsCheck(t, j)
	kioskLookupsCheck(t, j, start)
	if _, err := j.Indicators(ctx, IndicatorQuery{From: start, To: start, By: "day"}); err == nil {
		t.Error("an empty range was answered")
	}
	if _, err := j.Indicators(ctx, IndicatorQuery{From: start, To: start.AddDate(0, 1, 0), By: "year"}); err == nil {
		t.Error("an unknown period was answered")
	}
}

// insiLookupsCheck audits INSi calls as the bridge's observer does and
// counts them back by outcome; other audit links are not counted.
func insiLookupsCheck(t *testing.T, j Journal) {
	t.Helper()
	var calls INSiCalls
	observe := calls.Observer(j, nil)
	want := map[[3]string]int{}
	outcomes := []string{"00", "00", "00", "01", "02", "insi_102", "transport"}
	for i := range 40 {
		c := insi.Call{Operation: []string{"rechercherInsAvecCarteVitale", "rechercherInsAvecTraitsIdentite"}[i%2],
			Mode: insi.Manu, Outcome: outcomes[i%len(outcomes)], MessageID: fmt.Sprintf("msg-%d", i), Elapsed: time.Duration(i) * time.Millisecond}
		if i%3 == 0 {
			c.Mode = insi.Auto
		}
		observe(c)
		want[[3]string{c.Operation, c.Mode.String(), c.Outcome}]++
	}
	if err := j.Audit(context.Background(), "event.accepted", "ev-x", "device=k seq=1 type=dmp.consent in 3"); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	got, err := j.INSiLookups(context.Background(), IndicatorQuery{From: now.Add(-time.Hour), To: now.Add(time.Hour), By: "range"})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, l := range got {
		k := [3]string{l.Operation, l.Mode, l.Outcome}
		if want[k] != l.Count {
			t.Errorf("INSi %v: %d, audited %d", k, l.Count, want[k])
		}
		total += l.Count
	}
	if total != 40 || len(got) != len(want) {
		t.Errorf("INSi lookups: %d in %d lines, want 40 in %d: %+v", total, len(got), len(want), got)
	}
}

// kioskLookupsCheck keeps a week of the kiosks' lookups and counts them
// back by day, site and outcome.
func kioskLookupsCheck(t *testing.T, j Journal, start time.Time) {
	t.Helper()
	ctx := context.Background()
	want := map[[4]string]int{}
	outcomes := []string{event.LookupFound, event.LookupFound, event.LookupNotFound, event.LookupSeveral, event.LookupUnavailable}
	for i := range 70 {
		at := start.Add(time.Duration(i) * 7 * 24 * time.Hour / 70)
		l := LookupRecord{ID: fmt.Sprintf("lk-%03d", i), Device: "kiosk-1", Site: []string{"750712184", "130784234"}[i%2], Unit: "ACCUEIL",
			Received: at, Outcome: outcomes[i%len(outcomes)], Answer: []byte(`{}`)}
		if _, dup, err := j.KeepLookup(ctx, l); err != nil || dup {
			t.Fatal(dup, err)
		}
		want[[4]string{at.In(paris).Format("2006-01-02"), l.Site, l.Unit, l.Outcome}]++
	}
	if _, dup, err := j.KeepLookup(ctx, LookupRecord{ID: "lk-000", Device: "kiosk-2", Received: start, Outcome: event.LookupFound, Answer: []byte(`{}`)}); err != nil || !dup {
		t.Fatalf("a known lookup id kept again: %v %v", dup, err)
	}
	if l, err := j.Lookup(ctx, "lk-000"); err != nil || l.Device != "kiosk-1" {
		t.Fatalf("lookup: %+v %v", l, err)
	}
	got, err := j.KioskLookups(ctx, IndicatorQuery{From: start, To: start.AddDate(0, 0, 7), By: "day"})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, l := range got {
		if want[[4]string{l.Period, l.Site, l.Unit, l.Outcome}] != l.Count {
			t.Errorf("kiosk lookups %+v, kept %d", l, want[[4]string{l.Period, l.Site, l.Unit, l.Outcome}])
		}
		total += l.Count
	}
	if total != 70 || len(got) != len(want) {
		t.Errorf("kiosk lookups: %d in %d lines, want 70 in %d", total, len(got), len(want))
	}
}

func TestSQLiteIndicators(t *testing.T) {
	indicatorSuite(t, func(t *testing.T) Journal { return openSQLiteForTest(t) })
}

// A journal made before the infocentre gains its columns when opened, and
// keeps its events; what it did not record (the patient's answer, the
// signing time) is counted as not known, not as a withdrawal or a wait.
func TestSQLiteMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE events (id TEXT PRIMARY KEY, device TEXT NOT NULL, seq INTEGER NOT NULL, site TEXT NOT NULL,
		unit TEXT NOT NULL, type TEXT NOT NULL, received INTEGER NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
		next_attempt INTEGER NOT NULL DEFAULT 0, outcome TEXT NOT NULL DEFAULT '', message TEXT NOT NULL DEFAULT '',
		last_error TEXT NOT NULL DEFAULT '', payload BLOB NOT NULL);
		INSERT INTO events (id, device, seq, site, unit, type, received, state, outcome, payload)
		VALUES ('old-1', 'kiosk-1', 1, '750712184', 'ACCUEIL', 'dmp.consent', 1790000000000, 'done', 'authorized', '{}')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	j, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if r, err := j.Get(context.Background(), "old-1"); err != nil || r.State != StateDone {
		t.Fatalf("the old event: %+v %v", r, err)
	}
	got, err := j.Indicators(context.Background(), IndicatorQuery{From: time.UnixMilli(1789000000000), To: time.UnixMilli(1791000000000), By: "range"})
	if err != nil || len(got) != 1 || got[0].Completed != 1 || got[0].Authorized != 0 || got[0].Withdrawn != 0 || got[0].Offline != 0 {
		t.Fatalf("indicators of the old journal: %+v %v", got, err)
	}
}

// The exports through the admin web: a CSV for spreadsheets (BOM,
// semicolons, French columns) whose figures are the journal's, a JSON
// for reports, each export audited; a bad range is refused, and nobody
// without the password gets anything.
func TestIndicatorExports(t *testing.T) {
	j := openSQLiteForTest(t)
	loc, _ := time.LoadLocation("Europe/Paris")
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, loc)
	monthOfEvents(t, j, start, 300)
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
	q, _ := ParseIndicatorQuery("2026-10-01", "2026-10-31", "week", "", "", "admission")
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
	sq := j.(*SQLiteJournal)
	var n int
	if err := sq.db.QueryRow(`SELECT count(*) FROM audit WHERE kind = 'indicators.export' AND ref = 'admin:admin' AND detail LIKE '2026-10-01 to 2026-10-31 by %'`).Scan(&n); err != nil || n != 2 {
		t.Errorf("%d exports audited, %v", n, err)
	}
	if _, broken, err := j.VerifyAudit(context.Background()); err != nil || broken != 0 {
		t.Errorf("audit chain: %d %v", broken, err)
	}
}
