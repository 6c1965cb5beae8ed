//go:build cgo

package pcsc

import (
	"context"
	"fmt"

	"github.com/ebfe/scard"
)

// Features lists the reader's PC/SC part 10 features and their control
// codes.
func (k *Card) Features() (map[byte]uint32, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	out, err := k.card.Control(scard.CtlCode(getFeatureRequest), nil)
	if err != nil {
		return nil, fmt.Errorf("pcsc: reader features of %q: %w", k.reader, classify(err))
	}
	return parseFeatures(out)
}

// PINPad reports whether the reader takes the PIN on its own pad.
func (k *Card) PINPad() bool {
	f, err := k.Features()
	if err != nil {
		return false
	}
	_, ok := f[FeatureVerifyPINDirect]
	return ok
}

// VerifyPINDirect has the reader ask for the PIN on its pad and send the
// VERIFY itself: the PIN never reaches the kiosk. It blocks while the
// person types, and returns the card's answer (SW1 SW2).
func (k *Card) VerifyPINDirect(ctx context.Context, v PINVerify) ([]byte, error) {
	f, err := k.Features()
	if err != nil {
		return nil, err
	}
	code, ok := f[FeatureVerifyPINDirect]
	if !ok {
		return nil, ErrNoPINPad
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	resp, err := k.card.Control(code, v.Structure())
	if err != nil {
		return nil, fmt.Errorf("pcsc: PIN pad of %q: %w", k.reader, classify(err))
	}
	return resp, nil
}
