// Package input turns the kiosk's controls into one stream of events: the
// four GPIO buttons (Oui, Non, Annuler, Valider) with debouncing, a 3×4
// matrix keypad for PIN digits, and the web view's controls; and it sounds
// the buzzer. Every source writes to the same channel.
package input

import (
	"context"
	"fmt"
	"time"

	"periph.io/x/conn/v3/gpio"
)

// Button is one of the kiosk's four buttons.
type Button int

// Buttons.
const (
	NoButton Button = iota
	Oui
	Non
	Annuler
	Valider
)

var buttonNames = map[Button]string{Oui: "oui", Non: "non", Annuler: "annuler", Valider: "valider"}

func (b Button) String() string { return buttonNames[b] }

// ParseButton reads a button name ("oui", "non", "annuler", "valider").
func ParseButton(s string) (Button, error) {
	for b, n := range buttonNames {
		if n == s {
			return b, nil
		}
	}
	return NoButton, fmt.Errorf("input: unknown button %q", s)
}

// Event is one press: a button, or a key of the keypad ('0'–'9', '*'
// correct, '#' validate).
type Event struct {
	Button Button
	Key    rune
	Source string // "gpio", "keypad", "web"
}

func send(ctx context.Context, out chan<- Event, e Event) {
	select {
	case out <- e:
	case <-ctx.Done():
	}
}

// Buttons are push buttons wired between a GPIO pin and ground (pull-up,
// pressed = low).
type Buttons struct {
	Pins map[Button]gpio.PinIn
	// Debounce ignores edges that follow an accepted press within this
	// time (contact bounce); 30 ms when zero.
	Debounce time.Duration
}

// Run reports presses until ctx is done. It sleeps in WaitForEdge: no
// polling.
func (b *Buttons) Run(ctx context.Context, out chan<- Event) error {
	deb := b.Debounce
	if deb == 0 {
		deb = 30 * time.Millisecond
	}
	for btn, pin := range b.Pins {
		if err := pin.In(gpio.PullUp, gpio.FallingEdge); err != nil {
			return fmt.Errorf("input: button %s on %s: %w", btn, pin, err)
		}
		go func() {
			var last time.Time
			for ctx.Err() == nil {
				// The timeout only lets the loop see ctx end.
				if !pin.WaitForEdge(250 * time.Millisecond) {
					continue
				}
				now := time.Now()
				if now.Sub(last) < deb || pin.Read() != gpio.Low {
					continue // a bounce, or a glitch already gone
				}
				last = now
				send(ctx, out, Event{Button: btn, Source: "gpio"})
			}
		}()
	}
	<-ctx.Done()
	return nil
}

// Keypad is a 3×4 matrix keypad: rows driven, columns read with pull-ups.
type Keypad struct {
	Rows [4]gpio.PinOut
	Cols [3]gpio.PinIn
	// Scan is the time between two scans (10 ms when zero); a key must be
	// seen in two scans in a row to count, which debounces it.
	Scan time.Duration
}

// Keys is the keypad's layout.
var Keys = [4][3]rune{{'1', '2', '3'}, {'4', '5', '6'}, {'7', '8', '9'}, {'*', '0', '#'}}

// Run reports key presses (one event a press, however long it is held)
// until ctx is done.
func (k *Keypad) Run(ctx context.Context, out chan<- Event) error {
	scan := k.Scan
	if scan == 0 {
		scan = 10 * time.Millisecond
	}
	for _, c := range k.Cols {
		if err := c.In(gpio.PullUp, gpio.NoEdge); err != nil {
			return fmt.Errorf("input: keypad column %s: %w", c, err)
		}
	}
	for _, r := range k.Rows {
		if err := r.Out(gpio.High); err != nil {
			return fmt.Errorf("input: keypad row %s: %w", r, err)
		}
	}
	t := time.NewTicker(scan)
	defer t.Stop()
	var seen, reported rune
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		key, err := k.read()
		if err != nil {
			return err
		}
		switch {
		case key == 0:
			seen, reported = 0, 0
		case key == seen && key != reported:
			reported = key
			send(ctx, out, Event{Key: key, Source: "keypad"})
		default:
			seen = key
		}
	}
}

// read drives each row low in turn and returns the first key whose column
// reads low, or 0.
func (k *Keypad) read() (rune, error) {
	found := rune(0)
	for r, row := range k.Rows {
		if err := row.Out(gpio.Low); err != nil {
			return 0, err
		}
		for c, col := range k.Cols {
			if found == 0 && col.Read() == gpio.Low {
				found = Keys[r][c]
			}
		}
		if err := row.Out(gpio.High); err != nil {
			return 0, err
		}
	}
	return found, nil
}

// Buzzer is a piezo buzzer on a GPIO pin.
type Buzzer struct {
	Pin   gpio.PinOut
	sleep func(time.Duration)
}

// Beep patterns: (on, off) durations.
var (
	BeepSuccess = []time.Duration{120 * time.Millisecond}
	BeepError   = []time.Duration{80 * time.Millisecond, 60 * time.Millisecond, 80 * time.Millisecond, 60 * time.Millisecond, 80 * time.Millisecond}
)

// Play sounds a pattern: durations alternate on and off, starting on.
func (b *Buzzer) Play(pattern []time.Duration) error {
	sleep := b.sleep
	if sleep == nil {
		sleep = time.Sleep
	}
	for i, d := range pattern {
		lvl := gpio.High
		if i%2 == 1 {
			lvl = gpio.Low
		}
		if err := b.Pin.Out(lvl); err != nil {
			return err
		}
		sleep(d)
	}
	return b.Pin.Out(gpio.Low)
}
