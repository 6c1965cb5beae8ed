// Package st7789 drives ST7789 TFT panels (240×240, 320×240) over SPI with
// a data/command pin and an optional reset pin, in periph.io's driver style:
// New(port, dc, rst, &Opts{...}), Draw, Halt. It keeps a copy of the
// panel's memory and sends only the window around the pixels that changed.
package st7789

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
)

// Commands of the controller used here (ST7789 datasheet, section 9).
const (
	cmdSWRESET = 0x01
	cmdSLPIN   = 0x10
	cmdSLPOUT  = 0x11
	cmdNORON   = 0x13
	cmdINVOFF  = 0x20
	cmdINVON   = 0x21
	cmdDISPOFF = 0x28
	cmdDISPON  = 0x29
	cmdCASET   = 0x2A
	cmdRASET   = 0x2B
	cmdRAMWR   = 0x2C
	cmdMADCTL  = 0x36
	cmdCOLMOD  = 0x3A
)

// Opts are a panel's parameters.
type Opts struct {
	W, H             int // visible pixels after rotation
	XOffset, YOffset int // where the visible area starts in controller memory
	Rotation         int // 0, 90, 180 or 270
	Invert           bool
	Speed            physic.Frequency
}

// DefaultOpts fit the common 320×240 modules (landscape, inverted colours).
var DefaultOpts = Opts{W: 320, H: 240, Rotation: 90, Invert: true, Speed: 40 * physic.MegaHertz}

// maxChunk bounds one SPI transfer (Linux spidev's default buffer is 4 KiB).
const maxChunk = 4096

// Dev is one panel.
type Dev struct {
	c      spi.Conn
	dc     gpio.PinOut
	opts   Opts
	shadow []uint16 // what the panel holds, RGB565
	fresh  bool     // nothing drawn yet: the first frame goes whole
	buf    []byte
	sleep  func(time.Duration)
}

// New resets and initialises the panel. rst may be nil (software reset).
func New(p spi.Port, dc, rst gpio.PinOut, opts *Opts) (*Dev, error) {
	if opts == nil {
		o := DefaultOpts
		opts = &o
	}
	if opts.W <= 0 || opts.H <= 0 || opts.Rotation%90 != 0 {
		return nil, fmt.Errorf("st7789: size %dx%d rotation %d", opts.W, opts.H, opts.Rotation)
	}
	if dc == nil {
		return nil, errors.New("st7789: a data/command pin is required")
	}
	speed := opts.Speed
	if speed == 0 {
		speed = DefaultOpts.Speed
	}
	c, err := p.Connect(speed, spi.Mode3, 8)
	if err != nil {
		return nil, err
	}
	d := &Dev{c: c, dc: dc, opts: *opts, shadow: make([]uint16, opts.W*opts.H), fresh: true, sleep: time.Sleep}
	if err := d.init(rst); err != nil {
		return nil, err
	}
	return d, nil
}

func madctl(rotation int) byte {
	switch rotation % 360 {
	case 90:
		return 0x60 // MX | MV
	case 180:
		return 0xC0 // MX | MY
	case 270:
		return 0xA0 // MY | MV
	}
	return 0x00
}

func (d *Dev) init(rst gpio.PinOut) error {
	if rst != nil {
		if err := rst.Out(gpio.Low); err != nil {
			return err
		}
		d.sleep(10 * time.Microsecond)
		if err := rst.Out(gpio.High); err != nil {
			return err
		}
	} else if err := d.command(cmdSWRESET); err != nil {
		return err
	}
	d.sleep(120 * time.Millisecond) // reset completes
	inv := byte(cmdINVOFF)
	if d.opts.Invert {
		inv = cmdINVON
	}
	steps := []struct {
		cmd  byte
		data []byte
	}{
		{cmdSLPOUT, nil},
		{cmdCOLMOD, []byte{0x55}}, // 16 bits a pixel, RGB565
		{cmdMADCTL, []byte{madctl(d.opts.Rotation)}},
		{inv, nil},
		{cmdNORON, nil},
		{cmdDISPON, nil},
	}
	for i, s := range steps {
		if err := d.command(s.cmd, s.data...); err != nil {
			return err
		}
		if i == 0 {
			d.sleep(5 * time.Millisecond) // after SLPOUT
		}
	}
	return nil
}

func (d *Dev) command(cmd byte, data ...byte) error {
	if err := d.dc.Out(gpio.Low); err != nil {
		return err
	}
	if err := d.c.Tx([]byte{cmd}, nil); err != nil {
		return err
	}
	if len(data) == 0 {
		return nil
	}
	return d.data(data)
}

func (d *Dev) data(b []byte) error {
	if err := d.dc.Out(gpio.High); err != nil {
		return err
	}
	for len(b) > 0 {
		n := min(len(b), maxChunk)
		if err := d.c.Tx(b[:n], nil); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// Bounds is the panel's visible area.
func (d *Dev) Bounds() image.Rectangle { return image.Rect(0, 0, d.opts.W, d.opts.H) }

// ColorModel is RGB565, shown as RGBA.
func (d *Dev) ColorModel() color.Model { return color.RGBAModel }

func rgb565(c color.Color) uint16 {
	r, g, b, _ := c.RGBA()
	return uint16(r>>11)<<11 | uint16(g>>10)<<5 | uint16(b>>11)
}

// Draw shows img on the panel, sending only the smallest rectangle that
// holds every changed pixel (nothing when nothing changed).
func (d *Dev) Draw(img image.Image) error {
	w, h := d.opts.W, d.opts.H
	b := img.Bounds()
	next := make([]uint16, w*h)
	x0, y0, x1, y1 := w, h, -1, -1
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var px uint16
			if x < b.Dx() && y < b.Dy() {
				px = rgb565(img.At(b.Min.X+x, b.Min.Y+y))
			}
			next[y*w+x] = px
			if d.fresh || px != d.shadow[y*w+x] {
				x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
			}
		}
	}
	if x1 < 0 {
		return nil
	}
	if err := d.window(x0, y0, x1, y1); err != nil {
		return err
	}
	d.buf = d.buf[:0]
	for y := y0; y <= y1; y++ {
		for x := x0; x <= x1; x++ {
			px := next[y*w+x]
			d.buf = append(d.buf, byte(px>>8), byte(px))
		}
	}
	if err := d.command(cmdRAMWR); err != nil {
		return err
	}
	if err := d.data(d.buf); err != nil {
		return err
	}
	d.shadow, d.fresh = next, false
	return nil
}

func (d *Dev) window(x0, y0, x1, y1 int) error {
	x0, x1 = x0+d.opts.XOffset, x1+d.opts.XOffset
	y0, y1 = y0+d.opts.YOffset, y1+d.opts.YOffset
	if err := d.command(cmdCASET, byte(x0>>8), byte(x0), byte(x1>>8), byte(x1)); err != nil {
		return err
	}
	return d.command(cmdRASET, byte(y0>>8), byte(y0), byte(y1>>8), byte(y1))
}

// Halt turns the display off and puts the controller to sleep.
func (d *Dev) Halt() error {
	if err := d.command(cmdDISPOFF); err != nil {
		return err
	}
	d.fresh = true
	return d.command(cmdSLPIN)
}
