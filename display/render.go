package display

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"sync"
	"unicode"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"

	"dmpkiosk/display/lang"
)

// Size is a panel the screens are laid out for.
type Size struct {
	Name string
	W, H int
	Mono bool
	// font sizes in pixels: status line, title, body
	status, title, body float64
	pad                 int
	// small: a panel too small for regular strokes (bold text throughout,
	// compact status line, short titles)
	small bool
}

// The three layouts: the SSD1306 OLED, a 320×240 TFT (ST7789/ILI9341
// class) and the tablet / web view.
var (
	OLED   = Size{Name: "oled", W: 128, H: 64, Mono: true, status: 10, title: 12, body: 11, pad: 1, small: true}
	TFT    = Size{Name: "tft", W: 320, H: 240, status: 12, title: 20, body: 16, pad: 6}
	Tablet = Size{Name: "tablet", W: 800, H: 480, status: 18, title: 36, body: 26, pad: 16}
	Sizes  = []Size{OLED, TFT, Tablet}
)

// Colours: dark text on white for the colour panels, white on black for
// the OLED (which emits light); the tones are saturated enough for white
// text to keep a contrast ratio above 4.5:1.
var (
	ink       = color.RGBA{0x11, 0x11, 0x11, 0xFF}
	paper     = color.RGBA{0xFF, 0xFF, 0xFF, 0xFF}
	barColour = color.RGBA{0x22, 0x2B, 0x36, 0xFF}
	selColour = color.RGBA{0x00, 0x4A, 0x99, 0xFF}
	toneBands = map[Tone]color.RGBA{
		Success: {0x0B, 0x6E, 0x2E, 0xFF},
		Warning: {0x8A, 0x4B, 0x00, 0xFF},
		Danger:  {0xB0, 0x00, 0x20, 0xFF},
	}
)

// Renderer draws screens. It is safe for concurrent use.
type Renderer struct {
	large   bool
	regular *opentype.Font
	bold    *opentype.Font

	mu    sync.Mutex
	faces map[faceKey]font.Face

	shapeOnce sync.Once
	shaper    *shaper
	shapeErr  error
}

type faceKey struct {
	bold bool
	px   float64
}

// NewRenderer loads the fonts; large scales text up by a quarter (and wraps
// and scrolls more) for staff who need it.
func NewRenderer(large bool) (*Renderer, error) {
	reg, err := opentype.Parse(goregular.TTF)
	if err != nil {
		return nil, err
	}
	bold, err := opentype.Parse(gobold.TTF)
	if err != nil {
		return nil, err
	}
	return &Renderer{large: large, regular: reg, bold: bold, faces: map[faceKey]font.Face{}}, nil
}

