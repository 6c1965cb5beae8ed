// Package journal owns the bridge's storage: the kiosks' events and their
// outcomes, the INSi lookups answered at the desk, the outbox to the
// hospital's information system and the patients its GAMs told of, the
// hash-chained audit trail, and the indicators counted from them. Two
// backends implement Store: SQLite (one bridge, one file, group commit)
// and PostgreSQL (several bridges sharing it); one conformance suite,
// journaltest.Exercise, runs on both.
//
// Each flow declares what it needs through the small interfaces here
// (Events, Lookups, GAM, Auditor, Indicators); Store is all of them.
// Every outbox (the events, the GAM messages, next the documents) is a
// table worked through by the one claim in outbox.go: rows claimed under a
// lease, per-key order where a table needs it, claims given back at
// start; the backoff between tries is bridge/internal/work's.
//
// It also owns the schema and its migrations (schema.go), the retention
// of identities (retention.go), the SQLite backup and restore, and the
// vocabulary stored in it: the states, the refusal reasons (reasons.go).
//
// It must not know the flows that write it: no MQTT, no DMP, no HL7, no
// kiosk's event beyond the record the events flow makes of it.
package journal
