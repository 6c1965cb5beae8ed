// Command cardsim puts virtual cards in the vpcd slots of the local pcscd,
// so that the kiosk's real card path can run without hardware (make run,
// demos, manual tests).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"syscall"

	"dmpkiosk/cmd/internal/cli"
	"dmpkiosk/hwtest"
	"dmpkiosk/hwtest/cards"
)

var commands = map[string]cli.Command{
	"insert":   {Summary: "insert a virtual card in a slot until interrupted", Run: runInsert},
	"profiles": {Summary: "list the virtual card profiles", Run: runProfiles},
	"pcscd":    {Summary: "run pcscd in the foreground with the two virtual slots", Run: runPCSCD},
}

func runPCSCD(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	if err := cli.Parse(cli.Flags("cardsim", "pcscd", stderr), args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "cardsim-pcscd-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := hwtest.WriteReaderConf(dir); err != nil {
		return err
	}
	cmd := exec.Command("pcscd", "--foreground", "--config", dir)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting pcscd (make deps installs it): %w", err)
	}
	fmt.Fprintf(stdout, "pcscd: readers %q and %q; Ctrl-C stops it\n", hwtest.Reader(0), hwtest.Reader(1))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-ctx.Done():
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-done
		return nil
	case err := <-done:
		return fmt.Errorf("pcscd exited: %v", err)
	}
}

func main() {
	cli.Main("cardsim", "cartes virtuelles pour pcscd (vpcd)", commands)
}

// profiles loads (or creates) the test IGC-Santé authority in dir and returns
// every profile.
func profiles(dir string) (map[string]func() (cards.Card, error), error) {
	ca, err := cards.LoadOrCreateIGCSante(dir)
	if err != nil {
		return nil, fmt.Errorf("test IGC-Santé authority in %s: %w", dir, err)
	}
	return cards.Cards(ca), nil
}

const pkiHelp = "directory of the test IGC-Santé authority (created when absent)"

func runProfiles(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := cli.Flags("cardsim", "profiles", stderr)
	pki := fs.String("pki", "demo/igc-sante", pkiHelp)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	all, err := profiles(*pki)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintln(stdout, n)
	}
	return nil
}

func runInsert(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := cli.Flags("cardsim", "insert", stderr)
	profile := fs.String("profile", "demo", "card profile (see cardsim profiles)")
	slot := fs.Int("slot", 0, "vpcd slot, 0 or 1")
	addr := fs.String("addr", "", "vpcd address (default: the slot's port on 127.0.0.1)")
	timing := fs.Bool("timing", false, "delay each exchange by its ISO 7816-3 wire time")
	pps := fs.Bool("pps", false, "with -timing: run at the card's TA1 rate, as after a PPS")
	pki := fs.String("pki", "demo/igc-sante", pkiHelp)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	all, err := profiles(*pki)
	if err != nil {
		return err
	}
	mk, ok := all[*profile]
	if !ok {
		return fmt.Errorf("%w: unknown profile %q (see cardsim profiles)", cli.ErrUsage, *profile)
	}
	if *slot < 0 || *slot >= hwtest.Slots {
		return fmt.Errorf("%w: slot %d, want 0 or 1", cli.ErrUsage, *slot)
	}
	if *addr == "" {
		*addr = hwtest.SlotAddr(*slot)
	}
	card, err := mk()
	if err != nil {
		return err
	}
	if *timing {
		link, err := cards.LinkFromATR(card.ATR(), *pps)
		if err != nil {
			return err
		}
		card = &cards.Timed{Card: card, Link: link}
		fmt.Fprintf(stdout, "timing: T=%d at %.0f bd\n", link.Protocol, link.Baud())
	}
	in, err := cards.Insert(ctx, *addr, card)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "card %q inserted at %s; Ctrl-C removes it\n", *profile, *addr)
	done := make(chan error, 1)
	go func() { done <- in.Err() }()
	select {
	case <-ctx.Done():
		in.Remove()
		fmt.Fprintln(stdout, "card removed")
		return nil
	case err := <-done:
		if err == nil {
			err = errors.New("the reader closed the link (pcscd stopped?)")
		}
		return err
	}
}
