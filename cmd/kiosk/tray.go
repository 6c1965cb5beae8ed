package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// cardsimTray is the web view's card tray in a simulation: each inserted
// card is a `cardsim insert` process, so the kiosk binary itself never
// holds virtual cards (production code does not import the test rig).
type cardsimTray struct {
	bin, pki string

	mu    sync.Mutex
	procs [2]*exec.Cmd
}

func (t *cardsimTray) Profiles() []string {
	out, err := exec.Command(t.bin, "profiles", "-pki", t.pki).Output()
	if err != nil {
		return nil
	}
	return strings.Fields(string(out))
}

func (t *cardsimTray) Insert(slot int, profile string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.procs[slot] != nil {
		return fmt.Errorf("le lecteur %d contient déjà une carte", slot+1)
	}
	cmd := exec.Command(t.bin, "insert", "-pki", t.pki, "-profile", profile, "-slot", fmt.Sprint(slot))
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return err
	}
	// Wait until the card is in.
	ok := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "inserted") {
				ok <- true
				return
			}
		}
		ok <- false
	}()
	select {
	case good := <-ok:
		if !good {
			_ = cmd.Wait()
			return errors.New("carte virtuelle refusée (profil inconnu ?)")
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		return errors.New("carte virtuelle non insérée")
	}
	t.procs[slot] = cmd
	return nil
}

func (t *cardsimTray) Remove(slot int) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	cmd := t.procs[slot]
	if cmd == nil {
		return fmt.Errorf("le lecteur %d est vide", slot+1)
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	_ = cmd.Wait()
	t.procs[slot] = nil
	return nil
}

// close removes every card.
func (t *cardsimTray) close(context.Context) {
	for i := range t.procs {
		_ = t.Remove(i)
	}
}
