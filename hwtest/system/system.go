// Package system starts the whole dmpkiosk system for end-to-end tests and
// benchmarks, from the real parts: mosquitto with the site's policy, the
// DMP simulator over mutual TLS, `bridge run` (SQLite journal, admin web)
// with the establishment's keys on a SoftHSM token, and `kiosk run` with
// its web view and card tray over pcscd and vpcd.
package system

import (
	"bufio"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"dmpkiosk/bridge/dmp/dmpsim"
	"dmpkiosk/bridge/insi/insisim"
	"dmpkiosk/bridge/sih"
	"dmpkiosk/hwtest"
	"dmpkiosk/hwtest/cards"
	"dmpkiosk/hwtest/gam"
	"dmpkiosk/hwtest/patients"
	"dmpkiosk/hwtest/pii"
	"dmpkiosk/provisioning"
)

// Build compiles the named commands (kiosk, bridge, cardsim...) into a
// temporary directory and returns their paths.
func Build(t testing.TB, cmds ...string) map[string]string {
	t.Helper()
	out, err := BuildTo(t.TempDir(), cmds...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// BuildTo compiles the named commands into dir (for a TestMain).
func BuildTo(dir string, cmds ...string) (map[string]string, error) {
	out := map[string]string{}
	args := []string{"build", "-o", dir + "/"}
	for _, c := range cmds {
		args = append(args, "dmpkiosk/cmd/"+c)
		out[c] = filepath.Join(dir, c)
	}
	if b, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build: %v\n%s", err, b)
	}
	return out, nil
}

// Bridge is a running `bridge run` and what it talks to.
type Bridge struct {
	Site      *hwtest.Site
	Mosquitto *hwtest.Mosquitto
	IGC       *cards.IGCSante
	IGCDir    string
	Sim       *dmpsim.Sim
	INSi      *insisim.Sim
	GAM       *gam.GAM
	SIH       string // the bridge's MLLP listener for the GAM's messages (BridgeOptions.SIHListen)
	Dir       string // the bridge's files: bridge.toml, journal.db, traces/
	Journal   string
	AdminURL  string // https://127.0.0.1:port/
	Password  string // the admin's
	Admin     *http.Client
	Log       *Log
	cmd       *exec.Cmd
	bin       string
	cfgPath   string
	conf      string
	// DSN is the PostgreSQL journal's, when the bridge uses one.
	DSN string
}

// Log collects a process's standard error.
type Log struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func writeKey(t testing.TB, path string, key crypto.PrivateKey) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, path, "PRIVATE KEY", der)
}

// BridgeOptions choose the regime of the DMP simulator and the bridge's
// retry timings.
type BridgeOptions struct {
	Regime  string // dmpsim.Legacy or dmpsim.Current
	Backoff time.Duration
	Kiosks  []string // ids enrolled on the site; kiosk-1 when empty
	// The DMP simulator's transient faults (shares of requests) and the
	// bridge's DMP time-out (5 s when zero).
	DMPErrorRate, DMPTimeoutRate float64
	DMPTimeout                   time.Duration
	MaxAttempts                  int // 3 when zero
	// Postgres is the journal's connection string (SQLite when empty);
	// Peers are other bridges enrolled and allowed on the broker, started
	// with Peer, sharing the journal and the subscription.
	Postgres string
	Peers    []string
	// INSiLatency is the INSi simulator's answer time (0: at once).
	INSiLatency time.Duration
	// GAM, when set, starts the GAM peer with these patients and has the
	// bridge tell it ([sih]).
	GAM []gam.Patient
	// KioskUnit is the unit the kiosks are enrolled in (ACCUEIL when
	// empty).
	KioskUnit string
	// SIHListen, with GAM, opens the bridge's MLLP listener for the GAM's
	// own messages (its admissions place patients in units): Bridge.SIH.
	SIHListen bool
	// DMPPeople, when set, changes the DMP simulator's people before it
	// starts (a patient who blocked a professional, opposed emergency
	// access…).
	DMPPeople func([]dmpsim.Person) []dmpsim.Person
}

// GAMDomain is the test GAM's IPP domain.
var GAMDomain = sih.Domain{Namespace: "CHU-TEST", UniversalID: "1.2.250.1.999.1", Type: "ISO"}

