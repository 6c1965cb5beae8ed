package sih

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"dmpkiosk/bridge/hl7"
)

// maxAnswer bounds what a receiver may answer.
const maxAnswer = 1 << 20

// ErrNoAnswer is a receiver that did not answer in time (or closed the
// connection first): the same message is sent again later.
var ErrNoAnswer = errors.New("sih: no answer from the receiver")

// Exchange sends one message over MLLP and returns the receiver's answer,
// undecoded. tc is the TLS configuration when the receiver takes TLS
// (nil: plain TCP, as on many EAI networks).
func Exchange(ctx context.Context, address string, tc *tls.Config, msg []byte, wait time.Duration) ([]byte, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	var conn net.Conn
	var err error
	if tc != nil {
		conn, err = (&tls.Dialer{NetDialer: &d, Config: tc}).DialContext(ctx, "tcp", address)
	} else {
		conn, err = d.DialContext(ctx, "tcp", address)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoAnswer, err)
	}
	defer conn.Close()
	deadline := time.Now().Add(wait)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	conn.SetDeadline(deadline)
	if err := hl7.WriteFrame(conn, msg); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoAnswer, err)
	}
	answer, err := hl7.ReadFrame(bufio.NewReader(conn), maxAnswer)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) || errors.Is(err, net.ErrClosed) || !errors.Is(err, hl7.ErrFrame) {
			return nil, fmt.Errorf("%w: %v", ErrNoAnswer, err)
		}
		return nil, err
	}
	return answer, nil
}
