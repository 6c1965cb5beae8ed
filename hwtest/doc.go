// Package hwtest is the kiosk's hardware stand-in: it starts the real parts
// the tests run against on a machine with no hardware — pcscd with two
// virtual (vpcd) card slots, mosquitto with mutual TLS and an ACL, a SoftHSM
// token reached through PKCS#11, PostgreSQL, headless Chromium — and the
// sites and authorities they need. The virtual cards that answer behind
// vpcd are apart, in hwtest/cards (no process started there); the
// simulators' patients in hwtest/patients.
//
// Production code must not import it; tests and simulation commands do.
//
// A missing part fails the run when CI=true (naming the Debian package to
// install) and skips the test elsewhere.
package hwtest
