package display

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"sort"
	"sync"

	"codeberg.org/go-fonts/dejavu/dejavusans"
	"codeberg.org/go-fonts/dejavu/dejavusansbold"
	"github.com/go-text/typesetting/di"
	gtfont "github.com/go-text/typesetting/font"
	ot "github.com/go-text/typesetting/font/opentype"
	"github.com/go-text/typesetting/shaping"
	"golang.org/x/image/math/fixed"
	"golang.org/x/image/vector"
)

// shaper lays out text that needs shaping and the bidirectional algorithm
// — Arabic and the other right-to-left scripts — with go-text's HarfBuzz
// port, in DejaVu Sans (which has the Arabic letters' forms), and draws
// the glyphs' outlines itself. The Latin screens keep the Go fonts.
type shaper struct {
	mu      sync.Mutex
	faces   [2]*gtfont.Face // regular, bold
	hb      shaping.HarfbuzzShaper
	seg     shaping.Segmenter
	wrapper shaping.LineWrapper
	raster  vector.Rasterizer
}

func newShaper() (*shaper, error) {
	sh := &shaper{}
	for i, ttf := range [][]byte{dejavusans.TTF, dejavusansbold.TTF} {
		f, err := gtfont.ParseTTF(bytes.NewReader(ttf))
		if err != nil {
			return nil, fmt.Errorf("display: DejaVu Sans: %w", err)
		}
		sh.faces[i] = f
	}
	return sh, nil
}

// shapedLine is one line of shaped text, its runs in visual order (left to
// right).
type shapedLine struct {
	runs  []shaping.Output
	width int
}

// lines shapes a paragraph of direction rtl and wraps it at width pixels.
func (sh *shaper) lines(text string, bold bool, px float64, width int, rtl bool) []shapedLine {
	if text == "" {
		return nil
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	face := sh.faces[0]
	if bold {
		face = sh.faces[1]
	}
	dir := di.DirectionLTR
	if rtl {
		dir = di.DirectionRTL
	}
	rs := []rune(text)
	in := shaping.Input{Text: rs, RunStart: 0, RunEnd: len(rs), Direction: dir, Face: face, Size: fixed.Int26_6(px * 64)}
	var outs []shaping.Output
	for _, run := range sh.seg.Split(in, singleFace{face}) {
		outs = append(outs, sh.hb.Shape(run))
	}
	wrapped, _ := sh.wrapper.WrapParagraph(shaping.WrapConfig{Direction: dir}, width, rs, shaping.NewSliceIterator(outs))
	out := make([]shapedLine, 0, len(wrapped))
	for _, l := range wrapped {
		runs := append([]shaping.Output(nil), l...)
		sort.Slice(runs, func(i, j int) bool { return runs[i].VisualIndex < runs[j].VisualIndex })
		w := fixed.Int26_6(0)
		for _, r := range runs {
			w += r.Advance
		}
		out = append(out, shapedLine{runs: runs, width: w.Ceil()})
	}
	return out
}

// draw paints a shaped line with its left end at x on baseline.
func (sh *shaper) draw(dst *image.RGBA, l shapedLine, x, baseline int, col color.RGBA) {
	if len(l.runs) == 0 {
		return
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	// Only the line's box is rasterized and composited, not the screen.
	px := float64(l.runs[0].Size) / 64
	box := image.Rect(x-int(px/2), baseline-int(px*1.3), x+l.width+int(px/2), baseline+int(px*0.6)).Intersect(dst.Bounds())
	if box.Empty() {
		return
	}
	sh.raster.Reset(box.Dx(), box.Dy())
	pen := float32(x - box.Min.X)
	base := float32(baseline - box.Min.Y)
	for _, run := range l.runs {
		scale := float32(run.Size) / 64 / float32(run.Face.Upem())
		for _, g := range run.Glyphs {
			gx := pen + float32(g.XOffset)/64
			gy := base - float32(g.YOffset)/64
			if o, ok := run.Face.GlyphData(g.GlyphID).(gtfont.GlyphOutline); ok {
				sh.path(o, gx, gy, scale)
			}
			pen += float32(g.Advance) / 64
		}
	}
	sh.raster.Draw(dst, box, &image.Uniform{col}, image.Point{})
}

// path adds a glyph's outline (font units, y up) at (x, y) to the raster.
func (sh *shaper) path(o gtfont.GlyphOutline, x, y, scale float32) {
	pt := func(p ot.SegmentPoint) (float32, float32) { return x + p.X*scale, y - p.Y*scale }
	open := false
	for _, s := range o.Segments {
		switch s.Op {
		case ot.SegmentOpMoveTo:
			if open {
				sh.raster.ClosePath()
			}
			sh.raster.MoveTo(pt(s.Args[0]))
			open = true
		case ot.SegmentOpLineTo:
			sh.raster.LineTo(pt(s.Args[0]))
		case ot.SegmentOpQuadTo:
			ax, ay := pt(s.Args[0])
			bx, by := pt(s.Args[1])
			sh.raster.QuadTo(ax, ay, bx, by)
		case ot.SegmentOpCubeTo:
			ax, ay := pt(s.Args[0])
			bx, by := pt(s.Args[1])
			cx, cy := pt(s.Args[2])
			sh.raster.CubeTo(ax, ay, bx, by, cx, cy)
		}
	}
	if open {
		sh.raster.ClosePath()
	}
}

// singleFace is the one face every rune is drawn in.
type singleFace struct{ f *gtfont.Face }

func (s singleFace) ResolveFace(rune) *gtfont.Face { return s.f }
