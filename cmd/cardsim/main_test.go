package main

import (
	"bufio"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"dmpkiosk/hwtest"
)

func build(t *testing.T, dir, pkg string) string {
	t.Helper()
	bin := filepath.Join(dir, filepath.Base(pkg))
	if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// cardsim puts a card in slot 1 through real pcscd, kiosk readers sees its
// ATR there and slot 0 empty, and an interrupt takes the card out.
func TestCardsimWithKioskReaders(t *testing.T) {
	d := hwtest.StartPCSCD(t)
	dir := t.TempDir()
	cardsim := build(t, dir, "dmpkiosk/cmd/cardsim")
	kiosk := build(t, dir, "dmpkiosk/cmd/kiosk")

	cmd := exec.Command(cardsim, "insert", "-profile", "demo", "-slot", "1", "-timing", "-pps", "-pki", filepath.Join(dir, "pki"))
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(stdout)
	for lines.Scan() && !strings.Contains(lines.Text(), "inserted") {
		if strings.HasPrefix(lines.Text(), "timing:") && !strings.Contains(lines.Text(), "38400 bd") {
			t.Errorf("demo card after PPS: %s", lines.Text())
		}
	}
	if err := d.WaitCard(t.Context(), 1, true); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(kiosk, "readers").CombinedOutput()
	if err != nil {
		t.Fatalf("kiosk readers: %v\n%s", err, out)
	}
	want := hwtest.Reader(1) + "\tATR 3B111344"
	if !strings.Contains(string(out), want) || !strings.Contains(string(out), hwtest.Reader(0)+"\tvide") {
		t.Fatalf("kiosk readers:\n%s\nwant a line %q and slot 0 empty", out, want)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := d.WaitCard(t.Context(), 1, false); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("cardsim after Ctrl-C: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cardsim did not exit on Ctrl-C")
	}
}
