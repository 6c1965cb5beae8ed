package admin

import (
	"dmpkiosk/bridge/journal"

	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"dmpkiosk/ins"
)

// indicatorHeader is the CSV's first line: French column names.
var indicatorHeader = []string{"Période", "Site (FINESS géographique)", "Unité", "Contexte", "Sessions terminées", "DMP créés",
	"DMP existants", "Accès autorisés", "Accès retirés", "Oppositions", "Refus aux contrôles", "Refus par motif",
	"Lettres mortes", "Événements différés (hors ligne)", "Attente moyenne hors ligne (min)", "Attente maximale hors ligne (min)",
	"Identités au statut connu", "Identités qualifiées", "Part d'identités qualifiées (%)",
	"Identités récupérées", "Identités validées", "Identités provisoires"}

// WriteIndicatorsCSV writes the indicators for a spreadsheet: UTF-8 with a
// byte-order mark, semicolons, French column names, decimal commas.
func WriteIndicatorsCSV(w io.Writer, lines []journal.Indicator) error {
	if _, err := io.WriteString(w, "\ufeff"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.Comma = ';'
	cw.UseCRLF = true // as spreadsheets write it
	if err := cw.Write(indicatorHeader); err != nil {
		return err
	}
	minutes := func(d time.Duration) string { return decimal(d.Minutes()) }
	for _, in := range lines {
		var reasons []string
		for _, r := range slices.Sorted(maps.Keys(in.RefusedBy)) {
			reasons = append(reasons, fmt.Sprintf("%s : %d", label(reasonLabels, r), in.RefusedBy[r]))
		}
		if err := cw.Write([]string{in.Period, in.Site, in.Unit, label(contextLabels, in.Context), fmt.Sprint(in.Completed),
			fmt.Sprint(in.Created), fmt.Sprint(in.Existing), fmt.Sprint(in.Authorized), fmt.Sprint(in.Withdrawn),
			fmt.Sprint(in.Oppositions), fmt.Sprint(in.Refused), strings.Join(reasons, ", "), fmt.Sprint(in.Dead),
			fmt.Sprint(in.Offline), minutes(in.OfflineMean()), minutes(in.OfflineMax),
			fmt.Sprint(in.IdentityKnown()), fmt.Sprint(in.Qualified()), decimal(100 * in.QualifiedShare()),
			fmt.Sprint(in.ByStatus[ins.Recuperee.String()]), fmt.Sprint(in.ByStatus[ins.Validee.String()]), fmt.Sprint(in.ByStatus[ins.Provisoire.String()])}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// decimal writes x with one decimal and a decimal comma, as French
// spreadsheets read it.
func decimal(x float64) string { return strings.Replace(fmt.Sprintf("%.1f", x), ".", ",", 1) }

// indicatorJSON is an indicator for the regional and national reports.
type indicatorJSON struct {
	Period             string         `json:"period"`
	Site               string         `json:"site_finess"`
	Unit               string         `json:"unit"`
	Context            string         `json:"context"`
	Completed          int            `json:"sessions_completed"`
	Created            int            `json:"dmp_created"`
	Existing           int            `json:"dmp_existing"`
	Authorized         int            `json:"access_authorized"`
	Withdrawn          int            `json:"access_withdrawn"`
	Oppositions        int            `json:"oppositions"`
	Refused            int            `json:"refused"`
	RefusedBy          map[string]int `json:"refused_by_reason"`
	Dead               int            `json:"dead_letters"`
	Offline            int            `json:"queued_offline"`
	OfflineMeanSeconds float64        `json:"offline_wait_mean_s"`
	OfflineMaxSeconds  float64        `json:"offline_wait_max_s"`
	IdentityKnown      int            `json:"identities_status_known"`
	Qualified          int            `json:"identities_qualified"`
	ByStatus           map[string]int `json:"identities_by_status"`
}

// WriteIndicatorsJSON writes the indicators as a JSON array.
func WriteIndicatorsJSON(w io.Writer, ins []journal.Indicator) error {
	out := make([]indicatorJSON, 0, len(ins))
	for _, in := range ins {
		out = append(out, indicatorJSON{Period: in.Period, Site: in.Site, Unit: in.Unit, Context: in.Context, Completed: in.Completed,
			Created: in.Created, Existing: in.Existing, Authorized: in.Authorized, Withdrawn: in.Withdrawn, Oppositions: in.Oppositions,
			Refused: in.Refused, RefusedBy: in.RefusedBy, Dead: in.Dead, Offline: in.Offline,
			OfflineMeanSeconds: in.OfflineMean().Seconds(), OfflineMaxSeconds: in.OfflineMax.Seconds(),
			IdentityKnown: in.IdentityKnown(), Qualified: in.Qualified(), ByStatus: in.ByStatus})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// ExportIndicators answers an export in format (csv or json) and audits it
// (who, when, which range).
func ExportIndicators(ctx context.Context, j journal.Store, who string, q journal.IndicatorQuery, format string, w io.Writer) error {
	if format != "csv" && format != "json" {
		return fmt.Errorf("indicators: format %q (csv or json)", format)
	}
	ins, err := j.Indicators(ctx, q)
	if err != nil {
		return err
	}
	if err := j.Audit(ctx, "indicators.export", who, fmt.Sprintf("%s to %s by %s site=%s unit=%s context=%s format=%s",
		q.From.Format(time.DateOnly), q.To.AddDate(0, 0, -1).Format(time.DateOnly), q.By, q.Site, q.Unit, q.Context, format)); err != nil {
		return err
	}
	if format == "json" {
		return WriteIndicatorsJSON(w, ins)
	}
	return WriteIndicatorsCSV(w, ins)
}

// WriteDocumentsCSV writes the documents' counts for spreadsheets (as
// WriteIndicatorsCSV: BOM, semicolons, French column names).
func WriteDocumentsCSV(w io.Writer, counts []journal.DocumentCount) error {
	if _, err := io.WriteString(w, "\ufeff"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.Comma = ';'
	cw.UseCRLF = true
	if err := cw.Write([]string{"Période", "Unité", "Type de document", "Code du type", "État", "Documents"}); err != nil {
		return err
	}
	for _, c := range counts {
		if err := cw.Write([]string{c.Period, c.Unit, label(docTypeLabels, c.Type), c.Type, label(docStateLabels, c.State), fmt.Sprint(c.Count)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
