//go:build cgo

package firmware_test

import (
	"context"
	"testing"
	"time"

	"dmpkiosk/apdu"
	"dmpkiosk/apdu/cps"
	"dmpkiosk/apdu/pcsc"
	"dmpkiosk/apdu/vitale"
	"dmpkiosk/firmware"
	"dmpkiosk/hwtest"
	"dmpkiosk/hwtest/cards"
)

type benchRig struct {
	d   *hwtest.PCSCD
	ca  *cards.IGCSante
	pc  *pcsc.Context
	ctx context.Context
}

func newBenchRig(b *testing.B) *benchRig {
	b.Helper()
	d := hwtest.StartPCSCD(b)
	ca, err := cards.NewIGCSante()
	if err != nil {
		b.Fatal(err)
	}
	pc, err := pcsc.Establish()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = pc.Release() })
	return &benchRig{d: d, ca: ca, pc: pc, ctx: context.Background()}
}

// insert puts a profile, under the timing model, in a slot.
func (r *benchRig) insert(b *testing.B, slot int, profile string, pps bool) cards.Link {
	b.Helper()
	card, err := cards.Cards(r.ca)[profile]()
	if err != nil {
		b.Fatal(err)
	}
	link, err := cards.LinkFromATR(card.ATR(), pps)
	if err != nil {
		b.Fatal(err)
	}
	in, err := cards.Insert(r.ctx, hwtest.SlotAddr(slot), &cards.Timed{Card: card, Link: link})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { in.Remove(); _ = r.d.WaitCard(r.ctx, slot, false) })
	if err := r.d.WaitCard(r.ctx, slot, true); err != nil {
		b.Fatal(err)
	}
	return link
}

// readOnce runs one card application read over t.
func readOnce(ctx context.Context, t apdu.Transport, atr []byte, profile string) error {
	if vitale.Recognize(atr) == vitale.Vitale2 {
		_, err := vitale.APDUReader{T: t}.ReadVitale(ctx)
		return err
	}
	c, err := cps.Open(t, atr)
	if err != nil {
		return err
	}
	_, err = c.ReadInfo(ctx)
	return err
}

// BenchmarkCardRead reads a family Vitale card and a CPS through real pcscd
// with the card-timing model, at 9600 bd and after a PPS, and reports the
// APDUs, the characters on the wire and the byte-transfer floor of the same
// APDU sequence (floor-ns/op): the time the wire alone needs.
func BenchmarkCardRead(b *testing.B) {
	r := newBenchRig(b)
	for _, profile := range []string{"vitale-famille", "cps-medecin"} {
		for _, rate := range []struct {
			name string
			pps  bool
		}{{"9600bd", false}, {"pps", true}} {
			b.Run(profile+"/"+rate.name, func(b *testing.B) {
				link := r.insert(b, 0, profile, rate.pps)
				k, err := r.pc.Connect(r.ctx, hwtest.Reader(0))
				if err != nil {
					b.Fatal(err)
				}
				defer k.Close()
				// One traced read gives the APDU sequence and its floor;
				// the data are revealed to the tracer for a test card only.
				var apdus, chars int
				var floor time.Duration
				tr := &apdu.Tracer{Next: k, Reveal: true, OnRecord: func(rec apdu.Record) {
					apdus++
					chars += link.ExchangeBytes(rec.CmdData, rec.RespData)
					floor += link.ExchangeTime(rec.CmdData, rec.RespData)
				}}
				if err := readOnce(r.ctx, tr, k.ATR(), profile); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				for b.Loop() {
					if err := readOnce(r.ctx, k, k.ATR(), profile); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(apdus), "apdus/op")
				b.ReportMetric(float64(chars), "wire-bytes/op")
				b.ReportMetric(link.Baud(), "baud")
				b.ReportMetric(float64(floor.Nanoseconds()), "floor-ns/op")
			})
		}
	}
}

// BenchmarkBothSlots reads a family Vitale card and a CPS at 9600 bd,
// both slots at once (concurrent) and one after the other (sequential); the
// floor of each is the slower card read alone, measured first.
func BenchmarkBothSlots(b *testing.B) {
	r := newBenchRig(b)
	r.insert(b, 0, "vitale-famille", false)
	r.insert(b, 1, "cps-medecin", false)
	readers := []string{hwtest.Reader(0), hwtest.Reader(1)}
	read := func(b *testing.B, rs []string) {
		slots, err := firmware.ReadSlots(r.ctx, r.pc, rs)
		if err != nil {
			b.Fatal(err)
		}
		for _, s := range slots {
			if s.Error != "" || s.Card == firmware.KindEmpty {
				b.Fatalf("%s: %q %s", s.Reader, s.Card, s.Error)
			}
		}
	}
	var slower time.Duration
	for _, rd := range readers {
		start := time.Now()
		read(b, []string{rd})
		slower = max(slower, time.Since(start))
	}
	b.Run("concurrent", func(b *testing.B) {
		for b.Loop() {
			read(b, readers)
		}
		b.ReportMetric(float64(slower.Nanoseconds()), "floor-ns/op")
	})
	b.Run("sequential", func(b *testing.B) {
		for b.Loop() {
			read(b, readers[:1])
			read(b, readers[1:])
		}
		b.ReportMetric(float64(slower.Nanoseconds()), "floor-ns/op")
	})
}
