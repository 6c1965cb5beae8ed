package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dmpkiosk/bridge/dmp"
	"dmpkiosk/bridge/dmp/dmpsim"
	"dmpkiosk/firmware"
	"dmpkiosk/hwtest/patients"
	"dmpkiosk/hwtest/system"
)

// TestKioskHelperProcess is the kiosk's send path in a process of its own
// (the outbox and the MQTT link), for TestKioskKilledAtEachStep to kill:
// it stores the event it is given, then sends; it says "stored", "sent"
// and "result <id> <outcome>" on its standard output.
func TestKioskHelperProcess(t *testing.T) {
	dir := os.Getenv("DMPKIOSK_KIOSK_HELPER")
	if dir == "" {
		return
	}
	fail := func(err error) { fmt.Println("error", err); os.Exit(3) }
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "device.pem"), filepath.Join(dir, "device.key"))
	if err != nil {
		fail(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		fail(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	ob, err := firmware.OpenOutbox(filepath.Join(dir, "outbox.db"), 100)
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	if put := os.Getenv("HELPER_PUT"); put != "" {
		body, err := os.ReadFile(put)
		if err != nil {
			fail(err)
		}
		id, seq := os.Getenv("HELPER_ID"), int64(1)
		fmt.Sscan(os.Getenv("HELPER_SEQ"), &seq)
		if err := ob.Put(ctx, id, seq, string(body)); err != nil {
			fail(err)
		}
		fmt.Println("stored")
	}
	link := firmware.StartLink(ctx, firmware.LinkConfig{BrokerURL: os.Getenv("HELPER_BROKER"), DeviceID: "kiosk-1",
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}}, ob)
	go func() {
		for {
			if p, ok, _ := ob.Head(ctx); ok && p.Attempts > 0 {
				fmt.Println("sent")
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	for r := range link.Results() {
		fmt.Println("result", r.EventID, r.Outcome)
	}
}

// helper is a running kiosk helper process.
type helper struct {
	cmd   *exec.Cmd
	lines chan string
}

func startHelper(t *testing.T, dir, broker string, put map[string]string) *helper {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKioskHelperProcess$")
	cmd.Env = append(os.Environ(), "DMPKIOSK_KIOSK_HELPER="+dir, "HELPER_BROKER="+broker)
	for k, v := range put {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &helper{cmd: cmd, lines: make(chan string, 16)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			h.lines <- sc.Text()
		}
		close(h.lines)
	}()
	t.Cleanup(h.kill)
	return h
}

func (h *helper) wait(t *testing.T, prefix string) string {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-h.lines:
			if !ok {
				t.Fatalf("the kiosk process ended before %q", prefix)
			}
			if strings.HasPrefix(l, "error") {
				t.Fatalf("kiosk process: %s", l)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-deadline:
			t.Fatalf("the kiosk process never said %q", prefix)
		}
	}
}

// kill ends the kiosk process with SIGKILL, as a power cut does.
func (h *helper) kill() {
	if h.cmd.ProcessState == nil {
		h.cmd.Process.Kill()
		h.cmd.Wait()
	}
}

// The kiosk killed at each step of its send path — after the outbox commit
// and before the publish, after the publish and before the result, and
// while its result is on its way — comes back, sends what it kept, and
// hears the one answer: each event journaled once, each DMP change made
// once.
func TestKioskKilledAtEachStep(t *testing.T) {
	b := system.StartBridge(t, buildBridge(t), system.BridgeOptions{Regime: dmpsim.Current, DMPTimeout: time.Second})
	dir := t.TempDir()
	cred := b.Site.Creds["kiosk-1"]
	keyDER, err := x509.MarshalPKCS8PrivateKey(cred.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(b.Site.CA.CertPath())
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"device.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cred.Leaf.Raw}),
		"device.key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		"ca.pem":     caPEM,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	people := patients.AllWithINS()
	broker := b.Mosquitto.URL()
	put := func(i int) map[string]string {
		id := fmt.Sprintf("0190f1c2-eeee-7000-8000-00000000000%d", i)
		path := filepath.Join(dir, id)
		if err := os.WriteFile(path, []byte(sealOf(t, b, id, int64(i), time.Now(), people[i])), 0o600); err != nil {
			t.Fatal(err)
		}
		return map[string]string{"HELPER_PUT": path, "HELPER_ID": id, "HELPER_SEQ": fmt.Sprint(i)}
	}
	back := func(id string) {
		t.Helper()
		h := startHelper(t, dir, broker, nil)
		if got := h.wait(t, "result"); got != "result "+id+" authorized" {
			t.Fatalf("after the restart: %s", got)
		}
		h.kill()
	}

	// 1. Stored, not yet sent (no broker within reach), killed.
	h := startHelper(t, dir, "ssl://127.0.0.1:1", put(1))
	h.wait(t, "stored")
	h.kill()
	back("0190f1c2-eeee-7000-8000-000000000001")

	// 2. Sent while the bridge is down, killed before any result.
	b.Kill()
	h = startHelper(t, dir, broker, put(2))
	h.wait(t, "sent")
	h.kill()
	b.Start(t)
	back("0190f1c2-eeee-7000-8000-000000000002")

	// 3. Sent, killed while the bridge works on it (the DMP does not
	// answer the first try): the result goes out to no one.
	b.Sim.Inject("timeout")
	h = startHelper(t, dir, broker, put(3))
	h.wait(t, "sent")
	h.kill()
	id3 := "0190f1c2-eeee-7000-8000-000000000003"
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var state string
		b.JournalRow(t, `SELECT coalesce(max(state), '') FROM events WHERE id = '`+id3+`'`, &state)
		if state == "done" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("event 3 never done: %q", state)
		}
	}
	back(id3)

	// Each event journaled once and done; one authorization each.
	var rows, done int64
	b.JournalRow(t, `SELECT count(*), count(*) FILTER (WHERE state = 'done') FROM events`, &rows, &done)
	if rows != 3 || done != 3 {
		t.Fatalf("journal: %d rows, %d done", rows, done)
	}
	trace, err := b.Sim.Trace(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	changes := 0
	for _, a := range trace {
		if a.Tx == dmp.TD03 && a.Outcome == dmp.AuthValid {
			changes++
		}
	}
	if changes != 3 {
		t.Fatalf("%d authorizations for 3 events:\n%+v", changes, trace)
	}
	b.CheckNoPII(t)
}
