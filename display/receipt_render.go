package display

import (
	"image"
	"image/color"

	"dmpkiosk/display/receipt"
)

// RenderReceipt draws a receipt as the thermal printer prints it: the
// paper's dots across, black on white, one bit deep (what EncodeRaster
// sends, and the tablet's preview). Right to left languages are shaped
// and aligned right.
func (r *Renderer) RenderReceipt(lines []receipt.Line, roll receipt.Paper, rtl bool) *image.Gray {
	pad := roll.Dots / 48
	width := roll.Dots - 2*pad
	body := float64(roll.Dots) / 24 // 24 dots on 80 mm paper, as the printer's font A
	type drawn struct {
		p      pen
		l      tline
		center bool
		y      int
	}
	var rows []drawn
	var rules []int
	h := pad
	for _, l := range lines {
		if l.Rule {
			rules = append(rules, h+pad/2)
			h += pad + 2
			continue
		}
		px := body
		if l.Big {
			px = body * 1.6
		}
		p := r.penDir(rtl, l.Bold, px)
		for _, t := range p.wrap(l.Text, width) {
			rows = append(rows, drawn{p, t, l.Center, h})
			h += p.h
		}
	}
	h += 2 * pad
	c := &canvas{img: image.NewRGBA(image.Rect(0, 0, roll.Dots, h)), fg: color.RGBA{0, 0, 0, 0xFF}, bg: paper}
	c.fill(c.img.Rect, c.bg)
	for _, y := range rules {
		c.fill(image.Rect(pad, y, pad+width, y+2), c.fg)
	}
	for _, d := range rows {
		left, w := pad, width
		if d.center {
			lw := d.p.width(d.l)
			left, w = pad+(width-lw)/2, lw
		}
		d.p.put(c, d.l, left, w, d.y+d.p.asc, c.fg)
	}
	out := image.NewGray(c.img.Rect)
	for i := 0; i < len(c.img.Pix); i += 4 {
		v := uint8(0xFF)
		if int(c.img.Pix[i])+int(c.img.Pix[i+1])+int(c.img.Pix[i+2]) < 3*0x80 {
			v = 0
		}
		out.Pix[i/4] = v
	}
	return out
}
