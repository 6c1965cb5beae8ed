package journal

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"dmpkiosk/firmware/event"
	"dmpkiosk/ins"
	"dmpkiosk/provisioning"
)

// IndicatorQuery chooses what the infocentre counts: events received in
// [From, To), grouped by site, unit, context and period, filtered when a
// field is set.
type IndicatorQuery struct {
	From, To            time.Time
	By                  string // day, week (ISO), month, or range (one period)
	Site, Unit, Context string
	// Location is where the days begin (Europe/Paris when nil).
	Location *time.Location
}

// Periods the indicators are grouped by.
var Periods = []string{"day", "week", "month", "range"}

// OfflineAfter is the wait between the kiosk's signature and the bridge's
// reception above which an event counts as queued offline.
const OfflineAfter = time.Minute

// Indicator is one line of the infocentre: a period, a site, a unit and a
// context, and what happened there.
type Indicator struct {
	Period              string
	Site, Unit, Context string
	// Sessions completed (processed), DMP created, DMP found existing
	// (legacy regime), the establishment's access given and withdrawn,
	// oppositions recorded at creation.
	Completed, Created, Existing, Authorized, Withdrawn, Oppositions int
	// Refused by the bridge's checks, by reason; given up (dead letters).
	Refused   int
	RefusedBy map[string]int
	Dead      int
	// Offline: events that waited more than OfflineAfter between the
	// kiosk and the bridge, and their longest and total wait.
	Offline                  int
	OfflineMax, OfflineTotal time.Duration
	// ByStatus counts the sessions completed by the identity status they
	// sent (events older than the column sent none and are not counted).
	ByStatus map[string]int
}

// IdentityKnown is how many completed sessions sent an identity status.
func (i Indicator) IdentityKnown() int {
	n := 0
	for _, c := range i.ByStatus {
		n += c
	}
	return n
}

// Qualified is how many completed sessions sent a qualified identity.
func (i Indicator) Qualified() int { return i.ByStatus[ins.Qualifiee.String()] }

// QualifiedShare is the share of qualified identities among the
// completed sessions whose status is known (0 when none is).
func (i Indicator) QualifiedShare() float64 {
	if i.IdentityKnown() == 0 {
		return 0
	}
	return float64(i.Qualified()) / float64(i.IdentityKnown())
}

// OfflineMean is the mean wait of the events queued offline.
func (i Indicator) OfflineMean() time.Duration {
	if i.Offline == 0 {
		return 0
	}
	return i.OfflineTotal / time.Duration(i.Offline)
}

// indicatorRow is one group of the SQL: an hour since the epoch (whole
// hours map to local days in Europe/Paris and the overseas departments'
// zones) and the facts that tell the counts apart.
type indicatorRow struct {
	site, unit, context    string
	hour                   int64
	state, outcome         string
	authorize              int // 1 given, 0 withdrawn, -1 not known
	reason, identity       string
	count, oppositions     int
	offline                int
	offlineMax, offlineSum int64
}

// indicatorSQL is the query both journals run; reason is the dialect's
// expression for a refusal's reason, ph its n-th placeholder.
func indicatorSQL(reason string, ph func(int) string, q IndicatorQuery) (string, []any) {
	where := []string{"received >= " + ph(1), "received < " + ph(2)}
	args := []any{q.From.UnixMilli(), q.To.UnixMilli()}
	for _, f := range [][2]string{{"site", q.Site}, {"unit", q.Unit}, {"context", q.Context}} {
		if f[1] != "" {
			args = append(args, f[1])
			where = append(where, f[0]+" = "+ph(len(args)))
		}
	}
	// An event older than the signed column (0) did not wait that we know.
	off := fmt.Sprint(OfflineAfter.Milliseconds()) + " AND signed > 0"
	return `SELECT site, unit, context, received / 3600000, state, outcome, authorize,
		CASE WHEN state = 'refused' THEN ` + reason + ` ELSE '' END, identity,
		count(*), sum(oppositions),
		sum(CASE WHEN received - signed > ` + off + ` THEN 1 ELSE 0 END),
		coalesce(max(CASE WHEN received - signed > ` + off + ` THEN received - signed END), 0),
		coalesce(sum(CASE WHEN received - signed > ` + off + ` THEN received - signed END), 0)
		FROM events WHERE ` + strings.Join(where, " AND ") + `
		GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9`, args
}

