//go:build cgo

package pcsc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ebfe/scard"

	"dmpkiosk/apdu"
)

// Context is one PC/SC context on the local pcscd. It is safe for concurrent
// use; Release it when done.
type Context struct {
	sc *scard.Context
}

// Establish opens a PC/SC context.
func Establish() (*Context, error) {
	sc, err := scard.EstablishContext()
	if err != nil {
		return nil, fmt.Errorf("pcsc: establishing context: %w", classify(err))
	}
	return &Context{sc: sc}, nil
}

// Release frees the context. Cards connected through it must be closed first.
func (c *Context) Release() error {
	if err := c.sc.Release(); err != nil {
		return fmt.Errorf("pcsc: releasing context: %w", classify(err))
	}
	return nil
}

// Readers lists the readers pcscd knows about. No reader at all is not an
// error: it returns an empty list.
func (c *Context) Readers() ([]string, error) {
	rs, err := c.sc.ListReaders()
	if errors.Is(err, scard.ErrNoReadersAvailable) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pcsc: listing readers: %w", classify(err))
	}
	return rs, nil
}

// Card is an exclusive connection to the card in one reader. Transmit is
// safe for concurrent use; commands are serialised.
type Card struct {
	mu     sync.Mutex
	card   *scard.Card
	reader string
	atr    []byte
	proto  scard.Protocol
	mode   scard.ShareMode
}

// Connect opens an exclusive connection to the card in reader, with T=0 or
// T=1 as the card offers.
func (c *Context) Connect(ctx context.Context, reader string) (*Card, error) {
	return c.connect(ctx, reader, scard.ShareExclusive)
}

// ConnectShared opens a connection that other applications may share; the
// card can then be reset by them (see ErrCardReset).
func (c *Context) ConnectShared(ctx context.Context, reader string) (*Card, error) {
	return c.connect(ctx, reader, scard.ShareShared)
}

func (c *Context) connect(ctx context.Context, reader string, mode scard.ShareMode) (*Card, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sc, err := c.sc.Connect(reader, mode, scard.ProtocolT0|scard.ProtocolT1)
	if err != nil {
		return nil, fmt.Errorf("pcsc: connecting to %q: %w", reader, classify(err))
	}
	st, err := sc.Status()
	if err != nil {
		_ = sc.Disconnect(scard.LeaveCard)
		return nil, fmt.Errorf("pcsc: card status in %q: %w", reader, classify(err))
	}
	return &Card{card: sc, reader: reader, atr: append([]byte(nil), st.Atr...), proto: sc.ActiveProtocol(), mode: mode}, nil
}

// Reader is the name of the reader the card sits in.
func (k *Card) Reader() string { return k.reader }

// ATR is the card's answer to reset as read at connection.
func (k *Card) ATR() []byte { return k.atr }

// Protocol is "T=0" or "T=1".
func (k *Card) Protocol() string {
	if k.proto == scard.ProtocolT1 {
		return "T=1"
	}
	return "T=0"
}

// Transmit sends one command APDU and returns the response with its status
// word. The context is checked before the exchange; PC/SC offers no way to
// abort an exchange under way.
//
// When another party reset the card, the connection is re-established at
// once and the command fails with ErrCardReset: the card lost its state
// (selected application, verified PIN), so the caller restarts its
// sequence on the same Card rather than have a command run out of context.
func (k *Card) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	resp, err := k.card.Transmit(cmd)
	if err != nil {
		err = classify(err)
		if errors.Is(err, ErrCardReset) {
			if rerr := k.card.Reconnect(k.mode, scard.ProtocolT0|scard.ProtocolT1, scard.LeaveCard); rerr != nil {
				return nil, fmt.Errorf("pcsc: reconnecting %q after a reset: %w", k.reader, classify(rerr))
			}
			k.proto = k.card.ActiveProtocol()
		}
		return nil, fmt.Errorf("pcsc: transmit in %q: %w", k.reader, err)
	}
	if len(resp) < 2 {
		// No status word: the card left during the exchange (vpcd and some
		// drivers report that as an empty answer), or it is mute.
		return nil, fmt.Errorf("pcsc: transmit in %q: %w", k.reader, k.whyNoAnswer(len(resp)))
	}
	return resp, nil
}

