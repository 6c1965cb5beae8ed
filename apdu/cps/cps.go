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

// Layout is where a card keeps what the kiosk reads (see the package
// documentation). ReferenceLayout is the project's.
type Layout struct {
	AID, AIDContactless []byte
	SerialPath          []byte // path from the MF
	ValidityPath        []byte
	IdentityFID         uint16
	SignCertFID         uint16
	AuthCertFID         uint16
	PINRef              byte
	SignKeyRef          byte
	SignAlgorithm       byte
}

// ReferenceLayout is the layout every virtual CPS card of hwtest follows.
var ReferenceLayout = Layout{
	AID:            []byte{0xE8, 0x28, 0xBD, 0x08, 0x0F, 0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x00, 0x10},
	AIDContactless: []byte{0xE8, 0x28, 0xBD, 0x08, 0x0F, 0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x00, 0x20},
	SerialPath:     []byte{0xD0, 0x03},
	ValidityPath:   []byte{0xD0, 0x10},
	IdentityFID:    0xE001,
	SignCertFID:    0xC010,
	AuthCertFID:    0xC020,
	PINRef:         0x01,
	SignKeyRef:     0x10,
	SignAlgorithm:  0x42,
}

// Errors a caller branches on; the messages are French, for the screen.
var (
	ErrNotCPS     = errors.New("carte professionnelle non reconnue")
	ErrCPS2ter    = errors.New("carte CPS2ter non prise en charge : demandez une CPS3")
	ErrMalformed  = errors.New("données de la carte professionnelle illisibles")
	ErrPINFormat  = errors.New("le code porteur compte 4 à 8 chiffres")
	ErrNeedPIN    = errors.New("code porteur non vérifié : signature refusée")
	ErrNoSigning  = errors.New("signature impossible en mode sans contact")
	ErrBlocked    = errors.New("carte bloquée : trop de codes faux")
	ErrBadDigest  = errors.New("cps: the card signs SHA-256 digests only")
	ErrBadCertKey = errors.New("cps: the signature certificate does not hold an RSA key")
)

// Holder is the card holder's identity.
type Holder struct {
	CardType       string `json:"card_type"` // CPS, CPF, CPE, CDE
	NationalID     string `json:"national_id"`
	NationalIDType string `json:"national_id_type"` // RPPS, ADELI, ETABLISSEMENT
	Surname        string `json:"surname"`
	FirstName      string `json:"first_name"`
	Profession     string `json:"profession"` // TRE G15
	Speciality     string `json:"speciality"` // R01
}

// Info is what the card says without a PIN.
type Info struct {
	Holder
	Serial    string `json:"serial"`
	NotBefore string `json:"-"`         // AAAAMMJJ
	NotAfter  string `json:"not_after"` // AAAAMMJJ
}

// Expired reports whether the card's validity ended before day (AAAAMMJJ).
func (i *Info) Expired(day string) bool { return i.NotAfter < day }

// Card is one CPS-family card for the time it stays inserted: it caches
// what it has read (certificates) and whether the PIN was verified.
type Card struct {
	t      apdu.Transport
	kind   Kind
	layout Layout

	// op serialises the card's operations: each is a sequence of APDUs
	// that must not interleave with another's (a certificate read in the
	// background while the PIN is typed, then the PIN).
	op       sync.Mutex
	mu       sync.Mutex
	verified bool
	certs    map[uint16]*x509.Certificate
}

// Open recognises the card by its ATR.
func Open(t apdu.Transport, atr []byte, layout Layout) (*Card, error) {
	switch k := Recognize(atr); k {
	case NotCPS:
		return nil, ErrNotCPS
	case CPS2ter:
		return nil, ErrCPS2ter
	default:
		return &Card{t: t, kind: k, layout: layout, certs: map[uint16]*x509.Certificate{}}, nil
	}
}

// Kind is the card model.
func (c *Card) Kind() Kind { return c.kind }

func (c *Card) aid() []byte {
	if c.kind == CPS3Contactless {
		return c.layout.AIDContactless
	}
	return c.layout.AID
}

