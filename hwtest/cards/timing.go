package cards

import (
	"errors"
	"runtime"
	"time"
)

// Link is the ISO 7816-3 serial link between a reader and a card, for the
// timing model: how long the bytes of an exchange take on the wire.
//
// What is modelled: etu = F / (D × f); T=0 at 12 etu a character with the
// 5-byte header, one procedure byte when data move, the data and SW1 SW2;
// T=1 at 11 etu a character with 4 bytes of block framing (NAD PCB LEN …
// LRC) and chaining at the card's IFSC, each chained block answered by a
// 4-byte R-block. What is not: the card's own processing time, character
// and block waiting times, the reader's USB round trip.
type Link struct {
	Protocol int     // 0 or 1
	F, D     int     // after PPS when negotiated, else 372 and 1
	Clock    float64 // Hz
	IFSC     int     // T=1 information field size of the card
	ATRLen   int
	PPS      bool // a PPS was exchanged at power-on
}

// DefaultClock is the reader clock the timing model assumes (3.5712 MHz,
// which gives 9600 bd at F=372, D=1).
const DefaultClock = 3.5712e6

var (
	fiTable = [16]int{372, 372, 558, 744, 1116, 1488, 1860, 0, 0, 512, 768, 1024, 1536, 2048, 0, 0}
	diTable = [16]int{0, 1, 2, 4, 8, 16, 32, 64, 12, 20, 0, 0, 0, 0, 0, 0}
)

// ErrATR is returned for an ATR the timing model cannot read.
var ErrATR = errors.New("hwtest: malformed ATR")

// LinkFromATR reads the protocol, TA1 (Fi, Di) and, for T=1, TA3 (IFSC)
// from an ATR. With pps the link runs at the card's Fi/Di after a PPS;
// without, at the default F=372, D=1.
func LinkFromATR(atr []byte, pps bool) (Link, error) {
	l := Link{F: 372, D: 1, Clock: DefaultClock, IFSC: 32, ATRLen: len(atr)}
	if len(atr) < 2 {
		return l, ErrATR
	}
	i := 1
	y := atr[1] >> 4
	var ta1 byte
	haveTA1 := false
	for level := 1; ; level++ {
		i++
		var td byte
		hasTD := false
		for bit, present := 0, y; bit < 4; bit, present = bit+1, present>>1 {
			if present&1 == 0 {
				continue
			}
			if i >= len(atr) {
				return l, ErrATR
			}
			b := atr[i]
			i++
			switch {
			case bit == 0 && level == 1:
				ta1, haveTA1 = b, true
			case bit == 0 && level == 3 && l.Protocol == 1:
				l.IFSC = int(b)
			case bit == 3:
				td, hasTD = b, true
			}
		}
		i--
		if !hasTD {
			break
		}
		if level == 1 {
			l.Protocol = int(td & 0x0F)
		}
		y = td >> 4
	}
	if pps && haveTA1 && ta1 != 0x11 {
		f, d := fiTable[ta1>>4], diTable[ta1&0x0F]
		if f == 0 || d == 0 {
			return l, ErrATR
		}
		l.F, l.D, l.PPS = f, d, true
	}
	return l, nil
}

// ETU is one elementary time unit on the link.
func (l Link) ETU() time.Duration {
	return time.Duration(float64(l.F) / (float64(l.D) * l.Clock) * float64(time.Second))
}

// Baud is the link's speed in bits per second.
func (l Link) Baud() float64 { return float64(l.D) * l.Clock / float64(l.F) }

// ExchangeBytes is the number of characters one command/response pair puts
// on the wire.
func (l Link) ExchangeBytes(cmd, resp []byte) int {
	if l.Protocol == 1 {
		return l.t1Bytes(len(cmd)) + l.t1Bytes(len(resp))
	}
	n := 5 + len(resp) // header (CLA INS P1 P2 P3) + response data + SW1 SW2
	lc := 0
	if len(cmd) > 5 {
		lc = len(cmd) - 5
		if len(cmd) > 5+int(cmd[4]) { // a case 4 APDU: Le is not sent in T=0
			lc = int(cmd[4])
		}
	}
	n += lc
	if lc > 0 || len(resp) > 2 {
		n++ // procedure byte (INS)
	}
	return n
}

func (l Link) t1Bytes(inf int) int {
	ifs := l.IFSC
	if ifs <= 0 {
		ifs = 32
	}
	blocks := (inf + ifs - 1) / ifs
	if blocks == 0 {
		blocks = 1
	}
	return inf + 4*blocks + 4*(blocks-1)
}

// ExchangeTime is how long one exchange takes on the wire.
func (l Link) ExchangeTime(cmd, resp []byte) time.Duration {
	return l.charTime() * time.Duration(l.ExchangeBytes(cmd, resp))
}

func (l Link) charTime() time.Duration {
	etus := 12
	if l.Protocol == 1 {
		etus = 11
	}
	return time.Duration(etus) * l.ETU()
}

// PowerOnTime is the ATR at the default rate, plus the PPS exchange (four
// characters each way) when one is made.
func (l Link) PowerOnTime() time.Duration {
	def := Link{F: 372, D: 1, Clock: l.Clock}
	t := 12 * def.ETU() * time.Duration(l.ATRLen)
	if l.PPS {
		t += 12 * def.ETU() * 8
	}
	return t
}

// Timed wraps a Card with the timing model: each answer leaves no earlier
// than the wire would let it.
type Timed struct {
	Card
	Link Link
}

// Reset implements Card, taking the power-on time.
func (t *Timed) Reset() {
	deadline := time.Now().Add(t.Link.PowerOnTime())
	t.Card.Reset()
	sleepUntil(deadline)
}

// Transmit implements Card, taking the exchange's wire time.
func (t *Timed) Transmit(cmd []byte) []byte {
	start := time.Now()
	resp := t.Card.Transmit(cmd)
	sleepUntil(start.Add(t.Link.ExchangeTime(cmd, resp)))
	return resp
}

// sleepUntil returns at deadline, not up to a millisecond later as a plain
// time.Sleep does when the process is otherwise idle (the runtime then
// waits in epoll with millisecond resolution): it sleeps short of the
// deadline and spins the rest. A virtual card that answered late would
// charge the stack under test for the model's own error.
func sleepUntil(deadline time.Time) {
	if d := time.Until(deadline) - 2*time.Millisecond; d > 0 {
		time.Sleep(d)
	}
	for time.Now().Before(deadline) {
		runtime.Gosched()
	}
}
