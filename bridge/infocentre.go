package bridge

import (
	"cmp"
	"context"
	"html/template"
	"maps"
	"net/url"
	"slices"
	"time"
)

// infocentreView is what the infocentre page shows for a query: the
// totals, the charts (each with its table) and the detailed lines.
type infocentreView struct {
	Total  Indicator
	Lines  []Indicator
	Charts []chartData
}

// infocentreFilters are the page's filters as typed, for the form.
type infocentreFilters struct{ From, To, By, Site, Unit, Context string }

// parseInfocentre reads the page's query; an empty range is the last 30
// days, by day.
func parseInfocentre(v url.Values, now time.Time) (infocentreFilters, IndicatorQuery, error) {
	f := infocentreFilters{From: v.Get("from"), To: v.Get("to"), By: v.Get("by"), Site: v.Get("site"), Unit: v.Get("unit"), Context: v.Get("context")}
	if f.To == "" {
		f.To = now.In(paris).Format(time.DateOnly)
	}
	if f.From == "" {
		to, _ := time.ParseInLocation(time.DateOnly, f.To, paris)
		f.From = to.AddDate(0, 0, -29).Format(time.DateOnly)
	}
	if f.By == "" {
		f.By = "day"
	}
	q, err := ParseIndicatorQuery(f.From, f.To, f.By, f.Site, f.Unit, f.Context)
	return f, q, err
}

// query is the filters as a URL query, for the charts and the exports.
func (f infocentreFilters) query() template.URL {
	v := url.Values{}
	for k, x := range map[string]string{"from": f.From, "to": f.To, "by": f.By, "site": f.Site, "unit": f.Unit, "context": f.Context} {
		if x != "" {
			v.Set(k, x)
		}
	}
	return template.URL(v.Encode())
}

// buildInfocentre counts the query's indicators and lays them out.
func buildInfocentre(ctx context.Context, j Journal, q IndicatorQuery, query template.URL) (infocentreView, error) {
	lines, err := j.Indicators(ctx, q)
	if err != nil {
		return infocentreView{}, err
	}
	lookups, err := j.INSiLookups(ctx, q)
	if err != nil {
		return infocentreView{}, err
	}
	desk, err := j.KioskLookups(ctx, q)
	if err != nil {
		return infocentreView{}, err
	}
	v := infocentreView{Lines: lines, Total: Indicator{RefusedBy: map[string]int{}, ByStatus: map[string]int{}}}
	periods := periodsOf(q)
	index := map[string]int{}
	for i, p := range periods {
		index[p] = i
	}
	activity := chartData{Name: "activite", Title: "Activité par " + label(periodLabels, q.By), Categories: periods, Lines: true, Query: query,
		Series: []chartSeries{{Name: "DMP créés"}, {Name: "Accès autorisés"}, {Name: "DMP existants"}, {Name: "Refus aux contrôles"}}}
	for i := range activity.Series {
		activity.Series[i].Values = make([]int, len(periods))
	}
	byContext := map[string]int{}
	for _, in := range lines {
		v.Total.add(in)
		i := index[in.Period]
		for k, n := range []int{in.Created, in.Authorized, in.Existing, in.Refused} {
			activity.Series[k].Values[i] += n
		}
		byContext[label(contextLabels, in.Context)] += in.Completed
	}
	reasons := map[string]int{}
	for r, n := range v.Total.RefusedBy {
		reasons[label(reasonLabels, r)] += n
	}
	statuses, asked := map[string]int{}, map[string]int{}
	for st, n := range v.Total.ByStatus {
		statuses[st] += n
	}
	for _, l := range desk {
		asked[label(deskLookupLabels, l.Outcome)] += l.Count
	}
	outcomes, searches := map[string]int{}, map[string]int{}
	for _, l := range lookups {
		outcomes[insiOutcomeLabel(l.Outcome)] += l.Count
		searches[label(insiOperationLabels, l.Operation)+", "+label(insiModeLabels, l.Mode)] += l.Count
	}
	v.Charts = []chartData{activity,
		breakdown("contextes", "Sessions terminées par contexte", "Sessions", byContext, query),
		breakdown("refus", "Refus aux contrôles par motif", "Refus", reasons, query),
		breakdown("identites", "Identités des sessions terminées, par statut", "Sessions", statuses, query),
		breakdown("guichet", "Recherches INSi demandées aux bornes, par résultat", "Recherches", asked, query),
		breakdown("insi", "Consultations de l'INSi par résultat (tout l'établissement)", "Consultations", outcomes, query),
		breakdown("insi-recherches", "Consultations de l'INSi par recherche", "Consultations", searches, query)}
	return v, nil
}

// add sums an indicator line into the totals.
func (i *Indicator) add(in Indicator) {
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

// breakdown is a bar chart of counts by category, the largest first.
func breakdown(name, title, series string, counts map[string]int, query template.URL) chartData {
	cats := slices.SortedFunc(maps.Keys(counts), func(a, b string) int {
		return cmp.Or(cmp.Compare(counts[b], counts[a]), cmp.Compare(a, b))
	})
	c := chartData{Name: name, Title: title, Categories: cats, Series: []chartSeries{{Name: series}}, Query: query}
	for _, k := range cats {
		c.Series[0].Values = append(c.Series[0].Values, counts[k])
	}
	return c
}

// periodsOf lists every period of the query's range, those without
// events too, so that a time series shows its quiet days.
func periodsOf(q IndicatorQuery) []string {
	loc := cmp.Or(q.Location, paris)
	var out []string
	for d := q.From.In(loc); d.Before(q.To); d = d.AddDate(0, 0, 1) {
		if p := periodOf(q, d, loc); len(out) == 0 || out[len(out)-1] != p {
			out = append(out, p)
		}
	}
	return out
}
