package hwtest

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Mosquitto is a real mosquitto broker on a loopback port for one test:
// TLS 1.2 only, client certificate required, the certificate's common name
// used as the user name, and the test's ACL.
type Mosquitto struct {
	Addr string // host:port
	CA   *CA    // issues the server's and the clients' certificates

	t      testing.TB
	bin    string
	dir    string
	cmd    *exec.Cmd
	exited chan struct{}
}

// StartMosquitto starts mosquitto with the given ACL file content (lines such
// as "pattern write kiosk/%u/events") and a CA of its own. It is stopped when
// the test ends.
func StartMosquitto(t testing.TB, acl string) *Mosquitto {
	t.Helper()
	ca := NewCA(t, "dmpkiosk test broker CA")
	m := StartMosquittoWith(t, func(dir string, port int) string {
		return writeDefaultConf(t, ca, dir, port, acl)
	})
	m.CA = ca
	return m
}

// StartMosquittoWith starts mosquitto with the configuration setup returns;
// setup writes the files it names into dir (readable by the broker) and
// listens on 127.0.0.1:port.
func StartMosquittoWith(t testing.TB, setup func(dir string, port int) (conf string)) *Mosquitto {
	t.Helper()
	bin := LookPath(t, "mosquitto", "mosquitto")
	// Started as root, mosquitto drops to its own user: its files must sit in
	// a directory that user can reach, which a test's TempDir is not.
	dir, err := os.MkdirTemp("", "dmpkiosk-mosquitto-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	m := &Mosquitto{t: t, bin: bin, dir: dir}
	port := freePort(t)
	m.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	conf := setup(dir, port)
	if err := os.WriteFile(filepath.Join(dir, "mosquitto.conf"), []byte("persistence false\nlog_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n"+conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		giveTo(t, dir, "mosquitto")
	}
	t.Cleanup(m.Stop)
	m.Start()
	return m
}

// Dir is the broker's directory (configuration, keys, ACL).
func (m *Mosquitto) Dir() string { return m.dir }

// Reload makes mosquitto reread its configuration files (SIGHUP).
func (m *Mosquitto) Reload() {
	if m.cmd != nil {
		_ = m.cmd.Process.Signal(syscall.SIGHUP)
	}
}

func writeDefaultConf(t testing.TB, ca *CA, dir string, port int, acl string) string {
	t.Helper()
	srv := ca.Server(t, "localhost")
	srv.WriteFiles(t, filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key"))
	files := map[string]string{"ca.pem": string(ca.PEM), "acl": acl}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return fmt.Sprintf(`per_listener_settings true
listener %d 127.0.0.1
cafile %[2]s/ca.pem
certfile %[2]s/server.pem
keyfile %[2]s/server.key
require_certificate true
use_identity_as_username true
tls_version tlsv1.2
allow_anonymous false
acl_file %[2]s/acl
`, port, dir)
}

// Start (re)starts the broker on the same port and waits until it accepts.
func (m *Mosquitto) Start() {
	m.t.Helper()
	logf, err := os.OpenFile(filepath.Join(m.dir, "log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		m.t.Fatal(err)
	}
	cmd := exec.Command(m.bin, "-c", filepath.Join(m.dir, "mosquitto.conf"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logf.Close()
		m.t.Fatalf("starting mosquitto: %v", err)
	}
	m.cmd, m.exited = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(m.exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-m.exited:
			m.t.Fatalf("mosquitto exited at start:\n%s", m.Log())
		default:
		}
		if c, err := net.DialTimeout("tcp", m.Addr, 200*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	m.t.Fatalf("mosquitto did not listen on %s:\n%s", m.Addr, m.Log())
}

// Kill ends the broker with SIGKILL, as a crash would; Start brings it
// back.
func (m *Mosquitto) Kill() {
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Kill()
	<-m.exited
	m.cmd = nil
}

// Stop stops the broker; Start brings it back on the same port.
func (m *Mosquitto) Stop() {
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(5 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.exited
	}
	m.cmd = nil
}

// Log returns what the broker printed so far.
func (m *Mosquitto) Log() string {
	b, _ := os.ReadFile(filepath.Join(m.dir, "log"))
	return string(b)
}

// URL is the broker's address for an MQTT client ("ssl://host:port").
func (m *Mosquitto) URL() string { return "ssl://" + m.Addr }

// ClientTLS returns a TLS configuration for an MQTT client whose certificate
// names it name (and so, on this broker, its user name for the ACL).
func (m *Mosquitto) ClientTLS(t testing.TB, name string) *tls.Config {
	t.Helper()
	leaf := m.CA.Client(t, name)
	return &tls.Config{
		RootCAs:      m.CA.Pool(),
		Certificates: []tls.Certificate{leaf.TLS()},
		ServerName:   "localhost",
		MinVersion:   tls.VersionTLS12,
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// giveTo hands a directory and the files in it to a system user.
func giveTo(t testing.TB, dir, name string) {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		Missing(t, "the system user "+name, name)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	err = filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(p, uid, gid)
	})
	if err != nil {
		t.Fatal(err)
	}
}
