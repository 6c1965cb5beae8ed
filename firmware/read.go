package firmware

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"dmpkiosk/apdu"
	"dmpkiosk/apdu/cps"
	"dmpkiosk/apdu/pcsc"
	"dmpkiosk/apdu/vitale"
)

// Card kinds as the kiosk names them (the contract of kiosk read).
const (
	KindVitale2 = "vitale2"
	KindVitale1 = "vitale1"
	KindCPS2ter = "cps2ter"
	KindCPS3    = "cps3"
	KindCPS4    = "cps4"
	KindUnknown = "unknown"
	KindEmpty   = "empty"
)

// Classify names a card from its ATR.
func Classify(atr []byte) string {
	switch vitale.Recognize(atr) {
	case vitale.Vitale2:
		return KindVitale2
	case vitale.Vitale1:
		return KindVitale1
	}
	switch cps.Recognize(atr) {
	case cps.CPS2ter:
		return KindCPS2ter
	case cps.CPS3, cps.CPS3Contactless:
		return KindCPS3
	case cps.CPS4:
		return KindCPS4
	}
	return KindUnknown
}

// SlotRead is what was read in one slot.
type SlotRead struct {
	Reader string       `json:"reader"`
	ATR    string       `json:"atr,omitempty"`
	Card   string       `json:"card"`
	Vitale *vitale.Card `json:"vitale,omitempty"`
	CPS    *cps.Info    `json:"cps,omitempty"`
	Error  string       `json:"error,omitempty"` // plain French, for the screen
}

// ErrUnknownCard is a card neither Vitale nor CPS-family.
var ErrUnknownCard = errors.New("carte non reconnue")

// ReadSlots reads, concurrently, whatever is in the given readers: the
// Vitale card's beneficiaries or the professional card's holder (no PIN).
// A slot whose read failed carries the reason in Error; err is for PC/SC
// itself failing. Each slot is read on a PC/SC context of its own: the
// pcsc-lite client serialises the calls made on one context, which would
// make the two reads take turns.
func ReadSlots(ctx context.Context, pc *pcsc.Context, readers []string) ([]SlotRead, error) {
	sts, err := pc.Status(readers)
	if err != nil {
		return nil, err
	}
	out := make([]SlotRead, len(sts))
	var wg sync.WaitGroup
	for i, st := range sts {
		out[i] = SlotRead{Reader: st.Reader, Card: KindEmpty}
		if !st.Present {
			continue
		}
		if st.Mute {
			out[i].Card, out[i].Error = KindUnknown, "carte muette : vérifiez son sens d'insertion"
			continue
		}
		out[i].ATR = fmt.Sprintf("%X", st.ATR)
		out[i].Card = Classify(st.ATR)
		wg.Add(1)
		go func(s *SlotRead) {
			defer wg.Done()
			if err := readSlot(ctx, s); err != nil {
				s.Error = Message(err)
			}
		}(&out[i])
	}
	wg.Wait()
	return out, nil
}

func readSlot(ctx context.Context, s *SlotRead) error {
	if err := kindError(s.Card); err != nil {
		return err
	}
	c, err := PCSC{}.Open(ctx, s.Reader)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.(*pcscCard).Transaction(ctx, func(ctx context.Context) error {
		r, err := ReadCard(ctx, c, s.Card)
		s.Vitale, s.CPS = r.Vitale, r.Info
		return err
	})
}

// screenErrors are the errors whose own message is the French sentence the
// screen shows (without what they wrap, which may be technical).
var screenErrors = []error{
	vitale.ErrVitale1, vitale.ErrNotVitale, vitale.ErrMalformed,
	cps.ErrCPS2ter, cps.ErrCPS4, cps.ErrNotCPS, cps.ErrMalformed, cps.ErrBlocked, cps.ErrPINFormat, cps.ErrPINUndeclared, cps.ErrNeedPIN,
	ErrUnknownCard,
}

// Message is the plain French sentence the screen shows for a card error.
func Message(err error) string {
	for _, e := range screenErrors {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	switch {
	case errors.Is(err, pcsc.ErrCardRemoved):
		return "carte retirée pendant la lecture : réinsérez-la"
	case errors.Is(err, pcsc.ErrCardReset):
		return "la carte a été réinitialisée : réinsérez-la"
	case errors.Is(err, pcsc.ErrNoReader):
		return "lecteur de cartes débranché : rebranchez son câble USB ; sinon, prévenez le service informatique"
	case errors.Is(err, pcsc.ErrServiceStopped):
		return "service des lecteurs de cartes arrêté : redémarrez la borne"
	case errors.Is(err, apdu.ErrWrongPIN):
		var ae *apdu.AuthError
		if errors.As(err, &ae) && ae.Retries > 0 {
			return fmt.Sprintf("code faux : %d essai(s) restant(s)", ae.Retries)
		}
		return "code faux"
	case errors.Is(err, apdu.ErrResponse), errors.Is(err, apdu.ErrTLV):
		return "la carte a répondu de façon illisible : réinsérez-la"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "lecture interrompue : retirez la carte et réinsérez-la"
	}
	return "lecture de la carte impossible : réinsérez-la ou changez de lecteur"
}
