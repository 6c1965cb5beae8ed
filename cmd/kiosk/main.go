// Command kiosk is the card-reader appliance: it reads the patient's carte
// Vitale and the professional's CPS-family card and publishes signed
// create/consent events for the DMP.
package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"dmpkiosk/apdu/pcsc"
	"dmpkiosk/cmd/internal/cli"
	"dmpkiosk/ins"
)

var commands = map[string]cli.Command{
	"readers": {Summary: "list the PC/SC readers and the ATR of the card in each", Run: runReaders},
	"ins-c":   {Summary: "INS-C of each stdin line first_name;AAMMJJ;NIR13", Run: runINSC},
}

func main() {
	cli.Main("kiosk", "appliance DMP : carte Vitale, carte CPS, consentement", commands)
}

func runReaders(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := cli.Flags("kiosk", "readers", stderr)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	pc, err := pcsc.Establish()
	if err != nil {
		return fmt.Errorf("lecteurs de cartes indisponibles (pcscd arrêté ?): %w", err)
	}
	defer pc.Release()
	readers, err := pc.Readers()
	if err != nil {
		return err
	}
	if len(readers) == 0 {
		fmt.Fprintln(stdout, "aucun lecteur de cartes")
		return nil
	}
	sts, err := pc.Status(readers)
	if err != nil {
		return err
	}
	for _, s := range sts {
		state := "vide"
		switch {
		case s.Mute:
			state = "carte muette"
		case s.Present:
			state = "ATR " + strings.ToUpper(fmt.Sprintf("%x", s.ATR))
		}
		fmt.Fprintf(stdout, "%s\t%s\n", s.Reader, state)
	}
	return nil
}

func runINSC(_ context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := cli.Flags("kiosk", "ins-c", stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: kiosk ins-c < lines\n\nEach input line first_name;AAMMJJ;NIR13 gives one output line:\nthe 22-digit INS-C, or \"error: <reason>\".")
	}
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: ins-c reads standard input and takes no argument", cli.ErrUsage)
	}
	return ins.StreamINSC(stdin, stdout)
}
