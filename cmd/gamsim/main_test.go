package main

import (
	"bufio"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dmpkiosk/bridge/sih"
	"dmpkiosk/ins"
)

// gamsim serve answers a PDQ query for a virtual card's patient with the
// IPP of its base.
func TestGAMSimServe(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "gamsim")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0")
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	s := bufio.NewScanner(out)
	if !s.Scan() || !strings.Contains(s.Text(), "MLLP on ") {
		t.Fatalf("gamsim: %q", s.Text())
	}
	addr := s.Text()[strings.LastIndex(s.Text(), " ")+1:]
	r := sih.Receiver{Name: "gam", Application: "GAM", IPP: Domain}
	p := sih.Patient{Traits: ins.Traits{BirthName: "MARTIN", FirstName: "PAUL", FirstNames: []string{"PAUL"}, Sex: "M", BirthDate: "19750612"}}
	q, _ := sih.QBP(sih.Sender{Application: "DMPKIOSK"}, r, "Q1", "T1", time.Now(), p, false)
	answer, err := sih.Exchange(context.Background(), addr, nil, q, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, ipps, err := sih.Matches(r, answer); err != nil || len(ipps) != 1 {
		t.Fatalf("PDQ for MARTIN PAUL: %v %v\n%q", ipps, err, answer)
	}
}