// foldIndicators turns the SQL's hourly groups into the query's periods.
func foldIndicators(q IndicatorQuery, rows []indicatorRow) []Indicator {
	loc := q.Location
	if loc == nil {
		loc = paris
	}
	byKey := map[[4]string]*Indicator{}
	for _, r := range rows {
		at := time.UnixMilli(r.hour * 3600000).In(loc)
		key := [4]string{periodOf(q, at, loc), r.site, r.unit, r.context}
		in := byKey[key]
		if in == nil {
			in = &Indicator{Period: key[0], Site: r.site, Unit: r.unit, Context: r.context, RefusedBy: map[string]int{}, ByStatus: map[string]int{}}
			byKey[key] = in
		}
		switch r.state {
		case StateDone:
			in.Completed += r.count
			switch r.outcome {
			case event.OutcomeCreated:
				in.Created += r.count
				in.Oppositions += r.oppositions
			case event.OutcomeExists:
				in.Existing += r.count
			}
			if r.authorize == 0 {
				in.Withdrawn += r.count
			} else if r.authorize == 1 && (r.outcome == event.OutcomeCreated || r.outcome == event.OutcomeExists || r.outcome == event.OutcomeAuthorized) {
				in.Authorized += r.count
			}
			if r.identity != "" {
				in.ByStatus[r.identity] += r.count
			}
		case StateRefused:
			in.Refused += r.count
			in.RefusedBy[r.reason] += r.count
		case StateDead:
			in.Dead += r.count
		}
		in.Offline += r.offline
		in.OfflineMax = max(in.OfflineMax, time.Duration(r.offlineMax)*time.Millisecond)
		in.OfflineTotal += time.Duration(r.offlineSum) * time.Millisecond
	}
	out := make([]Indicator, 0, len(byKey))
	for _, in := range byKey {
		out = append(out, *in)
	}
	slices.SortFunc(out, func(a, b Indicator) int {
		return strings.Compare(a.Period+"\x00"+a.Site+"\x00"+a.Unit+"\x00"+a.Context, b.Period+"\x00"+b.Site+"\x00"+b.Unit+"\x00"+b.Context)
	})
	return out
}

// periodOf names the period of a local time.
func periodOf(q IndicatorQuery, at time.Time, loc *time.Location) string {
	switch q.By {
	case "week":
		y, w := at.ISOWeek()
		return fmt.Sprintf("%d-S%02d", y, w)
	case "month":
		return at.Format("2006-01")
	case "range":
		return q.From.In(loc).Format("2006-01-02") + " au " + q.To.In(loc).Add(-time.Millisecond).Format("2006-01-02")
	}
	return at.Format("2006-01-02")
}

// paris is where the days begin.
var paris = provisioning.Paris

// checkIndicatorQuery refuses a query that cannot be answered.
func checkIndicatorQuery(q IndicatorQuery) error {
	switch {
	case !slices.Contains(Periods, q.By):
		return fmt.Errorf("indicateurs : regroupement %q inconnu (%s)", q.By, strings.Join(Periods, ", "))
	case !q.From.Before(q.To):
		return fmt.Errorf("indicateurs : la période finit avant de commencer")
	}
	return nil
}

// INSiLookup counts the bridge's INSi calls of a period by operation,
// mode and outcome (the CR, a fault's code, "transport" or "unreadable"),
// from the audit trail: the teleservice is called with the
// establishment's certificate, so these are the establishment's, not a
// site's or a unit's.
type INSiLookup struct {
	Period                   string
	Operation, Mode, Outcome string
	Count                    int
}

// insiLookupSQL is the query both journals run over the audit trail;
// head is the dialect's expression for the detail before " in " (the
// call's "operation mode: outcome").
func insiLookupSQL(head string, ph func(int) string, q IndicatorQuery) (string, []any) {
	return `SELECT at / 3600000, ` + head + `, count(*) FROM audit
		WHERE kind = 'insi' AND at >= ` + ph(1) + ` AND at < ` + ph(2) + ` GROUP BY 1, 2`, []any{q.From.UnixMilli(), q.To.UnixMilli()}
}

// insiLookupRow is one group of insiLookupSQL.
type insiLookupRow struct {
	hour  int64
	head  string
	count int
}

// foldINSiLookups turns the hourly groups into the query's periods.
func foldINSiLookups(q IndicatorQuery, rows []insiLookupRow) []INSiLookup {
	counts := foldCounts(q, len(rows), func(i int) (int64, [3]string, int) {
		op, rest, _ := strings.Cut(rows[i].head, " ")
		mode, outcome, _ := strings.Cut(rest, ": ")
		return rows[i].hour, [3]string{op, mode, outcome}, rows[i].count
	})
	out := make([]INSiLookup, len(counts))
	for i, c := range counts {
		out[i] = INSiLookup{Period: c.key[0], Operation: c.key[1], Mode: c.key[2], Outcome: c.key[3], Count: c.n}
	}
	return out
}

