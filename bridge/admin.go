package bridge

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

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
	Journal  Journal
	Service  *Service
	Fleet    *Fleet
	Password string // basic auth (user "admin"); empty: the TLS listener must require client certificates
	Ready    func() bool
}

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"regime": regimeLabel,
	"since": func(t time.Time) string {
		if t.IsZero() {
			return "jamais"
		}
		return time.Since(t).Round(time.Second).String()
	},
	"date": func(t time.Time) string { return t.Local().Format("02/01/2006 15:04:05") },
}).Parse(`{{define "head"}}<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Passerelle DMP — {{.Title}}</title>
<style>body{font:16px system-ui,sans-serif;margin:0;color:#111}nav{background:#222b36;padding:10px}nav a{color:#fff;margin-right:18px}
main{padding:16px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}.bad{color:#b00020;font-weight:600}.ok{color:#0b6e2e}</style>
</head><body><nav><a href="/">Bornes</a><a href="/events">Événements</a><a href="/dead">Lettres mortes</a><a href="/usage">Indicateurs</a><a href="/audit">Audit</a></nav><main><h1>{{.Title}}</h1>{{end}}
{{define "foot"}}</main></body></html>{{end}}
{{define "fleet"}}{{template "head" .}}<table><tr><th>Borne</th><th>Site inscrit (certificat)</th><th>Régime</th><th>État</th><th>Vue il y a</th><th>Version</th><th>Lecteurs</th><th>File</th><th>Quarantaine</th><th>Dernière erreur</th><th>Horloge</th></tr>
{{range .Fleet}}<tr><td>{{.Device}}</td><td>{{if .Enrolled.FINESS}}{{.Enrolled.FINESS}} · {{.Enrolled.Unit}}{{else}}<span class="bad">non prouvé</span>{{end}}{{if .SiteMismatch}} <span class="bad">configurée pour {{.Site.FINESS}} · {{.Site.Unit}} : ses événements sont refusés</span>{{end}}</td><td>{{regime .Regime}}{{if .RegimeMismatch}} <span class="bad">le DMP du pont est en régime {{regime .BridgeRegime}} : ses événements sont refusés</span>{{end}}</td><td>{{if .Online}}<span class="ok">en ligne</span>{{else}}<span class="bad">hors ligne</span>{{end}}</td><td>{{since .Seen}}</td><td>{{.Version}}</td><td>{{len .Readers}}</td><td>{{.Outbox}}</td><td>{{if .Quarantined}}<span class="bad">{{.Quarantined}}</span>{{else}}0{{end}}</td><td>{{.LastError}}</td><td>{{date .Clock}}</td></tr>{{else}}<tr><td colspan="11">Aucune borne n'a encore donné de nouvelles.</td></tr>{{end}}</table>
<p>Reçus {{.M.Received}}, acceptés {{.M.Accepted}}, doublons {{.M.Duplicates}}, refusés {{.M.Rejected}}, traités {{.M.Done}}, en échec {{.M.Failed}}, abandonnés {{.M.Dead}}.</p>{{template "foot"}}{{end}}
{{define "events"}}{{template "head" .}}<table><tr><th>Reçu</th><th>Événement</th><th>Borne</th><th>Site / unité</th><th>Type</th><th>Patient</th><th>État</th><th>Résultat</th></tr>
{{range .Events}}<tr><td>{{date .Received}}</td><td>{{.ID}}</td><td>{{.Device}}</td><td>{{.Site}} / {{.Unit}}</td><td>{{.Type}}</td><td>{{.Patient}}</td><td>{{.State}}</td><td>{{.Outcome}}</td></tr>{{end}}</table>{{template "foot"}}{{end}}
{{define "dead"}}{{template "head" .}}<table><tr><th>Événement</th><th>Borne</th><th>Tentatives</th><th>Erreur</th><th></th></tr>
{{range .Events}}<tr><td>{{.ID}}</td><td>{{.Device}}</td><td>{{.Attempts}}</td><td>{{.LastError}}</td><td><form method="post" action="/dead/retry"><input type="hidden" name="id" value="{{.ID}}"><button>Relancer</button></form>
<form method="post" action="/dead/abandon"><input type="hidden" name="id" value="{{.ID}}"><button>Abandonner</button></form></td></tr>{{else}}<tr><td colspan="5">Aucune lettre morte.</td></tr>{{end}}</table>
<h2>Refusés à la vérification</h2><p>Jamais traités ni relançables : la borne a reçu le motif ; la saisie est à refaire une fois la cause corrigée.</p>
<table><tr><th>Événement</th><th>Borne</th><th>Reçu</th><th>Motif</th><th>Message affiché à la borne</th></tr>
{{range .Refused}}<tr><td>{{.ID}}</td><td>{{.Device}}</td><td>{{date .Received}}</td><td>{{.LastError}}</td><td>{{.Message}}</td></tr>{{else}}<tr><td colspan="5">Aucun événement refusé.</td></tr>{{end}}</table>{{template "foot"}}{{end}}
{{define "usage"}}{{template "head" .}}<p>DMP créés, autorisations enregistrées, DMP existants et refus, par site, unité et jour.</p>{{.Chart}}
<table><tr><th>Jour</th><th>Site</th><th>Unité</th><th>Action</th><th>Nombre</th></tr>{{range .Usage}}<tr><td>{{.Day}}</td><td>{{.Site}}</td><td>{{.Unit}}</td><td>{{.Action}}</td><td>{{.Count}}</td></tr>{{end}}</table>{{template "foot"}}{{end}}
{{define "audit"}}{{template "head" .}}{{if .Broken}}<p class="bad">Chaîne d'audit rompue au maillon {{.Broken}} (après {{.Links}} maillons intègres).</p>{{else}}<p class="ok">Chaîne d'audit intègre : {{.Links}} maillons.</p>{{end}}{{template "foot"}}{{end}}`))