// ReadInfo reads the serial, validity and holder identity (no PIN needed).
func (c *Card) ReadInfo(ctx context.Context) (*Info, error) {
	c.op.Lock()
	defer c.op.Unlock()
	info := &Info{}
	sn, err := c.readPath(ctx, c.layout.SerialPath)
	if err != nil {
		return nil, fmt.Errorf("cps: reading the serial: %w", err)
	}
	pan, ok, err := apdu.Find(sn, 0x5A)
	if err != nil || !ok || len(pan) == 0 {
		return nil, fmt.Errorf("%w : numéro de carte absent", ErrMalformed)
	}
	info.Serial = strings.TrimRight(fmt.Sprintf("%X", pan), "F")
	if !isDigits(info.Serial) {
		return nil, fmt.Errorf("%w : numéro de carte mal formé", ErrMalformed)
	}
	val, err := c.readPath(ctx, c.layout.ValidityPath)
	if err != nil {
		return nil, fmt.Errorf("cps: reading the validity: %w", err)
	}
	for tag, dst := range map[apdu.Tag]*string{0x81: &info.NotBefore, 0x82: &info.NotAfter} {
		v, ok, err := apdu.Find(val, 0xEC, tag)
		if err != nil || !ok || len(v) < 4 {
			return nil, fmt.Errorf("%w : validité absente", ErrMalformed)
		}
		*dst = fmt.Sprintf("%X", v[:4])
		if !isDigits(*dst) {
			return nil, fmt.Errorf("%w : validité mal formée", ErrMalformed)
		}
	}
	if err := c.selectApp(ctx); err != nil {
		return nil, err
	}
	id, err := c.readEF(ctx, c.layout.IdentityFID)
	if err != nil {
		return nil, fmt.Errorf("cps: reading the holder identity: %w", err)
	}
	if err := parseHolder(id, &info.Holder); err != nil {
		return nil, err
	}
	return info, nil
}

func parseHolder(b []byte, h *Holder) error {
	tmpl, ok, err := apdu.Find(b, 0xE1)
	if err != nil {
		return fmt.Errorf("%w : %w", ErrMalformed, err)
	}
	if !ok {
		return fmt.Errorf("%w : identité du porteur absente", ErrMalformed)
	}
	var idType string
	fields := []struct {
		tag      apdu.Tag
		dst      *string
		required bool
	}{
		{0x80, &h.CardType, true}, {0x81, &idType, true}, {0x82, &h.NationalID, true},
		{0x83, &h.Surname, true}, {0x84, &h.FirstName, true}, {0x85, &h.Profession, false}, {0x86, &h.Speciality, false},
	}
	for _, f := range fields {
		v, ok, err := apdu.Find(tmpl, f.tag)
		if err != nil {
			return fmt.Errorf("%w : %w", ErrMalformed, err)
		}
		if !ok && f.required {
			return fmt.Errorf("%w : champ %v absent", ErrMalformed, f.tag)
		}
		*f.dst = apdu.Latin1(v)
	}
	switch h.CardType {
	case "CPS", "CPF", "CPE", "CDE":
	default:
		return fmt.Errorf("%w : type de carte %q inconnu", ErrMalformed, h.CardType)
	}
	switch idType {
	case "8":
		h.NationalIDType = "RPPS"
	case "0":
		h.NationalIDType = "ADELI"
	case "3":
		h.NationalIDType = "ETABLISSEMENT"
	default:
		return fmt.Errorf("%w : type d'identifiant %q inconnu", ErrMalformed, idType)
	}
	if !strings.HasPrefix(h.NationalID, idType) {
		return fmt.Errorf("%w : identifiant national incohérent avec son type", ErrMalformed)
	}
	return nil
}

func (c *Card) selectApp(ctx context.Context) error {
	if _, err := apdu.Do(ctx, c.t, apdu.Command{Ins: 0xA4, P1: 0x04, P2: 0x0C, Data: c.aid()}); err != nil {
		return fmt.Errorf("cps: selecting the application: %w", err)
	}
	return nil
}

func (c *Card) readPath(ctx context.Context, path []byte) ([]byte, error) {
	if _, err := apdu.Do(ctx, c.t, apdu.Command{Ins: 0xA4, P1: 0x08, P2: 0x0C, Data: path}); err != nil {
		return nil, err
	}
	return apdu.ReadFile(ctx, c.t, 0x00, 4<<10)
}

func (c *Card) readEF(ctx context.Context, fid uint16) ([]byte, error) {
	if _, err := apdu.Do(ctx, c.t, apdu.Command{Ins: 0xA4, P1: 0x02, P2: 0x0C, Data: []byte{byte(fid >> 8), byte(fid)}}); err != nil {
		return nil, err
	}
	return apdu.ReadFile(ctx, c.t, 0x00, 8<<10)
}

