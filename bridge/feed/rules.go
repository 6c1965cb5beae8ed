package feed

import (
	"fmt"
	"slices"
	"strings"
)

// Rules are the establishment's rules for feeding the DMP (the guide for
// establishments: "systématisée par défaut avec possibilité de débrayage
// par les professionnels … en fonction du type de document, de l'unité
// fonctionnelle productrice, ainsi que du statut du document", a semantic
// marker in the title may trigger it; docs/feeding.md). The sender's
// choice (DESTDMP N) is the professional's opt-out and always wins.
type Rules struct {
	// Types are the document types (JDV_J07) sent; empty: every type.
	Types []string `toml:"types"`
	// Units are the producing units (PV1-3) sent; empty: every unit.
	// ExcludeUnits are never sent.
	Units        []string `toml:"units"`
	ExcludeUnits []string `toml:"exclude_units"`
	// Marker, when set, sends a document whose title holds it whatever
	// its type or unit (not an excluded unit's).
	Marker string `toml:"marker"`
	// Statuses are the document completion statuses (TXA-17, HL7 table
	// 0271: AU authenticated, LA legally authenticated, PA
	// pre-authenticated, IP in progress, DI dictated…) sent; empty: every
	// status (a document whose message gives none goes).
	Statuses []string `toml:"statuses"`
	// InvisibleUnits and InvisibleTypes: their documents are invisible
	// to the patient unless the message says otherwise (its
	// INVISIBLE_PATIENT flag), e.g. psychiatry.
	InvisibleUnits []string `toml:"invisible_units"`
	InvisibleTypes []string `toml:"invisible_types"`
}

// Check refuses rules that cannot be meant: a unit both sent and
// excluded, an empty code, a code twice.
func (r Rules) Check() error {
	for name, l := range map[string][]string{"types": r.Types, "units": r.Units, "exclude_units": r.ExcludeUnits,
		"invisible_units": r.InvisibleUnits, "invisible_types": r.InvisibleTypes, "statuses": r.Statuses} {
		seen := map[string]bool{}
		for _, v := range l {
			if strings.TrimSpace(v) == "" {
				return fmt.Errorf("feed.rules.%s: an empty value", name)
			}
			if seen[v] {
				return fmt.Errorf("feed.rules.%s: %q twice", name, v)
			}
			seen[v] = true
		}
	}
	for _, u := range r.Units {
		if slices.Contains(r.ExcludeUnits, u) {
			return fmt.Errorf("feed.rules: unit %q both in units and exclude_units", u)
		}
	}
	return nil
}

// sends says whether the rules send a document of type typ from unit,
// titled title, of completion status (TXA-17); when not, why (for the
// staff).
func (r Rules) sends(typ, unit, title, status string) (bool, string) {
	if slices.Contains(r.ExcludeUnits, unit) {
		return false, "unité " + unit + " exclue de l'envoi au DMP par les règles de l'établissement"
	}
	if len(r.Statuses) > 0 && status != "" && !slices.Contains(r.Statuses, status) {
		return false, "statut " + status + " du document non prévu par les règles de l'établissement"
	}
	if r.Marker != "" && strings.Contains(strings.ToLower(title), strings.ToLower(r.Marker)) {
		return true, ""
	}
	if len(r.Types) > 0 && !slices.Contains(r.Types, typ) {
		return false, "type " + typ + " non prévu par les règles de l'établissement"
	}
	if len(r.Units) > 0 && !slices.Contains(r.Units, unit) {
		return false, "unité " + unit + " non prévue par les règles de l'établissement"
	}
	return true, ""
}

// invisible says whether a document of type typ from unit is invisible
// to the patient by default.
func (r Rules) invisible(typ, unit string) bool {
	return slices.Contains(r.InvisibleUnits, unit) || slices.Contains(r.InvisibleTypes, typ)
}
