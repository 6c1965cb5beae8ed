package display

import (
	"strings"
	"testing"
)

func TestHardwareCheck(t *testing.T) {
	good := []Hardware{
		{Display: "web"},
		{Display: "ssd1306", I2CBus: "1", Buttons: map[string]string{"oui": "GPIO17", "non": "GPIO27", "annuler": "GPIO22", "valider": "GPIO23"}},
		{Display: "st7789", SPIPort: "SPI0.0", DCPin: "GPIO25", ResetPin: "GPIO24", Buzzer: "GPIO18",
			KeypadRows: []string{"GPIO5", "GPIO6", "GPIO13", "GPIO19"}, KeypadCols: []string{"GPIO26", "GPIO16", "GPIO20"}},
	}
	for _, h := range good {
		if err := h.Check(); err != nil {
			t.Errorf("%+v: %v", h, err)
		}
	}
	bad := map[string]Hardware{
		"want web, ssd1306": {Display: "lcd"},
		"i2c_bus":           {Display: "ssd1306"},
		"dc_pin":            {Display: "st7789", SPIPort: "SPI0.0"},
		"unknown button":    {Display: "web", Buttons: map[string]string{"peut-être": "GPIO4"}},
		"4 rows and 3":      {Display: "web", KeypadRows: []string{"GPIO5"}},
		"GPIO17 used twice": {Display: "web", Buttons: map[string]string{"oui": "GPIO17"}, Buzzer: "GPIO17"},
	}
	for want, h := range bad {
		err := h.Check()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: %v, want an error about %q", h, err, want)
		}
	}
}

// On a machine without the board's buses, opening hardware fails with an
// error that names what is missing.
func TestOpenWithoutHardware(t *testing.T) {
	_, err := Open(Hardware{Display: "ssd1306", I2CBus: "no-such-bus-99"})
	if err == nil || !strings.Contains(err.Error(), `I²C bus "no-such-bus-99"`) {
		t.Fatalf("open a missing I²C bus: %v", err)
	}
	_, err = Open(Hardware{Display: "web", Buzzer: "NO_SUCH_PIN_99"})
	if err == nil || !strings.Contains(err.Error(), "NO_SUCH_PIN_99 not found") {
		t.Fatalf("open a missing pin: %v", err)
	}
	d, err := Open(Hardware{Display: "web"})
	if err != nil || len(d.Panels) != 0 {
		t.Fatalf("web display: %+v %v", d, err)
	}
}
