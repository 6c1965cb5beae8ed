//go:build cgo

package pcsc

import (
	"context"
	"fmt"

	"github.com/ebfe/scard"
)

// WaitCard blocks until the reader holds a card (present) or is empty
// (!present), without polling: it sleeps in SCardGetStatusChange. Cancelling
// ctx cancels every wait under way on this Context.
func (c *Context) WaitCard(ctx context.Context, reader string, present bool) error {
	states := []scard.ReaderState{{Reader: reader, CurrentState: scard.StateUnaware}}
	stop := context.AfterFunc(ctx, func() { _ = c.sc.Cancel() })
	defer stop()
	for {
		if err := c.sc.GetStatusChange(states, -1); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("pcsc: waiting on %q: %w", reader, classify(err))
		}
		ev := states[0].EventState
		if ev&scard.StateUnknown != 0 {
			return fmt.Errorf("pcsc: waiting on %q: %w", reader, ErrNoReader)
		}
		if (ev&scard.StatePresent != 0) == present && ev&scard.StateMute == 0 {
			return nil
		}
		states[0].CurrentState = ev &^ scard.StateChanged
	}
}

// ReaderStatus is what pcscd knows of one reader without connecting to it.
type ReaderStatus struct {
	Reader  string
	Present bool   // a card is in the reader
	Mute    bool   // a card is there but did not answer reset
	ATR     []byte // nil when no card
}

// Status reports, for each reader, whether a card is there and its ATR,
// without connecting to the cards.
func (c *Context) Status(readers []string) ([]ReaderStatus, error) {
	if len(readers) == 0 {
		return nil, nil
	}
	states := make([]scard.ReaderState, len(readers))
	for i, r := range readers {
		states[i] = scard.ReaderState{Reader: r, CurrentState: scard.StateUnaware}
	}
	if err := c.sc.GetStatusChange(states, 0); err != nil {
		return nil, fmt.Errorf("pcsc: reader status: %w", classify(err))
	}
	out := make([]ReaderStatus, len(readers))
	for i, s := range states {
		out[i] = ReaderStatus{Reader: s.Reader, Present: s.EventState&scard.StatePresent != 0, Mute: s.EventState&scard.StateMute != 0}
		if out[i].Present {
			out[i].ATR = append([]byte(nil), s.Atr...)
		}
	}
	return out, nil
}
