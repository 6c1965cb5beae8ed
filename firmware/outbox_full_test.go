package firmware

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestOutboxFullHelper fills the outbox at $OUTBOX_FULL_HELPER in a process
// whose files may not grow past 256 KiB (RLIMIT_FSIZE: the disk is full
// for it), and says how many events it stored before the first error.
func TestOutboxFullHelper(t *testing.T) {
	path := os.Getenv("OUTBOX_FULL_HELPER")
	if path == "" {
		return
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: 256 << 10, Max: 256 << 10}); err != nil {
		fmt.Println("error setrlimit", err)
		os.Exit(3)
	}
	ob, err := OpenOutbox(path, 100000)
	if err != nil {
		fmt.Println("error open", err)
		os.Exit(3)
	}
	body := strings.Repeat("x", 8<<10)
	for i := 1; ; i++ {
		if err := ob.Put(context.Background(), fmt.Sprintf("e%d", i), int64(i), body); err != nil {
			fmt.Printf("stored %d\nfull %v\n", i-1, err)
			os.Exit(0)
		}
	}
}

// The disk full under the kiosk's outbox: the event that does not fit is
// refused with an error (the session then tells the desk it was not
// stored), every event stored before it is intact, and once there is
// space again the outbox takes events as before.
func TestOutboxDiskFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestOutboxFullHelper$")
	cmd.Env = append(os.Environ(), "OUTBOX_FULL_HELPER="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var stored int
	if _, err := fmt.Sscanf(string(out), "stored %d", &stored); err != nil || !strings.Contains(string(out), "full ") {
		t.Fatalf("helper: %s", out)
	}
	if stored < 5 {
		t.Fatalf("only %d events fitted in 256 KiB:\n%s", stored, out)
	}
	t.Logf("%d events stored, then: %s", stored, strings.TrimSpace(strings.SplitN(string(out), "full ", 2)[1]))
	ob, err := OpenOutbox(path, 100000)
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	ctx := context.Background()
	pending, quarantined, err := ob.Depth(ctx)
	if err != nil || pending != stored || quarantined != 0 {
		t.Fatalf("after the disk was full: %d pending, %d quarantined, %v (stored %d)", pending, quarantined, err, stored)
	}
	for i := 1; i <= stored; i++ {
		p, ok, err := ob.Head(ctx)
		if err != nil || !ok || p.ID != fmt.Sprintf("e%d", i) || len(p.Body) != 8<<10 {
			t.Fatalf("event %d: %+v %v %v", i, p.ID, ok, err)
		}
		if _, err := ob.Done(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := ob.Put(ctx, "after", int64(stored+1), "x"); err != nil {
		t.Fatalf("with space again: %v", err)
	}
}
