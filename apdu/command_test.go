package apdu

import (
	"bytes"
	"errors"
	"testing"
)

func TestCommandEncodeParse(t *testing.T) {
	long := bytes.Repeat([]byte{0xAB}, 300)
	cases := []struct {
		name string
		cmd  Command
		want []byte // nil: compare only the round trip
	}{
		{"case 1", Command{Cla: 0x00, Ins: InsSelect, P1: 0x00, P2: 0x0C}, []byte{0x00, 0xA4, 0x00, 0x0C}},
		{"case 2 short", Command{Ins: InsReadBinary, Ne: 16}, []byte{0x00, 0xB0, 0x00, 0x00, 0x10}},
		{"case 2 short Ne 256", Command{Ins: InsReadBinary, Ne: 256}, []byte{0x00, 0xB0, 0x00, 0x00, 0x00}},
		{"case 3 short", Command{Ins: InsSelect, P1: 0x04, P2: 0x0C, Data: []byte{0xD2, 0x50}}, []byte{0x00, 0xA4, 0x04, 0x0C, 0x02, 0xD2, 0x50}},
		{"case 4 short", Command{Ins: InsSelect, P1: 0x04, Data: []byte{0xD2}, Ne: 256}, []byte{0x00, 0xA4, 0x04, 0x00, 0x01, 0xD2, 0x00}},
		{"case 2 extended", Command{Ins: InsReadBinary, Ne: 1000}, []byte{0x00, 0xB0, 0x00, 0x00, 0x00, 0x03, 0xE8}},
		{"case 2 extended Ne 65536", Command{Ins: InsReadBinary, Ne: 65536}, []byte{0x00, 0xB0, 0x00, 0x00, 0x00, 0x00, 0x00}},
		{"case 3 extended", Command{Ins: InsUpdateBinary, Data: long}, nil},
		{"case 4 extended", Command{Ins: InsPSO, Data: long, Ne: 512}, nil},
		{"case 4 forced extended", Command{Ins: InsPSO, Data: []byte{1}, Ne: 2, Extended: true}, []byte{0x00, 0x2A, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00, 0x02}},
	}
	for _, c := range cases {
		buf := make([]byte, c.cmd.Len())
		n, err := c.cmd.Encode(buf)
		if err != nil || n != len(buf) {
			t.Fatalf("%s: encode %d, %v", c.name, n, err)
		}
		if c.want != nil && !bytes.Equal(buf, c.want) {
			t.Errorf("%s: % X, want % X", c.name, buf, c.want)
		}
		back, err := ParseCommand(buf)
		if err != nil {
			t.Fatalf("%s: parse: %v", c.name, err)
		}
		wantExt := c.cmd.extended()
		if back.Cla != c.cmd.Cla || back.Ins != c.cmd.Ins || back.P1 != c.cmd.P1 || back.P2 != c.cmd.P2 ||
			!bytes.Equal(back.Data, c.cmd.Data) || back.Ne != c.cmd.Ne || back.Extended != (wantExt && (len(c.cmd.Data) > 0 || c.cmd.Ne > 0)) {
			t.Errorf("%s: round trip %+v", c.name, back)
		}
	}
}

func TestCommandEncodeAllocatesNothing(t *testing.T) {
	cmd := Command{Ins: InsSelect, P1: 0x04, Data: []byte{0xD2, 0x50, 0x00, 0x00, 0x02}, Ne: 256}
	var buf [64]byte
	if a := testing.AllocsPerRun(100, func() { _, _ = cmd.Encode(buf[:]) }); a != 0 {
		t.Fatalf("%v allocations to encode", a)
	}
}

