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

// admission is the test GAM's ADT^A01 for a patient INSi knows: the IPP
// of the demo domain, the INS qualified (PID-32 VALI), the unit, room and
// bed in PV1-3.
func admission(control, ipp string, ins, oid, birthName, firstName, birthDate, sex, unit, room string) []byte {
	pid := make([]string, 33)
	pid[0], pid[1] = "PID", "1"
	pid[3] = ipp + "^^^" + Domain.Namespace + "&" + Domain.UniversalID + "&ISO^PI~" + ins + "^^^ASIP-SANTE-INS-NIR&" + oid + "&ISO^INS"
	pid[5], pid[7], pid[8], pid[32] = birthName+"^"+firstName+"^"+firstName+"^^^^L", birthDate, sex, "VALI"
	ts := time.Now().Format("20060102150405")
	return []byte("MSH|^~\\&|GAM|" + Domain.Namespace + "|DMPKIOSK|" + Domain.Namespace + "|" + ts + "||ADT^A01^ADT_A01|" + control + "|P|2.5\r" +
		"EVN||" + ts + "\r" + strings.Join(pid, "|") + "\rPV1|1|I|" + unit + "^" + room + "\r")
}

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
	known, err := patients.INSi()
	if err != nil {
		return err
	}
	room := 11
	for _, nir := range strings.Split(*nirs, ",") {
		for i, p := range known {
			if p.INS.Number != nir {
				continue
			}
			room++
			first := strings.Fields(p.Traits.FirstNames[0])[0]
			msg := admission(fmt.Sprintf("ADM%d", i), fmt.Sprintf("%06d", 100001+i), p.INS.Number+p.INS.Key, p.INS.OID, p.Traits.BirthName, first,
				strings.ReplaceAll(p.Traits.BirthDate, "-", ""), p.Traits.Sex, *unit, fmt.Sprint(room))
			var ack []byte
			deadline := time.Now().Add(*wait)
			for {
				ack, err = sih.Exchange(ctx, *to, nil, msg, 10*time.Second)
				if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
					break
				}
				time.Sleep(time.Second)
			}
			if err != nil {
				return fmt.Errorf("gamsim: admitting %s: %w", p.Traits.BirthName, err)
			}
			m, err := hl7.Parse(ack)
			if err != nil {
				return fmt.Errorf("gamsim: acknowledgement unreadable: %w", err)
			}
			msa, _ := m.Seg("MSA", 0)
			fmt.Fprintf(stdout, "gamsim: ADT^A01 %s %s, %s chambre %d : %s\n", p.Traits.BirthName, first, *unit, room, msa.Get(1, 1))
		}
	}
	return nil
}
