package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"dmpkiosk/hwtest"
	"dmpkiosk/hwtest/cards"
	"dmpkiosk/hwtest/printer"
	"dmpkiosk/hwtest/standin"
	"dmpkiosk/hwtest/system"
	"dmpkiosk/provisioning"
)

// kioskProcess is `kiosk run` started from a provisioned bundle, with the
// web view and the cardsim tray.
type kioskProcess struct {
	*system.Web
	t   testing.TB
	cmd *exec.Cmd
	web string
}

// writeConfig writes a kiosk's configuration as provisioning bundles it,
// plus the device's own keys.
func writeConfig(t testing.TB, site *hwtest.Site, brokerURL string) (path, dir string) {
	t.Helper()
	dir = t.TempDir()
	pub, err := os.ReadFile(filepath.Join(site.Dir, "bridge-enc.pub.pem"))
	if err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(dir, "bundle")
	cfg := provisioning.DeviceConfig{Site: "750712184", Unit: "ACCUEIL", Context: "consultation-exit", Regime: "current"}
	cfg.DeviceID, cfg.Broker.URL = "kiosk-1", brokerURL
	if err := site.CA.WriteBundle(bundle, cfg, site.Creds["kiosk-1"].Leaf, pub, filepath.Join(site.CA.Dir, "..", "kiosk-1-kiosk.key")); err != nil {
		t.Fatal(err)
	}
	// The device's own keys go before the bundle's [broker] table, as TOML
	// top-level keys must.
	body, _ := os.ReadFile(filepath.Join(bundle, "kiosk.toml"))
	extra := "outbox = \"" + filepath.Join(dir, "outbox.db") + "\"\nweb_listen = \"127.0.0.1:0\"\nsession_timeout = \"1m\"\n" +
		// The stand-in bridge does not do INSi: the kiosk waits this long.
		"insi_wait = \"1s\"\n"
	path = filepath.Join(bundle, "kiosk.toml")
	if err := os.WriteFile(path, append([]byte(extra), body...), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, dir
}

func startKiosk(t testing.TB, site *hwtest.Site, brokerURL, igcDir string) *kioskProcess {
	t.Helper()
	config, dir := writeConfig(t, site, brokerURL)
	cardsim := filepath.Join(dir, "cardsim")
	if out, err := exec.Command("go", "build", "-o", cardsim, "dmpkiosk/cmd/cardsim").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	cmd := exec.Command(kioskBin, "run", "--config", config, "--tray-cardsim", cardsim, "--tray-pki", igcDir)
	stderr, _ := cmd.StderrPipe()
	cmd.Stdout = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	k := &kioskProcess{t: t, cmd: cmd}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			t.Error("kiosk run did not stop on SIGTERM")
		}
	})
	webURL := regexp.MustCompile(`url=(http://\S+)`)
	sc := bufio.NewScanner(stderr)
	deadline := time.Now().Add(20 * time.Second)
	for k.web == "" && time.Now().Before(deadline) && sc.Scan() {
		if m := webURL.FindStringSubmatch(sc.Text()); m != nil {
			k.web = m[1]
		}
	}
	if k.web == "" {
		t.Fatal("kiosk run did not report its web view")
	}
	go func() {
		for sc.Scan() { // keep draining the log
		}
	}()
	k.Web = system.OpenWeb(t, k.web)
	return k
}

func TestKioskRun(t *testing.T) {
	hwtest.StartPCSCD(t)
	igcDir := filepath.Join(t.TempDir(), "igc")
	igc, err := cards.LoadOrCreateIGCSante(igcDir)
	if err != nil {
		t.Fatal(err)
	}
	site := hwtest.NewSite(t, "kiosk-1")
	m := site.StartMosquitto(t)
	bridge := standin.Start(t, m.URL(), site, igc.Pool())
	k := startKiosk(t, site, m.URL(), igcDir)

	k.Wait("Insérez les cartes")
	k.Tray(0, "vitale-accents")
	k.Tray(1, "cpf-interne")
	k.Wait("Code de la carte professionnelle")
	k.Keys("2468#")
	k.Wait("LEFÈVRE-D'ORÇAY")
	k.Press("non")
	// No answer to the INSi lookup: the kiosk says so and goes on.
	k.Wait("ne répond pas à temps")
	k.Press("valider")
	k.Web.Inform()
	k.Press("oui")
	k.Wait("autorise")
	k.Press("oui")
	k.Wait("bris de glace")
	k.Press("valider")
	k.Wait("centre 15")
	k.Press("oui") // the patient opposes SAMU access
	k.Wait("Autorisation enregistrée")

	events, errs := bridge.Received()
	if len(errs) > 0 || len(events) != 1 {
		t.Fatalf("bridge: %d events, %v", len(events), errs)
	}
	e := events[0].Event
	if e.Context != "consultation-exit" || e.Professional.CardType != "CPF" || e.Patient.Traits.BirthName != "LEFEVRE-D'ORCAY" ||
		e.Patient.Traits.FirstName != "FRANCOISE" || e.Patient.INS == nil || !e.Consent.EmergencyOpposition || e.Consent.BrisDeGlaceOpposition {
		t.Fatalf("event %+v", e)
	}
	// Cards out: back to the idle screen.
	k.Tray(0, "")
	k.Tray(1, "")
	k.Wait("Insérez les cartes")
}