func TestCommandBadInput(t *testing.T) {
	if _, err := (&Command{Data: make([]byte, 70000)}).Encode(make([]byte, 80000)); !errors.Is(err, ErrCommand) {
		t.Errorf("oversized data: %v", err)
	}
	if _, err := (&Command{Ne: 70000}).Encode(make([]byte, 16)); !errors.Is(err, ErrCommand) {
		t.Errorf("oversized Ne: %v", err)
	}
	if _, err := (&Command{Data: []byte{1, 2}}).Encode(make([]byte, 3)); !errors.Is(err, ErrCommand) {
		t.Errorf("short buffer: %v", err)
	}
	for _, b := range [][]byte{
		{0x00, 0xA4, 0x04},                               // header cut short
		{0x00, 0xA4, 0x04, 0x00, 0x05, 0x01},             // Lc 5, one byte
		{0x00, 0xA4, 0x04, 0x00, 0x01, 0x01, 0x00, 0x00}, // one byte too many
		{0x00, 0xA4, 0x04, 0x00, 0x00, 0x00},             // short Lc 0
		{0x00, 0xA4, 0x04, 0x00, 0x00, 0x00, 0x00, 0x01}, // extended Lc 0
		{0x00, 0xA4, 0x04, 0x00, 0x00, 0x01, 0x00, 0x01, 0x02},
	} {
		if c, err := ParseCommand(b); !errors.Is(err, ErrCommand) {
			t.Errorf("ParseCommand(% X) = %+v, %v; want ErrCommand", b, c, err)
		}
	}
}

func TestStatusErrors(t *testing.T) {
	cases := []struct {
		sw   StatusWord
		want error
	}{
		{0x6A82, ErrNotFound}, {0x9404, ErrNotFound}, {0x6983, ErrAuthBlocked}, {0x9840, ErrAuthBlocked},
		{0x6982, ErrSecurityStatus}, {0x6700, ErrWrongLength}, {0x6B00, ErrWrongParams}, {0x6A86, ErrWrongParams},
		{0x6E00, ErrCLANotSupported}, {0x6D00, ErrINSNotSupported}, {0x6282, ErrEndOfFile},
		{0x63C2, ErrWrongPIN}, {0x9804, ErrWrongPIN}, {0x63C0, ErrAuthBlocked},
	}
	for _, c := range cases {
		err := c.sw.Err()
		if !errors.Is(err, c.want) {
			t.Errorf("%04X: %v, want %v", uint16(c.sw), err, c.want)
		}
	}
	var ae *AuthError
	if err := StatusWord(0x63C2).Err(); !errors.As(err, &ae) || ae.Retries != 2 || errors.Is(err, ErrAuthBlocked) {
		t.Errorf("63C2: %v", err)
	}
	if err := StatusWord(0x9804).Err(); !errors.As(err, &ae) || ae.Retries != -1 {
		t.Errorf("9804: %v", err)
	}
	var ue *UnknownStatusError
	if err := StatusWord(0x6F42).Err(); !errors.As(err, &ue) || ue.SW != 0x6F42 {
		t.Errorf("6F42: %v", err)
	}
	if StatusWord(0x9000).Err() != nil {
		t.Error("9000 is an error")
	}
	if got := StatusWord(0x6A82).Err().Error(); got != "card answered 6A82: file or application not found" {
		t.Errorf("message %q", got)
	}
}

func TestParseResponse(t *testing.T) {
	r, err := ParseResponse([]byte{1, 2, 3, 0x90, 0x00})
	if err != nil || !bytes.Equal(r.Data, []byte{1, 2, 3}) || r.SW != SWOK {
		t.Fatalf("%+v %v", r, err)
	}
	for _, b := range [][]byte{nil, {0x90}} {
		if _, err := ParseResponse(b); !errors.Is(err, ErrResponse) {
			t.Errorf("ParseResponse(% X): %v", b, err)
		}
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range [][]byte{{0, 0xA4, 4, 0, 2, 0xD2, 0x50, 0}, {0, 0xB0, 0, 0, 0, 1, 0}, {0, 0xB0}, {0, 1, 2, 3, 0, 0, 1, 9, 0, 0}} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCommand(b)
		if err != nil {
			return
		}
		// What parses re-encodes to the same bytes.
		out, err := c.AppendTo(nil)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("% X parsed to %+v, re-encoded as % X", b, c, out)
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	f.Add([]byte{0x90, 0x00})
	f.Add([]byte{0x61})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseResponse(b)
		if err != nil {
			return
		}
		if len(r.Data) != len(b)-2 {
			t.Fatal("data length")
		}
		_ = r.SW.String()
	})
}
