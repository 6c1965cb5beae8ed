package cards

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"dmpkiosk/apdu"
)

// Card is a virtual card as vpcd sees it: an ATR, a reset, and an answer to
// each command APDU (data followed by SW1 SW2).
type Card interface {
	ATR() []byte
	// Reset returns the card to its power-on state (selected files, PIN
	// verification status).
	Reset()
	Transmit(cmd []byte) []byte
}

// vpcd control bytes (a one-byte frame from the reader side).
const (
	vpcdPowerOff = 0x00
	vpcdPowerOn  = 0x01
	vpcdReset    = 0x02
	vpcdGetATR   = 0x04
)

// Inserted is a virtual card sitting in a vpcd slot; Remove takes it out.
type Inserted struct {
	conn *net.TCPConn
	done chan struct{}
	once sync.Once
	err  error
	// seen counts the command APDUs the card took; at pullAt (when not
	// zero) it leaves the slot instead of answering.
	seen, pullAt atomic.Int64
}

// Seen is the number of command APDUs the card has taken.
func (in *Inserted) Seen() int { return int(in.seen.Load()) }

// PullAt makes the card leave its slot when it takes its n-th command APDU
// (counted as Seen counts), without answering it: a card pulled out in the
// middle of a command.
func (in *Inserted) PullAt(n int) { in.pullAt.Store(int64(n)) }

// Insert puts card into the vpcd slot at addr (see SlotAddr): the card dials
// vpcd and answers until removed or until vpcd closes the link.
func Insert(ctx context.Context, addr string, card Card) (*Inserted, error) {
	var d net.Dialer
	var conn net.Conn
	var err error
	// vpcd accepts again shortly after a previous card left the slot.
	for i := 0; i < 50; i++ {
		if conn, err = d.DialContext(ctx, "tcp", addr); err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return nil, fmt.Errorf("inserting virtual card at %s: %w", addr, err)
	}
	in := &Inserted{conn: conn.(*net.TCPConn), done: make(chan struct{})}
	go in.serve(card)
	return in, nil
}

// Remove pulls the card out of its slot and waits for its loop to end.
func (in *Inserted) Remove() {
	in.once.Do(func() { in.conn.Close() })
	<-in.done
}

// Err is the error that ended the card's loop, if vpcd broke the link.
func (in *Inserted) Err() error {
	<-in.done
	return in.err
}

func (in *Inserted) serve(card Card) {
	defer close(in.done)
	buf := make([]byte, 2+65538)
	for {
		payload, err := in.readFrame(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
				in.err = err
			}
			return
		}
		var reply []byte
		if len(payload) == 1 {
			switch payload[0] {
			case vpcdPowerOff, vpcdPowerOn, vpcdReset:
				card.Reset()
				continue
			case vpcdGetATR:
				reply = card.ATR()
			default:
				continue
			}
		} else {
			if n := in.seen.Add(1); n == in.pullAt.Load() {
				in.once.Do(func() { in.conn.Close() })
				return
			}
			reply = card.Transmit(payload)
		}
		if err := in.writeFrame(reply); err != nil {
			in.err = err
			return
		}
	}
}

func (in *Inserted) readFrame(buf []byte) ([]byte, error) {
	// vpcd sends length and payload in two writes: without an immediate ACK
	// the second waits out the delayed-ACK timer (~40 ms an APDU). Linux
	// clears QUICKACK by itself, so it is re-armed before every read.
	in.quickAck()
	if _, err := io.ReadFull(in.conn, buf[:2]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(buf[:2]))
	in.quickAck()
	if _, err := io.ReadFull(in.conn, buf[2:2+n]); err != nil {
		return nil, err
	}
	return buf[2 : 2+n], nil
}

func (in *Inserted) writeFrame(p []byte) error {
	out := make([]byte, 2+len(p))
	binary.BigEndian.PutUint16(out, uint16(len(p)))
	copy(out[2:], p)
	_, err := in.conn.Write(out)
	return err
}

func (in *Inserted) quickAck() {
	raw, err := in.conn.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
}

// FuncCard is a Card whose answers come from a function: the smallest card a
// test can write. Full card profiles (files, PIN, keys) build on Card too.
type FuncCard struct {
	Answer []byte                  // the ATR
	OnAPDU func(cmd []byte) []byte // nil answers 6D 00 (instruction not supported)
	OnRst  func()                  // may be nil
}

// ATR implements Card.
func (c *FuncCard) ATR() []byte { return c.Answer }

// Reset implements Card.
func (c *FuncCard) Reset() {
	if c.OnRst != nil {
		c.OnRst()
	}
}

// Transmit implements Card.
func (c *FuncCard) Transmit(cmd []byte) []byte {
	if c.OnAPDU == nil {
		return []byte{0x6D, 0x00}
	}
	return c.OnAPDU(cmd)
}

// Direct is an apdu.Transport straight into a virtual card, without pcscd:
// for the card applications' exhaustive tests (every APDU of a sequence
// failing in turn), alongside the tests through real pcscd. Count is the
// number of APDUs carried; when Err is set, every APDU after the first
// FailAfter fails with it, as a card pulled out does.
type Direct struct {
	Card      Card
	Count     int
	FailAfter int
	Err       error
}

// Transmit implements apdu.Transport.
func (d *Direct) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if d.Err != nil && d.Count >= d.FailAfter {
		return nil, d.Err
	}
	d.Count++
	return d.Card.Transmit(cmd), nil
}

// Recorder is an apdu.Transport that keeps every command APDU it carries,
// in hex ("00 A4 04 00 …"), for tests that assert a card dialogue.
type Recorder struct {
	Next apdu.Transport
	Sent []string
}

// Transmit implements apdu.Transport.
func (r *Recorder) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	r.Sent = append(r.Sent, fmt.Sprintf("% X", cmd))
	return r.Next.Transmit(ctx, cmd)
}
