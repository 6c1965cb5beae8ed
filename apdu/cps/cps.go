package cps

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"dmpkiosk/apdu"
	"dmpkiosk/apdu/pkcs15"
)

// Kind is the card model an ATR names.
type Kind int

// Card models.
const (
	NotCPS Kind = iota
	CPS2ter
	CPS3
	CPS3Contactless
	CPS4
)

func (k Kind) String() string {
	return [...]string{"unknown", "cps2ter", "cps3", "cps3", "cps4"}[k]
}

var atrs = []struct {
	p    apdu.ATRPattern
	kind Kind
}{
	{apdu.MustATRPattern("3B AC 00 40 2A 00 12 25 00 64 80 00 03 10 00 90 00"), CPS3},
	{apdu.MustATRPattern("3B AC 00 40 2A 00 12 25 00 64 80 82 02 12 00 90 00"), CPS2ter},
	{apdu.MustATRPattern("3B 8F 80 01 00 31 B8 64 04 B0 EC C1 73 94 01 80 82 90 00 0E"), CPS3Contactless},
	{apdu.MustATRPattern("3B 9B 18 80 01 00 12 25 00 64 80 04 01 00 00 90 44"), CPS4},
	{apdu.MustATRPattern("3B 9B 18 80 01 00 12 25 00 64 80 00 04 01 00 90 44"), CPS4}, // CPS4 RC
	{apdu.MustATRPattern("3B DC 18 FF 00 00 12 25 00 64 80 00 04 01 00 90 00"), CPS4}, // CPS4 "T=0 only"
}

// Recognize tells the CPS-family card model from its ATR.
func Recognize(atr []byte) Kind {
	for _, a := range atrs {
		if a.p.Match(atr) {
			return a.kind
		}
	}
	return NotCPS
}

// Errors a caller branches on; the messages are French, for the screen.
var (
	ErrNotCPS    = errors.New("carte professionnelle non reconnue")
	ErrCPS2ter   = errors.New("carte CPS2ter non prise en charge : demandez une CPS3")
	ErrCPS4      = errors.New("carte CPS4 non prise en charge : utilisez une carte CPS3")
	ErrMalformed = errors.New("données de la carte professionnelle illisibles")
	ErrPINFormat = errors.New("le code porteur ne respecte pas le format de la carte")
	// ErrPINUndeclared: the card does not say how its PIN is presented;
	// no PIN is sent (a wrong format counts as a wrong PIN).
	ErrPINUndeclared = errors.New("format du code porteur non déclaré par la carte : code non présenté")
	ErrNeedPIN       = errors.New("code porteur non vérifié : signature refusée")
	ErrNoSigning     = errors.New("signature impossible en mode sans contact")
	ErrBlocked       = errors.New("carte bloquée : trop de codes faux")
	ErrBadDigest     = errors.New("cps: the card signs SHA-256 digests only")
)

// Holder is the card holder's identity, as the card's signature
// certificate states it.
type Holder struct {
	CardType       string `json:"card_type"` // CPS, CPF, CPE, CDE
	NationalID     string `json:"national_id"`
	NationalIDType string `json:"national_id_type"` // RPPS, ADELI, ETABLISSEMENT
	Surname        string `json:"surname"`
	FirstName      string `json:"first_name"`
	Profession     string `json:"profession"` // TRE G15
	Speciality     string `json:"speciality"` // R01: not in the certificate, left empty
}

// Info is what the card says without a PIN.
type Info struct {
	Holder
	Serial    string `json:"serial"`
	NotBefore string `json:"-"`         // AAAAMMJJ, the certificate's
	NotAfter  string `json:"not_after"` // AAAAMMJJ, the certificate's
}

// Expired reports whether the card's validity ended before day (AAAAMMJJ).
func (i *Info) Expired(day string) bool { return i.NotAfter < day }

// Card is one CPS-family card for the time it stays inserted: it reads the
// card's description (EF.DIR and its PKCS#15) once, caches the
// certificates, and remembers whether the PIN was verified.
type Card struct {
	t    apdu.Transport
	kind Kind

	// op serialises the card's operations: each is a sequence of APDUs
	// that must not interleave with another's (a certificate read in the
	// background while the PIN is typed, then the PIN).
	op       sync.Mutex
	mu       sync.Mutex
	verified bool
	token    *token // nil until read
	certs    map[string]*x509.Certificate
	partial  map[string][]byte // certificates read in part (op held)
	// inApp: the application is the current DF (files inside are
	// selected relative to it).
	inApp bool
}

// Open recognises the card by its ATR.
func Open(t apdu.Transport, atr []byte) (*Card, error) {
	switch k := Recognize(atr); k {
	case NotCPS:
		return nil, ErrNotCPS
	case CPS2ter:
		return nil, ErrCPS2ter
	case CPS4:
		return nil, ErrCPS4
	default:
		return &Card{t: t, kind: k, certs: map[string]*x509.Certificate{}, partial: map[string][]byte{}}, nil
	}
}

