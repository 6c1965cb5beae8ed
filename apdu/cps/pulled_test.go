package cps_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"dmpkiosk/apdu/cps"
	"dmpkiosk/apdu/pcsc"
	"dmpkiosk/hwtest"
	"dmpkiosk/hwtest/cards"
)

// The professional's card pulled out at each APDU of each operation —
// reading it, verifying the PIN, signing — through real pcscd and vpcd:
// each ends in pcsc.ErrCardRemoved, with nothing returned, never a hang
// or a half result.
func TestPulledOutAtEveryAPDUThroughPCSCD(t *testing.T) {
	d := hwtest.StartPCSCD(t)
	p := profile(t, "cps-medecin")
	digest := sha256.Sum256([]byte("event"))
	steps := []struct {
		name string
		run  func(ctx context.Context, c *cps.Card) error
	}{
		{"read", func(ctx context.Context, c *cps.Card) error {
			info, err := c.ReadInfo(ctx)
			if err == nil && info == nil {
				return errors.New("no info and no error")
			}
			return err
		}},
		{"PIN", func(ctx context.Context, c *cps.Card) error { return c.Verify(ctx, []byte(p.PIN)) }},
		{"signature", func(ctx context.Context, c *cps.Card) error {
			s, err := c.Signer(ctx)
			if err != nil {
				return err
			}
			sig, err := s.Sign(rand.Reader, digest[:], crypto.SHA256)
			if err == nil && len(sig) == 0 {
				return errors.New("no signature and no error")
			}
			return err
		}},
	}
	// open inserts a fresh card and runs the steps before step i.
	open := func(i int) (*cps.Card, *cards.Inserted, func()) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		vc, err := testCA(t).CPSCard(p)
		if err != nil {
			t.Fatal(err)
		}
		in, err := cards.Insert(ctx, hwtest.SlotAddr(0), vc)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.WaitCard(ctx, 0, true); err != nil {
			t.Fatal(err)
		}
		pc, err := pcsc.Establish()
		if err != nil {
			t.Fatal(err)
		}
		k, err := pc.Connect(ctx, hwtest.Reader(0))
		if err != nil {
			t.Fatal(err)
		}
		c, err := cps.Open(k, k.ATR())
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range steps[:i] {
			if err := s.run(ctx, c); err != nil {
				t.Fatalf("before %s: %s: %v", steps[i].name, s.name, err)
			}
		}
		return c, in, func() {
			k.Close()
			pc.Release()
			in.Remove()
			d.WaitCard(ctx, 0, false)
			cancel()
		}
	}
	for i, step := range steps {
		// How many APDUs the step sends on a card left in place.
		c, in, done := open(i)
		from := in.Seen()
		if err := step.run(context.Background(), c); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		n := in.Seen() - from
		done()
		if n == 0 {
			t.Fatalf("%s sent no APDU", step.name)
		}
		for k := 1; k <= n; k++ {
			c, in, done := open(i)
			in.PullAt(in.Seen() + k)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			err := step.run(ctx, c)
			cancel()
			done()
			if !errors.Is(err, pcsc.ErrCardRemoved) {
				t.Fatalf("%s, pulled out at APDU %d of %d: %v, want the card removed", step.name, k, n, err)
			}
		}
		t.Logf("%s: pulled out at each of its %d APDUs", step.name, n)
	}
}
