package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"dmpkiosk/bridge/journal"
	"dmpkiosk/bridge/server"
	"dmpkiosk/cmd/internal/cli"
)

// errPostgresTools: PostgreSQL journals are backed up with its own tools.
var errPostgresTools = errors.New("a PostgreSQL journal is backed up and restored with pg_dump and pg_restore (see the README)")

func init() {
	commands["backup"] = cli.Command{Summary: "backup --config bridge.toml FILE: a consistent copy of the SQLite journal, while the bridge runs", Run: runBackup}
	commands["restore"] = cli.Command{Summary: "restore --config bridge.toml FILE: put a backup in the journal's place (the bridge stopped)", Run: runRestore}
	commands["purge"] = cli.Command{Summary: "purge --config bridge.toml: replace the identities older than the retention (the audit trail stays)", Run: runPurge}
}

// journalCommand parses --config and one file argument.
func journalCommand(name string, args []string, stderr io.Writer, file bool) (*server.Config, string, error) {
	fs := cli.Flags("bridge", name, stderr)
	config := fs.String("config", "bridge.toml", "the bridge's configuration (its journal)")
	if err := cli.Parse(fs, args); err != nil {
		return nil, "", err
	}
	if file != (fs.NArg() == 1) {
		return nil, "", fmt.Errorf("%w: bridge %s --config bridge.toml%s", cli.ErrUsage, name, map[bool]string{true: " FILE"}[file])
	}
	c, err := server.LoadConfig(*config)
	if err != nil {
		return nil, "", err
	}
	return c, fs.Arg(0), nil
}

func runBackup(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	c, file, err := journalCommand("backup", args, stderr, true)
	if err != nil {
		return err
	}
	if c.Journal.Driver == "postgres" {
		return errPostgresTools
	}
	j, closeJ, err := c.OpenJournal(ctx)
	if err != nil {
		return err
	}
	defer closeJ()
	if err := j.(*journal.SQLiteJournal).Backup(ctx, file); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "journal backed up to %s\n", file)
	return nil
}

func runRestore(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	c, file, err := journalCommand("restore", args, stderr, true)
	if err != nil {
		return err
	}
	if c.Journal.Driver == "postgres" {
		return errPostgresTools
	}
	links, err := journal.RestoreSQLite(ctx, file, c.JournalPath())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "journal restored from %s: audit chain intact, %d links (the journal replaced is kept as %s.replaced)\n", file, links, c.JournalPath())
	return nil
}

func runPurge(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	c, _, err := journalCommand("purge", args, stderr, false)
	if err != nil {
		return err
	}
	j, closeJ, err := c.OpenJournal(ctx)
	if err != nil {
		return err
	}
	defer closeJ()
	before := time.Now().Add(-c.Retention())
	if err := j.Purge(ctx, before); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "identities of the events done before %s purged; the audit trail is untouched\n", before.Format(time.DateOnly))
	return nil
}