// maskPatient shows enough to tell events apart, not who the patient is.
func maskPatient(payload []byte) string {
	var e event.Event
	if json.Unmarshal(payload, &e) != nil {
		return "?"
	}
	mask := func(s string) string {
		r := []rune(s)
		if len(r) == 0 {
			return ""
		}
		return string(r[:1]) + strings.Repeat("•", 3)
	}
	t := e.Patient.Traits
	return fmt.Sprintf("%s %s, %s", mask(t.BirthName), mask(t.FirstName), mask(t.BirthDate))
}

// Handler serves the pages.
func (a *Admin) Handler() http.Handler {
	mux := http.NewServeMux()
	render := func(w http.ResponseWriter, name string, data map[string]any) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
		if err := pages.ExecuteTemplate(w, name, data); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	}
	metrics := func() map[string]int64 {
		m := a.Service.Metrics
		return map[string]int64{"Received": m.Received.Load(), "Accepted": m.Accepted.Load(), "Duplicates": m.Duplicates.Load(),
			"Rejected": m.Rejected.Load(), "Done": m.Done.Load(), "Failed": m.Failed.Load(), "Dead": m.Dead.Load()}
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		render(w, "fleet", map[string]any{"Title": "Bornes", "Fleet": a.Fleet.list(), "M": metrics()})
	})
	list := func(state string) func(w http.ResponseWriter, r *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			recs, err := a.Journal.List(r.Context(), state, 200)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			type row struct {
				Record
				Patient string
			}
			rows := make([]row, len(recs))
			for i, rec := range recs {
				rows[i] = row{rec, maskPatient(rec.Payload)}
			}
			data := map[string]any{"Title": "Événements", "Events": rows}
			name := "events"
			if state == StateDead {
				name, data["Title"] = "dead", "Lettres mortes"
				refused, err := a.Journal.List(r.Context(), StateRefused, 200)
				if err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
				data["Refused"] = refused
			}
			render(w, name, data)
		}
	}
	mux.HandleFunc("GET /events", list(""))
	mux.HandleFunc("GET /dead", list(StateDead))
	mux.HandleFunc("POST /dead/retry", func(w http.ResponseWriter, r *http.Request) {
		if err := a.Journal.Retry(r.Context(), r.FormValue("id")); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		a.Service.wake()
		http.Redirect(w, r, "/dead", http.StatusSeeOther)
	})
	mux.HandleFunc("POST /dead/abandon", func(w http.ResponseWriter, r *http.Request) {
		id := r.FormValue("id")
		if rec, err := a.Journal.Get(r.Context(), id); err != nil || rec.State != StateDead {
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
		u, err := a.Journal.Usage(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		render(w, "usage", map[string]any{"Title": "Indicateurs d'usage", "Usage": u, "Chart": usageChart(u)})
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
			q, err := ParseIndicatorQuery(v.Get("from"), v.Get("to"), v.Get("by"), v.Get("site"), v.Get("unit"), v.Get("context"))
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

// usageChart draws the daily counts per action as an SVG bar chart.
func usageChart(u []Usage) template.HTML {
	days := map[string]map[string]int{}
	var order []string
	maxN := 1
	for _, x := range u {
		if days[x.Day] == nil {
			days[x.Day] = map[string]int{}
			order = append(order, x.Day)
		}
		days[x.Day][x.Action] += x.Count
		maxN = max(maxN, days[x.Day][x.Action])
	}
	actions := []string{event.OutcomeCreated, event.OutcomeAuthorized, event.OutcomeExists, event.OutcomeRefused}
	colours := map[string]string{event.OutcomeCreated: "#0b6e2e", event.OutcomeAuthorized: "#004a99", event.OutcomeExists: "#6b6b6b", event.OutcomeRefused: "#b00020"}
	const h, bw = 160, 14
	var b strings.Builder
	w := max(200, len(order)*(len(actions)*bw+20)+40)
	fmt.Fprintf(&b, `<svg role="img" aria-label="Actions par jour" width="%d" height="%d" viewBox="0 0 %d %d">`, w, h+40, w, h+40)
	for i, d := range order {
		x0 := 30 + i*(len(actions)*bw+20)
		for k, a := range actions {
			n := days[d][a]
			bh := n * h / maxN
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"><title>%s %s : %d</title></rect>`,
				x0+k*bw, h-bh+10, bw-2, bh, colours[a], d, a, n)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11">%s</text>`, x0, h+28, template.HTMLEscapeString(d[5:]))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// writeMetrics writes the Prometheus text format.
func (a *Admin) writeMetrics(ctx context.Context, w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	m := a.Service.Metrics
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
	m.INSi.Write(w)
	fmt.Fprintf(w, "# HELP dmpbridge_kiosks_online Kiosks whose last heartbeat says online.\n# TYPE dmpbridge_kiosks_online gauge\n")
	online := 0
	for _, k := range a.Fleet.list() {
		if k.Online {
			online++
		}
	}
	fmt.Fprintf(w, "dmpbridge_kiosks_online %d\n", online)
	if dead, err := a.Journal.List(ctx, StateDead, 10000); err == nil {
		fmt.Fprintf(w, "# HELP dmpbridge_dead_letters Events in the dead letters.\n# TYPE dmpbridge_dead_letters gauge\ndmpbridge_dead_letters %d\n", len(dead))
	}
}
