// Command gamsim plays a hospital's patient administration system (GAM)
// for test sites and make run: an MLLP listener answering PDQ queries over
// the virtual cards' patients and applying the bridge's patient updates
// (ADT^A31) under a real GAM's rules (hwtest/gam). Never for a production
// site.
package main

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"syscall"

	"dmpkiosk/bridge/sih"
	"dmpkiosk/cmd/internal/cli"
	"dmpkiosk/hwtest/gam"
	"dmpkiosk/hwtest/patients"
)

var commands = map[string]cli.Command{
	"serve": {Summary: "serve --listen ADDR: the test GAM over MLLP (its IPP domain CHU-DEMO, 1.2.250.1.999.1)", Run: serve},
	"admit": {Summary: "admit --to ADDR --unit UNIT: the test GAM admits demo patients to a unit (ADT^A01 to the bridge)", Run: admit},
	"documents": {Summary: "documents --to ADDR --acks ADDR: the demo's DPI sends a patient's documents (MDM^T02, T10) and prints the acknowledgements",
		Run: documents},
}

// Domain is the test GAM's IPP domain.
var Domain = sih.Domain{Namespace: "CHU-DEMO", UniversalID: "1.2.250.1.999.1", Type: "ISO"}

func serve(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := cli.Flags("gamsim", "serve", stderr)
	listen := fs.String("listen", "127.0.0.1:9447", "the MLLP listener's address")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	people, err := patients.GAM()
	if err != nil {
		return err
	}
	g, err := gam.Listen(*listen, Domain, nil, people...)
	if err != nil {
		return err
	}
	defer g.Close()
	fmt.Fprintf(stdout, "gamsim: %d patients, MLLP on %s\n", len(people), g.Addr)
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return nil
}

func main() { cli.Main("gamsim", "GAM de test (MLLP, PDQ, ADT^A31)", commands) }
