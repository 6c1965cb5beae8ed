package display

import (
	"errors"
	"fmt"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/spi/spireg"
	"periph.io/x/host/v3"

	"dmpkiosk/display/input"
	"dmpkiosk/display/st7789"
)

// Hardware is which display, buttons, keypad and buzzer a device has: the
// [display] part of the kiosk's configuration file. Pin and bus names are
// periph.io's ("GPIO17", "/dev/i2c-1" or "1", "SPI0.0").
type Hardware struct {
	Display    string            `toml:"display"` // web, ssd1306, st7789
	I2CBus     string            `toml:"i2c_bus"`
	SPIPort    string            `toml:"spi_port"`
	DCPin      string            `toml:"dc_pin"`
	ResetPin   string            `toml:"reset_pin"`
	Rotation   int               `toml:"rotation"`
	Buttons    map[string]string `toml:"buttons"` // oui, non, annuler, valider → pin
	KeypadRows []string          `toml:"keypad_rows"`
	KeypadCols []string          `toml:"keypad_cols"`
	Buzzer     string            `toml:"buzzer_pin"`
	LargeText  bool              `toml:"large_text"`
}

// Check validates the configuration without touching the hardware.
func (h Hardware) Check() error {
	var errs []error
	switch h.Display {
	case "web":
	case "ssd1306":
		if h.I2CBus == "" {
			errs = append(errs, errors.New("display ssd1306: i2c_bus is required"))
		}
	case "st7789":
		if h.SPIPort == "" || h.DCPin == "" {
			errs = append(errs, errors.New("display st7789: spi_port and dc_pin are required"))
		}
	default:
		errs = append(errs, fmt.Errorf("display %q: want web, ssd1306 or st7789", h.Display))
	}
	for name := range h.Buttons {
		if _, err := input.ParseButton(name); err != nil {
			errs = append(errs, err)
		}
	}
	if (len(h.KeypadRows) != 0 || len(h.KeypadCols) != 0) && (len(h.KeypadRows) != 4 || len(h.KeypadCols) != 3) {
		errs = append(errs, errors.New("keypad: 4 rows and 3 columns"))
	}
	pins := append(append(append([]string{}, h.KeypadRows...), h.KeypadCols...), h.DCPin, h.ResetPin, h.Buzzer)
	for _, p := range h.Buttons {
		pins = append(pins, p)
	}
	seen := map[string]bool{}
	for _, p := range pins {
		if p != "" && seen[p] {
			errs = append(errs, fmt.Errorf("pin %s used twice", p))
		}
		seen[p] = true
	}
	return errors.Join(errs...)
}

// Devices are the opened hardware.
type Devices struct {
	Panels  []Panel
	Buttons *input.Buttons
	Keypad  *input.Keypad
	Buzzer  *input.Buzzer
}

// Open initialises periph.io and opens what h names. The web view is not
// opened here: it is a server the firmware runs.
func Open(h Hardware) (*Devices, error) {
	if err := h.Check(); err != nil {
		return nil, err
	}
	if _, err := host.Init(); err != nil {
		return nil, fmt.Errorf("display: board drivers: %w", err)
	}
	pin := func(name string) (gpio.PinIO, error) {
		p := gpioreg.ByName(name)
		if p == nil {
			return nil, fmt.Errorf("display: pin %s not found on this board", name)
		}
		return p, nil
	}
	d := &Devices{}
	switch h.Display {
	case "ssd1306":
		bus, err := i2creg.Open(h.I2CBus)
		if err != nil {
			return nil, fmt.Errorf("display: I²C bus %q: %w", h.I2CBus, err)
		}
		p, err := NewOLED(bus)
		if err != nil {
			return nil, err
		}
		d.Panels = append(d.Panels, p)
	case "st7789":
		port, err := spireg.Open(h.SPIPort)
		if err != nil {
			return nil, fmt.Errorf("display: SPI port %q: %w", h.SPIPort, err)
		}
		dc, err := pin(h.DCPin)
		if err != nil {
			return nil, err
		}
		var rst gpio.PinOut
		if h.ResetPin != "" {
			if rst, err = pin(h.ResetPin); err != nil {
				return nil, err
			}
		}
		opts := st7789.DefaultOpts
		opts.Rotation = h.Rotation
		dev, err := st7789.New(port, dc, rst, &opts)
		if err != nil {
			return nil, err
		}
		d.Panels = append(d.Panels, &TFTPanel{Dev: dev})
	}
	if len(h.Buttons) > 0 {
		d.Buttons = &input.Buttons{Pins: map[input.Button]gpio.PinIn{}}
		for name, pn := range h.Buttons {
			b, _ := input.ParseButton(name)
			p, err := pin(pn)
			if err != nil {
				return nil, err
			}
			d.Buttons.Pins[b] = p
		}
	}
	if len(h.KeypadRows) == 4 {
		d.Keypad = &input.Keypad{}
		for i, pn := range h.KeypadRows {
			p, err := pin(pn)
			if err != nil {
				return nil, err
			}
			d.Keypad.Rows[i] = p
		}
		for i, pn := range h.KeypadCols {
			p, err := pin(pn)
			if err != nil {
				return nil, err
			}
			d.Keypad.Cols[i] = p
		}
	}
	if h.Buzzer != "" {
		p, err := pin(h.Buzzer)
		if err != nil {
			return nil, err
		}
		d.Buzzer = &input.Buzzer{Pin: p}
	}
	return d, nil
}
