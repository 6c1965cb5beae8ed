package admin

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// chartData is what a chart draws and the table beside it shows: one
// value per category (a period, a reason) for each series.
type chartData struct {
	Name       string // the chart's path: /infocentre/<Name>.svg
	Title      string
	Categories []string
	Series     []chartSeries
	// Lines: a time series (one line per series); otherwise horizontal
	// bars of the first series.
	Lines bool
	// Query is the page's, for the chart's address.
	Query template.URL
}

type chartSeries struct {
	Name   string
	Values []int
}

// Empty says there is nothing to draw.
func (c chartData) Empty() bool {
	for _, s := range c.Series {
		for _, v := range s.Values {
			if v != 0 {
				return false
			}
		}
	}
	return true
}

// Rows is the table of the chart: one row per category.
func (c chartData) Rows() [][]int {
	rows := make([][]int, len(c.Categories))
	for i := range c.Categories {
		for _, s := range c.Series {
			rows[i] = append(rows[i], s.Values[i])
		}
	}
	return rows
}

// The charts are lettered in Liberation Sans (Arial's metrics), which
// the admin pages load from the bridge itself (/assets/).
func init() { plot.DefaultFont = font.Font{Typeface: "Liberation", Variant: "Sans"} }

// Inline is the chart as an SVG element for the page (its font is the
// page's); empty if it cannot be drawn.
func (c chartData) Inline() template.HTML {
	b, err := c.SVG(false)
	if err != nil {
		return ""
	}
	if i := bytes.Index(b, []byte("<svg")); i >= 0 {
		b = b[i:]
	}
	return template.HTML(bytes.Replace(b, []byte("<svg "), []byte(`<svg role="img" aria-hidden="true" `), 1))
}

// SVG draws the chart with gonum/plot; embed puts the font in the file,
// for a chart saved on its own. Readable without colour: each line has
// its own dash pattern and marker and is named in the legend; bars carry
// their value.
func (c chartData) SVG(embed bool) ([]byte, error) {
	p := plot.New()
	p.BackgroundColor = color.White
	var err error
	if c.Lines {
		err = c.lines(p)
	} else {
		err = c.bars(p)
	}
	if err != nil {
		return nil, err
	}
	w, h := 14*vg.Centimeter, 8*vg.Centimeter
	if !c.Lines {
		h = vg.Length(math.Max(4, 1.2+0.7*float64(len(c.Categories)))) * vg.Centimeter
	}
	canvas := vgsvg.NewWith(vgsvg.UseWH(w, h), vgsvg.EmbedFonts(embed))
	p.Draw(draw.New(canvas))
	var b bytes.Buffer
	if _, err := canvas.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func (c chartData) lines(p *plot.Plot) error {
	p.Y.Label.Text = "nombre"
	p.Y.Min = 0
	// The legend at the top left, above the lines: room is made for it.
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs = vg.Points(8)
	top := 1
	for _, s := range c.Series {
		top = max(top, slices.Max(s.Values))
	}
	p.Y.Max = float64(top) * (1.15 + 0.12*float64(len(c.Series)))
	p.Y.Tick.Marker = integerTicks{}
	var args []any
	for _, s := range c.Series {
		xys := make(plotter.XYs, len(s.Values))
		for i, v := range s.Values {
			xys[i] = plotter.XY{X: float64(i), Y: float64(v)}
		}
		args = append(args, s.Name, xys)
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return err
	}
	// A short label every few periods, so that a month of days stays
	// legible (the table beside has them in full).
	step := max(1, (len(c.Categories)+9)/10)
	p.X.Tick.Marker = plot.TickerFunc(func(_, _ float64) []plot.Tick {
		var ticks []plot.Tick
		for i, name := range c.Categories {
			t := plot.Tick{Value: float64(i)}
			if i%step == 0 {
				t.Label = shortPeriod(name)
			}
			ticks = append(ticks, t)
		}
		return ticks
	})
	p.X.Min, p.X.Max = -0.5, float64(len(c.Categories))-0.5
	return nil
}

func (c chartData) bars(p *plot.Plot) error {
	p.X.Label.Text = "nombre"
	p.X.Min = 0
	p.X.Tick.Marker = integerTicks{}
	// Drawn from the bottom: the first category (the largest) on top, as
	// in the table.
	n := len(c.Categories)
	values := make(plotter.Values, n)
	labels := plotter.XYLabels{XYs: make(plotter.XYs, n), Labels: make([]string, n)}
	names := make([]string, n)
	for i := range n {
		v := c.Series[0].Values[n-1-i]
		names[i] = c.Categories[n-1-i]
		values[i] = float64(v)
		labels.XYs[i] = plotter.XY{X: float64(v), Y: float64(i)}
		labels.Labels[i] = fmt.Sprint(v)
	}
	bars, err := plotter.NewBarChart(values, vg.Points(14))
	if err != nil {
		return err
	}
	bars.Horizontal = true
	bars.Color = color.Gray{Y: 0x55}
	bars.LineStyle.Width = 0
	text, err := plotter.NewLabels(labels)
	if err != nil {
		return err
	}
	for i := range text.TextStyle {
		text.TextStyle[i].YAlign = draw.YCenter
	}
	text.Offset = vg.Point{X: vg.Points(4)}
	p.Add(bars, text)
	p.NominalY(names...)
	// Room for the last bar's value.
	top := 1.0
	for _, v := range values {
		top = math.Max(top, v)
	}
	p.X.Max = top * 1.15
	return nil
}

// integerTicks are gonum's default ticks on whole numbers only: counts
// have no decimals.
type integerTicks struct{}

func (integerTicks) Ticks(min, max float64) []plot.Tick {
	var out []plot.Tick
	for _, t := range (plot.DefaultTicks{}).Ticks(min, max) {
		if t.Value != math.Trunc(t.Value) {
			continue
		}
		if t.Label != "" {
			t.Label = strconv.FormatFloat(t.Value, 'f', 0, 64)
		}
		out = append(out, t)
	}
	return out
}

// shortPeriod names a period for a chart's axis: a day as DD/MM, a week
// as S45; a month or a range as it is.
func shortPeriod(p string) string {
	if d, err := time.Parse(time.DateOnly, p); err == nil {
		return d.Format("02/01")
	}
	if _, w, ok := strings.Cut(p, "-S"); ok {
		return "S" + w
	}
	return p
}
