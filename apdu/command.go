package apdu

import (
	"errors"
	"fmt"
)

// Command is a command APDU. Ne is the number of response bytes expected:
// 0 for none (cases 1 and 3), 1–256 in a short APDU (256 is written 00),
// up to 65536 in an extended one. The APDU is extended when the data exceed
// 255 bytes, Ne exceeds 256, or Extended is set.
type Command struct {
	Cla, Ins, P1, P2 byte
	Data             []byte
	Ne               int
	Extended         bool
}

// Instruction bytes (ISO/IEC 7816-4 and the card applications' own).
const (
	InsVerify       = 0x20 // VERIFY
	InsMSE          = 0x22 // MANAGE SECURITY ENVIRONMENT
	InsPSO          = 0x2A // PERFORM SECURITY OPERATION (hash, signature)
	InsInternalAuth = 0x88 // INTERNAL AUTHENTICATE
	InsSelect       = 0xA4 // SELECT
	InsReadBinary   = 0xB0 // READ BINARY
	InsGetResponse  = 0xC0 // GET RESPONSE
	InsGetData      = 0xCB // GET DATA (BER-TLV objects: IAS-ECC SDOs)
	InsUpdateBinary = 0xD6 // UPDATE BINARY
)

// Limits of command APDUs.
const (
	MaxShortData    = 255
	MaxShortNe      = 256
	MaxExtendedData = 65535
	MaxExtendedNe   = 65536
)

// ErrCommand is returned for a command that cannot be encoded or parsed.
var ErrCommand = errors.New("apdu: malformed command")

func (c *Command) extended() bool {
	return c.Extended || len(c.Data) > MaxShortData || c.Ne > MaxShortNe
}

// Len is the encoded length of the command.
func (c *Command) Len() int {
	n := 4
	ext := c.extended()
	if len(c.Data) > 0 {
		if ext {
			n += 3
		} else {
			n++
		}
		n += len(c.Data)
	}
	if c.Ne > 0 {
		switch {
		case !ext:
			n++
		case len(c.Data) > 0:
			n += 2
		default:
			n += 3
		}
	}
	return n
}

// Encode writes the command into buf and returns its length. It allocates
// nothing; buf must hold Len() bytes.
func (c *Command) Encode(buf []byte) (int, error) {
	if len(c.Data) > MaxExtendedData || c.Ne < 0 || c.Ne > MaxExtendedNe {
		return 0, fmt.Errorf("%w: %d data bytes, Ne %d", ErrCommand, len(c.Data), c.Ne)
	}
	n := c.Len()
	if len(buf) < n {
		return 0, fmt.Errorf("%w: buffer of %d bytes for a %d-byte command", ErrCommand, len(buf), n)
	}
	buf[0], buf[1], buf[2], buf[3] = c.Cla, c.Ins, c.P1, c.P2
	i := 4
	ext := c.extended()
	if len(c.Data) > 0 {
		if ext {
			buf[i], buf[i+1], buf[i+2] = 0, byte(len(c.Data)>>8), byte(len(c.Data))
			i += 3
		} else {
			buf[i] = byte(len(c.Data))
			i++
		}
		i += copy(buf[i:], c.Data)
	}
	if c.Ne > 0 {
		ne := c.Ne
		if !ext {
			buf[i] = byte(ne) // 256 → 00
			i++
		} else {
			if ne == MaxExtendedNe {
				ne = 0
			}
			if len(c.Data) == 0 {
				buf[i] = 0
				i++
			}
			buf[i], buf[i+1] = byte(ne>>8), byte(ne)
			i += 2
		}
	}
	return i, nil
}

// AppendTo appends the encoded command to dst.
func (c *Command) AppendTo(dst []byte) ([]byte, error) {
	n := c.Len()
	start := len(dst)
	if cap(dst)-start < n {
		grown := make([]byte, start, start+n)
		copy(grown, dst)
		dst = grown
	}
	dst = dst[:start+n]
	if _, err := c.Encode(dst[start:]); err != nil {
		return dst[:start], err
	}
	return dst, nil
}

// ParseCommand reads a command APDU of any case, short or extended. Data
// aliases b.
func ParseCommand(b []byte) (Command, error) {
	if len(b) < 4 {
		return Command{}, fmt.Errorf("%w: %d bytes, a header needs 4", ErrCommand, len(b))
	}
	c := Command{Cla: b[0], Ins: b[1], P1: b[2], P2: b[3]}
	body := b[4:]
	switch {
	case len(body) == 0: // case 1
	case len(body) == 1: // case 2 short
		c.Ne = neShort(body[0])
	case body[0] != 0 || len(body) < 3: // case 3 or 4 short
		lc := int(body[0])
		if lc == 0 {
			return Command{}, fmt.Errorf("%w: short Lc of 0", ErrCommand)
		}
		switch len(body) {
		case 1 + lc:
		case 2 + lc:
			c.Ne = neShort(body[1+lc])
		default:
			return Command{}, fmt.Errorf("%w: Lc %d with %d body bytes", ErrCommand, lc, len(body))
		}
		c.Data = body[1 : 1+lc]
	default: // extended: 00 then two bytes
		c.Extended = true
		if len(body) == 3 { // case 2 extended
			c.Ne = neExt(body[1], body[2])
			break
		}
		lc := int(body[1])<<8 | int(body[2])
		if lc == 0 {
			return Command{}, fmt.Errorf("%w: extended Lc of 0", ErrCommand)
		}
		switch len(body) {
		case 3 + lc:
		case 5 + lc:
			c.Ne = neExt(body[3+lc], body[4+lc])
		default:
			return Command{}, fmt.Errorf("%w: extended Lc %d with %d body bytes", ErrCommand, lc, len(body))
		}
		c.Data = body[3 : 3+lc]
	}
	return c, nil
}

func neShort(b byte) int {
	if b == 0 {
		return MaxShortNe
	}
	return int(b)
}

func neExt(hi, lo byte) int {
	if n := int(hi)<<8 | int(lo); n != 0 {
		return n
	}
	return MaxExtendedNe
}
