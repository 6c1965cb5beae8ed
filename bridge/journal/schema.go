package journal

import (
	"errors"
	"fmt"
)

// JournalSchema is the version of the journal's schema this bridge
// writes, kept in the journal (schema_version) and migrated forward when a
// journal of an earlier one is opened, in one transaction:
//
//	1  events, devices, marks, audit trail
//	2  the infocentre's columns of the events; the INSi lookups
//	3  the outbox to the hospital's information system; the GAMs' patients
//	4  every outbox's claim owner (outbox.go): the messages to the GAMs, and
//	   the events on SQLite (PostgreSQL's had it)
//	5  the documents for the DMP and the acknowledgements owed to their
//	   senders (documents.go)
//	6  the units' inpatients: where the GAMs' patients are (gam.go's ward)
//
// A journal with no version is one of before versions (1, or 2 without
// its lookups): every step is written to be taken again safely.
const JournalSchema = 6

// ErrSchemaNewer is a journal written by a newer bridge: it is not opened,
// so that a downgrade never corrupts it.
var ErrSchemaNewer = errors.New("journal: written by a newer bridge")

func schemaNewer(found int) error {
	return fmt.Errorf("%w: its schema is v%d, this bridge knows v%d at most — start the newer bridge again; nothing was changed",
		ErrSchemaNewer, found, JournalSchema)
}

const schemaVersionTable = `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`

// addedColumns are the columns added to tables after their first version,
// for journals made before: table, name and SQL type.
var addedColumns = [][3]string{
	{"sih_patients", "unit", "TEXT NOT NULL DEFAULT ''"},
	{"sih_patients", "room", "TEXT NOT NULL DEFAULT ''"},
	{"sih_patients", "bed", "TEXT NOT NULL DEFAULT ''"},
	{"sih_patients", "present", "INTEGER NOT NULL DEFAULT 0"},
	{"events", "context", "TEXT NOT NULL DEFAULT ''"},
	{"events", "signed", "BIGINT NOT NULL DEFAULT 0"},      // 0: not known
	{"events", "authorize", "INTEGER NOT NULL DEFAULT -1"}, // -1: not known (an event older than the column)
	{"events", "oppositions", "INTEGER NOT NULL DEFAULT 0"},
	{"events", "identity", "TEXT NOT NULL DEFAULT ''"}, // '': not known
	{"events", "owner", "TEXT NOT NULL DEFAULT ''"},
	{"sih_outbox", "owner", "TEXT NOT NULL DEFAULT ''"},
}
