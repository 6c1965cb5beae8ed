// Package admin is the IT team's and the DMP project lead's web: the
// fleet of kiosks and their heartbeats (Fleet), the events, dead letters,
// refusals and identities to check, the outbox to the hospital's
// information system, the audit chain's check, the infocentre (figures,
// charts, CSV and JSON exports) and /metrics. Its handler is a route table
// of small handlers behind one authentication.
//
// It reads the journal and the counters it is handed; what it changes it
// changes through the journal, audited with who did it, and it wakes the
// workers through the functions the wiring gives it. It must not know the
// flows themselves, the broker or the national services.
package admin
