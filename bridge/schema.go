package bridge

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
//
// A journal with no version is one of before versions (1, or 2 without
// its lookups): every step is written to be taken again safely.
const JournalSchema = 3

// ErrSchemaNewer is a journal written by a newer bridge: it is not opened,
// so that a downgrade never corrupts it.
var ErrSchemaNewer = errors.New("journal: written by a newer bridge")

func schemaNewer(found int) error {
	return fmt.Errorf("%w: its schema is v%d, this bridge knows v%d at most — start the newer bridge again; nothing was changed",
		ErrSchemaNewer, found, JournalSchema)
}

const schemaVersionTable = `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`
