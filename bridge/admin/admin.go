package admin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"codeberg.org/go-fonts/liberation/liberationsansregular"

	"dmpkiosk/bridge/insi"
	"dmpkiosk/bridge/internal/metrics"
	"dmpkiosk/bridge/journal"
	"dmpkiosk/bridge/sih"
	"dmpkiosk/firmware/event"
	"dmpkiosk/provisioning"
)

// Fleet keeps each kiosk's last heartbeat (kiosk/<device>/status), and
// the site its certificate enrolls it at.
type Fleet struct {
	mu    sync.Mutex
	kiosk map[string]heartbeat

	// Trust, when set, verifies a kiosk's certificate (chain to the kiosk
	// CA, CRL): only then is the site it names shown as enrolled.
	Trust func(der []byte) (provisioning.Identity, error)
	// Regime is the bridge's DMP's, to which each kiosk's is compared.
	Regime string
}

type heartbeat struct {
	event.Heartbeat
	Seen time.Time
	// Enrolled is the site the kiosk's verified certificate names; zero
	// if it sent none or one that does not verify.
	Enrolled provisioning.KioskSite
	// BridgeRegime is the Fleet's, for the page.
	BridgeRegime string
}

// regimeLabel names a regime for the IT team.
func regimeLabel(r string) string {
	switch r {
	case event.RegimeCurrent:
		return "actuel (DMP ouvert d'office)"
	case event.RegimeLegacy:
		return "ancien (création avec consentement)"
	case "":
		return "inconnu"
	}
	return r
}

// SiteMismatch says the kiosk is configured for another site than its
// enrollment: its events are refused.
func (hb heartbeat) SiteMismatch() bool {
	return hb.Enrolled == (provisioning.KioskSite{}) || hb.Site.FINESS != hb.Enrolled.FINESS || hb.Site.Unit != hb.Enrolled.Unit
}

// RegimeMismatch says the kiosk is made for another regime than the
// bridge's DMP: its events are refused.
func (hb heartbeat) RegimeMismatch() bool {
	return hb.BridgeRegime != "" && hb.Regime != hb.BridgeRegime
}

// NewFleet returns an empty fleet.
func NewFleet() *Fleet { return &Fleet{kiosk: map[string]heartbeat{}} }

// Heartbeat records a status message.
func (f *Fleet) Heartbeat(topic string, payload []byte) {
	// Only the kiosk's message is decoded: what the bridge concludes
	// (Enrolled) cannot come from it.
	var msg event.Heartbeat
	parts := strings.Split(topic, "/")
	if len(parts) != 3 || json.Unmarshal(payload, &msg) != nil || msg.Device != parts[1] {
		return
	}
	hb := heartbeat{Heartbeat: msg}
	hb.Seen = time.Now()
	if f.Trust != nil && len(hb.Cert) > 0 {
		if who, err := f.Trust(hb.Cert); err == nil && who.Role == provisioning.RoleKiosk && who.ID == hb.Device {
			hb.Enrolled = who.Site
		}
	}
	hb.Cert = nil
	hb.BridgeRegime = f.Regime
	f.mu.Lock()
	f.kiosk[hb.Device] = hb
	f.mu.Unlock()
}

func (f *Fleet) list() []heartbeat {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]heartbeat, 0, len(f.kiosk))
	for _, hb := range f.kiosk {
		out = append(out, hb)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Device < out[j].Device })
	return out
}

// Admin serves the IT team's pages and the metrics.
type Admin struct {
	Journal journal.Store
	// Metrics are the events flow's counters; INSi counts the bridge's
	// INSi calls (nil when there is no INSi).
	Metrics *metrics.Events
	INSi    *insi.Calls
	Fleet   *Fleet
	// Password: basic auth (user "admin"); empty: the TLS listener must
	// require client certificates.
	Password string
	Ready    func() bool
	// Wake makes the event workers look at the journal (a dead letter put
	// back in the queue); nil: they find it at their next look.
	Wake func()
	// WakeGAM makes a receiver's sender look at its outbox (an entry
	// matched or put back by hand).
	WakeGAM func(receiver string)
}