// whyNoAnswer tells a card pulled out from a card that answered nothing.
// pcscd learns of a removal at its next presence poll, so it is asked for a
// little while.
func (k *Card) whyNoAnswer(n int) error {
	deadline := time.Now().Add(1500 * time.Millisecond)
	for {
		st, err := k.card.Status()
		if err != nil {
			return classify(err)
		}
		if st.State&scard.Present == 0 {
			return ErrCardRemoved
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %d bytes, no status word", apdu.ErrResponse, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Transaction runs fn with the card held for this connection alone
// (SCardBeginTransaction … SCardEndTransaction), so that a card
// application's read sequence is not interleaved with another
// application's commands.
func (k *Card) Transaction(ctx context.Context, fn func(ctx context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := k.card.BeginTransaction(); err != nil {
		err = classify(err)
		if !errors.Is(err, ErrCardReset) {
			return fmt.Errorf("pcsc: beginning a transaction in %q: %w", k.reader, err)
		}
		k.mu.Lock()
		rerr := k.card.Reconnect(k.mode, scard.ProtocolT0|scard.ProtocolT1, scard.LeaveCard)
		k.mu.Unlock()
		if rerr != nil {
			return fmt.Errorf("pcsc: reconnecting %q after a reset: %w", k.reader, classify(rerr))
		}
		if err := k.card.BeginTransaction(); err != nil {
			return fmt.Errorf("pcsc: beginning a transaction in %q: %w", k.reader, classify(err))
		}
	}
	ferr := fn(ctx)
	if err := k.card.EndTransaction(scard.LeaveCard); err != nil && ferr == nil {
		// A card pulled out ends the transaction by itself.
		if cerr := classify(err); !errors.Is(cerr, ErrCardRemoved) {
			return fmt.Errorf("pcsc: ending a transaction in %q: %w", k.reader, cerr)
		}
	}
	return ferr
}

// Reset resets the card (warm reset) and keeps the connection.
func (k *Card) Reset() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.card.Reconnect(k.mode, scard.ProtocolT0|scard.ProtocolT1, scard.ResetCard); err != nil {
		return fmt.Errorf("pcsc: resetting %q: %w", k.reader, classify(err))
	}
	k.proto = k.card.ActiveProtocol()
	return nil
}

// Close ends the connection, leaving the card powered as it is.
func (k *Card) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.card.Disconnect(scard.LeaveCard); err != nil {
		return fmt.Errorf("pcsc: disconnecting %q: %w", k.reader, classify(err))
	}
	return nil
}

// classify wraps a PC/SC error so that it unwraps both to the package's
// sentinel for its condition and to the original scard.Error.
func classify(err error) error {
	var se scard.Error
	if !errors.As(err, &se) {
		return err
	}
	var kind error
	switch se {
	case scard.ErrRemovedCard, scard.ErrNoSmartcard, scard.ErrUnpoweredCard, scard.ErrUnresponsiveCard:
		kind = ErrCardRemoved
	case scard.ErrUnknownReader, scard.ErrReaderUnavailable, scard.ErrNoReadersAvailable:
		kind = ErrNoReader
	case scard.ErrNoService, scard.ErrServiceStopped, scard.ErrInvalidHandle:
		kind = ErrServiceStopped
	case scard.ErrResetCard:
		kind = ErrCardReset
	case scard.ErrCancelled:
		kind = ErrCancelled
	default:
		return err
	}
	return &scardError{kind: kind, code: se}
}

type scardError struct {
	kind error
	code scard.Error
}

func (e *scardError) Error() string   { return fmt.Sprintf("%v (%v)", e.kind, e.code) }
func (e *scardError) Unwrap() []error { return []error{e.kind, e.code} }
