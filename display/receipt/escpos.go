package receipt

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"strings"

	"golang.org/x/text/encoding/charmap"

	"dmpkiosk/display/lang"
)

// ESC/POS, as Epson's TM series and the compatible printers take it.
const (
	esc = 0x1B
	gs  = 0x1D
	lf  = 0x0A
)

// CodePages are the printer code pages a receipt is written in, by ESC
// t's number on Epson's printers and the compatible ones: each holds the
// French, English and Spanish letters. 16 (WPC1252) by default; 2
// (PC850) and 19 (PC858, with €) for printers without it.
var CodePages = map[int]*charmap.Charmap{2: charmap.CodePage850, 16: charmap.Windows1252, 19: charmap.CodePage858}

// DefaultCodePage is WPC1252.
const DefaultCodePage = 16

// Paper is a roll width: its dots across and characters per line in the
// printer's font A (12×24 dots).
type Paper struct {
	Name string
	Dots int
	Cols int
}

// The two roll widths of receipt printers, at 203 dpi.
var (
	Paper58 = Paper{Name: "58", Dots: 384, Cols: 32}
	Paper80 = Paper{Name: "80", Dots: 576, Cols: 48}
)

// PaperOf is the paper of a width in millimetres.
func PaperOf(mm int) (Paper, error) {
	switch mm {
	case 58:
		return Paper58, nil
	case 80:
		return Paper80, nil
	}
	return Paper{}, fmt.Errorf("papier de %d mm : 58 ou 80", mm)
}

// ErrNotInCodePage is returned by EncodeText for text the printer's code
// page cannot print (Arabic): print it as an image (EncodeRaster).
var ErrNotInCodePage = errors.New("receipt: text outside the printer's code page")

// EncodeText is the receipt as ESC/POS text in a code page (CodePages),
// wrapped to the paper's columns, ended by a feed and a cut.
func EncodeText(lines []Line, paper Paper, codePage int) ([]byte, error) {
	cm, ok := CodePages[codePage]
	if !ok {
		return nil, fmt.Errorf("code page %d : 2 (PC850), 16 (WPC1252) ou 19 (PC858)", codePage)
	}
	enc := cm.NewEncoder()
	var b bytes.Buffer
	b.Write([]byte{esc, '@', esc, 't', byte(codePage)})
	for i, l := range lines {
		if l.Rule {
			b.WriteString(strings.Repeat("-", paper.Cols))
			b.WriteByte(lf)
			continue
		}
		cols := paper.Cols
		align, bold, size := byte(0), byte(0), byte(0)
		if l.Center {
			align = 1
		}
		if l.Bold {
			bold = 1
		}
		if l.Big {
			size, cols = 0x11, cols/2 // double width and height
		}
		b.Write([]byte{esc, 'a', align, esc, 'E', bold, gs, '!', size})
		for _, w := range WrapRunes(l.Text, cols) {
			t, err := enc.String(w)
			if err != nil {
				// The line is not quoted: it may name the patient.
				return nil, fmt.Errorf("%w (code page %d, line %d)", ErrNotInCodePage, codePage, i+1)
			}
			b.WriteString(t)
			b.WriteByte(lf)
		}
	}
	b.Write([]byte{esc, 'a', 0, esc, 'E', 0, gs, '!', 0})
	return finish(&b), nil
}

// EncodeRaster is an image printed as a raster bit image (GS v 0): a
// pixel darker than middle grey is a dot.
func EncodeRaster(img image.Image) []byte {
	bnd := img.Bounds()
	wb := (bnd.Dx() + 7) / 8
	var b bytes.Buffer
	b.Write([]byte{esc, '@', gs, 'v', '0', 0, byte(wb), byte(wb >> 8), byte(bnd.Dy()), byte(bnd.Dy() >> 8)})
	row := make([]byte, wb)
	for y := bnd.Min.Y; y < bnd.Max.Y; y++ {
		clear(row)
		for x := bnd.Min.X; x < bnd.Max.X; x++ {
			if color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y < 0x80 {
				i := x - bnd.Min.X
				row[i/8] |= 0x80 >> (i % 8)
			}
		}
		b.Write(row)
	}
	return finish(&b)
}

// finish feeds the paper past the cutter and cuts it (partial cut).
func finish(b *bytes.Buffer) []byte {
	b.Write([]byte{esc, 'd', 4, gs, 'V', 66, 0})
	return b.Bytes()
}

// WrapRunes breaks text at spaces into lines of at most cols characters;
// a longer word is cut.
func WrapRunes(text string, cols int) []string {
	var out []string
	line := []rune{}
	for _, w := range lang.Words(text) {
		word := []rune(w)
		switch {
		case len(line) == 0:
		case len(line)+1+len(word) <= cols:
			line = append(line, ' ')
		default:
			out = append(out, string(line))
			line = line[:0]
		}
		for len(line)+len(word) > cols {
			n := cols - len(line)
			out = append(out, string(append(line, word[:n]...)))
			line, word = line[:0], word[n:]
		}
		line = append(line, word...)
	}
	if len(line) > 0 || len(out) == 0 {
		out = append(out, string(line))
	}
	return out
}
