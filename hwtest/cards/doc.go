// Package cards is the virtual cards of the test rig, and nothing that
// starts a process: the ISO 7816-4 engine (ISOCard), the carte Vitale 2 and
// CPS3 profiles shaped like real cards (with the test IGC-Santé authority
// issuing the card certificates), the ISO 7816-3 timing model, the vpcd
// protocol that puts a card behind pcscd (Insert), a PIN-pad reader, and
// in-memory transports (Direct, Recorder) for tests without pcscd. It links
// neither the testing package nor the process starters of hwtest, as
// periph keeps i2ctest apart from its smoke tests.
package cards
