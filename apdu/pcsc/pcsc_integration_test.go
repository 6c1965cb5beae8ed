//go:build cgo

package pcsc_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"dmpkiosk/apdu"
	"dmpkiosk/apdu/pcsc"
	"dmpkiosk/hwtest"
	"dmpkiosk/hwtest/cards"
)

func startMonitor(t *testing.T, ctx context.Context) <-chan pcsc.Event {
	t.Helper()
	events := make(chan pcsc.Event, 32)
	m := pcsc.NewMonitor(pcsc.MonitorOptions{
		Readers:    []string{hwtest.Reader(0), hwtest.Reader(1)},
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
	})
	done := make(chan struct{})
	go func() { _ = m.Run(ctx, events); close(done) }()
	t.Cleanup(func() {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("monitor did not stop")
		}
	})
	return events
}

// next waits for an event of the given kind in the given slot, skipping the
// others.
func next(t *testing.T, events <-chan pcsc.Event, kind pcsc.EventKind, slot int) pcsc.Event {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case e := <-events:
			if e.Kind == kind && e.Slot == slot {
				return e
			}
		case <-deadline:
			t.Fatalf("no %v in slot %d", kind, slot)
		}
	}
}

func TestMonitorRealPCSCD(t *testing.T) {
	d := hwtest.StartPCSCD(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := startMonitor(t, ctx)
	next(t, events, pcsc.ReaderAdded, 0)
	next(t, events, pcsc.ReaderAdded, 1)

	// Either card in either slot: each insertion reports its own ATR.
	atrs := [2][]byte{{0x3B, 0x02, 0x14, 0x50}, cards.DemoATR}
	var in [2]*cards.Inserted
	for slot := 1; slot >= 0; slot-- {
		var err error
		in[slot], err = cards.Insert(ctx, hwtest.SlotAddr(slot), &cards.FuncCard{Answer: atrs[slot]})
		if err != nil {
			t.Fatal(err)
		}
		if e := next(t, events, pcsc.CardInserted, slot); !bytes.Equal(e.ATR, atrs[slot]) || e.Reader != hwtest.Reader(slot) {
			t.Fatalf("slot %d: %v", slot, e)
		}
	}
	in[1].Remove()
	next(t, events, pcsc.CardRemoved, 1)
	in[1], _ = cards.Insert(ctx, hwtest.SlotAddr(1), &cards.FuncCard{Answer: atrs[1]})
	next(t, events, pcsc.CardInserted, 1)

	// pcscd killed: every card and reader is reported gone; restarted: the
	// monitor comes back by itself and sees the readers and new cards.
	d.Kill()
	all(t, events, [2]int{int(pcsc.CardRemoved), 0}, [2]int{int(pcsc.CardRemoved), 1},
		[2]int{int(pcsc.ReaderRemoved), 0}, [2]int{int(pcsc.ReaderRemoved), 1})
	in[0].Remove()
	in[1].Remove()
	d.Start()
	all(t, events, [2]int{int(pcsc.ReaderAdded), 0}, [2]int{int(pcsc.ReaderAdded), 1})
	in[0], _ = cards.Insert(ctx, hwtest.SlotAddr(0), cards.DemoCard())
	defer in[0].Remove()
	if e := next(t, events, pcsc.CardInserted, 0); !bytes.Equal(e.ATR, cards.DemoATR) {
		t.Fatalf("after restart: %v", e)
	}
	t.Logf("monitor: insert, remove and a pcscd restart seen on both slots")
}

// all waits for every (kind, slot) pair, in any order.
func all(t *testing.T, events <-chan pcsc.Event, want ...[2]int) {
	t.Helper()
	missing := map[[2]int]bool{}
	for _, w := range want {
		missing[w] = true
	}
	deadline := time.After(15 * time.Second)
	for len(missing) > 0 {
		select {
		case e := <-events:
			delete(missing, [2]int{int(e.Kind), e.Slot})
		case <-deadline:
			t.Fatalf("events not seen (kind, slot): %v", missing)
		}
	}
}

func connect(t *testing.T, d *hwtest.PCSCD, slot int, card cards.Card) (*pcsc.Context, *pcsc.Card, *cards.Inserted) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	in, err := cards.Insert(ctx, hwtest.SlotAddr(slot), card)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.WaitCard(ctx, slot, true); err != nil {
		t.Fatal(err)
	}
	pc, err := pcsc.Establish()
	if err != nil {
		t.Fatal(err)
	}
	k, err := pc.Connect(ctx, hwtest.Reader(slot))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Close(); _ = pc.Release(); in.Remove() })
	return pc, k, in
}

