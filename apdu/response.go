package apdu

import (
	"errors"
	"fmt"
)

// ErrResponse is returned for a response too short to hold a status word.
var ErrResponse = errors.New("apdu: malformed response")

// Response is a response APDU. Data aliases the bytes it was parsed from.
type Response struct {
	Data []byte
	SW   StatusWord
}

// ParseResponse splits a raw response into data and status word.
func ParseResponse(b []byte) (Response, error) {
	if len(b) < 2 {
		return Response{}, fmt.Errorf("%w: %d bytes, a status word needs 2", ErrResponse, len(b))
	}
	n := len(b) - 2
	return Response{Data: b[:n:n], SW: StatusWord(b[n])<<8 | StatusWord(b[n+1])}, nil
}

// Err is the typed error of the status word (nil for 90 00).
func (r Response) Err() error { return r.SW.Err() }