// periodCount is a count of a period and three keys.
type periodCount struct {
	key [4]string
	n   int
}

// foldCounts sums n hourly counts (at gives each one's hour, keys and
// count) into the query's periods, in the order of period and keys.
func foldCounts(q IndicatorQuery, n int, at func(i int) (hour int64, keys [3]string, count int)) []periodCount {
	loc := q.Location
	if loc == nil {
		loc = paris
	}
	byKey := map[[4]string]int{}
	for i := range n {
		hour, k, c := at(i)
		byKey[[4]string{periodOf(q, time.UnixMilli(hour*3600000).In(loc), loc), k[0], k[1], k[2]}] += c
	}
	out := make([]periodCount, 0, len(byKey))
	for k, c := range byKey {
		out = append(out, periodCount{k, c})
	}
	slices.SortFunc(out, func(a, b periodCount) int { return slices.Compare(a.key[:], b.key[:]) })
	return out
}

// KioskLookup counts the lookups the kiosks asked at the desk, by period,
// site, unit and outcome (event.LookupFound…), from the lookups kept.
type KioskLookup struct {
	Period, Site, Unit, Outcome string
	Count                       int
}

// kioskLookupSQL is the query both journals run over the lookups kept.
func kioskLookupSQL(ph func(int) string, q IndicatorQuery) (string, []any) {
	where := []string{"received >= " + ph(1), "received < " + ph(2)}
	args := []any{q.From.UnixMilli(), q.To.UnixMilli()}
	for _, f := range [][2]string{{"site", q.Site}, {"unit", q.Unit}} {
		if f[1] != "" {
			args = append(args, f[1])
			where = append(where, f[0]+" = "+ph(len(args)))
		}
	}
	return `SELECT received / 3600000, site, unit, outcome, count(*) FROM lookups WHERE ` + strings.Join(where, " AND ") +
		` GROUP BY 1, 2, 3, 4`, args
}

type kioskLookupRow struct {
	hour                int64
	site, unit, outcome string
	count               int
}

func scanKioskLookupRow(row rowScanner) (r kioskLookupRow, err error) {
	err = row.Scan(&r.hour, &r.site, &r.unit, &r.outcome, &r.count)
	return r, err
}

// foldKioskLookups turns the hourly groups into the query's periods.
func foldKioskLookups(q IndicatorQuery, rows []kioskLookupRow) []KioskLookup {
	counts := foldCounts(q, len(rows), func(i int) (int64, [3]string, int) {
		return rows[i].hour, [3]string{rows[i].site, rows[i].unit, rows[i].outcome}, rows[i].count
	})
	out := make([]KioskLookup, len(counts))
	for i, c := range counts {
		out[i] = KioskLookup{Period: c.key[0], Site: c.key[1], Unit: c.key[2], Outcome: c.key[3], Count: c.n}
	}
	return out
}

// rowsQueryer is what a journal gives the infocentre's queries: its
// placeholders and its rows.
type rowsQueryer interface {
	placeholder(n int) string
	queryRows(ctx context.Context, query string, args ...any) (rows rowsReader, close func(), err error)
}

