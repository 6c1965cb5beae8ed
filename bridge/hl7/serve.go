package hl7

import (
	"bufio"
	"context"
	"net"
	"time"
)

// Serve answers the messages sent on l (MLLP, original acknowledgement
// mode: one answer a message, on its connection) until ctx ends: handle
// takes a frame of at most max bytes and returns the acknowledgement. A
// connection idle for idle is closed (the sender connects again).
func Serve(ctx context.Context, l net.Listener, max int, idle time.Duration, handle func(frame []byte) []byte) {
	go func() { <-ctx.Done(); l.Close() }()
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			r := bufio.NewReader(c)
			for ctx.Err() == nil {
				c.SetDeadline(time.Now().Add(idle))
				frame, err := ReadFrame(r, max)
				if err != nil {
					return
				}
				if err := WriteFrame(c, handle(frame)); err != nil {
					return
				}
			}
		}()
	}
}
