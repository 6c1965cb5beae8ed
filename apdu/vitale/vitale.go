package vitale

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"dmpkiosk/apdu"
	"dmpkiosk/ins"
)

// Application identifiers of the Vitale 2 card.
var (
	AIDVitale   = []byte{0xD2, 0x50, 0x00, 0x00, 0x02, 0x56, 0x49, 0x54, 0x41, 0x4C, 0x45}
	AIDMFVitale = []byte{0xD2, 0x50, 0x00, 0x00, 0x02, 0x4D, 0x46, 0x5F, 0x56, 0x49, 0x54, 0x41, 0x4C, 0x45}
)

// ATR patterns (pcsc-tools' list).
var (
	vitale1ATRs = []apdu.ATRPattern{
		apdu.MustATRPattern("3F 65 25 00 2x 09 x9 90 00"),
		apdu.MustATRPattern("3F 65 25 00 52 09 6A 90 00"),
		apdu.MustATRPattern("3F 65 25 00 Ax 09 6A 90 00"),
	}
	vitale2ATRs = []apdu.ATRPattern{
		apdu.MustATRPattern("3B 75 13 00 00 4x 09 EA 90 00"),
		apdu.MustATRPattern("3B 75 13 00 00 45 09 FA 90 00"),
	}
)

// Generation is the kind of Vitale card an ATR names.
type Generation int

// Generations.
const (
	NotVitale Generation = iota
	Vitale1
	Vitale2
)

// Recognize tells a Vitale 1 or Vitale 2 card by its ATR.
func Recognize(atr []byte) Generation {
	for _, p := range vitale2ATRs {
		if p.Match(atr) {
			return Vitale2
		}
	}
	for _, p := range vitale1ATRs {
		if p.Match(atr) {
			return Vitale1
		}
	}
	return NotVitale
}

// Errors a caller branches on. Their messages are French: they reach the
// screen.
var (
	ErrVitale1   = errors.New("carte Vitale 1 non prise en charge : utilisez le poste d'accueil")
	ErrNotVitale = errors.New("ce n'est pas une carte Vitale")
	// ErrMalformed: the card's data cannot be read, or name nobody.
	ErrMalformed = errors.New("données de la carte Vitale illisibles")
)

// Card is what a Vitale card says of its holders.
type Card struct {
	// Serial is the PAN file's (MF_VITALE 2F02) digits when it holds them
	// as an ISO 7816 5A object (its format is not published), else "".
	Serial    string `json:"serial"`
	ValidFrom string `json:"valid_from"` // 66/80, AAAAMMJJ; "" if the card does not say
	// ValidUntil is 66/81 when a card carries it; the Vitale 2 has no end
	// of validity.
	ValidUntil    string        `json:"valid_until"`
	Beneficiaries []Beneficiary `json:"beneficiaries"`
}

// Beneficiary is one person the card covers: a 65 {80, 81, 82} template,
// with the NIR of the 65 {93} template at the same position, if any.
type Beneficiary struct {
	Surname   string `json:"surname"`
	FirstName string `json:"first_name"`
	BirthDate string `json:"birth_date"` // AAAAMMJJ as written; lunar dates kept
	// BirthRank (83) and Quality (84) are filled only when a card writes
	// them; no real-card code knows these tags.
	BirthRank int    `json:"birth_rank"`
	Quality   string `json:"quality"`
	NIR       string `json:"nir,omitempty"` // the 93 matched by position, 15 characters
	NIRValid  bool   `json:"nir_valid"`     // the NIR's key checks
	// OwnNIR: the NIR's year and month of birth are the beneficiary's, so
	// it can be their own (a child's 93 might be the insured's).
	OwnNIR bool   `json:"own_nir"`
	INSC   string `json:"ins_c"` // with the insured person's NIR; "" when it cannot be computed
}

// Expired reports whether the card's validity has ended on day now (only a
// card that carries an end of validity can be expired).
func (c *Card) Expired(now time.Time) bool {
	return c.ValidUntil != "" && c.ValidUntil < now.Format("20060102")
}