// foldQuery runs one of the infocentre's queries (build) on a journal and
// folds its hourly rows into the query's periods.
func foldQuery[R, T any](ctx context.Context, db rowsQueryer, q IndicatorQuery, build func(ph func(int) string, q IndicatorQuery) (string, []any),
	scan func(rowScanner) (R, error), fold func(IndicatorQuery, []R) []T) ([]T, error) {
	if err := checkIndicatorQuery(q); err != nil {
		return nil, err
	}
	query, args := build(db.placeholder, q)
	rows, done, err := db.queryRows(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer done()
	out, err := readRows(rows, scan)
	if err != nil {
		return nil, err
	}
	return fold(q, out), nil
}

// indicators runs indicatorSQL; reason is the dialect's expression for a
// refusal's reason.
func indicators(ctx context.Context, db rowsQueryer, reason string, q IndicatorQuery) ([]Indicator, error) {
	build := func(ph func(int) string, q IndicatorQuery) (string, []any) { return indicatorSQL(reason, ph, q) }
	return foldQuery(ctx, db, q, build, scanIndicatorRow, foldIndicators)
}

// insiLookups runs insiLookupSQL; head is the dialect's expression for an
// INSi audit detail before " in ".
func insiLookups(ctx context.Context, db rowsQueryer, head string, q IndicatorQuery) ([]INSiLookup, error) {
	build := func(ph func(int) string, q IndicatorQuery) (string, []any) { return insiLookupSQL(head, ph, q) }
	return foldQuery(ctx, db, q, build, scanINSiLookupRow, foldINSiLookups)
}

// ParseIndicatorQuery reads a query from its text form: from and to as
// local dates (to included), by, and the filters.
func ParseIndicatorQuery(from, to, by, site, unit, context string) (IndicatorQuery, error) {
	q := IndicatorQuery{By: by, Site: site, Unit: unit, Context: context, Location: paris}
	var err error
	if q.From, err = time.ParseInLocation("2006-01-02", from, paris); err != nil {
		return q, fmt.Errorf("indicateurs : date de début %q illisible, attendue AAAA-MM-JJ", from)
	}
	end, err := time.ParseInLocation("2006-01-02", to, paris)
	if err != nil {
		return q, fmt.Errorf("indicateurs : date de fin %q illisible, attendue AAAA-MM-JJ", to)
	}
	q.To = end.AddDate(0, 0, 1)
	return q, checkIndicatorQuery(q)
}

// Add sums an indicator line into the totals.
func (i *Indicator) Add(in Indicator) {
	i.Completed += in.Completed
	i.Created += in.Created
	i.Existing += in.Existing
	i.Authorized += in.Authorized
	i.Withdrawn += in.Withdrawn
	i.Oppositions += in.Oppositions
	i.Refused += in.Refused
	for r, n := range in.RefusedBy {
		i.RefusedBy[r] += n
	}
	for st, n := range in.ByStatus {
		i.ByStatus[st] += n
	}
	i.Dead += in.Dead
	i.Offline += in.Offline
	i.OfflineMax = max(i.OfflineMax, in.OfflineMax)
	i.OfflineTotal += in.OfflineTotal
}

// AllPeriods lists every period of the query's range, those without
// events too, so that a time series shows its quiet days.
func (q IndicatorQuery) AllPeriods() []string {
	loc := cmp.Or(q.Location, paris)
	var out []string
	for d := q.From.In(loc); d.Before(q.To); d = d.AddDate(0, 0, 1) {
		if p := periodOf(q, d, loc); len(out) == 0 || out[len(out)-1] != p {
			out = append(out, p)
		}
	}
	return out
}

// DocumentCount counts the documents received for the DMP by period,
// producing unit, document type (JDV_J07) and where they stand
// (received, waiting, sent, held, refused…): what the establishment's
// financing counts (the documents sent, by type).
type DocumentCount struct {
	Period, Unit, Type, State string
	Count                     int
}

// documentCountSQL is the query both journals run over the documents
// (the query's site and context do not apply: a document has neither).
func documentCountSQL(ph func(int) string, q IndicatorQuery) (string, []any) {
	// A deletion (T04, ORU D) is a request, not a document: not counted.
	where := []string{"received >= " + ph(1), "received < " + ph(2), "kind NOT IN ('T04', 'R01/D')"}
	args := []any{q.From.UnixMilli(), q.To.UnixMilli()}
	if q.Unit != "" {
		args = append(args, q.Unit)
		where = append(where, "unit = "+ph(len(args)))
	}
	return `SELECT received / 3600000, unit, type_code, state, count(*) FROM documents WHERE ` + strings.Join(where, " AND ") +
		` GROUP BY 1, 2, 3, 4`, args
}

// countRow is an hourly group of three keys and its count.
type countRow struct {
	hour  int64
	keys  [3]string
	count int
}

func scanCountRow(row rowScanner) (r countRow, err error) {
	err = row.Scan(&r.hour, &r.keys[0], &r.keys[1], &r.keys[2], &r.count)
	return r, err
}

// foldDocumentCounts turns the hourly groups into the query's periods.
func foldDocumentCounts(q IndicatorQuery, rows []countRow) []DocumentCount {
	counts := foldCounts(q, len(rows), func(i int) (int64, [3]string, int) { return rows[i].hour, rows[i].keys, rows[i].count })
	out := make([]DocumentCount, len(counts))
	for i, c := range counts {
		out[i] = DocumentCount{Period: c.key[0], Unit: c.key[1], Type: c.key[2], State: c.key[3], Count: c.n}
	}
	return out
}
