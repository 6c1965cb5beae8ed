// Package apdu owns the ISO 7816-4 layer that every card application of the
// kiosk speaks through: command and response APDUs, status words and their
// typed errors, BER-TLV, the Transport interface and the T=0 helpers
// (61xx GET RESPONSE, 6Cxx resend), and per-APDU tracing with patient data
// redacted.
//
// It knows nothing of PC/SC (see apdu/pcsc), MQTT, the display or the DMP.
package apdu