// Source gives the content of the Vitale card in the reader. APDUReader is
// the project's implementation; the licensed SESAM-Vitale library could be
// another.
type Source interface {
	ReadVitale(ctx context.Context) (*Card, error)
}

// APDUReader reads a Vitale 2 card through APDUs, as code run on real cards
// does (cardpeek's vitale_2.lua).
type APDUReader struct {
	T apdu.Transport
}

const (
	fidDirectory = 0x2001 // VITALE's "POINTERS"
	fidDIR       = 0x2F00 // MF_VITALE's own, not listed in the directory
	fidPAN       = 0x2F02
	// maxFile bounds what is read of one file.
	maxFile = 8 << 10
)

// app is one application the directory names, and its files in the
// directory's order.
type app struct {
	ref   uint16
	aid   []byte
	files []uint16
}

// ReadVitale implements Source: select VITALE, read its directory (EF
// 2001), then select each application it names and read each file it
// lists there (and MF_VITALE's EF.DIR and PAN file), then decode what the
// files hold.
func (r APDUReader) ReadVitale(ctx context.Context) (*Card, error) {
	if err := r.selectAID(ctx, AIDVitale); err != nil {
		if errors.Is(err, apdu.ErrNotFound) {
			return nil, ErrNotVitale
		}
		return nil, fmt.Errorf("vitale: selecting the application: %w", err)
	}
	if err := r.selectEF(ctx, fidDirectory); err != nil {
		return nil, fmt.Errorf("vitale: selecting the directory: %w", err)
	}
	dir, err := r.readAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("vitale: reading the directory: %w", err)
	}
	apps, err := parseDirectory(dir)
	if err != nil {
		return nil, err
	}
	var contents [][]byte
	var pan []byte
	for _, a := range apps {
		if err := r.selectAID(ctx, a.aid); err != nil {
			if errors.Is(err, apdu.ErrNotFound) {
				continue // named but absent: what the other files say is kept
			}
			return nil, fmt.Errorf("vitale: selecting %X: %w", a.aid, err)
		}
		for _, fid := range a.files {
			if err := r.selectEF(ctx, fid); err != nil {
				if isCardStatus(err) {
					continue
				}
				return nil, fmt.Errorf("vitale: selecting %04X: %w", fid, err)
			}
			data, err := r.readAll(ctx)
			if err != nil {
				return nil, fmt.Errorf("vitale: reading %04X: %w", fid, err)
			}
			if fid == fidPAN && bytes.Equal(a.aid, AIDMFVitale) {
				pan = data
				continue
			}
			contents = append(contents, data)
		}
	}
	card := &Card{Serial: panDigits(pan)}
	if err := decode(contents, card); err != nil {
		return nil, err
	}
	computeINSC(card)
	return card, nil
}

// isCardStatus reports whether err is the card's answer (a status word),
// not the link failing.
func isCardStatus(err error) bool {
	var se *apdu.StatusError
	var ue *apdu.UnknownStatusError
	var ae *apdu.AuthError
	return errors.As(err, &se) || errors.As(err, &ue) || errors.As(err, &ae)
}

// selectAID selects an application as real-card code does: P2=00, the FCI
// fetched with GET RESPONSE.
func (r APDUReader) selectAID(ctx context.Context, aid []byte) error {
	_, err := apdu.Do(ctx, r.T, apdu.Command{Ins: apdu.InsSelect, P1: 0x04, P2: 0x00, Data: aid, Ne: apdu.MaxShortNe})
	return err
}

func (r APDUReader) selectEF(ctx context.Context, fid uint16) error {
	_, err := apdu.Do(ctx, r.T, apdu.Command{Ins: apdu.InsSelect, P1: 0x02, P2: 0x00, Data: []byte{byte(fid >> 8), byte(fid)}, Ne: apdu.MaxShortNe})
	return err
}

