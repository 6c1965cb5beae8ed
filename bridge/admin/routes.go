package admin

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"codeberg.org/go-fonts/liberation/liberationsansregular"

	"dmpkiosk/bridge/journal"
	"dmpkiosk/firmware/event"
)

// Handler serves the pages: the route table below, behind one
// authentication.
func (a *Admin) Handler() http.Handler {
	routes := []struct {
		pattern string
		h       http.HandlerFunc
	}{
		{"GET /{$}", a.fleetPage},
		{"GET /events", a.eventList("Événements", "", nil)},
		// The identities the bridge could not qualify (no DMP transaction
		// was made): for the identity staff to check at the patient's next
		// visit.
		{"GET /identities", a.eventList("Identités à vérifier",
			"Demandes sans transaction DMP : l'identité n'a pas pu être qualifiée (pièce d'identité et traits INSi). À vérifier à la prochaine venue du patient, puis à ressaisir.",
			func(f *journal.EventFilter) { f.State, f.Outcome = journal.StateDone, event.OutcomeIdentity })},
		{"GET /dead", a.deadPage},
		{"POST /dead/retry", a.deadRetry},
		{"POST /dead/abandon", a.deadAbandon},
		// The messages to the hospital's information system: identities to
		// match by hand, refusals to retry.
		{"GET /sih", a.sihPage},
		{"POST /sih/match", a.sihAction(journal.SIHMatch, "pas une identité à rapprocher, ou IPP vide", "sih.matched", matchByHand)},
		{"POST /sih/retry", a.sihAction(journal.SIHDead, "pas un message refusé", "sih.retry", sendAgain)},
		{"GET /documents", a.documentsPage},
		{"POST /documents/release", a.documentAction(func(ctx context.Context, id, who string) error { return a.Journal.DocRelease(ctx, id, who) })},
		{"POST /documents/discard", a.documentAction(func(ctx context.Context, id, who string) error { return a.Journal.DocDiscard(ctx, id, who) })},
		{"POST /documents/retry", a.documentAction(func(ctx context.Context, id, who string) error { return a.Journal.DocRetry(ctx, id, who) })},
		{"GET /usage", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/infocentre", http.StatusMovedPermanently)
		}},
		{"GET /infocentre", a.infocentrePage},
		{"GET /infocentre/{chart}", a.chart},
		{"GET /assets/liberation-sans.ttf", pageFont},
		{"GET /audit", a.auditPage},
		// The infocentre's exports: ?from=AAAA-MM-JJ&to=AAAA-MM-JJ&by=day|week|month|range
		// and optional site, unit, context; each export is audited.
		{"GET /indicators.csv", a.export("csv")},
		{"GET /indicators.json", a.export("json")},
		{"GET /documents.csv", a.exportDocuments},
		{"GET /emergencies", a.emergencies},
		{"GET /metrics", func(w http.ResponseWriter, r *http.Request) { a.writeMetrics(r.Context(), w) }},
		{"GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }},
		{"GET /readyz", a.ready},
	}
	mux := http.NewServeMux()
	for _, r := range routes {
		mux.HandleFunc(r.pattern, r.h)
	}
	return a.auth(mux)
}