// TriesLeft asks the card how many PIN tries remain, without using one.
func (c *Card) TriesLeft(ctx context.Context) (int, error) {
	c.op.Lock()
	defer c.op.Unlock()
	r, err := apdu.Exchange(ctx, c.t, apdu.Command{Ins: 0x20, P2: c.layout.PINRef})
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

// Verify presents the PIN once. It is never retried: a wrong PIN returns an
// *apdu.AuthError with the tries left (errors.Is ErrWrongPIN), a blocked
// card ErrBlocked. pin is wiped before Verify returns, and so is the
// command buffer that carried it.
func (c *Card) Verify(ctx context.Context, pin []byte) error {
	defer clear(pin)
	if len(pin) < 4 || len(pin) > 8 || !isDigits(string(pin)) {
		return ErrPINFormat
	}
	var block [8]byte
	defer clear(block[:])
	for i := range block {
		block[i] = 0xFF
	}
	copy(block[:], pin)
	raw := [13]byte{0x00, 0x20, 0x00, c.layout.PINRef, 0x08}
	defer clear(raw[:])
	copy(raw[5:], block[:])
	c.op.Lock()
	resp, err := c.t.Transmit(ctx, raw[:])
	c.op.Unlock()
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

// VerifyOnPad has the reader's pad collect the PIN. The answer is handled
// as Verify's: tries left on a wrong PIN, ErrBlocked, never retried.
func (c *Card) VerifyOnPad(ctx context.Context, pad PINPad) error {
	apduTmpl := []byte{0x00, 0x20, 0x00, c.layout.PINRef, 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}
	c.op.Lock()
	resp, err := pad.VerifyOnPad(ctx, apduTmpl, 0, 8, 4, 8)
	c.op.Unlock()
	if err != nil {
		return err
	}
	return c.verifyAnswer(resp)
}

// Verified reports whether the PIN was verified on this card.
func (c *Card) Verified() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.verified
}

// Certificate reads the signature (sign=true) or authentication
// certificate, once per insertion.
func (c *Card) Certificate(ctx context.Context, sign bool) (*x509.Certificate, error) {
	fid := c.layout.AuthCertFID
	if sign {
		fid = c.layout.SignCertFID
	}
	c.op.Lock()
	defer c.op.Unlock()
	c.mu.Lock()
	cert := c.certs[fid]
	c.mu.Unlock()
	if cert != nil {
		return cert, nil
	}
	if err := c.selectApp(ctx); err != nil {
		return nil, err
	}
	der, err := c.readEF(ctx, fid)
	if err != nil {
		return nil, fmt.Errorf("cps: reading a certificate: %w", err)
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w : certificat illisible : %v", ErrMalformed, err)
	}
	c.mu.Lock()
	c.certs[fid] = cert
	c.mu.Unlock()
	return cert, nil
}

// Signer returns the card's signature key as a crypto.Signer, with the
// signature certificate's public key. It signs SHA-256 digests only, and
// only after the PIN was verified.
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
// digest (the card builds the DigestInfo and the padding).
func (s *signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts.HashFunc() != crypto.SHA256 || len(digest) != 32 {
		return nil, ErrBadDigest
	}
	if !s.c.Verified() {
		return nil, ErrNeedPIN
	}
	l := s.c.layout
	ctx := s.ctx
	s.c.op.Lock()
	defer s.c.op.Unlock()
	if err := s.c.selectApp(ctx); err != nil {
		return nil, err
	}
	mse := apdu.Command{Ins: 0x22, P1: 0x41, P2: 0xB6, Data: []byte{0x80, 0x01, l.SignAlgorithm, 0x84, 0x01, l.SignKeyRef}}
	if _, err := apdu.Do(ctx, s.c.t, mse); err != nil {
		return nil, fmt.Errorf("cps: selecting the signature key: %w", err)
	}
	hash := apdu.Command{Ins: 0x2A, P1: 0x90, P2: 0xA0, Data: apdu.AppendTLV(nil, 0x90, digest)}
	if _, err := apdu.Do(ctx, s.c.t, hash); err != nil {
		return nil, fmt.Errorf("cps: handing the hash to the card: %w", err)
	}
	sig, err := apdu.Do(ctx, s.c.t, apdu.Command{Ins: 0x2A, P1: 0x9E, P2: 0x9A, Ne: apdu.MaxShortNe})
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
