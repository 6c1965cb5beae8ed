package pcsc

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// PC/SC part 10 features (v2.02.09).
const (
	FeatureVerifyPINDirect = 0x06
	getFeatureRequest      = 3400 // CM_IOCTL_GET_FEATURE_REQUEST
)

// ErrNoPINPad means the reader offers no secure PIN entry.
var ErrNoPINPad = errors.New("pcsc: the reader has no PIN pad")

// parseFeatures reads the answer to CM_IOCTL_GET_FEATURE_REQUEST: TLVs of
// a 1-byte feature tag, a length of 4 and the big-endian control code.
func parseFeatures(b []byte) (map[byte]uint32, error) {
	out := map[byte]uint32{}
	for len(b) > 0 {
		if len(b) < 6 || b[1] != 4 {
			return nil, fmt.Errorf("pcsc: malformed feature list")
		}
		out[b[0]] = binary.BigEndian.Uint32(b[2:6])
		b = b[6:]
	}
	return out, nil
}

// PINVerify describes a VERIFY the reader completes with the PIN typed on
// its own pad (PIN_VERIFY_STRUCTURE): the APDU with its PIN block left as
// padding, where the PIN goes in it and how long it may be.
type PINVerify struct {
	APDU        []byte // the complete VERIFY APDU, PIN block filled with padding
	ASCII       bool   // PIN digits written as ASCII (else BCD)
	BlockSize   int    // bytes of the PIN block
	Offset      int    // where the PIN block starts in the APDU data
	MinDigits   int
	MaxDigits   int
	TimeoutSecs int
	LangID      uint16 // 0x040C: French
}

// Structure encodes the PIN_VERIFY_STRUCTURE sent with
// FEATURE_VERIFY_PIN_DIRECT (PC/SC part 10, section 2.5.2).
func (p PINVerify) Structure() []byte {
	format := byte(0x80) | byte(p.Offset&0x0F)<<3 // system unit = byte, PIN position
	if p.ASCII {
		format |= 0x02
	} else {
		format |= 0x01
	}
	b := []byte{
		byte(p.TimeoutSecs), byte(p.TimeoutSecs), // bTimerOut, bTimerOut2
		format,                               // bmFormatString
		byte(p.BlockSize),                    // bmPINBlockString: block size, no length field
		0x00,                                 // bmPINLengthFormat
		byte(p.MaxDigits), byte(p.MinDigits), // wPINMaxExtraDigit, little-endian (min << 8 | max)
		0x02,                                // bEntryValidationCondition: validation key pressed
		0x01,                                // bNumberMessage
		byte(p.LangID), byte(p.LangID >> 8), // wLangId
		0x00,             // bMsgIndex
		0x00, 0x00, 0x00, // bTeoPrologue
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(p.APDU)))
	return append(b, p.APDU...)
}
