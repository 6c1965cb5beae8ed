package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"dmpkiosk/bridge/hl7"
	"dmpkiosk/bridge/sih"
	"dmpkiosk/cmd/internal/cli"
	"dmpkiosk/hwtest/patients"
)

// admit has the test GAM admit demo patients to a unit: tells the
// bridge's GAM listener, as a hospital's GAM does.
func admit(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := cli.Flags("gamsim", "admit", stderr)
	to := fs.String("to", "127.0.0.1:9450", "the bridge's listener for the GAMs' messages (MLLP)")
	unit := fs.String("unit", "CARDIO", "the unit (PV1-3)")
	nirs := fs.String("nirs", "1800269123045,2790351215189", "the demo patients (INSi's NIR, 13 digits), comma-separated")
	wait := fs.Duration("wait", 30*time.Second, "how long to try the bridge before giving up")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	admitted, err := patients.Admissions(Domain, *unit, strings.Split(*nirs, ",")...)
	if err != nil {
		return err
	}
	for _, a := range admitted {
		var ack []byte
		deadline := time.Now().Add(*wait)
		for {
			ack, err = sih.Exchange(ctx, *to, nil, a.Msg, 10*time.Second)
			if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
				break
			}
			time.Sleep(time.Second)
		}
		if err != nil {
			return fmt.Errorf("gamsim: admitting %s: %w", a.Person.Traits.BirthName, err)
		}
		m, err := hl7.Parse(ack)
		if err != nil {
			return fmt.Errorf("gamsim: acknowledgement unreadable: %w", err)
		}
		msa, _ := m.Seg("MSA", 0)
		fmt.Fprintf(stdout, "gamsim: ADT^A01 %s %s, %s chambre %s : %s\n", a.Person.Traits.BirthName, strings.Fields(a.Person.Traits.FirstNames[0])[0], *unit, a.Room, msa.Get(1, 1))
	}
	return nil
}