// paris is where the pages' days and times are.
var paris = provisioning.Paris

//go:embed admin.html
var pageTemplates string

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"regime": regimeLabel,
	"since": func(t time.Time) string {
		if t.IsZero() {
			return "jamais"
		}
		return time.Since(t).Round(time.Second).String()
	},
	"date":    func(t time.Time) string { return t.In(paris).Format("02/01/2006 15:04:05") },
	"state":   func(s string) string { return label(stateLabels, s) },
	"outcome": func(s string) string { return label(outcomeLabels, s) },
	"type":    func(s string) string { return label(typeLabels, s) },
	"ctx":     func(s string) string { return label(contextLabels, s) },
	"reason":  func(r journal.Record) string { return label(reasonLabels, journal.ReasonOf(r)) },
	"minutes": func(d time.Duration) string { return decimal(d.Minutes()) },
	"percent": func(x float64) string { return decimal(100 * x) },
}).Parse(pageTemplates))

// maskPatient shows enough to tell events apart, not who the patient is.
func maskPatient(payload []byte) string {
	var e event.Event
	if json.Unmarshal(payload, &e) != nil {
		return "?"
	}
	t := e.Patient.Traits
	return maskTraits(t.BirthName, t.FirstName, t.BirthDate)
}

// maskTraits shows the first letter of each trait.
func maskTraits(name, first, born string) string {
	mask := func(s string) string {
		r := []rune(s)
		if len(r) == 0 {
			return ""
		}
		return string(r[:1]) + strings.Repeat("•", 3)
	}
	return fmt.Sprintf("%s %s, %s", mask(name), mask(first), mask(born))
}