// readAll reads the selected EF as cardpeek does: by offset in 256-byte
// steps, until a short answer or any status other than 90 00, keeping
// what was read. A card that corrects Le with 6C xx is handled by
// apdu.Exchange; a file that cannot be read at all is empty.
func (r APDUReader) readAll(ctx context.Context) ([]byte, error) {
	var out []byte
	for len(out) < maxFile {
		resp, err := apdu.Exchange(ctx, r.T, apdu.Command{Ins: apdu.InsReadBinary, P1: byte(len(out) >> 8), P2: byte(len(out)), Ne: apdu.MaxShortNe})
		if err != nil {
			return nil, err
		}
		out = append(out, resp.Data...)
		if resp.SW != apdu.SWOK || len(resp.Data) != apdu.MaxShortNe {
			return out, nil
		}
	}
	return nil, fmt.Errorf("%w : fichier de plus de %d octets", ErrMalformed, maxFile)
}

// parseDirectory reads EF 2001: E0 { A0 { 82 application entries }, 80
// file entries }. An 82 entry is its 2-byte reference, 2 bytes, then the
// application's full AID; an 80 entry is an 8-character name, the
// reference of the application holding the file, and the file's
// identifier. MF_VITALE gets its EF.DIR and PAN file, which real-card code
// reads though the directory does not list them; VITALE's own directory is
// not read again. Applications come in the order of their references.
func parseDirectory(b []byte) ([]app, error) {
	e0, ok, err := apdu.Find(b, 0xE0)
	if err != nil || !ok {
		return nil, fmt.Errorf("%w : répertoire illisible", ErrMalformed)
	}
	objs, err := apdu.ParseAll(e0)
	if err != nil {
		return nil, malformed(err)
	}
	byRef := map[uint16]*app{}
	var apps []*app
	for _, o := range objs {
		if o.Tag != 0xA0 {
			continue
		}
		entries, err := apdu.ParseAll(o.Value)
		if err != nil {
			return nil, malformed(err)
		}
		for _, e := range entries {
			if e.Tag != 0x82 || len(e.Value) < 5 {
				continue
			}
			a := &app{ref: uint16(e.Value[0])<<8 | uint16(e.Value[1]), aid: append([]byte(nil), e.Value[4:]...)}
			byRef[a.ref] = a
			apps = append(apps, a)
		}
	}
	for _, o := range objs {
		if o.Tag != 0x80 {
			continue
		}
		if len(o.Value) < 12 {
			return nil, fmt.Errorf("%w : entrée de répertoire de %d octets", ErrMalformed, len(o.Value))
		}
		a := byRef[uint16(o.Value[8])<<8|uint16(o.Value[9])]
		if a == nil {
			return nil, fmt.Errorf("%w : fichier %04X d'une application inconnue", ErrMalformed, uint16(o.Value[10])<<8|uint16(o.Value[11]))
		}
		a.files = append(a.files, uint16(o.Value[10])<<8|uint16(o.Value[11]))
	}
	out := make([]app, 0, len(apps))
	for _, a := range apps {
		switch {
		case bytes.Equal(a.aid, AIDMFVitale):
			a.files = append(a.files, fidDIR, fidPAN)
		case bytes.Equal(a.aid, AIDVitale):
			a.files = slices.DeleteFunc(a.files, func(f uint16) bool { return f == fidDirectory })
		}
		out = append(out, *a)
	}
	slices.SortStableFunc(out, func(x, y app) int { return int(x.ref) - int(y.ref) })
	if len(out) == 0 {
		return nil, fmt.Errorf("%w : aucune application dans le répertoire", ErrMalformed)
	}
	return out, nil
}

// panDigits reads a 5A object's BCD digits (F-padded), if the PAN file
// holds one.
func panDigits(b []byte) string {
	v, ok, err := apdu.Find(b, 0x5A)
	if err != nil || !ok || len(v) == 0 {
		return ""
	}
	s := strings.TrimRight(fmt.Sprintf("%X", v), "F")
	if !ins.Digits(s, len(s)) {
		return ""
	}
	return s
}

