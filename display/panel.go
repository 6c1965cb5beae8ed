package display

import (
	"errors"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"sync"
)

// Panel is where a rendered screen goes: an OLED, a TFT, the web view, a
// PNG file. The screen code never knows which; a panel that can also show
// text (the web view, for screen readers) reads it from s.
type Panel interface {
	// Size is the layout to render for this panel.
	Size() Size
	// Show puts the screen, rendered at Size, on the panel.
	Show(s Screen, img image.Image) error
}

// Display shows each screen on every panel of the device.
type Display struct {
	r      *Renderer
	panels []Panel

	mu      sync.Mutex
	last    Screen
	layouts []Layout // what each panel showed of last
}

// New returns a display over the given panels.
func New(r *Renderer, panels ...Panel) *Display {
	return &Display{r: r, panels: panels}
}

// Show renders s once per panel size and shows it everywhere; a panel that
// fails does not stop the others.
func (d *Display) Show(s Screen) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.last = s
	d.layouts = d.layouts[:0]
	var errs []error
	for _, p := range d.panels {
		img, lay := d.r.Render(s, p.Size())
		d.layouts = append(d.layouts, lay)
		if err := p.Show(s, img); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// More is the Scroll that shows the next lines of the last screen where a
// panel has not shown its end (the panel showing fewest lines decides);
// ok is false when every panel has shown all of it. The panels where it
// all fits are not moved by a Scroll.
func (d *Display) More() (scroll int, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fewest := -1
	for _, l := range d.layouts {
		if l.First+l.Shown < l.Lines && l.Shown > 0 && (fewest < 0 || l.Shown < fewest) {
			fewest, scroll, ok = l.Shown, l.First+l.Shown, true
		}
	}
	return scroll, ok
}

// Less is the Scroll a screenful back; ok is false at the top.
func (d *Display) Less() (scroll int, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fewest := -1
	for _, l := range d.layouts {
		if l.First > 0 && (fewest < 0 || l.Shown < fewest) {
			fewest, scroll, ok = l.Shown, max(0, l.First-max(1, l.Shown)), true
		}
	}
	return scroll, ok
}

// Last is the screen shown last.
func (d *Display) Last() Screen {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last
}

// PNG is a panel that writes each screen to a file: for tests and
// documentation.
type PNG struct {
	Path   string
	Layout Size
}

// Size implements Panel.
func (p *PNG) Size() Size { return p.Layout }

// Show implements Panel, replacing the file atomically.
func (p *PNG) Show(_ Screen, img image.Image) error {
	tmp, err := os.CreateTemp(filepath.Dir(p.Path), ".screen-*.png")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := png.Encode(tmp, img); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p.Path)
}
