package firmware

import (
	"context"
	"time"

	"dmpkiosk/apdu"
	"dmpkiosk/apdu/cps"
	"dmpkiosk/apdu/pcsc"
	"dmpkiosk/apdu/vitale"
	"dmpkiosk/firmware/event"
)

// What the firmware needs of the world, declared here so that the session
// runs as well over in-memory virtual cards and a stand-in link as over
// pcscd and the broker.

// Card is the connection to the card in one reader.
type Card interface {
	apdu.Transport
	ATR() []byte
	// PINPad is the reader's own PIN pad, nil when it has none.
	PINPad() cps.PINPad
	Close() error
}

// Readers opens the card in a named reader.
type Readers interface {
	Open(ctx context.Context, reader string) (Card, error)
}

// Uplink is the link to the bridge as the session uses it.
type Uplink interface {
	Online() bool
	// Kick has the link send what the outbox holds now.
	Kick()
	Results() <-chan event.Result
	// Ask sends the sealed INSi lookup request id, sent again when a
	// bridge comes back before its answer, until then; the answers come on
	// Lookups (encrypted to the request's key).
	Ask(id, sealed string, until time.Time) error
	Lookups() <-chan event.Sealed
	// AskDMP sends a sealed consultation of the patient's DMP (the
	// bedside tablet's); its answers come on Lookups too.
	AskDMP(sealed string) error
}

// PCSC opens cards through pcscd, each on a PC/SC context of its own: the
// pcsc-lite client serialises the calls made on one context, which would
// make the two slots' reads take turns.
type PCSC struct{}

// Open implements Readers.
func (PCSC) Open(ctx context.Context, reader string) (Card, error) {
	pc, err := pcsc.Establish()
	if err != nil {
		return nil, err
	}
	k, err := pc.Connect(ctx, reader)
	if err != nil {
		pc.Release()
		return nil, err
	}
	return &pcscCard{Card: k, pc: pc}, nil
}

type pcscCard struct {
	*pcsc.Card
	pc *pcsc.Context
}

// PINPad is the reader's secure PIN entry (PC/SC part 10), if it has one.
func (c *pcscCard) PINPad() cps.PINPad {
	if c.Card.PINPad() {
		return readerPad{c.Card}
	}
	return nil
}

func (c *pcscCard) Close() error {
	err := c.Card.Close()
	_ = c.pc.Release()
	return err
}

// readerPad adapts a PC/SC reader's secure PIN entry to cps.PINPad.
type readerPad struct{ k *pcsc.Card }

func (p readerPad) VerifyOnPad(ctx context.Context, tmpl []byte, offset, size, minDigits, maxDigits int) ([]byte, error) {
	return p.k.VerifyPINDirect(ctx, pcsc.PINVerify{APDU: tmpl, ASCII: true, BlockSize: size, Offset: offset,
		MinDigits: minDigits, MaxDigits: maxDigits, TimeoutSecs: 60, LangID: 0x040C})
}

// CardRead is what the kiosk reads of a card without a PIN.
type CardRead struct {
	Vitale *vitale.Card
	CPS    *cps.Card // kept for the PIN and the signature
	Info   *cps.Info
}

// kindError is the refusal of a card the kiosk does not read, before it is
// even opened.
func kindError(kind string) error {
	switch kind {
	case KindVitale1:
		return vitale.ErrVitale1
	case KindCPS2ter:
		return cps.ErrCPS2ter
	case KindCPS4:
		return cps.ErrCPS4
	case KindUnknown:
		return ErrUnknownCard
	}
	return nil
}

// ReadCard reads a card the way both the session and kiosk read do: a
// Vitale card's beneficiaries, or a professional card's holder.
func ReadCard(ctx context.Context, c Card, kind string) (CardRead, error) {
	if err := kindError(kind); err != nil {
		return CardRead{}, err
	}
	if kind == KindVitale2 {
		v, err := vitale.APDUReader{T: c}.ReadVitale(ctx)
		return CardRead{Vitale: v}, err
	}
	k, err := cps.Open(c, c.ATR())
	if err != nil {
		return CardRead{}, err
	}
	info, err := k.ReadInfo(ctx)
	return CardRead{CPS: k, Info: info}, err
}
