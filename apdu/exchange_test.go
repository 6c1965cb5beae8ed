package apdu

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// script is a Transport that checks each command against the expected one
// and gives the scripted answer: enough to pin down the exchange logic byte
// for byte. Real cards are exercised through pcscd in apdu/pcsc and hwtest.
type script struct {
	t     *testing.T
	steps []step
	n     int
}

type step struct{ cmd, resp []byte }

func (s *script) Transmit(_ context.Context, cmd []byte) ([]byte, error) {
	s.t.Helper()
	if s.n >= len(s.steps) {
		s.t.Fatalf("unexpected command % X", cmd)
	}
	st := s.steps[s.n]
	s.n++
	if !bytes.Equal(cmd, st.cmd) {
		s.t.Fatalf("command %d: % X, want % X", s.n, cmd, st.cmd)
	}
	return st.resp, nil
}

func (s *script) done() {
	s.t.Helper()
	if s.n != len(s.steps) {
		s.t.Fatalf("%d of %d commands sent", s.n, len(s.steps))
	}
}

func TestExchangeGetResponse(t *testing.T) {
	s := &script{t: t, steps: []step{
		{[]byte{0x00, 0xA4, 0x04, 0x00, 0x02, 0xD2, 0x50, 0x00}, []byte{0x61, 0x04}},
		{[]byte{0x00, 0xC0, 0x00, 0x00, 0x04}, []byte{1, 2, 3, 4, 0x61, 0x02}},
		{[]byte{0x00, 0xC0, 0x00, 0x00, 0x02}, []byte{5, 6, 0x90, 0x00}},
	}}
	data, err := Do(context.Background(), s, Command{Ins: InsSelect, P1: 0x04, Data: []byte{0xD2, 0x50}, Ne: 256})
	if err != nil || !bytes.Equal(data, []byte{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("% X %v", data, err)
	}
	s.done()
}

func TestExchangeWrongLe(t *testing.T) {
	s := &script{t: t, steps: []step{
		{[]byte{0x00, 0xB0, 0x00, 0x00, 0x00}, []byte{0x6C, 0x03}},
		{[]byte{0x00, 0xB0, 0x00, 0x00, 0x03}, []byte{7, 8, 9, 0x90, 0x00}},
	}}
	data, err := Do(context.Background(), s, Command{Ins: InsReadBinary, Ne: 256})
	if err != nil || !bytes.Equal(data, []byte{7, 8, 9}) {
		t.Fatalf("% X %v", data, err)
	}
	s.done()
}

func TestExchangeCPS2ter(t *testing.T) {
	// CPS2ter: class A0, the card signals pending data with 9F xx.
	s := &script{t: t, steps: []step{
		{[]byte{0xA0, 0xA4, 0x00, 0x00, 0x02, 0x3F, 0x00}, []byte{0x9F, 0x02}},
		{[]byte{0xA0, 0xC0, 0x00, 0x00, 0x02}, []byte{0xAA, 0xBB, 0x90, 0x00}},
		{[]byte{0xA0, 0x20, 0x00, 0x00, 0x02, 0x31, 0x32}, []byte{0x98, 0x04}},
	}}
	data, err := Do(context.Background(), s, Command{Cla: 0xA0, Ins: InsSelect, Data: []byte{0x3F, 0x00}})
	if err != nil || !bytes.Equal(data, []byte{0xAA, 0xBB}) {
		t.Fatalf("% X %v", data, err)
	}
	_, err = Do(context.Background(), s, Command{Cla: 0xA0, Ins: InsVerify, Data: []byte("12")})
	var ae *AuthError
	if !errors.As(err, &ae) || ae.Retries != -1 || !errors.Is(err, ErrWrongPIN) {
		t.Fatalf("CPS2ter wrong PIN: %v", err)
	}
	s.done()
}

func TestExchangeChaining(t *testing.T) {
	data := make([]byte, 600)
	for i := range data {
		data[i] = byte(i)
	}
	part := func(cla byte, d []byte) []byte {
		return append([]byte{cla, 0x2A, 0x9E, 0x9A, byte(len(d))}, d...)
	}
	s := &script{t: t, steps: []step{
		{part(0x10, data[:255]), []byte{0x90, 0x00}},
		{part(0x10, data[255:510]), []byte{0x90, 0x00}},
		{append(part(0x00, data[510:]), 0x00), []byte{0xCA, 0xFE, 0x90, 0x00}},
	}}
	out, err := Do(context.Background(), s, Command{Ins: InsPSO, P1: 0x9E, P2: 0x9A, Data: data, Ne: 256})
	if err != nil || !bytes.Equal(out, []byte{0xCA, 0xFE}) {
		t.Fatalf("% X %v", out, err)
	}
	s.done()
	// A refused link of the chain stops it with that status.
	s = &script{t: t, steps: []step{{part(0x10, data[:255]), []byte{0x68, 0x83}}}}
	if _, err := Do(context.Background(), s, Command{Ins: InsPSO, P1: 0x9E, P2: 0x9A, Data: data}); err == nil {
		t.Fatal("a refused chain succeeded")
	}
	s.done()
}

func TestExchangeBadAnswers(t *testing.T) {
	// A truncated answer is a typed error.
	s := &script{t: t, steps: []step{{[]byte{0x00, 0xB0, 0x00, 0x00, 0x00}, []byte{0x90}}}}
	if _, err := Do(context.Background(), s, Command{Ins: InsReadBinary, Ne: 256}); !errors.Is(err, ErrResponse) {
		t.Fatalf("truncated response: %v", err)
	}
	// A card that answers 61 xx forever is cut off.
	forever := &loop{resp: []byte{0x61, 0x01}}
	if _, err := Do(context.Background(), forever, Command{Ins: InsReadBinary, Ne: 1}); !errors.Is(err, ErrResponse) {
		t.Fatalf("endless 61xx: %v", err)
	}
	if forever.n > maxGetResponse+1 {
		t.Fatalf("%d commands sent to an endless card", forever.n)
	}
	// A card answering more than the 256 bytes asked for is refused.
	s = &script{t: t, steps: []step{{[]byte{0x00, 0xB0, 0x00, 0x00, 0x00}, append(make([]byte, 300), 0x90, 0x00)}}}
	if _, err := ReadFile(context.Background(), s, 0x00, 4096); !errors.Is(err, ErrResponse) {
		t.Fatalf("oversized response: %v", err)
	}
	// A card whose file never ends is cut off at the limit.
	endless := &loop{resp: append(make([]byte, 256), 0x90, 0x00)}
	if _, err := ReadFile(context.Background(), endless, 0x00, 1024); err == nil || endless.n > 5 {
		t.Fatalf("endless file: %v after %d reads", err, endless.n)
	}
	// An unknown status word is kept.
	s = &script{t: t, steps: []step{{[]byte{0x00, 0xB0, 0x00, 0x00, 0x00}, []byte{0x6F, 0x42}}}}
	var ue *UnknownStatusError
	if _, err := Do(context.Background(), s, Command{Ins: InsReadBinary, Ne: 256}); !errors.As(err, &ue) || ue.SW != 0x6F42 {
		t.Fatalf("unknown status: %v", err)
	}
}

type loop struct {
	resp []byte
	n    int
}

func (l *loop) Transmit(context.Context, []byte) ([]byte, error) { l.n++; return l.resp, nil }

func TestTracerRedacts(t *testing.T) {
	secret := []byte("DUPONT JEAN 1610275754289")
	card := &loop{resp: append(append([]byte{}, secret...), 0x90, 0x00)}
	var recs []Record
	var logged bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logged, nil))
	tr := &Tracer{Next: card, OnRecord: func(r Record) { recs = append(recs, r); log.Info("apdu", "apdu", r) }}
	if _, err := Do(context.Background(), tr, Command{Ins: InsReadBinary, Ne: 256}); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Ins != 0xB0 || recs[0].SW != SWOK || recs[0].RespBytes != len(secret)+2 || recs[0].CmdBytes != 5 {
		t.Fatalf("records %+v", recs)
	}
	if recs[0].RespData != nil || recs[0].CmdData != nil {
		t.Fatal("data kept without Reveal")
	}
	if out := logged.String(); strings.Contains(out, "DUPONT") || strings.Contains(out, "1610275754289") || !strings.Contains(out, `"sw":"9000"`) {
		t.Fatalf("log line %s", out)
	}
	tr.Reveal = true
	if _, err := Do(context.Background(), tr, Command{Ins: InsReadBinary, Ne: 256}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(recs[1].RespData, secret) {
		t.Fatal("Reveal did not keep the data")
	}
}
