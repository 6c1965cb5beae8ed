package cards

import "bytes"

// The demo card: a generic ISO 7816-4 card for the rig's own tests and for
// cardsim, with an application holding a 600-byte file (three reads), a
// PIN-protected file, and the CPS3-style EF.SN.ICC under the MF. The card
// applications' own profiles (Vitale, CPS) are built the same way.
var (
	DemoAID    = []byte{0xA0, 0x00, 0x00, 0x00, 0x01, 0x44, 0x45, 0x4D, 0x4F}
	DemoFile   = bytes.Repeat([]byte("0123456789ABCDEF"), 600/16+1)[:600]
	DemoPIN    = []byte("1234")
	DemoPINRef = byte(0x01)
	DemoATR    = []byte{0x3B, 0x11, 0x13, 0x44} // TA1 13, one historical byte: no known card
)

// DemoCard returns a fresh demo card.
func DemoCard() *ISOCard {
	return &ISOCard{
		Answer: DemoATR,
		MF: &File{FID: 0x3F00, Children: []*File{
			{FID: 0xD003, Data: []byte{0x5A, 0x04, 0x80, 0x25, 0x00, 0x00}},
			{FID: 0xD010, Data: []byte("secret"), ReadPIN: true},
			{FID: 0x0100, AID: DemoAID, Children: []*File{
				{FID: 0x2001, SFI: 1, Data: DemoFile},
			}},
		}},
		PIN: DemoPIN, PINRef: DemoPINRef, MaxTries: 3,
		FCIWith61: true, WrongLe6C: true,
	}
}
