// Command benchreport turns `go test -bench` output into bench/REPORT.md:
// the machine, date and commit, every benchmark's figures, and for each pair
// of sub-benchmarks named ".../stack" and ".../floor" the ratio of the first
// to the second, measured in the same run.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

type result struct {
	pkg, name string
	metrics   map[string]float64 // unit -> value
	order     []string
}

func main() {
	raw := flag.String("raw", "bench/raw.txt", "go test -bench output")
	out := flag.String("out", "bench/REPORT.md", "report to write")
	chaos := flag.String("chaos", "bench/CHAOS.md", "the fault campaign's figures (make chaos), appended when present")
	flag.Parse()
	rs, err := parse(*raw)
	if err != nil {
		log.Fatal(err)
	}
	report := render(rs)
	if b, err := os.ReadFile(*chaos); err == nil {
		report += "\n" + strings.Replace(string(b), "# ", "## ", 1)
	}
	if err := os.WriteFile(*out, []byte(report), 0o644); err != nil {
		log.Fatal(err)
	}
}

func parse(path string) ([]result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rs []result
	pkg := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = p
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		r := result{pkg: pkg, name: trimProcs(fields[0]), metrics: map[string]float64{}}
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				break
			}
			r.metrics[fields[i+1]] = v
			r.order = append(r.order, fields[i+1])
		}
		rs = append(rs, r)
	}
	return rs, sc.Err()
}

// trimProcs removes the -GOMAXPROCS suffix go test adds to names.
func trimProcs(name string) string {
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			return name[:i]
		}
	}
	return name
}

func render(rs []result) string {
	var b strings.Builder
	commit, _ := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	fmt.Fprintf(&b, "# Benchmark report\n\n")
	fmt.Fprintf(&b, "- date: %s\n- commit: %s\n- machine: %s, %d cores, %s, %s\n\n",
		time.Now().UTC().Format(time.RFC3339), strings.TrimSpace(string(commit)), cpuModel(), runtime.NumCPU(), memTotal(), runtime.Version())
	fmt.Fprintf(&b, "Each ratio compares a figure with its floor measured in the same run: ")
	fmt.Fprintf(&b, "`stack` ÷ `floor` sub-benchmarks, or ns/op ÷ the `floor-ns/op` a benchmark reports ")
	fmt.Fprintf(&b, "(1.00 means no overhead over the floor).\n\n")

	byName := map[string]result{}
	for _, r := range rs {
		byName[r.pkg+"|"+r.name] = r
	}
	var ratios []string
	for _, r := range rs {
		if fl := r.metrics["floor-ns/op"]; fl > 0 {
			ratios = append(ratios, fmt.Sprintf("| %s | %s | %s | %s | **%.2f** |", short(r.pkg), r.name,
				ns(r.metrics["ns/op"]), ns(fl), r.metrics["ns/op"]/fl))
		}
	}
	for _, r := range rs {
		base, ok := strings.CutSuffix(r.name, "/stack")
		if !ok {
			continue
		}
		fl, ok := byName[r.pkg+"|"+base+"/floor"]
		if !ok || fl.metrics["ns/op"] == 0 {
			continue
		}
		ratios = append(ratios, fmt.Sprintf("| %s | %s | %s | %s | **%.2f** |", short(r.pkg), base,
			ns(r.metrics["ns/op"]), ns(fl.metrics["ns/op"]), r.metrics["ns/op"]/fl.metrics["ns/op"]))
	}
	if len(ratios) > 0 {
		b.WriteString("## Ratios to the floor\n\n| package | benchmark | stack | floor | ratio |\n|---|---|---|---|---|\n")
		b.WriteString(strings.Join(ratios, "\n") + "\n\n")
	}
	// Phases: a benchmark reporting X-p50-ms and X-floor-ms.
	var phases []string
	for _, r := range rs {
		for _, u := range r.order {
			name, ok := strings.CutSuffix(u, "-p50-ms")
			fl, has := r.metrics[name+"-floor-ms"]
			if !ok || !has || fl <= 0 {
				continue
			}
			phases = append(phases, fmt.Sprintf("| %s | %s | %s | %s | %s | **%.2f** |", short(r.pkg), r.name, name,
				ns(r.metrics[u]*1e6), ns(fl*1e6), r.metrics[u]/fl))
		}
	}
	if len(phases) > 0 {
		b.WriteString("## Phases against their floors\n\nEach phase's median against its own floor, measured in the same run (the benchmark's comment says what each floor is).\n\n")
		b.WriteString("| package | benchmark | phase | p50 | floor | ratio |\n|---|---|---|---|---|---|\n")
		b.WriteString(strings.Join(phases, "\n") + "\n\n")
	}
	// Memory: a benchmark reporting X-peak-MB and X-floor-MB.
	var mem []string
	for _, r := range rs {
		for _, u := range r.order {
			name, ok := strings.CutSuffix(u, "-peak-MB")
			fl, has := r.metrics[name+"-floor-MB"]
			if !ok || !has || fl <= 0 {
				continue
			}
			mem = append(mem, fmt.Sprintf("| %s | %s | %.1f MB | %.1f MB | **%.2f** |", short(r.pkg), r.name, r.metrics[u], fl, r.metrics[u]/fl))
		}
	}
	if len(mem) > 0 {
		b.WriteString("## Memory against its floor\n\nA process's peak resident memory against what it must hold (the benchmark's comment says what).\n\n")
		b.WriteString("| package | benchmark | peak | floor | ratio |\n|---|---|---|---|---|\n")
		b.WriteString(strings.Join(mem, "\n") + "\n\n")
	}
	b.WriteString("## All benchmarks\n\n| package | benchmark | figures |\n|---|---|---|\n")
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].pkg < rs[j].pkg })
	for _, r := range rs {
		var figs []string
		for _, u := range r.order {
			figs = append(figs, fmt.Sprintf("%s %s", figure(r.metrics[u]), u))
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", short(r.pkg), r.name, strings.Join(figs, ", "))
	}
	return b.String()
}

func short(pkg string) string { return strings.TrimPrefix(pkg, "dmpkiosk/") }

func ns(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2f ms", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.2f µs", v/1e3)
	}
	return fmt.Sprintf("%.1f ns", v)
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return runtime.GOARCH
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "memory unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return fmt.Sprintf("%.0f GiB RAM", float64(kb)/1024/1024)
		}
	}
	return "memory unknown"
}

// figure writes large values whole and small ones with three significant digits.
func figure(v float64) string {
	if v >= 1000 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}
