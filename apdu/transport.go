package apdu

import "context"

// Transport carries one command APDU to a card and returns its raw response,
// data followed by SW1 SW2. Implementations must honour ctx cancellation where
// the underlying link allows it and must not retain cmd after returning.
type Transport interface {
	Transmit(ctx context.Context, cmd []byte) ([]byte, error)
}
