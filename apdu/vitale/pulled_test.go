package vitale_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"dmpkiosk/apdu/pcsc"
	"dmpkiosk/apdu/vitale"
	"dmpkiosk/hwtest"
	"dmpkiosk/hwtest/cards"
)

// The carte Vitale pulled out at each APDU of its read, through real
// pcscd and vpcd: pcsc.ErrCardRemoved and no card, never a half read.
func TestPulledOutAtEveryAPDUThroughPCSCD(t *testing.T) {
	d := hwtest.StartPCSCD(t)
	p := profile(t, "vitale-famille")
	read := func(pullAt int) (*vitale.Card, int, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		in, err := cards.Insert(ctx, hwtest.SlotAddr(1), cards.VitaleCard(p))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { in.Remove(); d.WaitCard(ctx, 1, false) }()
		if err := d.WaitCard(ctx, 1, true); err != nil {
			t.Fatal(err)
		}
		pc, err := pcsc.Establish()
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Release()
		k, err := pc.Connect(ctx, hwtest.Reader(1))
		if err != nil {
			t.Fatal(err)
		}
		defer k.Close()
		in.PullAt(pullAt)
		c, err := vitale.APDUReader{T: k}.ReadVitale(ctx)
		return c, in.Seen(), err
	}
	c, n, err := read(0)
	if err != nil || c == nil || n == 0 {
		t.Fatalf("read in place: %v (%d APDUs)", err, n)
	}
	for k := 1; k <= n; k++ {
		if c, _, err := read(k); !errors.Is(err, pcsc.ErrCardRemoved) || c != nil {
			t.Fatalf("pulled out at APDU %d of %d: %v, %v", k, n, c, err)
		}
	}
	t.Logf("pulled out at each of its %d APDUs", n)
}
