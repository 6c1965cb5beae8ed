// Package cli is the small subcommand dispatcher shared by the project's
// commands: "prog [--version] <command> [flags]".
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// Version is the build's version, set by the Makefile with
// -ldflags "-X dmpkiosk/cmd/internal/cli.Version=...".
var Version = "dev"

// Command is one subcommand.
type Command struct {
	Summary string
	// Run gets the subcommand's arguments (after its name) and the standard
	// streams; its error is printed and turned into exit status 1.
	Run func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

// ErrUsage marks an error caused by wrong arguments (exit status 2).
var ErrUsage = errors.New("usage")

// Main dispatches os.Args and exits.
func Main(prog, about string, cmds map[string]Command) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Run(ctx, prog, about, cmds, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Run dispatches args and returns the exit status.
func Run(ctx context.Context, prog, about string, cmds map[string]Command, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "%s — %s\n\nUsage: %s [--version] <command> [flags]\n\nCommands:\n", prog, about, prog)
		names := make([]string, 0, len(cmds))
		for n := range cmds {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(w, "  %-12s %s\n", n, cmds[n].Summary)
		}
	}
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "--version", "-version", "version":
		fmt.Fprintf(stdout, "%s %s\n", prog, Version)
		return 0
	case "-h", "--help", "help":
		usage(stdout)
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "%s: unknown command %q\n\n", prog, args[0])
		usage(stderr)
		return 2
	}
	if err := c.Run(ctx, args[1:], stdin, stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "%s %s: %v\n", prog, args[0], err)
		if errors.Is(err, ErrUsage) {
			return 2
		}
		return 1
	}
	return 0
}

// Flags returns a FlagSet for a subcommand that reports errors to stderr
// and does not exit the process.
func Flags(prog, name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(prog+" "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// Parse parses a subcommand's flags, mapping a parse failure to ErrUsage.
func Parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	return nil
}
