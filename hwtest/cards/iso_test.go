package cards

import (
	"bytes"
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"dmpkiosk/apdu"
)

func demoCard() *ISOCard {
	c := DemoCard()
	c.Reset()
	return c
}

func TestISOCardSelectRead(t *testing.T) {
	c := demoCard()
	ctx := context.Background()
	tr := &Direct{Card: c}
	// SELECT by AID with FCI: T=0 style 61 xx, fetched by Exchange.
	fci, err := apdu.Do(ctx, tr, apdu.Command{Ins: apdu.InsSelect, P1: 0x04, Data: DemoAID, Ne: 256})
	if err != nil {
		t.Fatal(err)
	}
	if aid, ok, _ := apdu.Find(fci, 0x6F, 0x84); !ok || !bytes.Equal(aid, DemoAID) {
		t.Fatalf("FCI % X", fci)
	}
	if _, err := apdu.Do(ctx, tr, apdu.Command{Ins: apdu.InsSelect, P1: 0x02, P2: 0x0C, Data: []byte{0x20, 0x01}}); err != nil {
		t.Fatal(err)
	}
	// Read the 600-byte file in chunks; the last read asks past the end and
	// the card answers 6C xx, which Exchange resends.
	var got []byte
	for off := 0; ; off += 256 {
		chunk, err := apdu.Do(ctx, tr, apdu.Command{Ins: apdu.InsReadBinary, P1: byte(off >> 8), P2: byte(off), Ne: 256})
		if errors.Is(err, apdu.ErrWrongParams) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, chunk...)
		if len(chunk) < 256 {
			break
		}
	}
	if !bytes.Equal(got, DemoFile) {
		t.Fatalf("read %d bytes, want the %d-byte file", len(got), len(DemoFile))
	}
	// Path select from the MF, and an unknown file.
	if _, err := apdu.Do(ctx, tr, apdu.Command{Ins: apdu.InsSelect, P1: 0x08, P2: 0x0C, Data: []byte{0x3F, 0x00, 0xD0, 0x03}}); err != nil {
		t.Fatalf("path select: %v", err)
	}
	if _, err := apdu.Do(ctx, tr, apdu.Command{Ins: apdu.InsSelect, P1: 0x02, P2: 0x0C, Data: []byte{0x99, 0x99}}); !errors.Is(err, apdu.ErrNotFound) {
		t.Fatalf("unknown file: %v", err)
	}
	if _, err := apdu.Do(ctx, tr, apdu.Command{Cla: 0x80, Ins: apdu.InsReadBinary, Ne: 1}); !errors.Is(err, apdu.ErrCLANotSupported) {
		t.Fatalf("wrong class: %v", err)
	}
	if _, err := apdu.Do(ctx, tr, apdu.Command{Ins: apdu.InsPSO, Ne: 1}); !errors.Is(err, apdu.ErrINSNotSupported) {
		t.Fatalf("unknown instruction: %v", err)
	}
}

func TestISOCardPIN(t *testing.T) {
	c := demoCard()
	ctx := context.Background()
	tr := &Direct{Card: c}
	if _, err := apdu.Do(ctx, tr, apdu.Command{Ins: apdu.InsSelect, P1: 0x08, P2: 0x0C, Data: []byte{0xD0, 0x10}}); err != nil {
		t.Fatal(err)
	}
	if _, err := apdu.Do(ctx, tr, apdu.Command{Ins: apdu.InsReadBinary, Ne: 4}); !errors.Is(err, apdu.ErrSecurityStatus) {
		t.Fatalf("protected read before VERIFY: %v", err)
	}
	verify := func(pin string) error {
		_, err := apdu.Do(ctx, tr, apdu.Command{Ins: apdu.InsVerify, P2: DemoPINRef, Data: []byte(pin)})
		return err
	}
	var ae *apdu.AuthError
	if err := verify("0000"); !errors.As(err, &ae) || ae.Retries != 2 {
		t.Fatalf("wrong PIN: %v", err)
	}
	if err := verify(string(DemoPIN)); err != nil {
		t.Fatalf("right PIN: %v", err)
	}
	if c.TriesLeft() != 3 {
		t.Fatalf("tries not restored: %d", c.TriesLeft())
	}
	if _, err := apdu.Do(ctx, tr, apdu.Command{Ins: apdu.InsReadBinary, Ne: 4}); err != nil {
		t.Fatalf("protected read after VERIFY: %v", err)
	}
	c.Reset()
	if c.Verified() {
		t.Fatal("PIN still verified after a reset")
	}
	for i := 0; i < 3; i++ {
		_ = verify("9999")
	}
	if err := verify(string(DemoPIN)); !errors.Is(err, apdu.ErrAuthBlocked) {
		t.Fatalf("blocked card: %v", err)
	}
}

func TestLinkFromATR(t *testing.T) {
	vitale := []byte{0x3B, 0x75, 0x13, 0x00, 0x00, 0x47, 0x09, 0xEA, 0x90, 0x00}
	cps3 := []byte{0x3B, 0xAC, 0x00, 0x40, 0x2A, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x00, 0x03, 0x10, 0x00, 0x90, 0x00}
	cases := []struct {
		atr      []byte
		pps      bool
		protocol int
		baud     float64
	}{
		{vitale, false, 0, 9600},
		{vitale, true, 0, 38400},
		{cps3, true, 0, 9600}, // no TA1: no faster rate to negotiate
	}
	for _, c := range cases {
		l, err := LinkFromATR(c.atr, c.pps)
		if err != nil {
			t.Fatal(err)
		}
		if l.Protocol != c.protocol || math.Abs(l.Baud()-c.baud) > 1 {
			t.Errorf("% X pps=%v: T=%d %.0f bd, want T=%d %.0f bd", c.atr, c.pps, l.Protocol, l.Baud(), c.protocol, c.baud)
		}
	}
	// A 256-byte READ BINARY in T=0 is 264 characters: about 330 ms at
	// 9600 bd and 82 ms at 38400 bd.
	cmd := []byte{0x00, 0xB0, 0x00, 0x00, 0x00}
	resp := make([]byte, 258)
	slow, _ := LinkFromATR(vitale, false)
	fast, _ := LinkFromATR(vitale, true)
	if n := slow.ExchangeBytes(cmd, resp); n != 264 {
		t.Errorf("READ BINARY 256: %d characters, want 264", n)
	}
	if d := slow.ExchangeTime(cmd, resp); d < 329*time.Millisecond || d > 331*time.Millisecond {
		t.Errorf("at 9600 bd: %v", d)
	}
	if d := fast.ExchangeTime(cmd, resp); d < 82*time.Millisecond || d > 83*time.Millisecond {
		t.Errorf("at 38400 bd: %v", d)
	}
	// T=1 with an IFSC of 32: a 40-byte command takes two blocks and an
	// R-block.
	t1, err := LinkFromATR([]byte{0x3B, 0x80, 0x01, 0x00}, false) // TD1 = T=1
	if err != nil || t1.Protocol != 1 {
		t.Fatalf("T=1 ATR: %+v %v", t1, err)
	}
	if n := t1.ExchangeBytes(make([]byte, 40), []byte{0x90, 0x00}); n != 40+8+4+2+4 {
		t.Errorf("T=1 exchange: %d characters", n)
	}
	for _, bad := range [][]byte{{0x3B}, {0x3B, 0xF0, 0x11}} {
		if _, err := LinkFromATR(bad, true); !errors.Is(err, ErrATR) {
			t.Errorf("LinkFromATR(% X): %v", bad, err)
		}
	}
}
