package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"dmpkiosk/hwtest"
	"dmpkiosk/ins"
)

// kioskBin is the kiosk binary built once for the tests of its contract.
var kioskBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kiosk-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	kioskBin = filepath.Join(dir, "kiosk")
	if out, err := exec.Command("go", "build", "-o", kioskBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building kiosk: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func run(t testing.TB, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(kioskBin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

func TestINSCCommand(t *testing.T) {
	in := "PHILIPPE;610217;1610275754289\nÉlodie;850000;285022A123456\nPHILIPPE;61;1610275754289\n"
	out, stderr, code := run(t, in, "ins-c")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	elodie, err := ins.INSC("ELODIE", "850000", "285022A123456")
	if err != nil {
		t.Fatal(err)
	}
	want := "0833910461279517589858\n" + elodie + "\nerror: " + ins.ErrBirthDate.Error() + "\n"
	if out != want {
		t.Fatalf("output %q, want %q", out, want)
	}
	if _, _, code := run(t, "", "ins-c", "file.csv"); code != 2 {
		t.Fatalf("an argument to ins-c: exit %d, want 2", code)
	}
	if out, _, code := run(t, "", "ins-c"); code != 0 || out != "" {
		t.Fatalf("empty input: exit %d, output %q", code, out)
	}
}

func TestVersionAndUsage(t *testing.T) {
	out, _, code := run(t, "", "--version")
	if code != 0 || !strings.HasPrefix(out, "kiosk ") {
		t.Fatalf("--version: exit %d, %q", code, out)
	}
	if _, stderr, code := run(t, "", "frobnicate"); code != 2 || !strings.Contains(stderr, "unknown command") {
		t.Fatalf("unknown command: exit %d, %q", code, stderr)
	}
	if out, _, code := run(t, "", "help"); code != 0 || !strings.Contains(out, "ins-c") || !strings.Contains(out, "readers") {
		t.Fatalf("help: exit %d, %q", code, out)
	}
}

// BenchmarkINSCCommand measures lines per second through the real binary
// over a pipe (stack) against the library call alone (floor).
func BenchmarkINSCCommand(b *testing.B) {
	b.Run("stack", func(b *testing.B) {
		var in bytes.Buffer
		for i := range b.N {
			fmt.Fprintf(&in, "MARIE-HELENE;%06d;16102757%05d\n", 100000+i%900000, 10000+i%90000)
		}
		cmd := exec.Command(kioskBin, "ins-c")
		cmd.Stdin = &in
		cmd.Stdout = io.Discard
		b.ResetTimer()
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	})
	b.Run("floor", func(b *testing.B) {
		buf := make([]byte, 0, 32)
		for b.Loop() {
			buf, _ = ins.AppendINSC(buf[:0], "MARIE-HELENE", "610217", "1610275754289")
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	})
}

func TestSelftest(t *testing.T) {
	d := hwtest.StartPCSCD(t)
	out, stderr, code := run(t, "", "selftest")
	if code != 0 || !strings.Contains(out, hwtest.Reader(0)) || !strings.Contains(out, hwtest.Reader(1)) || !strings.Contains(out, "OK    horloge") {
		t.Fatalf("selftest with two readers: exit %d\n%s%s", code, out, stderr)
	}
	// pcscd stopped (the machine's pcscd lock is still ours): the readers
	// check fails, with a plain message.
	d.Stop()
	if out, _, code := run(t, "", "selftest"); code != 1 || !strings.Contains(out, "ÉCHEC lecteurs de cartes") {
		t.Fatalf("selftest without pcscd: exit %d\n%s", code, out)
	}
}

// The kiosk never links the test rig or the testing package (its virtual
// card tray runs cardsim as a process).
func TestKioskLinksNoTestCode(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "testing" || strings.HasPrefix(dep, "dmpkiosk/hwtest") || strings.Contains(dep, "/dmpsim") || strings.Contains(dep, "/insisim") {
			t.Errorf("cmd/kiosk depends on %s", dep)
		}
	}
}
