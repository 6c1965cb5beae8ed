//go:build cgo

package pcsc_test

import (
	"context"
	"testing"

	"github.com/ebfe/scard"

	"dmpkiosk/apdu"
	"dmpkiosk/apdu/pcsc"
	"dmpkiosk/hwtest"
	"dmpkiosk/hwtest/cards"
)

// BenchmarkTransmit compares one APDU round trip through this stack
// (apdu.Do over pcsc.Card) with the same APDU through a raw
// scard.Card.Transmit, both to the same zero-delay virtual card behind real
// pcscd, one after the other.
func BenchmarkTransmit(b *testing.B) {
	d := hwtest.StartPCSCD(b)
	ctx := context.Background()
	in, err := cards.Insert(ctx, hwtest.SlotAddr(0), cards.DemoCard())
	if err != nil {
		b.Fatal(err)
	}
	defer in.Remove()
	if err := d.WaitCard(ctx, 0, true); err != nil {
		b.Fatal(err)
	}
	cmd := apdu.Command{Ins: apdu.InsSelect, P1: 0x00, P2: 0x0C, Data: []byte{0x3F, 0x00}}
	raw, _ := cmd.AppendTo(nil)

	b.Run("stack", func(b *testing.B) {
		pc, err := pcsc.Establish()
		if err != nil {
			b.Fatal(err)
		}
		defer pc.Release()
		k, err := pc.Connect(ctx, hwtest.Reader(0))
		if err != nil {
			b.Fatal(err)
		}
		defer k.Close()
		for b.Loop() {
			if _, err := apdu.Do(ctx, k, cmd); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("floor", func(b *testing.B) {
		sc, err := scard.EstablishContext()
		if err != nil {
			b.Fatal(err)
		}
		defer sc.Release()
		k, err := sc.Connect(hwtest.Reader(0), scard.ShareExclusive, scard.ProtocolAny)
		if err != nil {
			b.Fatal(err)
		}
		defer k.Disconnect(scard.LeaveCard)
		for b.Loop() {
			if _, err := k.Transmit(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCardReady measures, for each slot, the time from a card entering
// the reader to the kiosk holding a connection to it (the monitor saw the
// ATR and Connect returned). pcscd notices a card at its next presence poll
// (every 400 ms), which dominates.
func BenchmarkCardReady(b *testing.B) {
	hwtest.StartPCSCD(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan pcsc.Event, 16)
	m := pcsc.NewMonitor(pcsc.MonitorOptions{Readers: []string{hwtest.Reader(0), hwtest.Reader(1)}})
	go func() { _ = m.Run(ctx, events) }()
	pc, err := pcsc.Establish()
	if err != nil {
		b.Fatal(err)
	}
	defer pc.Release()
	wait := func(kind pcsc.EventKind, slot int) {
		for e := range events {
			if e.Kind == kind && e.Slot == slot {
				return
			}
		}
	}
	for slot := 0; slot < hwtest.Slots; slot++ {
		b.Run("slot"+string(rune('0'+slot)), func(b *testing.B) {
			for b.Loop() {
				in, err := cards.Insert(ctx, hwtest.SlotAddr(slot), cards.DemoCard())
				if err != nil {
					b.Fatal(err)
				}
				wait(pcsc.CardInserted, slot)
				k, err := pc.Connect(ctx, hwtest.Reader(slot))
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				_ = k.Close()
				in.Remove()
				wait(pcsc.CardRemoved, slot)
				b.StartTimer()
			}
		})
	}
}