// decode reads the beneficiaries and the card data from the files' contents,
// in the order they were read: 65 templates with 80/81/82 are identities,
// 65 templates with 93 give NIRs, and the two lists are matched by
// position (identity and NIR are in different files of different
// applications on real cards; a template with both serves both lists). A
// file starting with 00 or 04 00 is not BER-TLV and is skipped, as cardpeek
// does; a file whose TLV breaks keeps what came before the break, unless it
// lists beneficiaries (a broken list would lose some: ErrMalformed).
func decode(files [][]byte, c *Card) error {
	var ids []Beneficiary
	var nirs []string
	for _, f := range files {
		if len(f) == 0 || f[0] == 0x00 || (len(f) > 1 && f[0] == 0x04 && f[1] == 0x00) {
			continue
		}
		objs, err := apdu.ParseAll(f)
		if err != nil && len(objs) > 0 && objs[0].Tag == 0x65 {
			// A broken list of beneficiaries would silently lose some.
			return malformed(err)
		}
		for _, o := range objs {
			switch o.Tag {
			case 0x65:
				fields := map[apdu.Tag]string{}
				inner, err := apdu.ParseAll(o.Value)
				if err != nil {
					return malformed(err)
				}
				for _, t := range inner {
					if t.Tag.Constructed() {
						return fmt.Errorf("%w : bénéficiaire mal formé", ErrMalformed)
					}
					fields[t.Tag] = strings.TrimSpace(apdu.Latin1(t.Value))
				}
				if nir, ok := fields[0x93]; ok {
					nirs = append(nirs, nir)
				}
				if fields[0x80] == "" && fields[0x81] == "" {
					continue // no identity in this template
				}
				b := Beneficiary{Surname: fields[0x80], FirstName: fields[0x81], BirthDate: fields[0x82], Quality: fields[0x84]}
				if r := fields[0x83]; len(r) == 1 && r[0] >= '0' && r[0] <= '9' {
					b.BirthRank = int(r[0] - '0')
				}
				ids = append(ids, b)
			case 0x66:
				inner, _ := apdu.ParseAll(o.Value)
				for _, t := range inner {
					switch d := apdu.Latin1(t.Value); t.Tag {
					case 0x80:
						if ins.Digits(d, 8) {
							c.ValidFrom = d
						}
					case 0x81:
						if ins.Digits(d, 8) {
							c.ValidUntil = d
						}
					}
				}
			}
		}
	}
	if len(ids) == 0 {
		return fmt.Errorf("%w : aucun bénéficiaire lisible", ErrMalformed)
	}
	for i := range ids {
		if i < len(nirs) {
			ids[i].NIR = nirs[i]
		}
	}
	c.Beneficiaries = ids
	return nil
}

// InsuredNIR is the NIR the INS-C of every beneficiary is computed with:
// the insured person's (the "ouvrant droit"). No public source says how a
// card marks its insured person, so the rule is: the NIR of a beneficiary
// of quality 00 when a card writes qualities (84), else the first NIR the
// card lists (the first 65 {93}), the card being issued to its insured
// person. "" when the card holds no well-formed NIR.
func (c *Card) InsuredNIR() string {
	for _, b := range c.Beneficiaries {
		if b.Quality == "00" && shapeNIR(b.NIR) {
			return b.NIR
		}
	}
	for _, b := range c.Beneficiaries {
		if b.NIR != "" {
			if shapeNIR(b.NIR) {
				return b.NIR
			}
			return ""
		}
	}
	return ""
}

func shapeNIR(nir string) bool { return len(nir) == 15 && ins.ShapeNIR13(nir[:13]) }

// computeINSC checks each NIR, tells whether it can be the beneficiary's
// own, and computes every beneficiary's INS-C with the insured person's
// NIR. What cannot be computed is left empty: the INSi lookup gives the
// official identity.
func computeINSC(c *Card) {
	insured := c.InsuredNIR()
	for i := range c.Beneficiaries {
		b := &c.Beneficiaries[i]
		if b.NIR != "" {
			n, err := ins.ParseNIR(b.NIR)
			b.NIRValid = err == nil
			b.OwnNIR = b.NIRValid && n.BornIn(b.BirthDate)
		}
		if insured == "" || len(b.BirthDate) != 8 {
			continue
		}
		if insc, err := ins.INSC(b.FirstName, b.BirthDate[2:], insured[:13]); err == nil {
			b.INSC = insc
		}
	}
}

func malformed(err error) error { return fmt.Errorf("%w : %w", ErrMalformed, err) }