// StartBridge provisions a site and starts mosquitto, the DMP simulator and
// `bridge run` (bin) until the test ends.
func StartBridge(t testing.TB, bin string, o BridgeOptions) *Bridge {
	t.Helper()
	if len(o.Kiosks) == 0 {
		o.Kiosks = []string{"kiosk-1"}
	}
	if o.Backoff == 0 {
		o.Backoff = 200 * time.Millisecond
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 3
	}
	if o.DMPTimeout == 0 {
		o.DMPTimeout = 5 * time.Second
	}
	dir := t.TempDir()
	b := &Bridge{Dir: dir, Journal: filepath.Join(dir, "journal.db"), IGCDir: filepath.Join(dir, "igc"), Log: &Log{}}
	var err error
	if b.IGC, err = cards.LoadOrCreateIGCSante(b.IGCDir); err != nil {
		t.Fatal(err)
	}
	where := hwtest.DefaultKioskSite
	if o.KioskUnit != "" {
		where.Unit = o.KioskUnit
	}
	b.Site = hwtest.NewSiteAt(t, where, o.Kiosks...)
	for _, id := range o.Peers {
		b.Site.Creds[id] = b.Site.Enroll(t, id, provisioning.RoleBridge)
		writePEM(t, filepath.Join(dir, id+".pem"), "CERTIFICATE", b.Site.Creds[id].Certificate[0])
		writeKey(t, filepath.Join(dir, id+".key"), b.Site.Creds[id].PrivateKey)
	}
	b.Mosquitto = b.Site.StartMosquitto(t)
	writePEM(t, filepath.Join(dir, "igc.pem"), "CERTIFICATE", b.IGC.Cert.Raw)
	br := b.Site.Creds["bridge-1"]
	writePEM(t, filepath.Join(dir, "bridge.pem"), "CERTIFICATE", br.Certificate[0])
	writeKey(t, filepath.Join(dir, "bridge.key"), br.PrivateKey)
	writeKey(t, filepath.Join(dir, "enc.key"), b.Site.EncKey)

	// The establishment's keys on a token; the DMP simulator.
	tk := hwtest.NewSoftHSM(t, "etablissement")
	t.Setenv("PKCS11_PIN", tk.PIN)
	for _, k := range []struct{ label, usage, file string }{{"org-sign", cards.OrgSign, "sign.pem"}, {"org-auth", cards.OrgAuthCli, "auth.pem"}} {
		cert, err := b.IGC.OrgCertificate(tk.RSASigner(t, k.label, 2048), k.usage, "750712001", "CHU TEST")
		if err != nil {
			t.Fatal(err)
		}
		writePEM(t, filepath.Join(dir, k.file), "CERTIFICATE", cert.Raw)
	}
	people, err := patients.DMP()
	if err != nil {
		t.Fatal(err)
	}
	if o.DMPPeople != nil {
		people = o.DMPPeople(people)
	}
	if b.Sim, err = dmpsim.New(dmpsim.Options{DB: filepath.Join(dir, "dmp.db"), Regime: o.Regime, OrgRoots: b.IGC.Pool(), People: people,
		CheckAnswers: true, ErrorRate: o.DMPErrorRate, TimeoutRate: o.DMPTimeoutRate}); err != nil {
		t.Fatal(err)
	}
	srvCA := hwtest.NewCA(t, "DMP server CA")
	writePEM(t, filepath.Join(dir, "dmp-ca.pem"), "CERTIFICATE", srvCA.Cert.Raw)
	l, err := tls.Listen("tcp", "127.0.0.1:0", b.Sim.TLSConfig(srvCA.ServerRSA(t, "localhost").TLS()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { b.Sim.Serve(ctx, l); close(served) }()
	t.Cleanup(func() {
		cancel()
		<-served
		for _, e := range b.Sim.AnswerErrors() {
			t.Errorf("the DMP simulator wrote an answer the official schemas refuse: %s", e)
		}
		b.Sim.Close()
	})
	_, port, _ := net.SplitHostPort(l.Addr().String())

	// INSi: the simulator over mutual TLS, knowing the virtual cards'
	// patients; the establishment's INSI-MANU and INSI-AUTO certificates.
	insiCA := hwtest.NewCA(t, "TEST AC IGC-SANTE ELEMENTAIRE ORGANISATIONS")
	insiPeople, err := patients.INSi()
	if err != nil {
		t.Fatal(err)
	}
	// Every request the bridge sends and every answer the simulator writes
	// are checked against INSi's official schemas (xmllint).
	insiSchemas, err := insisim.OpenValidator()
	if err != nil {
		t.Fatal(err)
	}
	b.INSi = insisim.New(insisim.Options{People: insiPeople, Mode: insisim.Production, Latency: func() time.Duration { return o.INSiLatency },
		Check: insiSchemas.Validate})
	t.Cleanup(func() {
		for _, e := range b.INSi.AnswerErrors() {
			t.Errorf("the INSi simulator wrote an answer the official schemas refuse: %s", e)
		}
	})
	insiSrv := httptest.NewUnstartedServer(b.INSi)
	insiSrv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: insiCA.Pool(), Certificates: []tls.Certificate{insiCA.Server(t, "localhost").TLS()}}
	insiSrv.StartTLS()
	t.Cleanup(insiSrv.Close)
	writePEM(t, filepath.Join(dir, "insi-ca.pem"), "CERTIFICATE", insiCA.Cert.Raw)
	for _, cn := range []string{"INSI-MANU", "INSI-AUTO"} {
		leaf := insiCA.Client(t, cn)
		leaf.WriteFiles(t, filepath.Join(dir, strings.ToLower(cn)+".pem"), filepath.Join(dir, strings.ToLower(cn)+".key"))
	}

	adminCert := srvCA.Server(t, "localhost")
	os.WriteFile(filepath.Join(dir, "admin.pem"), adminCert.CertPEM, 0o600)
	os.WriteFile(filepath.Join(dir, "admin.key"), adminCert.KeyPEM, 0o600)
	b.Password = "correct horse battery"
	os.WriteFile(filepath.Join(dir, "admin.password"), []byte(b.Password+"\n"), 0o600)
	b.Admin = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: srvCA.Pool()}}}
	journal := "path = \"journal.db\""
	if o.Postgres != "" {
		journal = fmt.Sprintf("driver = \"postgres\"\ndsn = %q", o.Postgres)
		b.DSN = o.Postgres
	}
	conf := fmt.Sprintf(`id = "bridge-1"
broker = %q
kiosk_ca = %q
crl = %q
cert = "bridge.pem"
key = "bridge.key"
enc_key = "enc.key"
card_ca = ["igc.pem"]
backoff = %q
max_attempts = %d

[journal]
%s

[admin]
listen = "127.0.0.1:0"
cert = "admin.pem"
key = "admin.key"
password_file = "admin.password"

[dmp]
url = "https://localhost:%s/si-dmp-server/v2/services/"
server_ca = "dmp-ca.pem"
sign_cert = "sign.pem"
auth_cert = "auth.pem"
sign_key = "org-sign"
auth_key = "org-auth"
pkcs11_module = %q
pkcs11_token = "etablissement"
timeout = %q
trace_dir = "traces"
regime = %q

[dmp.lps]
id = "dmpkiosk"
name = "dmpkiosk"
version = "test"
homologation = "HOMOLOG-TEST"

[insi]
url = "%s/lps"
server_ca = "insi-ca.pem"
manu_cert = "insi-manu.pem"
manu_key = "insi-manu.key"
auto_cert = "insi-auto.pem"
auto_key = "insi-auto.key"
idam = "TEST-IDAM"
timeout = "5s"

[dmp.staff_role]
# The VIHF role of staff whose card has no profession code (CPE): the code
# the establishment's DMP homologation gives. A placeholder (2.25 UUID OID).
code = "ACCUEIL"
code_system = "2.25.142109932307565464957882138239304963770"
display = "Personnel d'accueil (démonstration)"
`, b.Mosquitto.URL(), filepath.Join(b.Site.CA.Dir, "ca.pem"), b.Site.CA.CRLPath(), o.Backoff.String(), o.MaxAttempts, journal, port, tk.Module, o.DMPTimeout.String(), o.Regime, insiSrv.URL)
	if o.GAM != nil {
		b.GAM = gam.Start(t, GAMDomain, o.GAM...)
		conf += fmt.Sprintf(`
[sih]
facility = "750712184"
backoff = "200ms"
wait = "2s"

[[sih.receiver]]
name = "gam"
application = "GAM"
facility = "CHU-TEST"
address = %q
zfa = true

[sih.receiver.ipp]
namespace = %q
universal_id = %q
type = %q
`, b.GAM.Addr, GAMDomain.Namespace, GAMDomain.UniversalID, GAMDomain.Type)
		if o.SIHListen {
			b.SIH = freeAddr(t)
			conf = strings.Replace(conf, "[sih]\n", fmt.Sprintf("[sih]\nlisten = %q\n", b.SIH), 1)
		}
	}
	cfgPath := filepath.Join(dir, "bridge.toml")
	if err := os.WriteFile(cfgPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	b.bin, b.cfgPath, b.conf = bin, cfgPath, conf
	b.Start(t)
	t.Cleanup(b.Stop)
	return b
}

