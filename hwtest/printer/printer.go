// Package printer is the test rig's thermal receipt printer: it takes
// ESC/POS on a network printer's raw port (or from a file standing for
// the USB device) and decodes it as a printer does — text in its code
// page, raster images, the cut — refusing a command it does not know, as
// a real printer would print it as garbage.
package printer

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"
)

// Printed is one receipt as the printer put it on paper.
type Printed struct {
	Lines  []string // the text lines, decoded from the code page
	Bold   []bool   // whether each line was printed bold
	Images []*image.Gray
	Cut    bool
}

// Text is the printed lines joined.
func (p Printed) Text() string { return strings.Join(p.Lines, "\n") }

// codePages are the printer's, by ESC t's number (Epson's table).
var codePages = map[int]*charmap.Charmap{0: charmap.CodePage437, 2: charmap.CodePage850, 16: charmap.Windows1252, 19: charmap.CodePage858}

// Decode reads one print job.
func Decode(b []byte) (Printed, error) {
	var out Printed
	var line bytes.Buffer
	codePage := 0 // PC437, the power-on default
	bold := false
	flush := func() error {
		cm, ok := codePages[codePage]
		if !ok {
			return fmt.Errorf("code page %d not loaded in this printer", codePage)
		}
		s, err := cm.NewDecoder().Bytes(line.Bytes())
		if err != nil {
			return err
		}
		t := string(s)
		out.Lines = append(out.Lines, t)
		out.Bold = append(out.Bold, bold)
		line.Reset()
		return nil
	}
	need := func(i, n int) error {
		if i+n > len(b) {
			return fmt.Errorf("command at %d cut short", i)
		}
		return nil
	}
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == 0x0A:
			if err := flush(); err != nil {
				return out, err
			}
			i++
		case c == 0x1B:
			if err := need(i, 2); err != nil {
				return out, err
			}
			switch b[i+1] {
			case '@':
				codePage, bold = 0, false
				i += 2
			case 't', 'a', 'E', 'd':
				if err := need(i, 3); err != nil {
					return out, err
				}
				switch b[i+1] {
				case 't':
					codePage = int(b[i+2])
				case 'E':
					bold = b[i+2]&1 == 1
				}
				i += 3
			default:
				return out, fmt.Errorf("unknown command ESC %q at %d", b[i+1], i)
			}
		case c == 0x1D:
			if err := need(i, 2); err != nil {
				return out, err
			}
			switch b[i+1] {
			case '!':
				if err := need(i, 3); err != nil {
					return out, err
				}
				i += 3
			case 'V':
				if err := need(i, 3); err != nil {
					return out, err
				}
				n := 3
				if b[i+2] == 65 || b[i+2] == 66 {
					n = 4
				}
				if err := need(i, n); err != nil {
					return out, err
				}
				out.Cut = true
				i += n
			case 'v':
				if err := need(i, 8); err != nil {
					return out, err
				}
				if b[i+2] != '0' {
					return out, fmt.Errorf("GS v %q at %d", b[i+2], i)
				}
				wb := int(b[i+4]) | int(b[i+5])<<8
				h := int(b[i+6]) | int(b[i+7])<<8
				if err := need(i+8, wb*h); err != nil {
					return out, err
				}
				img := image.NewGray(image.Rect(0, 0, wb*8, h))
				data := b[i+8 : i+8+wb*h]
				for y := range h {
					for x := range wb * 8 {
						v := color.Gray{0xFF}
						if data[y*wb+x/8]&(0x80>>(x%8)) != 0 {
							v = color.Gray{0}
						}
						img.SetGray(x, y, v)
					}
				}
				out.Images = append(out.Images, img)
				i += 8 + wb*h
			default:
				return out, fmt.Errorf("unknown command GS %q at %d", b[i+1], i)
			}
		case c < 0x20:
			return out, fmt.Errorf("control byte %#x at %d", c, i)
		default:
			line.WriteByte(c)
			i++
		}
	}
	if line.Len() > 0 {
		return out, fmt.Errorf("text left unprinted at the end: %q", line.String())
	}
	return out, nil
}

// Printer is a network receipt printer on 127.0.0.1.
type Printer struct {
	Addr string // host:port, for "tcp:" + Addr
	jobs chan Printed
	mu   sync.Mutex
	errs []error
	ln   net.Listener
}

// Start opens a virtual network printer for the test.
func Start(t testing.TB) *Printer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Printer{Addr: ln.Addr().String(), jobs: make(chan Printed, 16), ln: ln}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, err := range p.errs {
			t.Errorf("virtual printer: %v", err)
		}
	})
	return p
}

func (p *Printer) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			b, err := io.ReadAll(c)
			if err == nil {
				var job Printed
				if job, err = Decode(b); err == nil {
					p.jobs <- job
					return
				}
			}
			p.mu.Lock()
			p.errs = append(p.errs, err)
			p.mu.Unlock()
		}()
	}
}

// Next waits for the next receipt printed.
func (p *Printer) Next(t testing.TB, within time.Duration) Printed {
	t.Helper()
	select {
	case j := <-p.jobs:
		return j
	case <-time.After(within):
		t.Fatalf("no receipt printed within %v", within)
	}
	return Printed{}
}

// None checks nothing was printed for a while.
func (p *Printer) None(t testing.TB, during time.Duration) {
	t.Helper()
	select {
	case j := <-p.jobs:
		t.Fatalf("a receipt printed: %q", j.Text())
	case <-time.After(during):
	}
}
