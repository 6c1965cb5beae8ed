// Command bridge is the hospital side of dmpkiosk: it verifies the kiosks'
// events, keeps them in a durable journal and performs the DMP and INSi
// transactions.
package main

import (
	"context"
	"errors"
	"io"

	"dmpkiosk/cmd/internal/cli"
)

var commands = map[string]cli.Command{
	"run":    {Summary: "consume, verify and process kiosk events (not built yet)", Run: runBridge},
	"enroll": cli.Enroll("bridge", "bridge"),
}

func main() {
	cli.Main("bridge", "passerelle hospitalière DMP", commands)
}

// The bridge's consumer, journal and DMP client come with their own issues;
// until then "run" says so rather than pretending to work.
func runBridge(context.Context, []string, io.Reader, io.Writer, io.Writer) error {
	return errors.New("the bridge service is not built yet: consumer, journal and DMP client are pending")
}
