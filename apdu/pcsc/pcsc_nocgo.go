//go:build !cgo

package pcsc

import "context"

// Context is unusable without cgo; every method reports ErrNoCgo.
type Context struct{}

// Establish reports ErrNoCgo.
func Establish() (*Context, error) { return nil, ErrNoCgo }

// Release reports ErrNoCgo.
func (c *Context) Release() error { return ErrNoCgo }

// Readers reports ErrNoCgo.
func (c *Context) Readers() ([]string, error) { return nil, ErrNoCgo }

// Card is unusable without cgo.
type Card struct{}

// Connect reports ErrNoCgo.
func (c *Context) Connect(context.Context, string) (*Card, error) { return nil, ErrNoCgo }

// Transmit reports ErrNoCgo.
func (k *Card) Transmit(context.Context, []byte) ([]byte, error) { return nil, ErrNoCgo }

// Close reports ErrNoCgo.
func (k *Card) Close() error { return ErrNoCgo }

// WaitCard reports ErrNoCgo.
func (c *Context) WaitCard(context.Context, string, bool) error { return ErrNoCgo }

// ReaderStatus is what pcscd knows of one reader without connecting to it.
type ReaderStatus struct {
	Reader  string
	Present bool
	Mute    bool
	ATR     []byte
}

// Status reports ErrNoCgo.
func (c *Context) Status([]string) ([]ReaderStatus, error) { return nil, ErrNoCgo }

// ConnectShared reports ErrNoCgo.
func (c *Context) ConnectShared(context.Context, string) (*Card, error) { return nil, ErrNoCgo }

// Transaction reports ErrNoCgo.
func (k *Card) Transaction(context.Context, func(context.Context) error) error { return ErrNoCgo }

// Reset reports ErrNoCgo.
func (k *Card) Reset() error { return ErrNoCgo }

// ATR reports nothing.
func (k *Card) ATR() []byte { return nil }

// Reader reports nothing.
func (k *Card) Reader() string { return "" }

// Protocol reports nothing.
func (k *Card) Protocol() string { return "" }

func establishSession() (session, error) { return nil, ErrNoCgo }

// PINPad reports false.
func (k *Card) PINPad() bool { return false }

// VerifyPINDirect reports ErrNoCgo.
func (k *Card) VerifyPINDirect(context.Context, PINVerify) ([]byte, error) { return nil, ErrNoCgo }