// Kind is the card model.
func (c *Card) Kind() Kind { return c.kind }

// ReadInfo reads the serial, the card's description, and the holder and
// validity from the signature certificate (no PIN needed).
func (c *Card) ReadInfo(ctx context.Context) (*Info, error) {
	c.op.Lock()
	defer c.op.Unlock()
	tk, err := c.describe(ctx)
	if err != nil {
		return nil, err
	}
	// The subject and validity are at the start of the certificate: the
	// rest (about 1 KB, a second at 9600 bd) is read when it is needed, or
	// in the background while the PIN is typed (Certificate).
	head, err := c.certificateHead(ctx, tk.signCert)
	if err != nil {
		return nil, err
	}
	info := &Info{Serial: tk.serial}
	if err := holderFromSubject(head.subject, &info.Holder); err != nil {
		return nil, err
	}
	info.NotBefore, info.NotAfter = head.notBefore.UTC().Format("20060102"), head.notAfter.UTC().Format("20060102")
	return info, nil
}

// TriesLeft asks the card how many PIN tries remain, without using one.
func (c *Card) TriesLeft(ctx context.Context) (int, error) {
	c.op.Lock()
	defer c.op.Unlock()
	tk, err := c.describe(ctx)
	if err != nil {
		return 0, err
	}
	return c.triesLeft(ctx, tk)
}

func (c *Card) triesLeft(ctx context.Context, tk *token) (int, error) {
	if tk.pin == nil || tk.pin.Reference < 0 {
		return 0, ErrPINUndeclared
	}
	r, err := apdu.Exchange(ctx, c.t, apdu.Command{Ins: apdu.InsVerify, P2: byte(tk.pin.Reference)})
	if err != nil {
		return 0, err
	}
	switch err := r.Err(); {
	case err == nil:
		return -1, nil // already verified: the card does not say
	case errors.Is(err, apdu.ErrAuthBlocked):
		return 0, ErrBlocked
	default:
		var ae *apdu.AuthError
		if errors.As(err, &ae) {
			return ae.Retries, nil
		}
		return 0, fmt.Errorf("cps: PIN status: %w", err)
	}
}

// pinBlock is the PIN as the card's AODF says it is presented: ASCII
// digits within the declared lengths, padded with the declared character
// to the stored length when the card needs padding. A format the card did
// not declare is refused before anything is sent.
func pinBlock(p *pkcs15.PIN, pin []byte) ([]byte, error) {
	if p == nil || p.Reference < 0 || p.Type != pkcs15.PINASCIINumeric || p.StoredLen <= 0 || p.StoredLen > 64 ||
		(p.NeedsPadding && !p.HasPadChar) {
		return nil, ErrPINUndeclared
	}
	maxLen := p.MaxLen
	if maxLen < 0 || maxLen > p.StoredLen {
		maxLen = p.StoredLen
	}
	if len(pin) < p.MinLen || len(pin) > maxLen || !isDigits(string(pin)) {
		return nil, fmt.Errorf("%w (%d à %d chiffres)", ErrPINFormat, p.MinLen, maxLen)
	}
	if !p.NeedsPadding {
		return append([]byte(nil), pin...), nil
	}
	block := make([]byte, p.StoredLen)
	for i := range block {
		block[i] = p.PadChar
	}
	copy(block, pin)
	return block, nil
}

// Verify presents the PIN once, in the format the card's AODF declares.
// It is never retried: a wrong PIN returns an *apdu.AuthError with the
// tries left (errors.Is ErrWrongPIN), a blocked card ErrBlocked. pin is
// wiped before Verify returns, and so are the buffers that carried it.
func (c *Card) Verify(ctx context.Context, pin []byte) error {
	defer clear(pin)
	c.op.Lock()
	defer c.op.Unlock()
	tk, err := c.describe(ctx)
	if err != nil {
		return err
	}
	block, err := pinBlock(tk.pin, pin)
	if err != nil {
		return err
	}
	defer clear(block)
	raw := make([]byte, 0, 5+len(block))
	raw = append(append(raw, 0x00, 0x20, 0x00, byte(tk.pin.Reference), byte(len(block))), block...)
	defer clear(raw)
	resp, err := c.t.Transmit(ctx, raw)
	if err != nil {
		return err
	}
	return c.verifyAnswer(resp)
}

func (c *Card) verifyAnswer(resp []byte) error {
	r, err := apdu.ParseResponse(resp)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.verified = r.SW.OK()
	switch err := r.Err(); {
	case err == nil:
		return nil
	case errors.Is(err, apdu.ErrAuthBlocked):
		return fmt.Errorf("%w (%w)", ErrBlocked, err)
	default:
		return err
	}
}

