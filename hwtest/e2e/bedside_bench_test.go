package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"dmpkiosk/bridge/dmp/dmpsim"
	"dmpkiosk/bridge/insi/insisim"
	"dmpkiosk/bridge/render"
	"dmpkiosk/hwtest"
	"dmpkiosk/hwtest/patients"
	"dmpkiosk/hwtest/system"
)

// BenchmarkBedsideReading: the doctor at the bedside, signed in with his
// card, JEAN-PIERRE DURAND's identity qualified by INSi, reads his DMP
// through the whole system (the kiosk, mosquitto, `bridge run`, the DMP
// simulator at zero latency). Each loop asks the list, opens the newest
// document — a 50-page PDF (ANS's golden PDF, 25 times) — waits for its
// last page, goes back to the list and to the menu. Phases, each against
// its floor measured in the same run:
//   - list: "Consulter le DMP" pressed → the list on screen, against two
//     MQTT round trips plus the simulator's own time answering (TD0.2 and
//     TD3.1, each message checked against the official schemas);
//   - first-page: the document chosen → its first page on the tablet,
//     against two MQTT round trips, the simulator's own time (TD3.2) and
//     pdftoppm rendering that page alone, as the bridge does.
//
// Memory: the kiosk's peak resident memory (VmHWM) once it has shown the
// 50 pages, against its peak before the first document plus the pages'
// own bytes (what the tablet must hold to page through them).
func BenchmarkBedsideReading(b *testing.B) {
	hwtest.StartPCSCD(b)
	br := system.StartBridge(b, bins["bridge"], system.BridgeOptions{Regime: dmpsim.Current, Kiosks: []string{"kiosk-1", "kiosk-2"}})
	pdf := fiftyPages(b)
	cda := preloadFifty(b, br, pdf)
	pagesBytes := renderedBytes(b, cda)
	pageFloor := firstPageRenders(b, pdf, 10)

	k := system.StartKiosk(b, bins, br, "kiosk-1", "current", `context = "bedside"`)
	w := system.OpenWeb(b, k.Web)
	w.Wait("Insérez")
	w.Tray(0, "vitale-famille")
	w.Tray(1, "cps-medecin")
	w.Wait("Code de la carte")
	w.Keys("1234#")
	w.Wait("Quel patient")
	w.Press("oui")
	w.Wait("Vérifiez l'identité")
	w.Press("oui")
	w.Wait("Quelle pièce")
	w.Press("valider")
	w.Wait("Identique à la pièce")
	w.Press("oui")
	w.Wait("Que souhaitez-vous faire")
	// The patient's agreement once (TD0.3), then back to the menu.
	w.Press("oui")
	w.Wait("Accord du patient")
	w.Press("oui")
	w.Wait("Documents du DMP")
	w.Keys("*")
	w.Wait("Que souhaitez-vous faire")
	before := vmHWM(b, k.PID())

	var lists, firsts, listService, docService []time.Duration
	for b.Loop() {
		t0, busy := time.Now(), br.Sim.Busy()
		w.Press("oui")
		w.Wait("Documents du DMP")
		lists, listService = append(lists, time.Since(t0)), append(listService, br.Sim.Busy()-busy)
		t1, busy := time.Now(), br.Sim.Busy()
		w.Press("oui")
		w.Wait("1 page(s) sur 50")
		firsts, docService = append(firsts, time.Since(t1)), append(docService, br.Sim.Busy()-busy)
		b.StopTimer()
		w.Wait("50 page(s) sur 50")
		w.Press("non")
		w.Wait("Documents du DMP")
		w.Keys("*")
		w.Wait("Que souhaitez-vous faire")
		b.StartTimer()
	}
	b.StopTimer()
	peak := vmHWM(b, k.PID())
	rtt := p50(mqttRoundTrips(b, br))
	floors := []float64{
		phase(b, "list", lists, 2*rtt+p50(listService)),
		phase(b, "first-page", firsts, 2*rtt+p50(docService)+p50(pageFloor)),
	}
	b.ReportMetric(floors[0]+floors[1], "floor-ns/op")
	b.ReportMetric(p50(pageFloor)/1e6, "render-first-page-ms")
	b.ReportMetric(float64(pagesBytes)/(1<<20), "pages-MB")
	b.ReportMetric(before/1024, "kiosk-before-MB")
	b.ReportMetric(peak/1024, "memory-peak-MB")
	b.ReportMetric(before/1024+float64(pagesBytes)/(1<<20), "memory-floor-MB")
}

// fiftyPages is ANS's golden PDF (two pages) 25 times over, by poppler's
// pdfunite.
func fiftyPages(b *testing.B) []byte {
	b.Helper()
	hwtest.LookPath(b, "pdfunite", "poppler-utils")
	golden, err := patients.GoldenPDF()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	one := filepath.Join(dir, "golden.pdf")
	if err := os.WriteFile(one, golden, 0o600); err != nil {
		b.Fatal(err)
	}
	args := make([]string, 0, 26)
	for range 25 {
		args = append(args, one)
	}
	out := filepath.Join(dir, "fifty.pdf")
	if msg, err := exec.Command("pdfunite", append(args, out)...).CombinedOutput(); err != nil {
		b.Fatalf("pdfunite: %v %s", err, msg)
	}
	pdf, err := os.ReadFile(out)
	if err != nil {
		b.Fatal(err)
	}
	return pdf
}

// preloadFifty puts the 50-page document (an hour old) and the
// structured lettre de liaison in JEAN-PIERRE DURAND's DMP, and returns
// the first.
func preloadFifty(b *testing.B, br *system.Bridge, pdf []byte) []byte {
	b.Helper()
	var long []byte
	preloadDurand(b, br.Sim, func(p insisim.Person) ([][]byte, error) {
		var err error
		long, err = patients.DemoCDA(p, patients.DocumentSpec{TypeCode: "18748-4", TypeLabel: "CR d'imagerie médicale",
			Title: "Scanner thoraco-abdomino-pelvien", ID: "1.2.250.1.999.2.50", Time: time.Now().Add(-time.Hour), PDF: pdf})
		if err != nil {
			return nil, err
		}
		ldl, err := lettreDeLiaison(p)
		return [][]byte{long, ldl}, err
	})
	return long
}

// renderedBytes renders the document as the bridge does and counts its
// pages' bytes.
func renderedBytes(b *testing.B, cda []byte) int {
	b.Helper()
	n, pages := 0, 0
	if err := (&render.Renderer{}).Document(context.Background(), cda, func(p render.Page) error {
		n, pages = n+len(p.Data), pages+1
		return nil
	}); err != nil || pages != 50 {
		b.Fatalf("rendering the 50 pages: %d pages, %v", pages, err)
	}
	return n
}

// firstPageRenders times n renderings of the PDF's first page alone by
// pdftoppm, at the bridge's resolution (render.Renderer's default).
func firstPageRenders(b *testing.B, pdf []byte, n int) []time.Duration {
	b.Helper()
	var out []time.Duration
	for range n {
		cmd := exec.Command("pdftoppm", "-png", "-r", "110", "-f", "1", "-l", "1", "-singlefile", "-")
		cmd.Stdin = bytes.NewReader(pdf)
		t0 := time.Now()
		png, err := cmd.Output()
		if err != nil || len(png) == 0 {
			b.Fatalf("pdftoppm: %v", err)
		}
		out = append(out, time.Since(t0))
	}
	return out
}

// vmHWM is a process's peak resident memory, in kB.
func vmHWM(b *testing.B, pid int) float64 {
	b.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.Fields(v)[0], 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb
		}
	}
	b.Fatal("no VmHWM")
	return 0
}
