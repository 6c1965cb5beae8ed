package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dmpkiosk/bridge/dmp/dmpsim"
	"dmpkiosk/firmware/event"
	"dmpkiosk/hwtest/system"
)

// The IT team's journal commands on a running site: a backup while the
// bridge runs, a purge (nothing past the retention yet), then, the bridge
// stopped, the backup restored in the journal's place: the bridge starts
// on it, its audit chain intact, and answers the event again from it.
func TestJournalBackupPurgeRestore(t *testing.T) {
	b := system.StartBridge(t, buildBridge(t), system.BridgeOptions{Regime: dmpsim.Current})
	link, ob := startLink(t, b, time.Minute)
	id := "0190f1c2-eeee-7000-8000-000000000001"
	if err := ob.Put(context.Background(), id, 1, sealFor(t, b, id, 1, time.Now())); err != nil {
		t.Fatal(err)
	}
	link.Kick()
	select {
	case r := <-link.Results():
		if r.EventID != id || r.Outcome != event.OutcomeAuthorized {
			t.Fatalf("result %+v", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no result\n%s", b.Log)
	}
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(b.Bin(), args...).CombinedOutput()
		if err != nil {
			t.Fatalf("bridge %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	backup := filepath.Join(t.TempDir(), "journal-backup.db")
	if out := run("backup", "--config", b.ConfigPath(), backup); !strings.Contains(out, "backed up") {
		t.Fatalf("backup: %s", out)
	}
	if out := run("purge", "--config", b.ConfigPath()); !strings.Contains(out, "purged") {
		t.Fatalf("purge: %s", out)
	}
	var payload string
	b.JournalRow(t, `SELECT payload FROM events WHERE id = '`+id+`'`, &payload)
	if !strings.Contains(payload, "patient") {
		t.Fatal("a purge within the retention took the identity")
	}
	b.Stop()
	if out := run("restore", "--config", b.ConfigPath(), backup); !strings.Contains(out, "audit chain intact") {
		t.Fatalf("restore: %s", out)
	}
	b.Start(t)
	if out := run("audit", "verify", "--config", b.ConfigPath()); !strings.Contains(out, "intact") {
		t.Fatalf("audit after the restore: %s", out)
	}
	var state string
	b.JournalRow(t, `SELECT state FROM events WHERE id = '`+id+`'`, &state)
	if state != "done" {
		t.Fatalf("the restored journal's event: %s", state)
	}
	if out, err := exec.Command(b.Bin(), "backup", "--config", b.ConfigPath(), backup).CombinedOutput(); err == nil {
		t.Fatalf("a backup over an existing file: %s", out)
	}
}
