// Package packages installs the Debian packages `make package` builds on
// this machine and checks them as a hospital's IT team would run them.
package packages

import (
	"bufio"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"dmpkiosk/hwtest"
	"dmpkiosk/hwtest/cards"
)

// run runs a command and returns its output, failing the test if it fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// The packages as an IT team installs them: the service users and
// directories made, the units verified and their exposure scored, the
// kiosk's user — and only it — let use the readers of the system pcscd by
// the packaged polkit rule, the installed binaries run as their users with
// the packaged layout, and purging leaves nothing behind.
func TestPackagesInstallRunPurge(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("installing the packages needs root (make test runs as root in CI)")
	}
	root, _ := filepath.Abs("../..")
	build := exec.Command("bash", "provisioning/packaging/build.sh")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make package: %v\n%s", err, out)
	} else if !strings.Contains(string(out), "lintian reports no error") {
		t.Fatalf("make package:\n%s", out)
	}
	debs := map[string]string{}
	for _, p := range []string{"kiosk", "bridge", "testtools"} {
		m, _ := filepath.Glob(filepath.Join(root, "dist", "dmpkiosk-"+p+"_*_amd64.deb"))
		if len(m) != 1 {
			t.Fatalf("dist: %v for %s", m, p)
		}
		debs[p] = m[0]
	}
	for _, arch := range []string{"arm64", "armhf"} {
		if m, _ := filepath.Glob(filepath.Join(root, "dist", "dmpkiosk-kiosk_*_"+arch+".deb")); len(m) != 1 {
			t.Errorf("no kiosk package for %s", arch)
		}
	}
	purge := func() {
		exec.Command("dpkg", "--purge", "dmpkiosk-kiosk", "dmpkiosk-bridge", "dmpkiosk-testtools").Run()
	}
	purge()
	t.Cleanup(purge)
	run(t, "dpkg", "-i", debs["kiosk"], debs["bridge"], debs["testtools"])

	// Users, directories, files.
	for _, u := range []string{"dmpkiosk", "dmpbridge"} {
		run(t, "getent", "passwd", u)
	}
	// The kiosk's user reaches the board's buses and a USB receipt printer.
	if groups := strings.Fields(run(t, "id", "-nG", "dmpkiosk")); !hasAll(groups, "gpio", "spi", "i2c", "lp") {
		t.Errorf("dmpkiosk's groups: %v", groups)
	}
	for path, want := range map[string]string{
		"/etc/dmpkiosk/kiosk": "750 root dmpkiosk", "/var/lib/dmpkiosk/kiosk": "750 dmpkiosk dmpkiosk",
		"/etc/dmpkiosk/bridge": "750 root dmpbridge", "/var/lib/dmpkiosk/bridge": "750 dmpbridge dmpbridge",
		"/etc/dmpkiosk/broker": "750 root dmpbridge",
	} {
		if got := strings.TrimSpace(run(t, "stat", "-c", "%a %U %G", path)); got != want {
			t.Errorf("%s: %s, want %s", path, got, want)
		}
	}
	for _, f := range []string{"/usr/bin/dmpkiosk-kiosk", "/usr/bin/dmpkiosk-bridge", "/usr/bin/dmpkiosk-provision", "/usr/bin/dmpkiosk-dmpsim",
		"/usr/share/polkit-1/rules.d/50-dmpkiosk-pcscd.rules", "/usr/share/doc/dmpkiosk-kiosk/copyright"} {
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}

	// The units: verified, and their exposure (systemd's own score, 0 safe
	// to 10 unsafe) kept low.
	units := []string{"dmpkiosk-kiosk.service", "dmpkiosk-bridge.service", "dmpkiosk-broker.service"}
	for _, u := range units {
		if out, err := exec.Command("systemd-analyze", "verify", "/lib/systemd/system/"+u).CombinedOutput(); err != nil {
			t.Errorf("systemd-analyze verify %s: %v\n%s", u, err, out)
		}
	}
	score := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`)
	var report []string
	for _, u := range units {
		out, _ := exec.Command("systemd-analyze", "security", "--offline=true", "/lib/systemd/system/"+u).CombinedOutput()
		m := score.FindStringSubmatch(string(out))
		if m == nil {
			t.Fatalf("systemd-analyze security %s:\n%s", u, out)
		}
		report = append(report, u+": "+m[1])
		if v, _ := strconv.ParseFloat(m[1], 64); v > 3.0 {
			t.Errorf("%s: exposure %s, above 3.0\n%s", u, m[1], out)
		}
	}
	t.Logf("systemd-analyze security: %s", strings.Join(report, ", "))
	os.MkdirAll(filepath.Join(root, "artifacts"), 0o755)
	os.WriteFile(filepath.Join(root, "artifacts", "units-exposure.txt"), []byte(strings.Join(report, "\n")+"\n"), 0o644)

	// PC/SC as the kiosk's user, against the system's pcscd. A pcscd built
	// with polkit (Debian 13) asks it, and the packaged rule lets dmpkiosk,
	// and not another user, use the readers; Debian 12's is built without
	// (pcscd --version lists its features) and lets every local user in.
	version, _ := exec.Command(hwtest.LookPath(t, "pcscd", "pcscd"), "--version").CombinedOutput()
	withPolkit := strings.Contains(string(version), "polkit")
	if withPolkit {
		hwtest.StartPolkit(t)
	}
	hwtest.StartPCSCD(t)
	readers := func(user string) (string, error) {
		out, err := exec.Command("runuser", "-u", user, "--", "/usr/bin/dmpkiosk-kiosk", "readers").CombinedOutput()
		return string(out), err
	}
	if out, err := readers("dmpkiosk"); err != nil || !strings.Contains(out, hwtest.Reader(0)) || !strings.Contains(out, hwtest.Reader(1)) {
		t.Errorf("kiosk readers as dmpkiosk: %v\n%s", err, out)
	}
	if out, err := readers("nobody"); withPolkit && err == nil && strings.Contains(out, hwtest.Reader(0)) {
		t.Errorf("another user was let use the readers:\n%s", out)
	} else if !withPolkit {
		t.Log("this pcscd does not check polkit: every local user may use its readers; the packaged rule applies where it does")
	}
	if out, _ := exec.Command("runuser", "-u", "dmpkiosk", "--", "/usr/bin/dmpkiosk-kiosk", "selftest").CombinedOutput(); !regexp.MustCompile(`OK\s+lecteurs de cartes`).Match(out) {
		t.Errorf("kiosk selftest as dmpkiosk:\n%s", out)
	}

	// The bridge's broker from the packaged layout, as dmpbridge.
	broker := "/etc/dmpkiosk/broker"
	run(t, "/usr/bin/dmpkiosk-provision", "init", "--ca", broker+"/ca", "--name", "CHU TEST kiosk CA")
	run(t, "/usr/bin/dmpkiosk-provision", "server", "--ca", broker+"/ca", "--name", "localhost", "--out", broker)
	run(t, "chgrp", "-R", "dmpbridge", broker)
	run(t, "chmod", "-R", "g+rX,o-rwx", broker)
	cmd := exec.Command("runuser", "-u", "dmpbridge", "--", "/usr/bin/dmpkiosk-bridge", "broker", "--ca", broker+"/ca",
		"--cert", broker+"/server.pem", "--key", broker+"/server.key", "--listen", "127.0.0.1:0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		s.Scan()
		line <- s.Text()
		for s.Scan() {
		}
	}()
	portOf := make(chan string, 1)
	select {
	case l := <-line:
		if !strings.HasPrefix(l, "broker: ") {
			t.Fatalf("the broker as dmpbridge: %q", l)
		}
		portOf <- l[strings.LastIndex(l, ":")+1:]
	case <-time.After(20 * time.Second):
		t.Fatal("the broker as dmpbridge did not start")
	}
	brokerPort := <-portOf

	// The bridge itself, as dmpbridge, on the packaged layout: its keys made
	// with the packaged tools, the establishment's DMP keys in files, the
	// journal in its state directory; it comes up and answers /readyz.
	conf := "/etc/dmpkiosk/bridge"
	run(t, "/usr/bin/dmpkiosk-bridge", "enroll", "--id", "bridge-1", "--dir", conf)
	run(t, "/usr/bin/dmpkiosk-provision", "sign", "--ca", broker+"/ca", "--id", "bridge-1", "--role", "bridge", "--csr", conf+"/bridge.csr")
	run(t, "/usr/bin/dmpkiosk-provision", "enc-key", "--out", conf)
	run(t, "/usr/bin/dmpkiosk-provision", "server", "--ca", broker+"/ca", "--name", "localhost", "--out", conf+"/admin")
	igc, err := cards.NewIGCSante()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []struct{ name, usage string }{{"org-sign", cards.OrgSign}, {"org-auth", cards.OrgAuthCli}} {
		key, _ := rsa.GenerateKey(rand.Reader, 2048)
		cert, err := igc.OrgCertificate(key, k.usage, "750712001", "CHU TEST")
		if err != nil {
			t.Fatal(err)
		}
		der, _ := x509.MarshalPKCS8PrivateKey(key)
		os.WriteFile(conf+"/"+k.name+".pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o640)
		os.WriteFile(conf+"/"+k.name+".key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o640)
	}
	os.WriteFile(conf+"/igc.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: igc.Cert.Raw}), 0o644)
	os.WriteFile(conf+"/admin.password", []byte("correct horse battery staple\n"), 0o640)
	bridgeToml := fmt.Sprintf(`id = "bridge-1"
