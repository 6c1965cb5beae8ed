package firmware

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"dmpkiosk/apdu"
	"dmpkiosk/apdu/cps"
	"dmpkiosk/apdu/pcsc"
	"dmpkiosk/apdu/vitale"
	"dmpkiosk/hwtest/cards"
)

func TestClassify(t *testing.T) {
	cases := map[string][]byte{
		KindVitale2: cards.VitaleATR,
		KindVitale1: cards.Vitale1ATR,
		KindCPS3:    cards.CPS3ATR,
		KindCPS2ter: cards.CPS2terATR,
		KindCPS4:    {0x3B, 0x9B, 0x18, 0x80, 0x01, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x04, 0x01, 0x00, 0x00, 0x90, 0x44},
		KindUnknown: cards.DemoATR,
	}
	for want, atr := range cases {
		if got := Classify(atr); got != want {
			t.Errorf("% X: %s, want %s", atr, got, want)
		}
	}
}

func TestMessage(t *testing.T) {
	wrongPIN := apdu.StatusWord(0x63C1).Err()
	cases := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("pcsc: transmit: %w", pcsc.ErrCardRemoved), "carte retirée"},
		{fmt.Errorf("x: %w", wrongPIN), "1 essai(s) restant(s)"},
		{fmt.Errorf("%w (x)", cps.ErrBlocked), "carte bloquée"},
		{vitale.ErrVitale1, "Vitale 1"},
		// Malformed data: the screen gets the French sentence, not the
		// technical detail wrapped under it.
		{fmt.Errorf("%w : %w", vitale.ErrMalformed, fmt.Errorf("%w: tag 65 claims 9 bytes", apdu.ErrTLV)), "illisibles"},
		{errors.New("something else"), "lecture de la carte impossible"},
	}
	for _, c := range cases {
		got := Message(c.err)
		if !strings.Contains(got, c.want) {
			t.Errorf("Message(%v) = %q, want it to say %q", c.err, got, c.want)
		}
		if strings.Contains(got, "tag") || strings.Contains(got, "apdu") {
			t.Errorf("Message(%v) = %q leaks technical detail", c.err, got)
		}
	}
}