func TestSelftestWithConfig(t *testing.T) {
	hwtest.StartPCSCD(t)
	site := hwtest.NewSite(t, "kiosk-1")
	m := site.StartMosquitto(t)
	config, _ := writeConfig(t, site, m.URL())
	out, _, code := run(t, "", "selftest", "--config", config)
	for _, want := range []string{"OK    configuration", "OK    certificat de la borne", "OK    serveur MQTT", "OK    écran"} {
		if !strings.Contains(out, want) {
			t.Errorf("selftest lacks %q:\n%s", want, out)
		}
	}
	if code != 0 {
		t.Fatalf("selftest: exit %d\n%s", code, out)
	}
	m.Stop()
	out, _, code = run(t, "", "selftest", "--config", config)
	if code != 1 || !strings.Contains(out, "ÉCHEC serveur MQTT") {
		t.Fatalf("selftest with the broker down: exit %d\n%s", code, out)
	}
}

// With a receipt printer configured, selftest prints a test ticket the IT
// team reads (accents in the code page, the cut); a printer that does not
// answer is a failure said in words.
func TestSelftestPrintsATestTicket(t *testing.T) {
	hwtest.StartPCSCD(t)
	site := hwtest.NewSite(t, "kiosk-1")
	m := site.StartMosquitto(t)
	vp := printer.Start(t)
	config, _ := writeConfig(t, site, m.URL())
	body, _ := os.ReadFile(config)
	withPrinter := func(spec string) {
		os.WriteFile(config, append([]byte(`receipt = { printer = "`+spec+`", paper = 58, code_page = 2, establishment = "CHU TEST" }`+"\n"), body...), 0o644)
	}
	withPrinter("tcp:" + vp.Addr)
	out, _, code := run(t, "", "selftest", "--config", config)
	if code != 0 || !strings.Contains(out, "OK    imprimante des reçus") {
		t.Fatalf("selftest with a printer: exit %d\n%s", code, out)
	}
	got := vp.Next(t, 10*time.Second)
	if !strings.Contains(got.Text(), "Accents : é è ê à ç ù ô î À Ç") || !strings.Contains(got.Text(), "kiosk-1") || !got.Cut {
		t.Fatalf("test ticket:\n%s", got.Text())
	}
	withPrinter("tcp:127.0.0.1:1")
	out, _, code = run(t, "", "selftest", "--config", config)
	if code != 1 || !strings.Contains(out, "ÉCHEC imprimante des reçus") || !strings.Contains(out, "injoignable") {
		t.Fatalf("selftest with the printer off: exit %d\n%s", code, out)
	}
}

// procStat reads a process's CPU time (user + system, in clock ticks of
// 1/100 s) and resident memory (kB) from /proc.
func procStat(b testing.TB, pid int) (ticks int64, rssKB int64) {
	b.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name (which may hold spaces) start after ')'.
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			rssKB, _ = strconv.ParseInt(strings.Fields(v)[0], 10, 64)
		}
	}
	return ut + st, rssKB
}

var idle struct {
	once   sync.Once
	rssMB  float64
	cpuPct float64
}

// BenchmarkKioskRunIdle measures kiosk run at rest (web view, link to the
// broker, card monitor, session waiting for cards): its resident memory and
// its CPU use over 10 s. Measured once; every round reports it.
func BenchmarkKioskRunIdle(b *testing.B) {
	idle.once.Do(func() {
		hwtest.StartPCSCD(b)
		igcDir := filepath.Join(b.TempDir(), "igc")
		if _, err := cards.LoadOrCreateIGCSante(igcDir); err != nil {
			b.Fatal(err)
		}
		site := hwtest.NewSite(b, "kiosk-1")
		m := site.StartMosquitto(b)
		k := startKiosk(b, site, m.URL(), igcDir)
		k.Wait("Insérez les cartes")
		time.Sleep(2 * time.Second) // settle
		t0, _ := procStat(b, k.cmd.Process.Pid)
		const window = 10 * time.Second
		time.Sleep(window)
		t1, rss := procStat(b, k.cmd.Process.Pid)
		idle.cpuPct = float64(t1-t0) / 100 / window.Seconds() * 100
		idle.rssMB = float64(rss) / 1024
	})
	for b.Loop() {
	}
	b.ReportMetric(idle.rssMB, "rss-MB")
	b.ReportMetric(idle.cpuPct, "idle-cpu-%")
}