// PINPad is a reader that takes the PIN on its own pad and completes the
// VERIFY itself (PC/SC part 10 secure PIN entry): the PIN never reaches
// the kiosk. apdu is the VERIFY with its PIN block filled with padding;
// the block starts at offset in the data and holds size bytes.
type PINPad interface {
	VerifyOnPad(ctx context.Context, apdu []byte, offset, size, minDigits, maxDigits int) ([]byte, error)
}

// VerifyOnPad has the reader's pad collect the PIN, into the block the
// card's AODF declares (a card whose PIN is not padded to a fixed length
// cannot be served by a fixed-block pad: ErrPINUndeclared). The answer is
// handled as Verify's: tries left on a wrong PIN, ErrBlocked, never
// retried.
func (c *Card) VerifyOnPad(ctx context.Context, pad PINPad) error {
	c.op.Lock()
	defer c.op.Unlock()
	tk, err := c.describe(ctx)
	if err != nil {
		return err
	}
	p := tk.pin
	if p == nil || !p.NeedsPadding {
		return ErrPINUndeclared
	}
	tmpl, err := pinBlock(p, []byte(strings.Repeat("0", max(p.MinLen, 1))))
	if err != nil {
		return err
	}
	for i := range tmpl {
		tmpl[i] = p.PadChar
	}
	maxLen := p.MaxLen
	if maxLen < 0 || maxLen > p.StoredLen {
		maxLen = p.StoredLen
	}
	cmd := append([]byte{0x00, 0x20, 0x00, byte(p.Reference), byte(len(tmpl))}, tmpl...)
	resp, err := pad.VerifyOnPad(ctx, cmd, 0, len(tmpl), p.MinLen, maxLen)
	if err != nil {
		return err
	}
	return c.verifyAnswer(resp)
}

// unverify forgets that the PIN was verified (the card no longer holds it).
func (c *Card) unverify() {
	c.mu.Lock()
	c.verified = false
	c.mu.Unlock()
}

// Verified reports whether the PIN was verified on this card.
func (c *Card) Verified() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.verified
}

// Certificate reads the signature (sign=true) or authentication
// certificate where the card's CDF says it is, once per insertion.
func (c *Card) Certificate(ctx context.Context, sign bool) (*x509.Certificate, error) {
	c.op.Lock()
	defer c.op.Unlock()
	tk, err := c.describe(ctx)
	if err != nil {
		return nil, err
	}
	entry := tk.authCert
	if sign {
		entry = tk.signCert
	}
	return c.certificate(ctx, entry)
}

// Signer returns the card's signature key (the PrKDF's non-repudiation
// key, CPS_PRIV_SIG) as a crypto.Signer, with the signature certificate's
// public key. It signs SHA-256 digests only, and only after the PIN was
// verified.
func (c *Card) Signer(ctx context.Context) (crypto.Signer, error) {
	if c.kind == CPS3Contactless {
		return nil, ErrNoSigning
	}
	cert, err := c.Certificate(ctx, true)
	if err != nil {
		return nil, err
	}
	return &signer{c: c, ctx: ctx, pub: cert.PublicKey}, nil
}

type signer struct {
	c   *Card
	ctx context.Context
	pub crypto.PublicKey
}

func (s *signer) Public() crypto.PublicKey { return s.pub }

// Sign has the card compute an RSA PKCS#1 v1.5 signature of a SHA-256
// digest as the issuer's driver has it done: MSE SET with the algorithm
// reference the TokenInfo gives for SHA256-RSA-PKCS and the key reference
// the PrKDF gives, then PSO COMPUTE DIGITAL SIGNATURE carrying the hash.
func (s *signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts.HashFunc() != crypto.SHA256 || len(digest) != 32 {
		return nil, ErrBadDigest
	}
	if !s.c.Verified() {
		return nil, ErrNeedPIN
	}
	ctx := s.ctx
	s.c.op.Lock()
	defer s.c.op.Unlock()
	tk, err := s.c.describe(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.c.selectApp(ctx, tk); err != nil {
		return nil, err
	}
	mse := apdu.Command{Ins: apdu.InsMSE, P1: 0x41, P2: 0xB6, Data: []byte{0x80, 0x01, tk.signAlg, 0x84, 0x01, tk.signKeyRef}}
	if _, err := apdu.Do(ctx, s.c.t, mse); err != nil {
		return nil, fmt.Errorf("cps: selecting the signature key: %w", err)
	}
	sig, err := apdu.Do(ctx, s.c.t, apdu.Command{Ins: apdu.InsPSO, P1: 0x9E, P2: 0x9A, Data: digest, Ne: apdu.MaxShortNe})
	if errors.Is(err, apdu.ErrSecurityStatus) {
		// The PIN verified earlier no longer serves: a card whose signature
		// key asks it for each signature.
		s.c.unverify()
		return nil, fmt.Errorf("%w (la carte le demande à chaque signature)", ErrNeedPIN)
	}
	if err != nil {
		return nil, fmt.Errorf("cps: computing the signature: %w", err)
	}
	return sig, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
