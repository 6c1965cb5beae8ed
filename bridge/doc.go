// Package bridge wires the hospital side: it builds the flows from one
// configuration and runs them (Service). Each concern is a package of its
// own; this one holds no logic of theirs.
//
//	kiosks ── MQTT ──► internal/broker (one connection, shared)
//	                    │ kiosk/+/events          │ kiosk/+/insi          │ kiosk/+/status
//	                    ▼                         ▼                       ▼
//	                  events                    lookup                  admin.Fleet
//	      verify, journal, identity gate,    INSi (INSI-MANU), kept,
//	      DMP (dmp.Processor), result        answer encrypted to the kiosk
//	                    │ Tell                    │
//	                    ▼                         │
//	                   sih.Delivery ◄── GAMs' ADT (MLLP listener)
//	      outbox per receiver, PDQ, ADT^A31 ──► GAMs
//	                    │                         │
//	                    ▼                         ▼
//	                journal (SQLite | PostgreSQL): events, lookups, GAM
//	                outbox and patients, audit chain, indicators, the one
//	                claim-with-lease of every outbox
//	                    ▲
//	                  admin (web pages, infocentre, /metrics, exports)
//
// Dependencies point down: the flows (events, lookup, admin, and the
// delivery in sih) use journal, dmp, insi and sih, which use the helpers
// of bridge/internal (broker, ratelimit, metrics, work, soapcall, xmlq,
// xsd, cdabody); no flow imports another, and what two flows share (the kiosks'
// rate limits, the counters) is handed to both by this package.
//
// It knows nothing of PC/SC or of the kiosk's display. Its one import
// from the kiosk's side is firmware/event, the wire contract both ends
// share. The configuration and the process around it are in
// bridge/server; the DMP and INSi clients in bridge/dmp and bridge/insi,
// their simulators beside them (dmpsim, insisim), which production
// binaries never link; bridge/render turns a DMP document into inert
// pages for the bedside tablet.
package bridge
