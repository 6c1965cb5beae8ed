package journal_test

import (
	"testing"

	"dmpkiosk/bridge/journal/journaltest"
	"dmpkiosk/hwtest"
)

// Every backend runs the one conformance suite.

func TestSQLiteJournal(t *testing.T) { journaltest.Exercise(t, journaltest.OpenSQLite) }

func TestPostgresJournal(t *testing.T) {
	journaltest.Exercise(t, journaltest.Postgres(hwtest.StartPostgres(t)))
}
