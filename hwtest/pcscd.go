package hwtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"dmpkiosk/apdu/pcsc"
)

// The private reader configuration: one vpcd entry giving two slots whose
// names and TCP ports cannot clash with Debian's default vpcd entry.
const (
	ReaderName  = "Kiosk VPCD"
	vpcdChannel = 0x9000
	vpcdDriver  = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
	pcscdSocket = "/run/pcscd/pcscd.comm"
	// The machine has one pcscd: tests of every package take it in turn.
	pcscdLock   = "/tmp/dmpkiosk-pcscd.lock"
	pcscdPidTag = "/tmp/dmpkiosk-pcscd.pid"
)

// PCSCD is a pcscd started in the foreground for a test, with two virtual
// slots. It is stopped, and the machine-wide lock released, when the test
// ends.
type PCSCD struct {
	t       testing.TB
	bin     string
	confDir string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{}
}

// Slots is the number of virtual readers the rig provides.
const Slots = 2

// Reader is the PC/SC name of virtual slot i (0 or 1).
func Reader(i int) string { return fmt.Sprintf("%s 00 %02X", ReaderName, i) }

// SlotAddr is the TCP address a virtual card dials to sit in slot i.
func SlotAddr(i int) string { return "127.0.0.1:" + strconv.Itoa(vpcdChannel+i) }

// StartPCSCD takes the machine's pcscd lock (waiting for other test
// processes), starts pcscd with the private two-slot configuration and waits
// until both readers are listed.
func StartPCSCD(t testing.TB) *PCSCD {
	t.Helper()
	bin := LookPath(t, "pcscd", "pcscd")
	if _, err := os.Stat(vpcdDriver); err != nil {
		Missing(t, "the vpcd reader driver", "vsmartcard-vpcd")
	}
	lockMachine(t)
	dir := t.TempDir()
	p := &PCSCD{t: t, bin: bin, confDir: filepath.Join(dir, "reader.conf.d"), logPath: filepath.Join(dir, "pcscd.log")}
	if err := WriteReaderConf(p.confDir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	p.Start()
	return p
}

// WriteReaderConf writes the private two-slot vpcd configuration into dir,
// for pcscd --config dir.
func WriteReaderConf(dir string) error {
	conf := fmt.Sprintf("FRIENDLYNAME \"%s\"\nDEVICENAME /dev/null:0x%X\nLIBPATH %s\nCHANNELID 0x%X\n",
		ReaderName, vpcdChannel, vpcdDriver, vpcdChannel)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "kiosk-vpcd"), []byte(conf), 0o644)
}

// Start launches pcscd (again, after Stop or Kill) and waits for both slots.
func (p *PCSCD) Start() {
	p.t.Helper()
	if err := clearStaleDaemon(); err != nil {
		p.t.Fatal(err)
	}
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	cmd := exec.Command(p.bin, "--foreground", "--config", p.confDir)
	cmd.Stdout, cmd.Stderr = logf, logf
	// If the test binary dies, pcscd must not outlive it and hold the slots.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logf.Close()
		p.t.Fatalf("starting pcscd: %v", err)
	}
	_ = os.WriteFile(pcscdPidTag, []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
	p.cmd, p.exited = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(p.exited) }()
	if err := p.waitReaders(10 * time.Second); err != nil {
		p.t.Fatalf("pcscd did not list both virtual readers: %v\n%s", err, p.Log())
	}
}

func (p *PCSCD) waitReaders(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return errors.New("pcscd exited")
		default:
		}
		if ctx, err := pcsc.Establish(); err == nil {
			rs, lerr := ctx.Readers()
			_ = ctx.Release()
			if lerr == nil && slices.Contains(rs, Reader(0)) && slices.Contains(rs, Reader(1)) {
				return nil
			}
			last = fmt.Errorf("readers %q, err %v", rs, lerr)
		} else {
			last = err
		}
		time.Sleep(50 * time.Millisecond)
	}
	return last
}

// Stop terminates pcscd cleanly. It is idempotent.
func (p *PCSCD) Stop() { p.signal(syscall.SIGTERM) }

// Kill terminates pcscd abruptly, leaving its socket behind as a crash does.
func (p *PCSCD) Kill() { p.signal(syscall.SIGKILL) }

func (p *PCSCD) signal(sig syscall.Signal) {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	p.cmd = nil
	_ = os.Remove(pcscdPidTag)
}

// Log returns what pcscd printed so far, for failure messages.
func (p *PCSCD) Log() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

// lockMachine holds the machine-wide pcscd lock until the test ends.
func lockMachine(t testing.TB) {
	t.Helper()
	f, err := os.OpenFile(pcscdLock, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatalf("opening the pcscd lock: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("taking the pcscd lock: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() })
}

// clearStaleDaemon makes way for a new pcscd: a socket nobody answers on is
// removed; a pcscd left by a killed test run of this project is stopped; any
// other live pcscd is an error, since the rig would fight it for the readers.
func clearStaleDaemon() error {
	if b, err := os.ReadFile(pcscdPidTag); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && isPcscd(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			for i := 0; i < 100 && isPcscd(pid); i++ {
				time.Sleep(20 * time.Millisecond)
			}
		}
		_ = os.Remove(pcscdPidTag)
	}
	if _, err := os.Stat(pcscdSocket); err != nil {
		return nil
	}
	c, err := net.DialTimeout("unix", pcscdSocket, time.Second)
	if err != nil {
		return os.Remove(pcscdSocket)
	}
	c.Close()
	return fmt.Errorf("another pcscd is running (socket %s answers): stop it first (systemctl stop pcscd.socket pcscd)", pcscdSocket)
}

func isPcscd(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	name, _, _ := bytes.Cut(b, []byte{0})
	return filepath.Base(string(name)) == "pcscd"
}

// WaitCard waits until slot i holds a card (present) or is empty.
func (p *PCSCD) WaitCard(ctx context.Context, slot int, present bool) error {
	c, err := pcsc.Establish()
	if err != nil {
		return err
	}
	defer c.Release()
	return c.WaitCard(ctx, Reader(slot), present)
}