// Peer starts another `bridge run` as id (one of BridgeOptions.Peers): the
// same site, broker, DMP and journal, its own certificate, sharing the
// events' subscription.
func (b *Bridge) Peer(t testing.TB, id string) *Bridge {
	t.Helper()
	conf := strings.Replace(b.conf, `id = "bridge-1"`, fmt.Sprintf("id = %q", id), 1)
	conf = strings.Replace(conf, `cert = "bridge.pem"`, fmt.Sprintf("cert = %q", id+".pem"), 1)
	conf = strings.Replace(conf, `key = "bridge.key"`, fmt.Sprintf("key = %q", id+".key"), 1)
	p := *b
	p.Log, p.cmd, p.cfgPath = &Log{}, nil, filepath.Join(b.Dir, id+".toml")
	if err := os.WriteFile(p.cfgPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	p.Start(t)
	t.Cleanup(p.Stop)
	return &p
}

// Start starts `bridge run` on the bridge's configuration and waits until
// it is ready (again, after Stop or Kill).
func (b *Bridge) Start(t testing.TB) {
	t.Helper()
	b.cmd = exec.Command(b.bin, "run", "--config", b.cfgPath)
	stdout, _ := b.cmd.StdoutPipe()
	b.cmd.Stderr = b.Log
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "admin: https://") {
		b.Stop()
		t.Fatalf("bridge start: %q %v\n%s", line, err, b.Log)
	}
	go io.Copy(io.Discard, stdout)
	b.AdminURL = strings.TrimSpace(strings.TrimPrefix(line, "admin: "))
	for i := 0; ; i++ {
		if code, _ := b.Get(t, "/readyz"); code == http.StatusOK {
			break
		}
		if i == 200 {
			t.Fatalf("bridge never ready\n%s", b.Log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// CheckNoPII fails the test when the bridge's log, its audit trail or its
// journal's free-text columns (outcomes, messages, errors) hold a test
// patient's identifying data (hwtest/pii).
func (b *Bridge) CheckNoPII(t testing.TB) {
	t.Helper()
	if hits := pii.Find(b.Log.String()); len(hits) > 0 {
		t.Errorf("patient data in the bridge's log (%d markers)", len(hits))
	}
	for _, q := range []string{`SELECT kind || ' ' || ref || ' ' || detail FROM audit`,
		`SELECT outcome || ' ' || message || ' ' || last_error FROM events`} {
		texts := b.JournalTexts(t, q)
		for _, text := range texts {
			if hits := pii.Find(text); len(hits) > 0 {
				t.Errorf("patient data in the journal (%s): %d markers", q, len(hits))
			}
		}
		if len(texts) == 0 && strings.Contains(q, "audit") {
			t.Error("an empty audit trail: nothing was scanned")
		}
	}
}

// JournalTexts runs a query of one text column on the bridge's journal
// (SQLite or PostgreSQL) and returns its rows.
func (b *Bridge) JournalTexts(t testing.TB, q string) []string {
	t.Helper()
	var out []string
	b.journalQuery(t, q, func(scan func(...any) error) {
		var s string
		if err := scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	})
	return out
}

// JournalRow runs a query of one row on the bridge's journal.
func (b *Bridge) JournalRow(t testing.TB, q string, dest ...any) {
	t.Helper()
	n := 0
	b.journalQuery(t, q, func(scan func(...any) error) {
		if err := scan(dest...); err != nil {
			t.Fatal(err)
		}
		n++
	})
	if n != 1 {
		t.Fatalf("%s: %d rows", q, n)
	}
}

func (b *Bridge) journalQuery(t testing.TB, q string, row func(scan func(...any) error)) {
	t.Helper()
	// pgx's rows and database/sql's read the same way.
	var rows interface {
		Next() bool
		Scan(...any) error
		Err() error
	}
	if b.DSN != "" {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, b.DSN)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		r, err := conn.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		rows = r
	} else {
		db, err := sql.Open("sqlite", "file:"+b.Journal+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		r, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		rows = r
	}
	for rows.Next() {
		row(rows.Scan)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// PID is the running `bridge run`'s process id (0 when stopped).
func (b *Bridge) PID() int {
	if b.cmd == nil || b.cmd.Process == nil || b.cmd.ProcessState != nil {
		return 0
	}
	return b.cmd.Process.Pid
}

// freeAddr is a local TCP address free when asked.
func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Bin is the `bridge` binary.
func (b *Bridge) Bin() string { return b.bin }

// ConfigPath is the bridge's bridge.toml.
func (b *Bridge) ConfigPath() string { return b.cfgPath }

// Kill ends `bridge run` with SIGKILL, as a crash would, and waits for it.
func (b *Bridge) Kill() {
	if b.cmd == nil || b.cmd.Process == nil || b.cmd.ProcessState != nil {
		return
	}
	b.cmd.Process.Kill()
	b.cmd.Wait()
}

// Get fetches an admin page with the password.
func (b *Bridge) Get(t testing.TB, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.AdminURL+strings.TrimPrefix(path, "/"), nil)
	req.SetBasicAuth("admin", b.Password)
	resp, err := b.Admin.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// Stop ends `bridge run` (SIGTERM) and waits for it.
func (b *Bridge) Stop() {
	if b.cmd == nil || b.cmd.Process == nil || b.cmd.ProcessState != nil {
		return
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	b.cmd.Wait()
}

// Kiosk is a running `kiosk run` with its web view.
type Kiosk struct {
	Web    string // http://127.0.0.1:port
	Outbox string
	Log    *Log
	cmd    *exec.Cmd
}

// StartKiosk writes kiosk id's configuration as provisioning bundles it
// (regime, site 750712184, the unit it was enrolled in) and starts `kiosk run` with the card
// tray over the test IGC-Santé authority of b; extra are top-level lines
// added to its kiosk.toml.
func StartKiosk(t testing.TB, bins map[string]string, b *Bridge, id, regime string, extra ...string) *Kiosk {
	t.Helper()
	dir := t.TempDir()
	pub, err := os.ReadFile(filepath.Join(b.Site.Dir, "bridge-enc.pub.pem"))
	if err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(dir, "bundle")
	cfg := provisioning.DeviceConfig{Site: "750712184", Unit: "ACCUEIL", Context: "admission", Regime: regime}
	// A context among the extra lines (context = "bedside") is the
	// bundle's own; the unit is the one the kiosk was enrolled in.
	cfg.Unit = b.Site.Kiosks.Unit
	for i, l := range extra {
		if c, ok := strings.CutPrefix(l, "context = "); ok {
			cfg.Context = strings.Trim(c, `"`)
			extra = append(extra[:i:i], extra[i+1:]...)
			break
		}
	}
	cfg.DeviceID, cfg.Broker.URL = id, b.Mosquitto.URL()
	if err := b.Site.CA.WriteBundle(bundle, cfg, b.Site.Creds[id].Leaf, pub, filepath.Join(b.Site.CA.Dir, "..", id+"-kiosk.key")); err != nil {
		t.Fatal(err)
	}
	k := &Kiosk{Outbox: filepath.Join(dir, "outbox.db"), Log: &Log{}}
	body, _ := os.ReadFile(filepath.Join(bundle, "kiosk.toml"))

	top := "outbox = \"" + k.Outbox + "\"\nweb_listen = \"127.0.0.1:0\"\nsession_timeout = \"2m\"\nresult_wait = \"5s\"\n"
	for _, l := range extra {
		top += l + "\n"
	}
	path := filepath.Join(bundle, "kiosk.toml")
	if err := os.WriteFile(path, append([]byte(top), body...), 0o644); err != nil {
		t.Fatal(err)
	}
	k.cmd = exec.Command(bins["kiosk"], "run", "--config", path, "--tray-cardsim", bins["cardsim"], "--tray-pki", b.IGCDir)
	stderr, _ := k.cmd.StderrPipe()
	if err := k.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		k.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { k.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			k.cmd.Process.Kill()
			t.Error("kiosk run did not stop on SIGTERM")
		}
	})
	webURL := regexp.MustCompile(`url=(http://\S+)`)
	sc := bufio.NewScanner(stderr)
	deadline := time.Now().Add(20 * time.Second)
	for k.Web == "" && time.Now().Before(deadline) && sc.Scan() {
		fmt.Fprintln(k.Log, sc.Text())
		if m := webURL.FindStringSubmatch(sc.Text()); m != nil {
			k.Web = m[1]
		}
	}
	if k.Web == "" {
		t.Fatalf("kiosk run did not report its web view\n%s", k.Log)
	}
	go func() {
		for sc.Scan() {
			fmt.Fprintln(k.Log, sc.Text())
		}
	}()
	return k
}

// PID is the running kiosk's process id.
func (k *Kiosk) PID() int { return k.cmd.Process.Pid }

// Web drives a kiosk's web view over HTTP, as its buttons and keypad do,
// and follows the screens it pushes.
type Web struct {
	t      testing.TB
	URL    string
	events *bufio.Reader
}

// OpenWeb subscribes to the web view at url's pushed screens.
func OpenWeb(t testing.TB, url string) *Web {
	t.Helper()
	resp, err := http.Get(url + "/events")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return &Web{t: t, URL: url, events: bufio.NewReader(resp.Body)}
}

// Post sends a form to the web view (input, tray).
func (w *Web) Post(path string, form url.Values) {
	w.t.Helper()
	resp, err := http.PostForm(w.URL+path, form)
	if err != nil {
		w.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		w.t.Fatalf("POST %s %v: %d", path, form, resp.StatusCode)
	}
}

// Press presses the buttons named, one after the other.
func (w *Web) Press(buttons ...string) {
	for _, b := range buttons {
		w.Post("/input", url.Values{"b": {b}})
	}
}

// Keys types on the keypad.
func (w *Web) Keys(s string) {
	for _, c := range s {
		w.Post("/input", url.Values{"k": {string(c)}})
	}
}

// Tray inserts a card profile in a slot, or removes it (profile "").
func (w *Web) Tray(slot int, profile string) {
	if profile == "" {
		w.Post("/tray", url.Values{"slot": {fmt.Sprint(slot)}, "action": {"remove"}})
		return
	}
	w.Post("/tray", url.Values{"slot": {fmt.Sprint(slot)}, "action": {"insert"}, "profile": {profile}})
}

// Inform goes through the DMP information's pages in French, up to the
// first consent question.
func (w *Web) Inform() {
	w.t.Helper()
	w.Wait("Choisissez votre langue")
	w.Press("valider")
	for i := 1; i <= 5; i++ {
		w.Wait(fmt.Sprintf("Page %d sur 5", i))
		w.Press("valider")
	}
	w.Wait("informé")
}

// Wait reads the pushed screens until one's text says want.
func (w *Web) Wait(want string) {
	w.t.Helper()
	done := make(chan string, 1)
	go func() {
		for {
			line, err := w.events.ReadString('\n')
			if err != nil {
				done <- ""
				return
			}
			var ev struct{ Status, Text string }
			if data, ok := strings.CutPrefix(strings.TrimSpace(line), "data: "); ok && json.Unmarshal([]byte(data), &ev) == nil && strings.Contains(ev.Status+"\n"+ev.Text, want) {
				done <- ev.Status + "\n" + ev.Text
				return
			}
		}
	}()
	select {
	case got := <-done:
		if got == "" {
			w.t.Fatalf("the screen stream ended before %q", want)
		}
	case <-time.After(30 * time.Second):
		w.t.Fatalf("no screen saying %q", want)
	}
}
