package apdu

import (
	"context"
	"fmt"
)

// maxOffset is the largest offset READ BINARY can address with P1-P2 (b8 of
// P1 is the short-file-identifier flag).
const maxOffset = 0x7FFF

// ReadFile reads the currently selected transparent EF from its start, in
// chunks of up to 256 bytes, until the card signals the end: a short chunk,
// 62 82 (end of file reached) or 6B 00 (offset beyond the end). A card that
// corrects Le with 6C xx is handled by Exchange. limit bounds the size read,
// so that a card claiming an endless file cannot exhaust memory.
func ReadFile(ctx context.Context, t Transport, cla byte, limit int) ([]byte, error) {
	var out []byte
	for off := 0; ; {
		if off > maxOffset || off >= limit {
			return nil, fmt.Errorf("apdu: reading a file: larger than %d bytes", min(limit, maxOffset))
		}
		r, err := Exchange(ctx, t, Command{Cla: cla, Ins: InsReadBinary, P1: byte(off >> 8), P2: byte(off), Ne: MaxShortNe})
		if err != nil {
			return nil, err
		}
		switch {
		case r.SW == SWOK:
		case r.SW == SWEndOfFile:
			return append(out, r.Data...), nil
		case r.SW == SWWrongParams && off > 0:
			return out, nil
		default:
			return nil, fmt.Errorf("apdu: reading a file at offset %d: %w", off, r.Err())
		}
		if len(r.Data) > MaxShortNe {
			return nil, fmt.Errorf("%w: %d bytes for a 256-byte read", ErrResponse, len(r.Data))
		}
		out = append(out, r.Data...)
		if len(r.Data) < MaxShortNe {
			return out, nil
		}
		off += len(r.Data)
	}
}
