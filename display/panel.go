package display

import (
	"image"
	"image/png"
	"os"
	"path/filepath"
)

// Panel is where a rendered screen goes: an OLED, a TFT, the web view, a
// PNG file. The screen code never knows which.
type Panel interface {
	// Size is the layout to render for this panel.
	Size() Size
	// Show puts the image on the panel.
	Show(img image.Image) error
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
func (p *PNG) Show(img image.Image) error {
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