// render writes page name, under a policy that lets nothing run and
// nothing load from elsewhere.
func render(w http.ResponseWriter, name string, data map[string]any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; font-src 'self'; style-src 'unsafe-inline'; form-action 'self'")
	if err := pages.ExecuteTemplate(w, name, data); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

func (a *Admin) fleetPage(w http.ResponseWriter, r *http.Request) {
	m := a.Metrics
	counts := map[string]int64{"Received": m.Received.Load(), "Accepted": m.Accepted.Load(), "Duplicates": m.Duplicates.Load(),
		"Rejected": m.Rejected.Load(), "Done": m.Done.Load(), "Failed": m.Failed.Load(), "Dead": m.Dead.Load()}
	render(w, "fleet", map[string]any{"Title": "Bornes", "Fleet": a.Fleet.list(), "M": counts})
}

func (a *Admin) deadPage(w http.ResponseWriter, r *http.Request) {
	data := map[string]any{"Title": "Lettres mortes et refus"}
	f, filter, err := parseEventFilters(r.URL.Query())
	if err != nil {
		data["Error"] = err.Error()
	}
	data["F"] = f
	filter.State = journal.StateDead
	dead, pager, err := a.page(r, filter, "page")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	filter.State = journal.StateRefused
	refused, rpager, err := a.page(r, filter, "rpage")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	data["Events"], data["Pager"], data["Refused"], data["RefusedPager"] = dead, pager, refused, rpager
	render(w, "dead", data)
}

func (a *Admin) deadRetry(w http.ResponseWriter, r *http.Request) {
	if err := a.Journal.Retry(r.Context(), r.FormValue("id")); err != nil {
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	if a.Wake != nil {
		a.Wake()
	}
	http.Redirect(w, r, "/dead", http.StatusSeeOther)
}

func (a *Admin) deadAbandon(w http.ResponseWriter, r *http.Request) {
	id := r.FormValue("id")
	if rec, err := a.Journal.Get(r.Context(), id); err != nil || rec.State != journal.StateDead {
		http.Error(w, "pas une lettre morte", http.StatusConflict)
		return
	}
	if err := a.Journal.Audit(r.Context(), "deadletter.abandon", id, "abandoned by the IT team"); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	http.Redirect(w, r, "/dead", http.StatusSeeOther)
}

func (a *Admin) sihPage(w http.ResponseWriter, r *http.Request) {
	data := map[string]any{"Title": "Système d'information (GAM)"}
	for key, state := range map[string]string{"Match": journal.SIHMatch, "Dead": journal.SIHDead, "Pending": journal.SIHSend,
		"Query": journal.SIHQuery, "Done": journal.SIHDone} {
		l, err := a.Journal.SIHList(r.Context(), state, 200)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		data[key] = sihRows(l)
	}
	render(w, "sih", data)
}

// matchByHand sends an entry "à rapprocher" to the IPP the staff found.
func matchByHand(m *journal.SIHMessage, r *http.Request) bool {
	ipp := strings.TrimSpace(r.FormValue("ipp"))
	m.State, m.IPP = journal.SIHSend, ipp
	return ipp != "" && len(ipp) <= 20
}

// sendAgain puts a refused entry back: written again (a new control id)
// once the cause is fixed.
func sendAgain(m *journal.SIHMessage, _ *http.Request) bool {
	m.State, m.Message, m.Control = journal.SIHSend, nil, ""
	if m.IPP == "" {
		m.State = journal.SIHQuery
	}
	return true
}

func (a *Admin) infocentrePage(w http.ResponseWriter, r *http.Request) {
	f, q, err := parseInfocentre(r.URL.Query(), time.Now())
	data := map[string]any{"Title": "Infocentre DMP", "F": f, "Query": f.query(),
		"Periods": options(journal.Periods, periodLabels, f.By), "Contexts": options(byLabel(contextLabels), contextLabels, f.Context)}
	if err != nil {
		data["Error"] = err.Error()
		w.WriteHeader(http.StatusBadRequest)
		render(w, "infocentre", data)
		return
	}
	view, err := buildInfocentre(r.Context(), a.Journal, q, f.query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	data["View"] = view
	render(w, "infocentre", data)
}

// chart draws one of the infocentre's charts on the bridge (no script,
// nothing from outside the hospital's network) for the page's query.
func (a *Admin) chart(w http.ResponseWriter, r *http.Request) {
	_, q, err := parseInfocentre(r.URL.Query(), time.Now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	view, err := buildInfocentre(r.Context(), a.Journal, q, "")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	for _, c := range view.Charts {
		if c.Name+".svg" == r.PathValue("chart") {
			svg, err := c.SVG(true)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "image/svg+xml")
			w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; font-src data:")
			w.Write(svg)
			return
		}
	}
	http.NotFound(w, r)
}

// pageFont is the pages' font, from the bridge (hospital networks have no
// access to the internet).
func pageFont(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "font/ttf")
	w.Header().Set("Cache-Control", "max-age=86400")
	w.Write(liberationsansregular.TTF)
}

func (a *Admin) auditPage(w http.ResponseWriter, r *http.Request) {
	n, broken, err := a.Journal.VerifyAudit(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	render(w, "audit", map[string]any{"Title": "Chaîne d'audit", "Links": n, "Broken": broken})
}

// export answers the infocentre's figures in format (csv or json) as a
// download, audited.
func (a *Admin) export(format string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query()
		q, err := journal.ParseIndicatorQuery(v.Get("from"), v.Get("to"), v.Get("by"), v.Get("site"), v.Get("unit"), v.Get("context"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var buf bytes.Buffer
		if err := ExportIndicators(r.Context(), a.Journal, adminWho(r), q, format, &buf); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		name := fmt.Sprintf("indicateurs-dmp-%s-%s.%s", v.Get("from"), v.Get("to"), format)
		w.Header().Set("Content-Type", map[string]string{"csv": "text/csv; charset=utf-8", "json": "application/json"}[format])
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
		w.Write(buf.Bytes())
	}
}

func (a *Admin) ready(w http.ResponseWriter, _ *http.Request) {
	if a.Ready != nil && !a.Ready() {
		http.Error(w, "not connected to the broker", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

// documentsPage lists the documents received for the DMP, the latest
// first, without their patient.
func (a *Admin) documentsPage(w http.ResponseWriter, r *http.Request) {
	l, err := a.Journal.DocumentList(r.Context(), "", 200)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	held, err := a.Journal.DocumentList(r.Context(), journal.DocHeld, 200)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	refused, err := a.Journal.DocumentList(r.Context(), journal.DocRefused, 200)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	acks, err := a.Journal.AckFailing(r.Context(), 200)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	render(w, "documents", map[string]any{"Title": "Documents pour le DMP", "Documents": l, "Held": held, "Refused": refused, "Acks": acks})
}

// documentAction releases or discards a held document, or sends a refused
// one again, by whoever is signed in (audited by the journal), and wakes
// the worker.
func (a *Admin) documentAction(do func(ctx context.Context, id, who string) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := do(r.Context(), r.FormValue("id"), adminWho(r)); err != nil {
			http.Error(w, "pas un document retenu ou refusé, selon l'action", http.StatusConflict)
			return
		}
		if a.WakeFeed != nil {
			a.WakeFeed()
		}
		http.Redirect(w, r, "/documents", http.StatusSeeOther)
	}
}

// exportDocuments answers the documents' counts as a CSV download,
// audited like the other exports.
func (a *Admin) exportDocuments(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q, err := journal.ParseIndicatorQuery(v.Get("from"), v.Get("to"), v.Get("by"), v.Get("site"), v.Get("unit"), v.Get("context"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	counts, err := a.Journal.DocumentCounts(r.Context(), q)
	if err == nil {
		err = a.Journal.Audit(r.Context(), "indicators.export", adminWho(r), fmt.Sprintf("documents %s to %s by %s unit=%s format=csv",
			q.From.Format(time.DateOnly), q.To.AddDate(0, 0, -1).Format(time.DateOnly), q.By, q.Unit))
	}
	var buf bytes.Buffer
	if err == nil {
		err = WriteDocumentsCSV(&buf, counts)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="documents-dmp-%s-%s.csv"`, v.Get("from"), v.Get("to")))
	w.Write(buf.Bytes())
}

// emergencyAccess is one emergency access as the audit trail keeps it.
type emergencyAccess struct {
	At                                            time.Time
	Professional, Patient, Reason, Device, Action string
	Outcome                                       string // the consultation's outcome when not granted (event.Consult…)
}

// emergencies lists the emergency accesses (bris de glace) to the DMP,
// the latest first, from the audit trail.
func (a *Admin) emergencies(w http.ResponseWriter, r *http.Request) {
	l, err := a.Journal.AuditOf(r.Context(), "dmp.bris_de_glace")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	outcomes, err := a.Journal.AuditOf(r.Context(), "dmp.consult.outcome")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	outcome := map[string]string{}
	for _, o := range outcomes {
		outcome[o.Ref] = strings.TrimPrefix(o.Detail, "outcome=")
	}
	var out []emergencyAccess
	for i := len(l) - 1; i >= 0; i-- {
		f := map[string]string{}
		rest := l[i].Detail
		// key=value pairs; the reason, last, holds spaces.
		if before, reason, ok := strings.Cut(rest, " reason="); ok {
			rest, f["reason"] = before, reason
		}
		for _, kv := range strings.Fields(rest) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				f[k] = v
			}
		}
		out = append(out, emergencyAccess{At: l[i].At, Professional: f["professional"], Patient: f["patient"], Reason: f["reason"],
			Device: f["device"], Action: f["action"], Outcome: outcome[l[i].Ref]})
	}
	render(w, "emergencies", map[string]any{"Title": "Accès au DMP en urgence (bris de glace)", "Accesses": out})
}