func TestCardPulledOut(t *testing.T) {
	d := hwtest.StartPCSCD(t)
	ctx := context.Background()

	// Between two APDUs of a read sequence.
	_, k, in := connect(t, d, 0, cards.DemoCard())
	sel := apdu.Command{Ins: apdu.InsSelect, P1: 0x04, P2: 0x0C, Data: cards.DemoAID}
	if _, err := apdu.Do(ctx, k, sel); err != nil {
		t.Fatal(err)
	}
	in.Remove()
	if err := d.WaitCard(ctx, 0, false); err != nil {
		t.Fatal(err)
	}
	if _, err := apdu.Do(ctx, k, apdu.Command{Ins: apdu.InsReadBinary, Ne: 256}); !errors.Is(err, pcsc.ErrCardRemoved) {
		t.Fatalf("between APDUs: %v, want ErrCardRemoved", err)
	}

	// During one: the card takes the command and leaves before answering.
	got := make(chan struct{})
	slow := &cards.FuncCard{Answer: cards.DemoATR, OnAPDU: func([]byte) []byte {
		close(got)
		time.Sleep(time.Second) // never answered: the card is gone by then
		return []byte{0x90, 0x00}
	}}
	_, k2, in2 := connect(t, d, 1, slow)
	errc := make(chan error, 1)
	go func() { _, err := k2.Transmit(ctx, []byte{0x00, 0xB0, 0x00, 0x00, 0x10}); errc <- err }()
	<-got
	in2.Remove()
	select {
	case err := <-errc:
		if !errors.Is(err, pcsc.ErrCardRemoved) {
			t.Fatalf("during an APDU: %v, want ErrCardRemoved", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("transmit hung after the card was pulled out")
	}
}

func TestCardResetByAnotherParty(t *testing.T) {
	d := hwtest.StartPCSCD(t)
	ctx := context.Background()
	in, err := cards.Insert(ctx, hwtest.SlotAddr(0), cards.DemoCard())
	if err != nil {
		t.Fatal(err)
	}
	defer in.Remove()
	if err := d.WaitCard(ctx, 0, true); err != nil {
		t.Fatal(err)
	}
	pc, err := pcsc.Establish()
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Release()
	a, err := pc.ConnectShared(ctx, hwtest.Reader(0))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := pc.ConnectShared(ctx, hwtest.Reader(0))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	sel := apdu.Command{Ins: apdu.InsSelect, P1: 0x04, P2: 0x0C, Data: cards.DemoAID}
	if _, err := apdu.Do(ctx, a, sel); err != nil {
		t.Fatal(err)
	}
	if err := b.Reset(); err != nil {
		t.Fatal(err)
	}
	// a learns of the reset once, with a typed error, and is usable again.
	readSFI := apdu.Command{Ins: apdu.InsReadBinary, P1: 0x81, Ne: 16}
	if _, err := apdu.Do(ctx, a, readSFI); !errors.Is(err, pcsc.ErrCardReset) {
		t.Fatalf("after a reset by another party: %v, want ErrCardReset", err)
	}
	err = a.Transaction(ctx, func(ctx context.Context) error {
		if _, err := apdu.Do(ctx, a, sel); err != nil {
			return err
		}
		_, err := apdu.Do(ctx, a, readSFI)
		return err
	})
	if err != nil {
		t.Fatalf("sequence restarted after the reset: %v", err)
	}
}

func TestServiceStopped(t *testing.T) {
	d := hwtest.StartPCSCD(t)
	_, k, _ := connect(t, d, 0, cards.DemoCard())
	d.Stop()
	if _, err := k.Transmit(context.Background(), []byte{0x00, 0xB0, 0x00, 0x00, 0x01}); !errors.Is(err, pcsc.ErrServiceStopped) {
		t.Fatalf("transmit with pcscd stopped: %v, want ErrServiceStopped", err)
	}
	if _, err := pcsc.Establish(); !errors.Is(err, pcsc.ErrServiceStopped) {
		t.Fatalf("establish with pcscd stopped: %v, want ErrServiceStopped", err)
	}
	d.Start()
}

// vpcd's reader has no PIN pad: the kiosk sees it and uses its keypad.
func TestVirtualReaderHasNoPINPad(t *testing.T) {
	d := hwtest.StartPCSCD(t)
	_, k, _ := connect(t, d, 0, cards.DemoCard())
	if k.PINPad() {
		t.Fatal("vpcd reported a PIN pad")
	}
	if _, err := k.VerifyPINDirect(context.Background(), pcsc.PINVerify{APDU: []byte{0, 0x20, 0, 1}}); err == nil {
		t.Fatal("secure PIN entry on a reader without a pad")
	}
}
