package display

import (
	"image"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/devices/v3/ssd1306"

	"dmpkiosk/display/st7789"
)

// OLEDPanel is a 128×64 SSD1306 OLED on I²C (address 0x3C), through
// periph.io's driver, which sends only the pages that changed.
type OLEDPanel struct {
	dev *ssd1306.Dev
}

// NewOLED initialises the panel on bus.
func NewOLED(bus i2c.Bus) (*OLEDPanel, error) {
	opts := ssd1306.DefaultOpts
	dev, err := ssd1306.NewI2C(bus, &opts)
	if err != nil {
		return nil, err
	}
	return &OLEDPanel{dev: dev}, nil
}

// Size implements Panel.
func (p *OLEDPanel) Size() Size { return OLED }

// Show implements Panel.
func (p *OLEDPanel) Show(_ Screen, img image.Image) error {
	return p.dev.Draw(p.dev.Bounds(), img, image.Point{})
}

// Halt turns the panel off.
func (p *OLEDPanel) Halt() error { return p.dev.Halt() }

// TFTPanel is a 320×240 ST7789 TFT.
type TFTPanel struct {
	Dev *st7789.Dev
}

// Size implements Panel.
func (p *TFTPanel) Size() Size { return TFT }

// Show implements Panel; only the changed window is sent.
func (p *TFTPanel) Show(_ Screen, img image.Image) error { return p.Dev.Draw(img) }