broker = "ssl://localhost:%s"
kiosk_ca = "%s/ca/ca.pem"
crl = "%s/ca/crl.pem"
cert = "bridge.pem"
key = "bridge.key"
enc_key = "bridge-enc.key"
card_ca = ["igc.pem"]

[journal]
path = "/var/lib/dmpkiosk/bridge/journal.db"

[admin]
listen = "127.0.0.1:0"
cert = "admin/server.pem"
key = "admin/server.key"
password_file = "admin.password"

[dmp]
url = "https://localhost:9/si-dmp-server/v2/services/"
sign_cert = "org-sign.pem"
auth_cert = "org-auth.pem"
sign_key = "org-sign.key"
auth_key = "org-auth.key"

[dmp.lps]
id = "dmpkiosk"
name = "dmpkiosk"
version = "test"
homologation = "TEST"
`, brokerPort, broker, broker)
	os.WriteFile(conf+"/bridge.toml", []byte(bridgeToml), 0o640)
	// The configuration readable by the service's group, its secrets by
	// the service's user only (the bridge refuses a key others can read).
	run(t, "chgrp", "-R", "dmpbridge", conf)
	run(t, "chmod", "-R", "g+rX,o-rwx", conf)
	run(t, "find", conf, "-name", "*.key", "-exec", "chown", "dmpbridge", "{}", "+", "-exec", "chmod", "600", "{}", "+")
	bcmd := exec.Command("runuser", "-u", "dmpbridge", "--", "/usr/bin/dmpkiosk-bridge", "run", "--config", conf+"/bridge.toml")
	bcmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	bout, _ := bcmd.StdoutPipe()
	var blog strings.Builder
	bcmd.Stderr = &blog
	if err := bcmd.Start(); err != nil {
		t.Fatal(err)
	}
	admin := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(bout)
		for s.Scan() {
			if l := s.Text(); strings.HasPrefix(l, "admin: ") {
				admin <- strings.TrimPrefix(l, "admin: ")
			}
		}
	}()
	var adminURL string
	select {
	case adminURL = <-admin:
	case <-time.After(30 * time.Second):
		syscall.Kill(-bcmd.Process.Pid, syscall.SIGTERM)
		err := bcmd.Wait()
		t.Fatalf("bridge run as dmpbridge did not start: %v\n%s", err, blog.String())
	}
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	ready := false
	for deadline := time.Now().Add(20 * time.Second); !ready && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if resp, err := insecure.Get(adminURL + "readyz"); err == nil {
			ready = resp.StatusCode == http.StatusOK
			resp.Body.Close()
		}
	}
	if !ready {
		t.Errorf("bridge run as dmpbridge never ready (connected to the packaged broker)\n%s", blog.String())
	}
	if owner := strings.TrimSpace(run(t, "stat", "-c", "%U", "/var/lib/dmpkiosk/bridge/journal.db")); owner != "dmpbridge" {
		t.Errorf("the journal is %s's", owner)
	}
	syscall.Kill(-bcmd.Process.Pid, syscall.SIGTERM)
	bcmd.Wait()

	// The kiosk, as dmpkiosk, on its packaged layout: enrolled for its site,
	// its bundle in /etc/dmpkiosk/kiosk, its outbox in its state directory;
	// selftest with its configuration reaches the packaged broker, and
	// kiosk run comes up.
	kconf := "/etc/dmpkiosk/kiosk"
	run(t, "/usr/bin/dmpkiosk-kiosk", "enroll", "--id", "kiosk-1", "--dir", kconf)
	run(t, "/usr/bin/dmpkiosk-provision", "sign", "--ca", broker+"/ca", "--id", "kiosk-1", "--site", "750712184", "--unit", "ACCUEIL", "--csr", kconf+"/device.csr")
	run(t, "/usr/bin/dmpkiosk-provision", "bundle", "--ca", broker+"/ca", "--cert", kconf+"/device.pem", "--bridge-key", conf+"/bridge-enc.pub.pem",
		"--key-path", kconf+"/device.key", "--broker", "ssl://localhost:"+brokerPort, "--context", "admission", "--regime", "current", "--out", kconf)
	body, err := os.ReadFile(kconf + "/kiosk.toml")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(kconf+"/kiosk.toml", append([]byte("outbox = \"/var/lib/dmpkiosk/kiosk/outbox.db\"\nweb_listen = \"127.0.0.1:0\"\n"), body...), 0o640)
	run(t, "chgrp", "-R", "dmpkiosk", kconf)
	run(t, "chmod", "-R", "g+rX,o-rwx", kconf)
	run(t, "find", kconf, "-name", "*.key", "-exec", "chown", "dmpkiosk", "{}", "+", "-exec", "chmod", "600", "{}", "+")
	if out, _ := exec.Command("runuser", "-u", "dmpkiosk", "--", "/usr/bin/dmpkiosk-kiosk", "selftest", "--config", kconf+"/kiosk.toml").CombinedOutput(); !regexp.MustCompile(`OK\s+lecteurs de cartes`).Match(out) ||
		!regexp.MustCompile(`(?m)^OK\s+.*(courtier|broker|MQTT)`).Match(out) {
		t.Errorf("kiosk selftest --config as dmpkiosk:\n%s", out)
	}
	kcmd := exec.Command("runuser", "-u", "dmpkiosk", "--", "/usr/bin/dmpkiosk-kiosk", "run", "--config", kconf+"/kiosk.toml")
	kcmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	kerr, _ := kcmd.StderrPipe()
	if err := kcmd.Start(); err != nil {
		t.Fatal(err)
	}
	web := make(chan bool, 1)
	var klog strings.Builder
	go func() {
		s := bufio.NewScanner(kerr)
		for s.Scan() {
			klog.WriteString(s.Text() + "\n")
			if strings.Contains(s.Text(), "web view") {
				web <- true
			}
		}
	}()
	select {
	case <-web:
	case <-time.After(30 * time.Second):
		t.Errorf("kiosk run as dmpkiosk did not come up")
	}
	syscall.Kill(-kcmd.Process.Pid, syscall.SIGTERM)
	kcmd.Wait()
	if owner := strings.TrimSpace(run(t, "stat", "-c", "%U", "/var/lib/dmpkiosk/kiosk/outbox.db")); owner != "dmpkiosk" {
		t.Errorf("the outbox is %s's", owner)
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	cmd.Wait()

	// The bridge writes its state directory (a journal made there), the
	// kiosk's user cannot read it.
	run(t, "runuser", "-u", "dmpbridge", "--", "touch", "/var/lib/dmpkiosk/bridge/probe.db")
	if out := run(t, "runuser", "-u", "dmpbridge", "--", "/usr/bin/dmpkiosk-bridge", "audit", "verify", "--journal", "/var/lib/dmpkiosk/bridge/probe.db"); !strings.Contains(out, "intact") {
		t.Errorf("a journal in the state directory: %s", out)
	}
	if out, err := exec.Command("runuser", "-u", "dmpkiosk", "--", "/usr/bin/dmpkiosk-bridge", "audit", "verify", "--journal", "/var/lib/dmpkiosk/bridge/probe.db").CombinedOutput(); err == nil {
		t.Errorf("the kiosk's user read the bridge's journal:\n%s", out)
	}

	// Purged: nothing the packages made is left.
	run(t, "dpkg", "--purge", "dmpkiosk-kiosk", "dmpkiosk-bridge", "dmpkiosk-testtools")
	for _, u := range []string{"dmpkiosk", "dmpbridge"} {
		if exec.Command("getent", "passwd", u).Run() == nil {
			t.Errorf("user %s left after purge", u)
		}
	}
	for _, p := range []string{"/etc/dmpkiosk", "/var/lib/dmpkiosk", "/usr/bin/dmpkiosk-kiosk", "/lib/systemd/system/dmpkiosk-bridge.service"} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s left after purge", p)
		}
	}
}

func hasAll(set []string, want ...string) bool {
	for _, w := range want {
		if !slices.Contains(set, w) {
			return false
		}
	}
	return true
}
