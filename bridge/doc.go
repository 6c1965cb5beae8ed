// Package bridge is the hospital side: it consumes the kiosks' events from
// MQTT, verifies their signatures, chains and freshness, keeps them in a
// durable journal, runs the INSi and DMP transactions, publishes the result
// to the kiosk, keeps the hash-chained audit trail and the usage indicators,
// and serves the admin web pages and metrics.
//
// It knows nothing of PC/SC or of the kiosk's display. Its one import
// from the kiosk's side is firmware/event, the wire contract both ends
// share (the event's payload, its sealing, the result): the sideways edge
// of architecture.md, on purpose. The configuration and the wiring are in
// bridge/server, the DMP and INSi clients in bridge/dmp and bridge/insi,
// their simulators beside them (dmpsim, insisim), which production
// binaries never link.
package bridge
