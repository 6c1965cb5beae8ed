package vitale

import (
	"context"
	"errors"
	"fmt"
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
	// ErrMalformed: the card's data do not follow the layout.
	ErrMalformed = errors.New("données de la carte Vitale illisibles")
)

// Card is what a Vitale card says of its holders.
type Card struct {
	Serial        string        `json:"serial"`
	ValidFrom     string        `json:"valid_from"`  // AAAAMMJJ
	ValidUntil    string        `json:"valid_until"` // AAAAMMJJ
	Beneficiaries []Beneficiary `json:"beneficiaries"`
}

// Beneficiary is one person the card covers.
type Beneficiary struct {
	Surname   string `json:"surname"`
	FirstName string `json:"first_name"`
	BirthDate string `json:"birth_date"` // AAAAMMJJ as written; lunar dates kept
	BirthRank int    `json:"birth_rank"`
	Quality   string `json:"quality"`       // 00 insured, 01 spouse, 06 child...
	NIR       string `json:"nir,omitempty"` // the beneficiary's own, 15 characters
	NIRValid  bool   `json:"nir_valid"`     // the NIR's key checks
	INSC      string `json:"ins_c"`         // with the insured person's NIR
}

// Insured returns the insured person (quality 00).
func (c *Card) Insured() (Beneficiary, bool) {
	for _, b := range c.Beneficiaries {
		if b.Quality == "00" {
			return b, true
		}
	}
	return Beneficiary{}, false
}

// Expired reports whether the card's validity has ended on day now.
func (c *Card) Expired(now time.Time) bool {
	return c.ValidUntil != "" && c.ValidUntil < now.Format("20060102")
}

// Source gives the content of the Vitale card in the reader. APDUReader is
// the project's implementation; the licensed SESAM-Vitale library could be
// another.
type Source interface {
	ReadVitale(ctx context.Context) (*Card, error)
}

// APDUReader reads a Vitale 2 card through APDUs.
type APDUReader struct {
	T apdu.Transport
}

// File names in the directory EF (8 characters, space padded).
const (
	fileCarte   = "CARTE   "
	fileBenefic = "BENEFIC "
	// maxFile bounds what is read of one file.
	maxFile = 8 << 10
)

