// Package bridge is the hospital side: it consumes the kiosks' events from
// MQTT, verifies their signatures, chains and freshness, keeps them in a
// durable journal, runs the INSi and DMP transactions, publishes the result
// to the kiosk, keeps the hash-chained audit trail and the usage indicators,
// and serves the admin web pages and metrics.
//
// It knows nothing of PC/SC or of the kiosk's display.
package bridge
