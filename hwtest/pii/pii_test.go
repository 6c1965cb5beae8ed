package pii

import "testing"

func TestFind(t *testing.T) {
	for _, text := range []string{
		"rejected: MARTIN", "ins=175067511203371", "nir 1750675112033", "born 19750612", "LEFÈVRE-D'ORÇAY",
	} {
		if len(Find(text)) == 0 {
			t.Errorf("%q: nothing found", text)
		}
	}
	for _, text := range []string{
		"event.rejected kiosk-1 site: event 0190f1c2 claims 750712184/URGENCES", "M••• P••• (1975)", "dmpbridge_events_dead_total 1",
	} {
		if hits := Find(text); len(hits) > 0 {
			t.Errorf("%q: %v", text, hits)
		}
	}
	if len(Markers()) < 30 {
		t.Errorf("only %d markers", len(Markers()))
	}
}
