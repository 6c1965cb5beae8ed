package admin

import (
	"dmpkiosk/bridge/journal"

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
	Total  journal.Indicator
	Lines  []journal.Indicator
	Charts []chartData
	// Documents are the documents for the DMP by period, unit, type and
	// state; Financed the documents sent of each type the financing
	// counts, in the order of docTypeLabels' financed list.
	Documents []journal.DocumentCount
	Financed  []financedCount
	// Consultations of the DMP at the bedside over the period, and the
	// emergency accesses (bris de glace) among them.
	Consultations, Emergencies int
}

// financedCount is how many documents of a type the financing counts were
// sent to the DMP over the period.
type financedCount struct {
	Type  string
	Label string
	Sent  int
}

// financedTypes are the document types the establishment's financing
// counts (Ségur SUN-ES, docs/feeding.md), in this order.
var financedTypes = []string{"11490-0", "34874-8", "18748-4", "11502-2", "57833-6"}

// infocentreFilters are the page's filters as typed, for the form.
type infocentreFilters struct{ From, To, By, Site, Unit, Context string }

// parseInfocentre reads the page's query; an empty range is the last 30
// days, by day.
func parseInfocentre(v url.Values, now time.Time) (infocentreFilters, journal.IndicatorQuery, error) {
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
	q, err := journal.ParseIndicatorQuery(f.From, f.To, f.By, f.Site, f.Unit, f.Context)
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
func buildInfocentre(ctx context.Context, j journal.Store, q journal.IndicatorQuery, query template.URL) (infocentreView, error) {
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
	docs, err := j.DocumentCounts(ctx, q)
	if err != nil {
		return infocentreView{}, err
	}
	v := infocentreView{Lines: lines, Total: journal.Indicator{RefusedBy: map[string]int{}, ByStatus: map[string]int{}}, Documents: docs}
	for kind, n := range map[string]*int{"dmp.consult": &v.Consultations, "dmp.bris_de_glace": &v.Emergencies} {
		l, err := j.AuditOf(ctx, kind)
		if err != nil {
			return infocentreView{}, err
		}
		for _, e := range l {
			if !e.At.Before(q.From) && e.At.Before(q.To) {
				*n++
			}
		}
	}
	sent := map[string]int{}
	for _, d := range docs {
		if d.State == journal.DocSent {
			sent[d.Type] += d.Count
		}
	}
	for _, t := range financedTypes {
		v.Financed = append(v.Financed, financedCount{Type: t, Label: docTypeLabels[t], Sent: sent[t]})
	}
	periods := q.AllPeriods()
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
		v.Total.Add(in)
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
