package apdu

import (
	"context"
	"fmt"
)

// maxGetResponse bounds the GET RESPONSE loop, so that a card answering
// 61 xx forever cannot hang the kiosk (64 × 256 bytes is far above any
// object the kiosk reads).
const maxGetResponse = 64

// Exchange sends cmd and returns the card's final response, with the T=0
// plumbing done: 61 xx (and CPS2ter 9F xx) fetch the rest with GET RESPONSE
// under the same class byte, 6C xx resends the command with Ne = xx, and a
// short command with more than 255 data bytes is sent in a chain. The status
// word is returned as is; Do also turns it into an error.
func Exchange(ctx context.Context, t Transport, cmd Command) (Response, error) {
	if len(cmd.Data) > MaxShortData && !cmd.Extended {
		return chain(ctx, t, cmd)
	}
	return exchange(ctx, t, cmd)
}

// Do is Exchange followed by the status word check: it returns the data of
// a 90 00 response, or the typed error of any other status word.
func Do(ctx context.Context, t Transport, cmd Command) ([]byte, error) {
	r, err := Exchange(ctx, t, cmd)
	if err != nil {
		return nil, err
	}
	if err := r.Err(); err != nil {
		return r.Data, fmt.Errorf("apdu: %02X %02X: %w", cmd.Cla, cmd.Ins, err)
	}
	return r.Data, nil
}

func transmit(ctx context.Context, t Transport, cmd *Command) (Response, error) {
	var buf [4 + 3 + MaxShortData + 3]byte
	var raw []byte
	if n := cmd.Len(); n <= len(buf) {
		if _, err := cmd.Encode(buf[:n]); err != nil {
			return Response{}, err
		}
		raw = buf[:n]
	} else {
		var err error
		if raw, err = cmd.AppendTo(nil); err != nil {
			return Response{}, err
		}
	}
	resp, err := t.Transmit(ctx, raw)
	if err != nil {
		return Response{}, err
	}
	r, err := ParseResponse(resp)
	if err != nil {
		return Response{}, fmt.Errorf("apdu: %02X %02X: %w", cmd.Cla, cmd.Ins, err)
	}
	return r, nil
}

func exchange(ctx context.Context, t Transport, cmd Command) (Response, error) {
	r, err := transmit(ctx, t, &cmd)
	if err != nil {
		return r, err
	}
	if r.SW.SW1() == 0x6C {
		// Wrong Ne: the card says how many bytes it has; ask again once.
		cmd.Ne = neShort(r.SW.SW2())
		if r, err = transmit(ctx, t, &cmd); err != nil {
			return r, err
		}
	}
	if sw1 := r.SW.SW1(); sw1 != 0x61 && sw1 != 0x9F {
		return r, nil
	}
	data := append([]byte(nil), r.Data...)
	for i := 0; ; i++ {
		if i == maxGetResponse {
			return Response{}, fmt.Errorf("%w: more than %d GET RESPONSE in a row", ErrResponse, maxGetResponse)
		}
		get := Command{Cla: cmd.Cla, Ins: InsGetResponse, Ne: neShort(r.SW.SW2())}
		if r, err = transmit(ctx, t, &get); err != nil {
			return r, err
		}
		if r.SW.SW1() == 0x6C { // some cards correct the GET RESPONSE length too
			get.Ne = neShort(r.SW.SW2())
			if r, err = transmit(ctx, t, &get); err != nil {
				return r, err
			}
		}
		data = append(data, r.Data...)
		if sw1 := r.SW.SW1(); sw1 != 0x61 && sw1 != 0x9F {
			return Response{Data: data, SW: r.SW}, nil
		}
	}
}

// chain sends a long short-APDU command as a chain of 255-byte commands with
// the chaining bit (CLA b5) set on all but the last.
func chain(ctx context.Context, t Transport, cmd Command) (Response, error) {
	data := cmd.Data
	for len(data) > MaxShortData {
		part := cmd
		part.Cla |= 0x10
		part.Data, part.Ne = data[:MaxShortData], 0
		r, err := transmit(ctx, t, &part)
		if err != nil {
			return r, err
		}
		if !r.SW.OK() {
			return r, nil
		}
		data = data[MaxShortData:]
	}
	last := cmd
	last.Data = data
	return exchange(ctx, t, last)
}
