package cards

import (
	"context"

	"dmpkiosk/apdu"
)

// PadReader stands in for a reader with a PIN pad (PC/SC part 10 secure
// PIN entry), which vpcd cannot offer: it puts the digits the person types
// into the VERIFY's PIN block, as such a reader does, and sends the APDU to
// the card over T, returning the card's answer. A PIN of the wrong length
// is refused at the pad (64 00) without reaching the card.
type PadReader struct {
	T     apdu.Transport
	Typed func() string // what the person types on the pad
}

// VerifyOnPad implements cps.PINPad.
func (p *PadReader) VerifyOnPad(ctx context.Context, tmpl []byte, offset, size, minDigits, maxDigits int) ([]byte, error) {
	pin := p.Typed()
	if len(pin) < minDigits || len(pin) > maxDigits || len(pin) > size {
		return []byte{0x64, 0x00}, nil
	}
	cmd := append([]byte(nil), tmpl...)
	copy(cmd[5+offset:], pin)
	return p.T.Transmit(ctx, cmd)
}
