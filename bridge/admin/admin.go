package admin

import (
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
	// WakeFeed makes the documents' worker look at the journal (a held
	// document released).
	WakeFeed func()
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
	"date":           func(t time.Time) string { return t.In(paris).Format("02/01/2006 15:04:05") },
	"state":          func(s string) string { return label(stateLabels, s) },
	"outcome":        func(s string) string { return label(outcomeLabels, s) },
	"type":           func(s string) string { return label(typeLabels, s) },
	"ctx":            func(s string) string { return label(contextLabels, s) },
	"reason":         func(r journal.Record) string { return label(reasonLabels, journal.ReasonOf(r)) },
	"minutes":        func(d time.Duration) string { return decimal(d.Minutes()) },
	"doctype":        func(s string) string { return label(docTypeLabels, s) },
	"dockind":        func(s string) string { return label(docKindLabels, s) },
	"docstate":       func(s string) string { return label(docStateLabels, s) },
	"percent":        func(x float64) string { return decimal(100 * x) },
	"consultaction":  func(s string) string { return label(consultActionLabels, s) },
	"consultoutcome": func(s string) string { return label(consultOutcomeLabels, s) },
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
	if l, err := a.Journal.AckFailing(ctx, 10000); err == nil {
		fmt.Fprintf(w, "# HELP dmpbridge_zam_undelivered Business acknowledgements tried and not yet taken by their senders.\n"+
			"# TYPE dmpbridge_zam_undelivered gauge\ndmpbridge_zam_undelivered %d\n", len(l))
	}
}

// eventList serves a page of events under the page's filters; fixed, when
// set, fixes some of them (and the state is not offered).
func (a *Admin) eventList(title, intro string, fixed func(*journal.EventFilter)) http.HandlerFunc {
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
