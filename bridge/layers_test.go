package bridge

import (
	"os/exec"
	"strings"
	"testing"
)

// layer of each package of the bridge's production code: a package
// imports only packages of lower layers (the flows none of each other),
// so that a reader finds each concern in one place and no reference runs
// back up (doc.go draws them). Test helpers (journaltest, eventstest) and
// the simulators are not production code and are not placed.
var layer = map[string]int{
	"bridge/internal/broker": 0, "bridge/internal/metrics": 0, "bridge/internal/ratelimit": 0, "bridge/internal/work": 0,
	"bridge/internal/soapcall": 0, "bridge/internal/xmlq": 0, "bridge/internal/xsd": 0, "bridge/hl7": 0, "bridge/internal/cdabody": 0,
	"bridge/journal": 1,
	"bridge/dmp":     2, "bridge/insi": 2, "bridge/sih": 2, "bridge/render": 2,
	"bridge/events": 3, "bridge/lookup": 3, "bridge/admin": 3, "bridge/feed": 3, "bridge/consult": 3,
	"bridge":        4,
	"bridge/server": 5,
}

func TestLayers(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "dmpkiosk/bridge/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	placed := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], "dmpkiosk/")
		from, ok := layer[pkg]
		if !ok {
			if !strings.HasSuffix(pkg, "test") && !strings.HasSuffix(pkg, "sim") {
				t.Errorf("%s is in no layer: place it in layers_test.go", pkg)
			}
			continue
		}
		placed++
		for _, imp := range f[1:] {
			to, ok := layer[strings.TrimPrefix(imp, "dmpkiosk/")]
			if ok && to >= from {
				t.Errorf("%s (layer %d) imports %s (layer %d): a reference up or across", pkg, from, imp, to)
			}
		}
	}
	if placed != len(layer) {
		t.Errorf("%d packages listed of %d placed", placed, len(layer))
	}
}