func (r *Renderer) face(bold bool, px float64) font.Face {
	if r.large {
		px *= 1.25
	}
	k := faceKey{bold, px}
	r.mu.Lock()
	defer r.mu.Unlock()
	if f, ok := r.faces[k]; ok {
		return f
	}
	src := r.regular
	if bold {
		src = r.bold
	}
	f, err := opentype.NewFace(src, &opentype.FaceOptions{Size: px, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		panic(fmt.Sprintf("display: font face %.0fpx: %v", px, err)) // the embedded fonts always parse
	}
	r.faces[k] = f
	return f
}

// Layout says what a render showed of a screen.
type Layout struct {
	Lines    int  // body and item lines in all
	First    int  // first line shown
	Shown    int  // lines shown
	Overflow bool // some text is off screen (marked ▲/▼ on screen)
}

type canvas struct {
	img  *image.RGBA
	mono bool
	fg   color.RGBA
	bg   color.RGBA
}

func (c *canvas) fill(rect image.Rectangle, col color.RGBA) {
	draw.Draw(c.img, rect, &image.Uniform{col}, image.Point{}, draw.Src)
}

func (c *canvas) text(f font.Face, x, baseline int, s string, col color.RGBA) {
	d := font.Drawer{Dst: c.img, Src: &image.Uniform{col}, Face: f, Dot: fixed.P(x, baseline)}
	d.DrawString(s)
}

func lineHeight(f font.Face) int { return f.Metrics().Height.Ceil() }

// pen writes the text of one style: the Go fonts for left-to-right
// screens, shaped DejaVu Sans (shape.go) for right-to-left ones.
type pen struct {
	f            font.Face
	r            *Renderer
	rtl          bool // the screen is right to left: shaped, lines aligned right
	bold         bool
	px           float64 // the shaper's size (the Go face's, large text included)
	h, asc, desc int
}

// tline is one line a pen wrapped: text in the Go face, or shaped.
type tline struct {
	s        string
	shaped   shapedLine
	isShaped bool
}

func (r *Renderer) pen(s Screen, bold bool, px float64) pen { return r.penDir(s.RTL, bold, px) }

func (r *Renderer) penDir(rtl, bold bool, px float64) pen {
	p := pen{f: r.face(bold, px), r: r, rtl: rtl, bold: bold, px: px}
	if r.large {
		p.px *= 1.25
	}
	p.h, p.asc, p.desc = lineHeight(p.f), p.f.Metrics().Ascent.Ceil(), p.f.Metrics().Descent.Ceil()
	if rtl {
		sh := r.shape()
		ext, _ := sh.faces[0].FontHExtents()
		scale := p.px / float64(sh.faces[0].Upem())
		p.asc = int(float64(ext.Ascender)*scale + 0.999)
		p.desc = int(float64(-ext.Descender)*scale + 0.999)
		p.h = p.asc + p.desc + int(float64(ext.LineGap)*scale+0.999)
	}
	return p
}

// shape is the renderer's shaper, made when first needed.
func (r *Renderer) shape() *shaper {
	r.shapeOnce.Do(func() { r.shaper, r.shapeErr = newShaper() })
	if r.shapeErr != nil {
		panic(r.shapeErr) // the embedded fonts always parse
	}
	return r.shaper
}

// needsShaping reports whether a left-to-right screen's text must be
// shaped all the same: it holds a right-to-left letter, or one the Go
// fonts lack (a language's own name in the language choice, say).
func (p pen) needsShaping(s string) bool {
	for _, c := range s {
		if unicode.In(c, unicode.Arabic, unicode.Hebrew, unicode.Syriac, unicode.Thaana, unicode.Nko) {
			return true
		}
		if _, ok := p.f.GlyphAdvance(c); !ok && unicode.IsGraphic(c) && !unicode.IsSpace(c) {
			return true
		}
	}
	return false
}

func (p pen) wrap(s string, w int) []tline {
	var out []tline
	if !p.rtl && !p.needsShaping(s) {
		for _, l := range wrap(p.f, s, w) {
			out = append(out, tline{s: l})
		}
		return out
	}
	// A paragraph of its own direction: the screen's when right to left,
	// else its first strong letter's.
	rtl := p.rtl || firstStrongRTL(s)
	for _, l := range p.r.shape().lines(s, p.bold, p.px, w, rtl) {
		out = append(out, tline{shaped: l, isShaped: true})
	}
	return out
}

// firstStrongRTL reports whether a paragraph's first strong letter is
// right to left.
func firstStrongRTL(s string) bool {
	for _, c := range s {
		if unicode.In(c, unicode.Arabic, unicode.Hebrew, unicode.Syriac, unicode.Thaana, unicode.Nko) {
			return true
		}
		if unicode.IsLetter(c) {
			return false
		}
	}
	return false
}

// width is a wrapped line's width in pixels.
func (p pen) width(l tline) int {
	if !l.isShaped {
		return font.MeasureString(p.f, l.s).Ceil()
	}
	return l.shaped.width
}

// put draws a line in the box [left, left+width]: from its left edge, or
// against its right edge when the screen is right to left.
func (p pen) put(c *canvas, l tline, left, width, baseline int, col color.RGBA) {
	switch {
	case !l.isShaped:
		c.text(p.f, left, baseline, l.s, col)
	case p.rtl:
		p.r.shape().draw(c.img, l.shaped, left+width-l.shaped.width, baseline, col)
	default:
		p.r.shape().draw(c.img, l.shaped, left, baseline, col)
	}
}

// wrap breaks a paragraph into lines no wider than w; a word longer than a
// line is cut between characters rather than left to overflow.
func wrap(f font.Face, s string, w int) []string {
	var lines []string
	line := ""
	fits := func(t string) bool { return font.MeasureString(f, t).Ceil() <= w }
	for _, word := range lang.Words(s) {
		cand := word
		if line != "" {
			cand = line + " " + word
		}
		if fits(cand) {
			line = cand
			continue
		}
		if line != "" {
			lines = append(lines, line)
		}
		line = ""
		for !fits(word) {
			n := 1
			for n < len([]rune(word)) && fits(string([]rune(word)[:n+1])) {
				n++
			}
			lines = append(lines, string([]rune(word)[:n]))
			word = string([]rune(word)[n:])
		}
		line = word
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

type row struct {
	text     tline
	selected bool
}

// Render draws the screen at a size: the status line, the title, the
// bottom (hint and PIN boxes), then the body and items in what is left.
func (r *Renderer) Render(s Screen, sz Size) (*image.RGBA, Layout) {
	c := &canvas{img: image.NewRGBA(image.Rect(0, 0, sz.W, sz.H)), mono: sz.Mono, fg: ink, bg: paper}
	if sz.Mono {
		c.fg, c.bg = paper, color.RGBA{0, 0, 0, 0xFF}
	}
	c.fill(c.img.Rect, c.bg)
	y := r.statusLine(c, s, sz)
	y = r.title(c, s, sz, y)
	bottom := r.bottom(c, s, sz)
	lay := r.body(c, s, sz, y, bottom)
	if s.Kind == KindSelfTest {
		testPattern(c, sz, bottom)
	}
	if sz.Mono {
		threshold(c.img)
	}
	return c.img, lay
}

// statusLine draws the status line and returns where the title starts.
func (r *Renderer) statusLine(c *canvas, s Screen, sz Size) int {
	pad, width := sz.pad, sz.W-2*sz.pad
	fs := r.face(sz.small, sz.status)
	sh := lineHeight(fs) + pad
	if sz.Mono {
		c.text(fs, pad, fs.Metrics().Ascent.Ceil(), fitLine(fs, s.Status.compact(), width), c.fg)
		c.fill(image.Rect(0, sh-1, sz.W, sh), c.fg)
		return sh
	}
	c.fill(image.Rect(0, 0, sz.W, sh+pad), barColour)
	c.text(fs, pad, pad+fs.Metrics().Ascent.Ceil(), fitLine(fs, s.Status.text(), width), paper)
	return sh + pad
}

// title draws the title from y, on a coloured band when the tone asks for
// attention, and returns where the body starts.
func (r *Renderer) title(c *canvas, s Screen, sz Size, y int) int {
	pad, width := sz.pad, sz.W-2*sz.pad
	ft := r.pen(s, true, sz.title)
	title := s.Title
	if sz.small && s.ShortTitle != "" {
		title = s.ShortTitle
	}
	titleLines := ft.wrap(title, width)
	th := ft.h
	band, toned := toneBands[s.Tone]
	bandH := len(titleLines)*th + 2*pad
	titleCol := c.fg
	if toned {
		if sz.Mono {
			c.fill(image.Rect(0, y, sz.W, y+bandH), c.fg)
			titleCol = c.bg
		} else {
			c.fill(image.Rect(0, y, sz.W, y+bandH), band)
			titleCol = paper
		}
	}
	for i, l := range titleLines {
		ft.put(c, l, pad, width, y+pad+i*th+ft.asc, titleCol)
	}
	return y + bandH
}

// bottom draws the hint line and the PIN boxes, which take their room
// first, and returns the bottom of the body's room.
func (r *Renderer) bottom(c *canvas, s Screen, sz Size) int {
	pad, width := sz.pad, sz.W-2*sz.pad
	fb := r.face(sz.small, sz.body)
	bh := lineHeight(fb)
	bottom := sz.H - pad
	// The smallest panel sits above labelled buttons: no hint line there.
	if s.Hint != "" && !sz.small {
		hp := r.pen(s, sz.small, sz.status)
		hl := hp.wrap(s.Hint, width)
		for i := len(hl) - 1; i >= 0; i-- {
			hp.put(c, hl[i], pad, width, bottom-hp.desc, c.fg)
			bottom -= hp.h
		}
		bottom -= pad
	}
	if s.Progress != nil {
		bottom = r.progress(c, s.Progress, sz, bottom)
	}
	if s.PINMax > 0 {
		box := bh + 2*pad
		if sz.small {
			box = bh
		}
		top := bottom - box
		for i := 0; i < s.PINMax; i++ {
			x := pad + i*(box+pad)
			rect := image.Rect(x, top, x+box, top+box)
			c.fill(rect, c.fg)
			c.fill(rect.Inset(max(1, pad/3)), c.bg)
			if i < s.PINDigits {
				c.text(fb, x+(box-font.MeasureString(fb, "●").Ceil())/2, top+pad+fb.Metrics().Ascent.Ceil(), "●", c.fg)
			}
		}
		bottom = top - pad
	}
	return bottom
}

// progress draws a wait's bar and what it waits for above bottom, and
// returns the new bottom. The bar fills towards the usual time; past it,
// the text says it is taking long.
func (r *Renderer) progress(c *canvas, p *Progress, sz Size, bottom int) int {
	pad, width := sz.pad, sz.W-2*sz.pad
	fb := r.face(sz.small, sz.body)
	barH := max(3, lineHeight(fb)/3)
	top := bottom - barH
	c.fill(image.Rect(pad, top, pad+width, bottom), c.fg)
	inner := image.Rect(pad+1, top+1, pad+width-1, bottom-1)
	c.fill(inner, c.bg)
	fill := selColour
	if sz.Mono {
		fill = c.fg
	}
	c.fill(image.Rect(inner.Min.X, inner.Min.Y, inner.Min.X+int(float64(inner.Dx())*p.Fraction()), inner.Max.Y), fill)
	bottom = top - max(1, pad/2)
	c.text(fb, pad, bottom-fb.Metrics().Descent.Ceil(), fitLine(fb, p.text(), width), c.fg)
	return bottom - lineHeight(fb) - pad
}

// body draws the body and items between y and bottom, the window
// following the cursor, and marks what does not fit.
func (r *Renderer) body(c *canvas, s Screen, sz Size, y, bottom int) Layout {
	pad, width := sz.pad, sz.W-2*sz.pad
	fb := r.face(sz.small, sz.body)
	bp := r.pen(s, sz.small, sz.body)
	bh := bp.h
	var rows []row
	for _, p := range s.Body {
		for _, l := range bp.wrap(p, width) {
			rows = append(rows, row{text: l})
		}
	}
	itemStart := len(rows)
	for i, it := range s.Items {
		for j, l := range bp.wrap(it, width-bh) {
			rows = append(rows, row{text: l, selected: i == s.Cursor && j >= 0})
		}
	}
	y += pad
	fit := max(0, (bottom-y)/bh)
	first := min(max(0, s.Scroll), max(0, len(rows)-fit))
	if s.Items != nil && s.Cursor >= 0 {
		cur := -1
		for i := itemStart; i < len(rows); i++ {
			if rows[i].selected {
				if cur < 0 {
					cur = i
				}
				if i >= first+fit {
					first = i - fit + 1
				}
			}
		}
		if cur >= 0 && cur < first {
			first = cur
		}
	}
	shown := min(fit, len(rows)-first)
	for i := 0; i < shown; i++ {
		rw := rows[first+i]
		top := y + i*bh
		col := c.fg
		if rw.selected {
			sel := selColour
			if sz.Mono {
				sel = c.fg
			}
			c.fill(image.Rect(0, top, sz.W, top+bh), sel)
			col = c.bg
			if !sz.Mono {
				col = paper
			}
		}
		bp.put(c, rw.text, pad, width, top+bp.asc, col)
	}
	// Text that does not fit is marked, never cut silently.
	// At the lines' end: the right, or the left when right to left.
	mark := func(s string, top int) {
		w := font.MeasureString(fb, s).Ceil()
		if bp.rtl {
			c.fill(image.Rect(0, top, w+2*pad, top+bh), c.bg)
			c.text(fb, pad, top+fb.Metrics().Ascent.Ceil(), s, c.fg)
			return
		}
		c.fill(image.Rect(sz.W-w-2*pad, top, sz.W, top+bh), c.bg)
		c.text(fb, sz.W-w-pad, top+fb.Metrics().Ascent.Ceil(), s, c.fg)
	}
	if first > 0 && shown > 0 {
		mark("▲", y)
	}
	if first+shown < len(rows) {
		mark("▼", y+max(0, shown-1)*bh)
	}
	return Layout{Lines: len(rows), First: first, Shown: shown, Overflow: first > 0 || first+shown < len(rows)}
}

// testPattern marks the four corners (a panel mounted off by a few pixels
// shows it at once) and, on colour panels, draws primary and tone colour
// bars above the bottom area (a swapped colour order shows at once).
func testPattern(c *canvas, sz Size, bottom int) {
	k := max(3, sz.W/40)
	corner := c.fg
	if !sz.Mono {
		corner = color.RGBA{0xFF, 0x00, 0xFF, 0xFF} // seen on the dark bar and on white
	}
	for _, p := range []image.Point{{0, 0}, {sz.W - k, 0}, {0, sz.H - k}, {sz.W - k, sz.H - k}} {
		c.fill(image.Rect(p.X, p.Y, p.X+k, p.Y+k), corner)
	}
	if sz.Mono {
		return
	}
	bars := []color.RGBA{{0xFF, 0, 0, 0xFF}, {0, 0xFF, 0, 0xFF}, {0, 0, 0xFF, 0xFF}, toneBands[Success], toneBands[Warning], toneBands[Danger], ink}
	h := max(6, sz.H/16)
	w := (sz.W - 2*sz.pad) / len(bars)
	for i, col := range bars {
		x := sz.pad + i*w
		c.fill(image.Rect(x, bottom-h, x+w, bottom), col)
	}
}

// fitLine shortens a status line that does not fit, ending it with "…"
// (the status line is a summary; its parts are all on the other screens).
func fitLine(f font.Face, s string, w int) string {
	if font.MeasureString(f, s).Ceil() <= w {
		return s
	}
	rs := []rune(s)
	for len(rs) > 0 && font.MeasureString(f, string(rs)+"…").Ceil() > w {
		rs = rs[:len(rs)-1]
	}
	return string(rs) + "…"
}

// threshold makes a monochrome image of an anti-aliased one; the level is
// low so that thin strokes of white text on black survive.
func threshold(img *image.RGBA) {
	for i := 0; i < len(img.Pix); i += 4 {
		v := uint8(0)
		if int(img.Pix[i])+int(img.Pix[i+1])+int(img.Pix[i+2]) >= 3*96 {
			v = 0xFF
		}
		img.Pix[i], img.Pix[i+1], img.Pix[i+2] = v, v, v
	}
}
