package st7789

import (
	"image"
	"image/color"
	"image/draw"
	"testing"

	"periph.io/x/conn/v3/conntest"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/conn/v3/spi/spitest"
)

// dcPort records the data/command pin's level at every SPI transfer, so
// that the test checks which bytes went as commands and which as data.
type dcPort struct {
	spi.PortCloser
	dc     *gpiotest.Pin
	levels *[]gpio.Level
}

func (p dcPort) Connect(f physic.Frequency, m spi.Mode, bits int) (spi.Conn, error) {
	c, err := p.PortCloser.Connect(f, m, bits)
	return dcConn{c, p}, err
}

type dcConn struct {
	spi.Conn
	p dcPort
}

func (c dcConn) Tx(w, r []byte) error {
	*c.p.levels = append(*c.p.levels, c.p.dc.L)
	return c.Conn.Tx(w, r)
}

const (
	C = gpio.Low  // command
	D = gpio.High // data
)

type step struct {
	dc    gpio.Level
	bytes []byte
}

func initSteps() []step {
	return []step{
		{C, []byte{0x11}},                    // SLPOUT
		{C, []byte{0x3A}}, {D, []byte{0x55}}, // COLMOD 16 bits
		{C, []byte{0x36}}, {D, []byte{0x60}}, // MADCTL, 90°: MX|MV
		{C, []byte{0x21}}, // INVON
		{C, []byte{0x13}}, // NORON
		{C, []byte{0x29}}, // DISPON
	}
}

func windowSteps(x0, y0, x1, y1 int, pixels []byte) []step {
	s := []step{
		{C, []byte{0x2A}}, {D, []byte{byte(x0 >> 8), byte(x0), byte(x1 >> 8), byte(x1)}},
		{C, []byte{0x2B}}, {D, []byte{byte(y0 >> 8), byte(y0), byte(y1 >> 8), byte(y1)}},
		{C, []byte{0x2C}},
	}
	for len(pixels) > 0 {
		n := min(len(pixels), maxChunk)
		s = append(s, step{D, pixels[:n]})
		pixels = pixels[n:]
	}
	return s
}

// expectRGB565 encodes a rectangle of img, big-endian RGB565, computed here
// without the driver: red 5 bits, green 6, blue 5.
func expectRGB565(img *image.RGBA, r image.Rectangle) []byte {
	var out []byte
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := img.RGBAAt(x, y)
			v := uint16(c.R>>3)<<11 | uint16(c.G>>2)<<5 | uint16(c.B>>3)
			out = append(out, byte(v>>8), byte(v))
		}
	}
	return out
}

func playback(t *testing.T, steps []step) (*spitest.Playback, dcPort, *gpiotest.Pin, *[]gpio.Level) {
	t.Helper()
	pb := &spitest.Playback{}
	for _, s := range steps {
		pb.Ops = append(pb.Ops, conntest.IO{W: s.bytes})
	}
	dc := &gpiotest.Pin{N: "DC"}
	var levels []gpio.Level
	return pb, dcPort{PortCloser: pb, dc: dc, levels: &levels}, dc, &levels
}

func checkDC(t *testing.T, steps []step, levels []gpio.Level) {
	t.Helper()
	if len(levels) != len(steps) {
		t.Fatalf("%d transfers, want %d", len(levels), len(steps))
	}
	for i, s := range steps {
		if levels[i] != s.dc {
			t.Fatalf("transfer %d (% X...) sent with DC %v, want %v", i, s.bytes[:min(4, len(s.bytes))], levels[i], s.dc)
		}
	}
}

func TestInitAndPartialUpdates(t *testing.T) {
	const w, h = 320, 240
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Rect, &image.Uniform{color.RGBA{0xFF, 0xFF, 0xFF, 0xFF}}, image.Point{}, draw.Src)
	draw.Draw(img, image.Rect(10, 20, 30, 25), &image.Uniform{color.RGBA{0xB0, 0x00, 0x20, 0xFF}}, image.Point{}, draw.Src)

	// The first frame is sent whole; then a change in a 3×2 area sends only
	// that window; an identical frame sends nothing.
	changed := image.NewRGBA(img.Rect)
	copy(changed.Pix, img.Pix)
	draw.Draw(changed, image.Rect(100, 50, 103, 52), &image.Uniform{color.RGBA{0x0B, 0x6E, 0x2E, 0xFF}}, image.Point{}, draw.Src)
	steps := initSteps()
	steps = append(steps, windowSteps(0, 0, w-1, h-1, expectRGB565(img, img.Rect))...)
	steps = append(steps, windowSteps(100, 50, 102, 51, expectRGB565(changed, image.Rect(100, 50, 103, 52)))...)
	steps = append(steps, step{C, []byte{0x28}}, step{C, []byte{0x10}}) // DISPOFF, SLPIN

	pb, port, dc, levels := playback(t, steps)
	rst := &gpiotest.Pin{N: "RST"}
	d, err := New(port, dc, rst, &Opts{W: w, H: h, Rotation: 90, Invert: true})
	if err != nil {
		t.Fatal(err)
	}
	if rst.L != gpio.High {
		t.Fatal("reset pin left low")
	}
	if err := d.Draw(img); err != nil {
		t.Fatal(err)
	}
	if err := d.Draw(changed); err != nil {
		t.Fatal(err)
	}
	if err := d.Draw(changed); err != nil {
		t.Fatal(err)
	}
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	if err := pb.Close(); err != nil {
		t.Fatal(err)
	}
	checkDC(t, steps, *levels)
}

func TestOffsetsAndSoftwareReset(t *testing.T) {
	// A 240×240 module: visible area offset in the controller's 240×320
	// memory, no reset pin (SWRESET), no rotation.
	img := image.NewRGBA(image.Rect(0, 0, 240, 240))
	steps := []step{{C, []byte{0x01}}}
	for _, s := range initSteps() {
		if s.dc == D && len(s.bytes) == 1 && s.bytes[0] == 0x60 {
			s.bytes = []byte{0x00}
		}
		steps = append(steps, s)
	}
	steps = append(steps, windowSteps(0, 80, 239, 319, expectRGB565(img, img.Rect))...)
	pb, port, dc, levels := playback(t, steps)
	d, err := New(port, dc, nil, &Opts{W: 240, H: 240, YOffset: 80, Invert: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Draw(img); err != nil {
		t.Fatal(err)
	}
	if err := pb.Close(); err != nil {
		t.Fatal(err)
	}
	checkDC(t, steps, *levels)
}

func TestBadOptions(t *testing.T) {
	if _, err := New(&spitest.Playback{}, &gpiotest.Pin{}, nil, &Opts{W: 0, H: 240}); err == nil {
		t.Error("zero width accepted")
	}
	if _, err := New(&spitest.Playback{}, nil, nil, nil); err == nil {
		t.Error("no DC pin accepted")
	}
}