// Handler serves the pages.
func (a *Admin) Handler() http.Handler {
	mux := http.NewServeMux()
	render := func(w http.ResponseWriter, name string, data map[string]any) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; font-src 'self'; style-src 'unsafe-inline'; form-action 'self'")
		if err := pages.ExecuteTemplate(w, name, data); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	}
	metrics := func() map[string]int64 {
		m := a.Metrics
		return map[string]int64{"Received": m.Received.Load(), "Accepted": m.Accepted.Load(), "Duplicates": m.Duplicates.Load(),
			"Rejected": m.Rejected.Load(), "Done": m.Done.Load(), "Failed": m.Failed.Load(), "Dead": m.Dead.Load()}
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		render(w, "fleet", map[string]any{"Title": "Bornes", "Fleet": a.Fleet.list(), "M": metrics()})
	})
	mux.HandleFunc("GET /events", a.eventList(render, "Événements", "", nil))
	// The identities the bridge could not qualify (no DMP transaction was
	// made): for the identity staff to check at the patient's next visit.
	mux.HandleFunc("GET /identities", a.eventList(render, "Identités à vérifier",
		"Demandes sans transaction DMP : l'identité n'a pas pu être qualifiée (pièce d'identité et traits INSi). À vérifier à la prochaine venue du patient, puis à ressaisir.",
		func(f *journal.EventFilter) { f.State, f.Outcome = journal.StateDone, event.OutcomeIdentity }))
	mux.HandleFunc("GET /dead", func(w http.ResponseWriter, r *http.Request) {
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
	})
	// The messages to the hospital's information system: identities to
	// match by hand, refusals to retry.
	mux.HandleFunc("GET /sih", func(w http.ResponseWriter, r *http.Request) {
		data := map[string]any{"Title": "Système d'information (GAM)"}
		for key, state := range map[string]string{"Match": journal.SIHMatch, "Dead": journal.SIHDead, "Pending": journal.SIHSend, "Query": journal.SIHQuery, "Done": journal.SIHDone} {
			l, err := a.Journal.SIHList(r.Context(), state, 200)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			data[key] = sihRows(l)
		}
		render(w, "sih", data)
	})
	mux.HandleFunc("POST /sih/match", a.sihAction(journal.SIHMatch, "pas une identité à rapprocher, ou IPP vide", "sih.matched",
		func(m *journal.SIHMessage, r *http.Request) bool {
			ipp := strings.TrimSpace(r.FormValue("ipp"))
			m.State, m.IPP = journal.SIHSend, ipp
			return ipp != "" && len(ipp) <= 20
		}))
	mux.HandleFunc("POST /sih/retry", a.sihAction(journal.SIHDead, "pas un message refusé", "sih.retry", func(m *journal.SIHMessage, _ *http.Request) bool {
		// Written again (a new control id) once the cause is fixed.
		m.State, m.Message, m.Control = journal.SIHSend, nil, ""
		if m.IPP == "" {
			m.State = journal.SIHQuery
		}
		return true
	}))
	mux.HandleFunc("POST /dead/retry", func(w http.ResponseWriter, r *http.Request) {
		if err := a.Journal.Retry(r.Context(), r.FormValue("id")); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		if a.Wake != nil {
			a.Wake()
		}
		http.Redirect(w, r, "/dead", http.StatusSeeOther)
	})
	mux.HandleFunc("POST /dead/abandon", func(w http.ResponseWriter, r *http.Request) {
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
	})
	mux.HandleFunc("GET /usage", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/infocentre", http.StatusMovedPermanently)
	})
	mux.HandleFunc("GET /infocentre", func(w http.ResponseWriter, r *http.Request) {
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
	})
	// Each chart is drawn by the bridge (no script, nothing from outside
	// the hospital's network) for the same query as the page.
	mux.HandleFunc("GET /infocentre/{chart}", func(w http.ResponseWriter, r *http.Request) {
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
	})
	// The pages' font, from the bridge (hospital networks have no access
	// to the internet).
	mux.HandleFunc("GET /assets/liberation-sans.ttf", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "font/ttf")
		w.Header().Set("Cache-Control", "max-age=86400")
		w.Write(liberationsansregular.TTF)
	})
	mux.HandleFunc("GET /audit", func(w http.ResponseWriter, r *http.Request) {
		n, broken, err := a.Journal.VerifyAudit(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		render(w, "audit", map[string]any{"Title": "Chaîne d'audit", "Links": n, "Broken": broken})
	})
	// The infocentre's exports: ?from=AAAA-MM-JJ&to=AAAA-MM-JJ&by=day|week|month|range
	// and optional site, unit, context; each export is audited.
	for _, format := range []string{"csv", "json"} {
		mux.HandleFunc("GET /indicators."+format, func(w http.ResponseWriter, r *http.Request) {
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
		})
	}
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) { a.writeMetrics(r.Context(), w) })
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if a.Ready != nil && !a.Ready() {
			http.Error(w, "not connected to the broker", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return a.auth(mux)
}

// adminWho names who is signed in to the admin web, for the audit trail:
// the client certificate's name, or the password's user.
func adminWho(r *http.Request) string {
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		return "admin:" + r.TLS.VerifiedChains[0][0].Subject.CommonName
	}
	if u, _, ok := r.BasicAuth(); ok {
		return "admin:" + u
	}
	return "admin"
}

