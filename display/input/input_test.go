package input

import (
	"context"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

func collect(t *testing.T, ch <-chan Event, n int, within time.Duration) []Event {
	t.Helper()
	var got []Event
	deadline := time.After(within)
	for len(got) < n {
		select {
		case e := <-ch:
			got = append(got, e)
		case <-deadline:
			return got
		}
	}
	return got
}

func TestButtonsDebounce(t *testing.T) {
	oui := &gpiotest.Pin{N: "GPIO17", L: gpio.High, EdgesChan: make(chan gpio.Level)}
	non := &gpiotest.Pin{N: "GPIO27", L: gpio.High, EdgesChan: make(chan gpio.Level)}
	// A long debounce window, so that the three bouncing edges below fall
	// in it even on a slow, loaded test machine.
	b := &Buttons{Pins: map[Button]gpio.PinIn{Oui: oui, Non: non}, Debounce: 250 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan Event, 16)
	go b.Run(ctx, out)

	// One press with contact bounce: low, high, low within a few ms.
	for _, l := range []gpio.Level{gpio.Low, gpio.High, gpio.Low} {
		oui.EdgesChan <- l
	}
	if got := collect(t, out, 2, 150*time.Millisecond); len(got) != 1 || got[0].Button != Oui {
		t.Fatalf("a bouncing press gave %v", got)
	}
	// A second press after the debounce time counts; so does another button.
	time.Sleep(300 * time.Millisecond)
	oui.EdgesChan <- gpio.High
	oui.EdgesChan <- gpio.Low
	non.EdgesChan <- gpio.Low
	got := collect(t, out, 2, 2*time.Second)
	if len(got) != 2 {
		t.Fatalf("two presses gave %v", got)
	}
	if oui.P != gpio.PullUp {
		t.Fatal("buttons must use the pull-up")
	}
}

// matrix models a 3×4 keypad's wiring: a column reads low when a pressed
// key joins it to a row driven low.
type matrix struct {
	mu      sync.Mutex
	rows    [4]gpio.Level
	pressed rune
}

type rowPin struct {
	gpiotest.Pin
	m *matrix
	r int
}

func (p *rowPin) Out(l gpio.Level) error {
	p.m.mu.Lock()
	p.m.rows[p.r] = l
	p.m.mu.Unlock()
	return nil
}

type colPin struct {
	gpiotest.Pin
	m *matrix
	c int
}

func (p *colPin) In(gpio.Pull, gpio.Edge) error { return nil }

func (p *colPin) Read() gpio.Level {
	p.m.mu.Lock()
	defer p.m.mu.Unlock()
	for r := range Keys {
		if Keys[r][p.c] == p.m.pressed && p.m.rows[r] == gpio.Low {
			return gpio.Low
		}
	}
	return gpio.High
}

func (m *matrix) press(k rune) { m.mu.Lock(); m.pressed = k; m.mu.Unlock() }

func TestKeypad(t *testing.T) {
	m := &matrix{}
	k := &Keypad{Scan: 2 * time.Millisecond}
	for r := range k.Rows {
		k.Rows[r] = &rowPin{m: m, r: r}
	}
	for c := range k.Cols {
		k.Cols[c] = &colPin{m: m, c: c}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan Event, 16)
	go k.Run(ctx, out)
	for _, key := range "1590*#" {
		m.press(key)
		got := collect(t, out, 1, 2*time.Second)
		if len(got) != 1 || got[0].Key != key {
			t.Fatalf("key %c gave %v", key, got)
		}
		// Held down: no repeat.
		if extra := collect(t, out, 1, 30*time.Millisecond); len(extra) != 0 {
			t.Fatalf("key %c repeated while held: %v", key, extra)
		}
		m.press(0)
		time.Sleep(10 * time.Millisecond)
	}
}

type levelLog struct {
	gpiotest.Pin
	levels []gpio.Level
}

func (p *levelLog) Out(l gpio.Level) error { p.levels = append(p.levels, l); return nil }

func TestBuzzer(t *testing.T) {
	pin := &levelLog{}
	var slept time.Duration
	b := &Buzzer{Pin: pin, sleep: func(d time.Duration) { slept += d }}
	if err := b.Play(BeepError); err != nil {
		t.Fatal(err)
	}
	want := []gpio.Level{gpio.High, gpio.Low, gpio.High, gpio.Low, gpio.High, gpio.Low}
	if len(pin.levels) != len(want) {
		t.Fatalf("levels %v", pin.levels)
	}
	for i := range want {
		if pin.levels[i] != want[i] {
			t.Fatalf("levels %v, want %v", pin.levels, want)
		}
	}
	if slept != 360*time.Millisecond {
		t.Fatalf("pattern took %v", slept)
	}
}

func TestParseButton(t *testing.T) {
	for _, b := range []Button{Oui, Non, Annuler, Valider} {
		got, err := ParseButton(b.String())
		if err != nil || got != b {
			t.Errorf("%v: %v %v", b, got, err)
		}
	}
	if _, err := ParseButton("peut-être"); err == nil {
		t.Error("unknown button accepted")
	}
}