// ReadVitale implements Source.
func (r APDUReader) ReadVitale(ctx context.Context) (*Card, error) {
	if _, err := apdu.Do(ctx, r.T, apdu.Command{Ins: 0xA4, P1: 0x04, P2: 0x0C, Data: AIDVitale}); err != nil {
		if errors.Is(err, apdu.ErrNotFound) {
			return nil, ErrNotVitale
		}
		return nil, fmt.Errorf("vitale: selecting the application: %w", err)
	}
	dir, err := r.readEF(ctx, 0x2001)
	if err != nil {
		return nil, fmt.Errorf("vitale: reading the directory: %w", err)
	}
	files, err := parseDirectory(dir)
	if err != nil {
		return nil, err
	}
	card := &Card{}
	for _, name := range []string{fileCarte, fileBenefic} {
		fid, ok := files[name]
		if !ok {
			return nil, fmt.Errorf("%w : fichier %s absent du répertoire", ErrMalformed, strings.TrimSpace(name))
		}
		data, err := r.readEF(ctx, fid)
		if err != nil {
			return nil, fmt.Errorf("vitale: reading %s: %w", strings.TrimSpace(name), err)
		}
		if name == fileCarte {
			err = parseCarte(data, card)
		} else {
			card.Beneficiaries, err = parseBenefic(data)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := computeINSC(card); err != nil {
		return nil, err
	}
	return card, nil
}

func (r APDUReader) readEF(ctx context.Context, fid uint16) ([]byte, error) {
	sel := apdu.Command{Ins: 0xA4, P1: 0x02, P2: 0x0C, Data: []byte{byte(fid >> 8), byte(fid)}}
	if _, err := apdu.Do(ctx, r.T, sel); err != nil {
		return nil, err
	}
	return apdu.ReadFile(ctx, r.T, 0x00, maxFile)
}

// parseDirectory maps file names to file identifiers.
func parseDirectory(b []byte) (map[string]uint16, error) {
	files := map[string]uint16{}
	err := apdu.Walk(b, func(_ int, o apdu.TLV) error {
		if o.Tag != 0x80 {
			return nil
		}
		if len(o.Value) != 12 {
			return fmt.Errorf("%w : entrée de répertoire de %d octets", ErrMalformed, len(o.Value))
		}
		files[string(o.Value[:8])] = uint16(o.Value[10])<<8 | uint16(o.Value[11])
		return nil
	})
	if err != nil {
		return nil, malformed(err)
	}
	return files, nil
}

func parseCarte(b []byte, c *Card) error {
	tmpl, ok, err := apdu.Find(b, 0x66)
	if err != nil {
		return malformed(err)
	}
	if !ok {
		return fmt.Errorf("%w : données de carte (66) absentes", ErrMalformed)
	}
	fields := map[apdu.Tag]*string{0x80: &c.ValidFrom, 0x81: &c.ValidUntil, 0x82: &c.Serial}
	if err := fill(tmpl, fields); err != nil {
		return err
	}
	for _, d := range []string{c.ValidFrom, c.ValidUntil} {
		if !ins.Digits(d, 8) {
			return fmt.Errorf("%w : date de validité mal formée", ErrMalformed)
		}
	}
	if c.Serial == "" || !ins.Digits(c.Serial, len(c.Serial)) {
		return fmt.Errorf("%w : numéro de série mal formé", ErrMalformed)
	}
	return nil
}

func parseBenefic(b []byte) ([]Beneficiary, error) {
	objs, err := apdu.ParseAll(b)
	if err != nil {
		return nil, malformed(err)
	}
	var out []Beneficiary
	for _, o := range objs {
		if o.Tag != 0x65 {
			continue
		}
		var ben Beneficiary
		var rank string
		fields := map[apdu.Tag]*string{0x80: &ben.Surname, 0x81: &ben.FirstName, 0x82: &ben.BirthDate,
			0x83: &rank, 0x84: &ben.Quality, 0x93: &ben.NIR}
		if err := fill(o.Value, fields); err != nil {
			return nil, err
		}
		switch {
		case ben.Surname == "" || ben.BirthDate == "" || rank == "" || ben.Quality == "":
			return nil, fmt.Errorf("%w : bénéficiaire %d incomplet", ErrMalformed, len(out)+1)
		case !ins.Digits(ben.BirthDate, 8):
			return nil, fmt.Errorf("%w : date de naissance du bénéficiaire %d mal formée", ErrMalformed, len(out)+1)
		case !ins.Digits(rank, 1) || !ins.Digits(ben.Quality, 2):
			return nil, fmt.Errorf("%w : rang ou qualité du bénéficiaire %d mal formé", ErrMalformed, len(out)+1)
		}
		if _, ok := present(o.Value, 0x81); !ok {
			return nil, fmt.Errorf("%w : prénom du bénéficiaire %d absent", ErrMalformed, len(out)+1)
		}
		ben.BirthRank = int(rank[0] - '0')
		out = append(out, ben)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w : aucun bénéficiaire", ErrMalformed)
	}
	return out, nil
}

// computeINSC checks each NIR and computes every beneficiary's INS-C with
// the insured person's NIR. A wrong key is reported, not fatal: the INS-C is
// still computed and the NIR flagged.
func computeINSC(c *Card) error {
	insured, ok := c.Insured()
	if !ok || insured.NIR == "" {
		return fmt.Errorf("%w : NIR de l'assuré absent", ErrMalformed)
	}
	if len(insured.NIR) != 15 || !ins.ShapeNIR13(insured.NIR[:13]) {
		return fmt.Errorf("%w : NIR de l'assuré mal formé", ErrMalformed)
	}
	for i := range c.Beneficiaries {
		b := &c.Beneficiaries[i]
		if b.NIR != "" {
			_, err := ins.ParseNIR(b.NIR)
			b.NIRValid = err == nil
		}
		insc, err := ins.INSC(b.FirstName, b.BirthDate[2:], insured.NIR[:13])
		if err != nil {
			return fmt.Errorf("%w : INS-C du bénéficiaire %d : %v", ErrMalformed, i+1, err)
		}
		b.INSC = insc
	}
	return nil
}

// fill decodes the primitive objects of a template into strings (ISO-8859-1
// to UTF-8), ignoring tags it does not know.
func fill(tmpl []byte, fields map[apdu.Tag]*string) error {
	objs, err := apdu.ParseAll(tmpl)
	if err != nil {
		return malformed(err)
	}
	for _, o := range objs {
		if dst, ok := fields[o.Tag]; ok {
			*dst = apdu.Latin1(o.Value)
		}
	}
	return nil
}

func present(tmpl []byte, tag apdu.Tag) ([]byte, bool) {
	v, ok, _ := apdu.Find(tmpl, tag)
	return v, ok
}

func malformed(err error) error { return fmt.Errorf("%w : %w", ErrMalformed, err) }