// auth asks for the password, except on the probes.
func (a *Admin) auth(h http.Handler) http.Handler {
	want := sha256.Sum256([]byte(a.Password))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			h.ServeHTTP(w, r)
			return
		}
		if a.Password == "" {
			if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
				http.Error(w, "client certificate required", http.StatusUnauthorized)
				return
			}
			h.ServeHTTP(w, r)
			return
		}
		user, pw, ok := r.BasicAuth()
		got := sha256.Sum256([]byte(pw))
		if !ok || user != "admin" || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="passerelle DMP", charset="UTF-8"`)
			http.Error(w, "authentification requise", http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodPost && r.Header.Get("Sec-Fetch-Site") != "" && r.Header.Get("Sec-Fetch-Site") != "same-origin" {
			http.Error(w, "requête d'un autre site refusée", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// writeMetrics writes the Prometheus text format.
func (a *Admin) writeMetrics(ctx context.Context, w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	m := a.Metrics
	counters := []struct {
		name, help string
		v          int64
	}{
		{"dmpbridge_events_received_total", "Events received from the broker.", m.Received.Load()},
		{"dmpbridge_events_accepted_total", "Events verified and journaled.", m.Accepted.Load()},
		{"dmpbridge_events_duplicate_total", "Redelivered events answered from the journal.", m.Duplicates.Load()},
		{"dmpbridge_events_done_total", "Events processed.", m.Done.Load()},
		{"dmpbridge_events_failed_total", "Transient processing failures.", m.Failed.Load()},
		{"dmpbridge_events_dead_total", "Events given up.", m.Dead.Load()},
	}
	for _, c := range counters {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", c.name, c.help, c.name, c.name, c.v)
	}
	fmt.Fprintf(w, "# HELP dmpbridge_events_rejected_total Events rejected, by reason.\n# TYPE dmpbridge_events_rejected_total counter\n")
	rej := m.Rejections()
	reasons := make([]string, 0, len(rej))
	for r := range rej {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		fmt.Fprintf(w, "dmpbridge_events_rejected_total{reason=%q} %d\n", r, rej[r])
	}
	if a.INSi != nil {
		a.INSi.Write(w)
	}
	fmt.Fprintf(w, "# HELP dmpbridge_kiosks_online Kiosks whose last heartbeat says online.\n# TYPE dmpbridge_kiosks_online gauge\n")
	online := 0
	for _, k := range a.Fleet.list() {
		if k.Online {
			online++
		}
	}
	fmt.Fprintf(w, "dmpbridge_kiosks_online %d\n", online)
	if _, dead, err := a.Journal.List(ctx, journal.EventFilter{State: journal.StateDead, Limit: 1}); err == nil {
		fmt.Fprintf(w, "# HELP dmpbridge_dead_letters Events in the dead letters.\n# TYPE dmpbridge_dead_letters gauge\ndmpbridge_dead_letters %d\n", dead)
	}
}

// eventList serves a page of events under the page's filters; fixed, when
// set, fixes some of them (and the state is not offered).
func (a *Admin) eventList(render func(http.ResponseWriter, string, map[string]any), title, intro string, fixed func(*journal.EventFilter)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		data := map[string]any{"Title": title, "Intro": intro}
		f, filter, err := parseEventFilters(r.URL.Query())
		if err != nil {
			data["Error"] = err.Error()
		}
		data["F"] = f
		if fixed != nil {
			fixed(&filter)
		} else {
			data["States"] = options(byLabel(stateLabels), stateLabels, f.State)
		}
		recs, pager, err := a.page(r, filter, "page")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		data["Events"], data["Pager"] = masked(recs), pager
		render(w, "events", data)
	}
}

// eventFilters are the events pages' filters as typed, for the form.
type eventFilters struct{ State, Site, Unit, From, To string }

// parseEventFilters reads the events pages' filters; a date that cannot be
// read is said and left out.
func parseEventFilters(v url.Values) (eventFilters, journal.EventFilter, error) {
	f := eventFilters{State: v.Get("state"), Site: v.Get("site"), Unit: v.Get("unit"), From: v.Get("from"), To: v.Get("to")}
	filter := journal.EventFilter{State: f.State, Site: f.Site, Unit: f.Unit, Limit: pageSize}
	var errs []string
	if f.From != "" {
		d, err := time.ParseInLocation(time.DateOnly, f.From, paris)
		if err != nil {
			errs, f.From = append(errs, "date de début illisible"), ""
		}
		filter.From = d
	}
	if f.To != "" {
		d, err := time.ParseInLocation(time.DateOnly, f.To, paris)
		if err != nil {
			errs, f.To = append(errs, "date de fin illisible"), ""
		} else {
			filter.To = d.AddDate(0, 0, 1)
		}
	}
	if len(errs) > 0 {
		return f, filter, fmt.Errorf("%s : attendue sous la forme AAAA-MM-JJ ; le filtre n'est pas appliqué", strings.Join(errs, ", "))
	}
	return f, filter, nil
}

// pageSize is how many events a page lists.
const pageSize = 50

// pager is a page's place among the pages of a list.
type pager struct {
	Page, Pages, Total int
	Prev, Next         template.URL
}

// page lists the events of filter on the page the request's param names,
// and the links to the pages before and after it (the other parameters
// kept).
func (a *Admin) page(r *http.Request, filter journal.EventFilter, param string) ([]journal.Record, pager, error) {
	n, _ := strconv.Atoi(r.URL.Query().Get(param))
	n = max(n, 1)
	filter.Offset = (n - 1) * pageSize
	recs, total, err := a.Journal.List(r.Context(), filter)
	if err != nil {
		return nil, pager{}, err
	}
	p := pager{Page: n, Pages: max(1, (total+pageSize-1)/pageSize), Total: total}
	link := func(k int) template.URL {
		v := r.URL.Query()
		v.Set(param, strconv.Itoa(k))
		return template.URL("?" + v.Encode())
	}
	if n > 1 {
		p.Prev = link(min(n-1, p.Pages))
	}
	if n < p.Pages {
		p.Next = link(n + 1)
	}
	return recs, p, nil
}

// maskedRecord is a record with its patient masked, for the pages.
type maskedRecord struct {
	journal.Record
	Patient string
}

func masked(recs []journal.Record) []maskedRecord {
	out := make([]maskedRecord, len(recs))
	for i, rec := range recs {
		out[i] = maskedRecord{rec, maskPatient(rec.Payload)}
	}
	return out
}

// option is a choice of a select.
type option struct {
	Value, Label string
	Selected     bool
}

// options lists values with their labels, in the order given.
func options(values []string, labels map[string]string, selected string) []option {
	out := make([]option, 0, len(values))
	for _, v := range values {
		out = append(out, option{Value: v, Label: label(labels, v), Selected: v == selected})
	}
	return out
}

// byLabel lists the keys of labels in the order of their labels.
func byLabel(labels map[string]string) []string {
	return slices.SortedFunc(maps.Keys(labels), func(a, b string) int { return strings.Compare(labels[a], labels[b]) })
}

// sihAction is a form's action on an outbox entry in state from: change
// sets it up for its next step (false: the form is refused); audited as
// kind with who did it.
func (a *Admin) sihAction(from, refusal, kind string, change func(*journal.SIHMessage, *http.Request) bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m, err := a.Journal.SIHGet(r.Context(), r.FormValue("id"))
		if err != nil || m.State != from || !change(&m, r) {
			http.Error(w, refusal, http.StatusConflict)
			return
		}
		m.Attempts, m.Next, m.Error = 0, time.Time{}, ""
		if err := a.Journal.SIHSave(r.Context(), m, kind, "by "+adminWho(r)); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if a.WakeGAM != nil {
			a.WakeGAM(m.Receiver)
		}
		http.Redirect(w, r, "/sih", http.StatusSeeOther)
	}
}

// sihRow is an outbox entry for the page: its patient masked.
type sihRow struct {
	journal.SIHMessage
	Patient string
}

func sihRows(l []journal.SIHMessage) []sihRow {
	out := make([]sihRow, len(l))
	for i, m := range l {
		var p sih.Patient
		json.Unmarshal(m.Payload, &p)
		out[i] = sihRow{m, maskTraits(p.Traits.BirthName, p.Traits.FirstName, p.Traits.BirthDate)}
	}
	return out
}
