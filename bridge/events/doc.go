// Package events is the kiosks' events flow: an event taken from the
// broker is verified (its device's and card's signatures and chains, its
// site, regime, freshness and size: Verifier), its INS checked against the
// lookup the bridge answered, journaled (idempotent by id, sequence per
// device), then claimed by a worker, passed through the identity gate
// (INSI-AUTO when the desk could not qualify the identity) and handed to
// the Processor (the DMP's transactions); the outcome is handed on (Tell:
// the hospital's information system), recorded, and published to the
// kiosk. Failures are retried with backoff and end in the dead letters.
//
// It owns the refusal of an event and the words the desk is told. It must
// not know the DMP's SOAP, INSi's wire, the GAMs or the admin web; it
// takes them as interfaces (Processor, Looker, Tell) from the wiring.
package events
