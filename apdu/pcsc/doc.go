// Package pcsc is the kiosk's only cgo package on the card side: it reaches
// the card readers through PC/SC (pcsclite's pcscd) with github.com/ebfe/scard
// and offers each connected card as an apdu.Transport.
//
// It owns PC/SC contexts, connections and reader monitoring; it knows nothing
// of the card applications (Vitale, CPS) that run above it.
package pcsc
