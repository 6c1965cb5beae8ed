package display

import (
	"bytes"
	"image"
	"testing"

	"periph.io/x/conn/v3/i2c/i2ctest"
)

// pack is the SSD1306 frame of an image, computed here independently of
// the driver: 8 pages of 128 columns, one byte a column, bit i = row
// page*8+i, lit when the pixel is white.
func pack(img image.Image) []byte {
	out := make([]byte, 8*128)
	for page := 0; page < 8; page++ {
		for x := 0; x < 128; x++ {
			var b byte
			for i := 0; i < 8; i++ {
				if r, _, _, _ := img.At(x, page*8+i).RGBA(); r > 0x8000 {
					b |= 1 << i
				}
			}
			out[page*128+x] = b
		}
	}
	return out
}

// replay rebuilds the panel's memory from the recorded I²C writes.
func replay(t *testing.T, ops []i2ctest.IO, mem []byte) (pages int) {
	t.Helper()
	page, col := -1, 0
	for _, op := range ops {
		if op.Addr != 0x3C {
			t.Fatalf("write to address %#x", op.Addr)
		}
		switch op.W[0] {
		case 0x00: // commands: a page address sets where data goes
			for _, c := range op.W[1:] {
				switch {
				case c&0xF8 == 0xB0:
					page = int(c & 0x07)
				case c&0xF0 == 0x00:
					col = col&0xF0 | int(c&0x0F)
				case c&0xF0 == 0x10:
					col = col&0x0F | int(c&0x0F)<<4
				}
			}
		case 0x40:
			if page < 0 {
				t.Fatal("data before any page address")
			}
			copy(mem[page*128+col:], op.W[1:])
			pages++
		}
	}
	return pages
}

func TestOLEDBytes(t *testing.T) {
	rec := &i2ctest.Record{}
	p, err := NewOLED(rec)
	if err != nil {
		t.Fatal(err)
	}
	init := len(rec.Ops)
	if init == 0 || !containsOp(rec.Ops, 0xAF) {
		t.Fatal("no display-on command in the initialisation")
	}
	r, _ := NewRenderer(false)
	idle, _ := r.Render(Idle(st), OLED)
	if err := p.Show(Screen{}, idle); err != nil {
		t.Fatal(err)
	}
	mem := make([]byte, 8*128)
	if n := replay(t, rec.Ops[init:], mem); n != 8 {
		t.Fatalf("first frame: %d pages sent, want 8", n)
	}
	if !bytes.Equal(mem, pack(idle)) {
		t.Fatal("the panel memory differs from the rendered screen")
	}
	// The same screen again sends nothing; another sends what changed.
	before := len(rec.Ops)
	if err := p.Show(Screen{}, idle); err != nil {
		t.Fatal(err)
	}
	if len(rec.Ops) != before {
		t.Fatalf("an unchanged screen sent %d writes", len(rec.Ops)-before)
	}
	reading, _ := r.Render(Reading(st), OLED)
	if err := p.Show(Screen{}, reading); err != nil {
		t.Fatal(err)
	}
	if n := replay(t, rec.Ops[before:], mem); n == 0 || n > 8 {
		t.Fatalf("second frame: %d pages", n)
	}
	if !bytes.Equal(mem, pack(reading)) {
		t.Fatal("after a partial update the panel memory differs from the screen")
	}
}

func containsOp(ops []i2ctest.IO, cmd byte) bool {
	for _, op := range ops {
		if len(op.W) > 1 && op.W[0] == 0x00 && bytes.IndexByte(op.W[1:], cmd) >= 0 {
			return true
		}
	}
	return false
}
