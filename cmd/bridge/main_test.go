package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"dmpkiosk/bridge/journal"
	"dmpkiosk/hwtest"
	"dmpkiosk/provisioning"
)

func TestBrokerCommand(t *testing.T) {
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "bridge")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	site := hwtest.NewSite(t, "kiosk-1")
	ca := site.CA
	kiosk, bridge := site.TLS(site.Creds["kiosk-1"]), site.TLS(site.Creds["bridge-1"])
	der, _ := x509.MarshalPKCS8PrivateKey(site.Server.PrivateKey)
	os.WriteFile(filepath.Join(tmp, "server.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	os.WriteFile(filepath.Join(tmp, "server.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: site.Server.Certificate[0]}), 0o644)

	cmd := exec.Command(bin, "broker", "--ca", ca.Dir, "--listen", "127.0.0.1:0",
		"--cert", filepath.Join(tmp, "server.pem"), "--key", filepath.Join(tmp, "server.key"))
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "broker: ssl://") {
		t.Fatalf("broker start: %q %v", line, err)
	}
	url := strings.TrimSpace(strings.TrimPrefix(line, "broker: "))

	connect := func(id string, cfg *tls.Config, lost chan struct{}) (mqtt.Client, error) {
		o := mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetTLSConfig(cfg).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
		if lost != nil {
			o.SetConnectionLostHandler(func(mqtt.Client, error) { close(lost) })
		}
		c := mqtt.NewClient(o)
		tok := c.Connect()
		tok.WaitTimeout(10 * time.Second)
		return c, tok.Error()
	}
	got := make(chan string, 1)
	b, err := connect("bridge-1", bridge, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Disconnect(0)
	b.Subscribe(provisioning.BridgeEventsFilter, 1, func(_ mqtt.Client, m mqtt.Message) { got <- string(m.Payload()) }).WaitTimeout(5 * time.Second)
	lost := make(chan struct{})
	k, err := connect("kiosk-1", kiosk, lost)
	if err != nil {
		t.Fatal(err)
	}
	k.Publish(provisioning.EventsTopic("kiosk-1"), 1, false, "e").WaitTimeout(5 * time.Second)
	select {
	case p := <-got:
		if p != "e" {
			t.Fatalf("payload %q", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("event not delivered through the broker command")
	}
	// provision revoke, then SIGHUP: the kiosk is shut out at once.
	if err := ca.Revoke("kiosk-1"); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	select {
	case <-lost:
	case <-time.After(10 * time.Second):
		t.Fatal("the revoked kiosk stayed connected after SIGHUP")
	}
	if c, err := connect("kiosk-1", kiosk, nil); err == nil {
		c.Disconnect(0)
		t.Fatal("the revoked kiosk reconnected")
	}
}

func TestAuditVerifyCommand(t *testing.T) {
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "bridge")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	path := filepath.Join(tmp, "journal.db")
	j, err := journal.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := j.Audit(context.Background(), "event.rejected", "kiosk-1", "replay"); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	out, err := exec.Command(bin, "audit", "verify", "--journal", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "intact: 3 links") {
		t.Fatalf("%v\n%s", err, out)
	}
	// Tampered behind the journal's back: the command names the link.
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DROP TRIGGER audit_append_only_u; UPDATE audit SET ref = 'kiosk-2' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out, err = exec.Command(bin, "audit", "verify", "--journal", path).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "broken at link 2") {
		t.Fatalf("tampered chain: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "audit", "verify", "--journal", path, "--postgres", "x").CombinedOutput(); err == nil {
		t.Fatalf("two journals at once:\n%s", out)
	}

	// The PostgreSQL journal, the same way.
	pg := hwtest.StartPostgres(t)
	pj, err := journal.OpenPostgres(context.Background(), pg.DSN, "test")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if err := pj.Audit(context.Background(), "event.rejected", "kiosk-1", "replay"); err != nil {
			t.Fatal(err)
		}
	}
	pj.Close()
	out, err = exec.Command(bin, "audit", "verify", "--postgres", pg.DSN).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "intact: 4 links") {
		t.Fatalf("postgres: %v\n%s", err, out)
	}
}
