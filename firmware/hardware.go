package firmware

import (
	"fmt"
	"sort"

	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/spi/spireg"
	"periph.io/x/host/v3"
)

// Hardware is what the board offers the kiosk's display and inputs: the
// periph.io drivers that loaded, the I²C buses (SSD1306 OLED), the SPI
// ports (ST7789 TFT) and the number of GPIO pins (buttons, keypad, buzzer).
type Hardware struct {
	Drivers  []string `json:"drivers"`
	I2C      []string `json:"i2c"`
	SPI      []string `json:"spi"`
	GPIOPins int      `json:"gpio_pins"`
	Failed   []string `json:"failed,omitempty"` // drivers that should have loaded and did not
}

// ProbeHardware initialises periph.io's host drivers and lists what they
// found. On a machine without the board's buses the lists are empty, which
// is not an error: the kiosk then runs with the web display.
func ProbeHardware() (Hardware, error) {
	st, err := host.Init()
	if err != nil {
		return Hardware{}, fmt.Errorf("firmware: initialising the board drivers: %w", err)
	}
	var hw Hardware
	for _, d := range st.Loaded {
		hw.Drivers = append(hw.Drivers, d.String())
	}
	for _, f := range st.Failed {
		hw.Failed = append(hw.Failed, f.String())
	}
	for _, r := range i2creg.All() {
		hw.I2C = append(hw.I2C, r.Name)
	}
	for _, r := range spireg.All() {
		hw.SPI = append(hw.SPI, r.Name)
	}
	hw.GPIOPins = len(gpioreg.All())
	sort.Strings(hw.Drivers)
	return hw, nil
}
