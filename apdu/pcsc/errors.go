package pcsc

import "errors"

// Errors a caller branches on. Every error returned by this package that
// stems from one of these conditions unwraps to the matching value.
var (
	// ErrCardRemoved means the card left the reader (or was never there).
	ErrCardRemoved = errors.New("pcsc: card removed")
	// ErrNoReader means the named reader is not (or no longer) attached.
	ErrNoReader = errors.New("pcsc: no such reader")
	// ErrServiceStopped means pcscd is not running or went away.
	ErrServiceStopped = errors.New("pcsc: PC/SC service stopped")
	// ErrCardReset means another party reset the card; the connection must
	// be re-established before the next command.
	ErrCardReset = errors.New("pcsc: card was reset")
	// ErrCancelled means the wait was cancelled by Cancel or ctx.
	ErrCancelled = errors.New("pcsc: cancelled")
	// ErrNoCgo is returned by every call in a build without cgo.
	ErrNoCgo = errors.New("pcsc: built without cgo, PC/SC unavailable")
)
