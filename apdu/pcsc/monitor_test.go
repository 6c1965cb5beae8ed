package pcsc

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// fakePCSC plays what pcscd does for hot-plug, which vpcd cannot: readers
// appear and vanish, the PnP pseudo reader changes when they do, and each
// reader's event counter counts card events. Real pcscd covers insertion,
// removal and restarts in the integration tests.
type fakePCSC struct {
	mu      sync.Mutex
	wake    chan struct{}
	readers map[string]*fakeReader
	pnp     uint32
	dead    bool
}

type fakeReader struct {
	present bool
	atr     []byte
	count   uint32
}

func newFake() *fakePCSC {
	return &fakePCSC{wake: make(chan struct{}, 1), readers: map[string]*fakeReader{}}
}

func (f *fakePCSC) poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *fakePCSC) plug(name string) {
	f.mu.Lock()
	f.readers[name] = &fakeReader{}
	f.pnp++
	f.mu.Unlock()
	f.poke()
}

func (f *fakePCSC) unplug(name string) {
	f.mu.Lock()
	delete(f.readers, name)
	f.pnp++
	f.mu.Unlock()
	f.poke()
}

func (f *fakePCSC) card(name string, atr []byte) {
	f.mu.Lock()
	r := f.readers[name]
	r.present, r.atr = atr != nil, atr
	r.count++
	f.mu.Unlock()
	f.poke()
}

func (f *fakePCSC) kill() {
	f.mu.Lock()
	f.dead = true
	f.mu.Unlock()
	f.poke()
}

func (f *fakePCSC) establish() (session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dead {
		return nil, ErrServiceStopped
	}
	return &fakeSession{f: f}, nil
}

type fakeSession struct {
	f         *fakePCSC
	cancelled chan struct{}
	once      sync.Once
}

func (s *fakeSession) ListReaders() ([]string, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	var out []string
	for r := range s.f.readers {
		out = append(out, r)
	}
	return out, nil
}

func (s *fakeSession) current(states []readerState) bool {
	changed := false
	for i := range states {
		st := &states[i]
		var ev uint32
		if st.Reader == pnpReader {
			ev = s.f.pnp << 16
		} else if r, ok := s.f.readers[st.Reader]; !ok {
			ev = stateUnknown
		} else {
			ev = r.count << 16
			if r.present {
				ev |= statePresent
			}
			st.ATR = r.atr
		}
		if ev != st.Current&^stateChanged || st.Current == 0 && st.Reader != pnpReader {
			ev |= stateChanged
			changed = true
		}
		st.Event = ev
	}
	return changed
}

func (s *fakeSession) Wait(states []readerState) error {
	s.once.Do(func() { s.cancelled = make(chan struct{}) })
	for {
		s.f.mu.Lock()
		dead := s.f.dead
		changed := !dead && s.current(states)
		s.f.mu.Unlock()
		if dead {
			return ErrServiceStopped
		}
		if changed {
			return nil
		}
		select {
		case <-s.f.wake:
		case <-s.cancelled:
			return ErrCancelled
		}
	}
}

func (s *fakeSession) Cancel() error {
	s.once.Do(func() { s.cancelled = make(chan struct{}) })
	select {
	case <-s.cancelled:
	default:
		close(s.cancelled)
	}
	return nil
}

func (s *fakeSession) Release() error { return nil }

func expect(t *testing.T, events <-chan Event, want ...Event) {
	t.Helper()
	for _, w := range want {
		select {
		case e := <-events:
			if e.Kind != w.Kind || e.Slot != w.Slot || e.Reader != w.Reader || string(e.ATR) != string(w.ATR) {
				t.Fatalf("event %v, want %v", e, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no event, want %v", w)
		}
	}
}

func TestMonitorHotPlug(t *testing.T) {
	f := newFake()
	f.plug("Reader A")
	m := newMonitor(MonitorOptions{MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}, f.establish)
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan Event, 16)
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, events) }()

	expect(t, events, Event{Kind: ReaderAdded, Slot: 0, Reader: "Reader A"})
	f.plug("Reader B")
	expect(t, events, Event{Kind: ReaderAdded, Slot: 1, Reader: "Reader B"})
	f.card("Reader B", []byte{0x3B, 0x01})
	expect(t, events, Event{Kind: CardInserted, Slot: 1, Reader: "Reader B", ATR: []byte{0x3B, 0x01}})

	// Unplugged with a card in it: the card goes, then the reader.
	f.unplug("Reader B")
	expect(t, events,
		Event{Kind: CardRemoved, Slot: 1, Reader: "Reader B"},
		Event{Kind: ReaderRemoved, Slot: 1, Reader: "Reader B"})
	// Replugged under the same name: a new reader, same free slot.
	f.plug("Reader B")
	expect(t, events, Event{Kind: ReaderAdded, Slot: 1, Reader: "Reader B"})

	// A card swapped between two wakes (the event counter moved by two
	// while the reader stayed "present") is reported out and in.
	f.card("Reader A", []byte{0x3B, 0x02})
	expect(t, events, Event{Kind: CardInserted, Slot: 0, Reader: "Reader A", ATR: []byte{0x3B, 0x02}})
	f.mu.Lock()
	f.readers["Reader A"].count += 2
	f.readers["Reader A"].atr = []byte{0x3B, 0x03}
	f.mu.Unlock()
	f.poke()
	expect(t, events,
		Event{Kind: CardRemoved, Slot: 0, Reader: "Reader A"},
		Event{Kind: CardInserted, Slot: 0, Reader: "Reader A", ATR: []byte{0x3B, 0x03}})

	// The service dies: everything is reported gone; it comes back: the
	// readers and the card in them are reported again.
	f.kill()
	expect(t, events,
		Event{Kind: CardRemoved, Slot: 0, Reader: "Reader A"},
		Event{Kind: ReaderRemoved, Slot: 0, Reader: "Reader A"},
		Event{Kind: ReaderRemoved, Slot: 1, Reader: "Reader B"})
	f.mu.Lock()
	f.dead = false
	delete(f.readers, "Reader B")
	f.mu.Unlock()
	expect(t, events,
		Event{Kind: ReaderAdded, Slot: 0, Reader: "Reader A"},
		Event{Kind: CardInserted, Slot: 0, Reader: "Reader A", ATR: []byte{0x3B, 0x03}})

	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop on cancel")
	}
}

func TestMonitorReaderPatterns(t *testing.T) {
	f := newFake()
	f.plug("Vendor X 00 00")
	f.plug("Vendor Y PINpad 00 00")
	f.plug("Something else")
	m := newMonitor(MonitorOptions{Readers: []string{"*PINpad*", "Vendor X*"}}, f.establish)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan Event, 16)
	go func() { _ = m.Run(ctx, events) }()
	got := map[string]int{}
	for i := 0; i < 2; i++ {
		select {
		case e := <-events:
			got[e.Reader] = e.Slot
		case <-time.After(5 * time.Second):
			t.Fatal("no event")
		}
	}
	if got["Vendor Y PINpad 00 00"] != 0 || got["Vendor X 00 00"] != 1 || len(got) != 2 {
		t.Fatalf("slots %v", got)
	}
	select {
	case e := <-events:
		t.Fatalf("an unmatched reader was reported: %v", e)
	case <-time.After(100 * time.Millisecond):
	}
}
