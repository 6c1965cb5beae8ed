package pcsc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"slices"
	"sync"
	"time"
)

// EventKind is what happened in a slot.
type EventKind uint8

// Kinds of monitor events.
const (
	CardInserted EventKind = iota + 1
	CardRemoved
	ReaderAdded
	ReaderRemoved
)

func (k EventKind) String() string {
	switch k {
	case CardInserted:
		return "card-inserted"
	case CardRemoved:
		return "card-removed"
	case ReaderAdded:
		return "reader-added"
	case ReaderRemoved:
		return "reader-removed"
	}
	return "unknown"
}

// Event is one change seen by the monitor.
type Event struct {
	Kind   EventKind
	Slot   int    // the logical slot of the reader
	Reader string // the reader's PC/SC name
	ATR    []byte // on CardInserted; nil for a mute card
	Mute   bool   // a card is there but did not answer reset
	// ReaderGone marks the CardRemoved of a reader that went away (pulled
	// out, or pcscd stopped): the card was not taken out by someone.
	ReaderGone bool
}

// Reader state flags, as PC/SC defines them; the high 16 bits of an event
// state count the insertions and removals seen in the reader.
const (
	stateChanged     = 0x0002
	stateUnknown     = 0x0004
	stateUnavailable = 0x0008
	statePresent     = 0x0020
	stateMute        = 0x0200
)

// pnpReader is PC/SC's pseudo reader that changes when a reader is plugged
// or unplugged.
const pnpReader = `\\?PnP?\Notification`

// readerState is the part of SCARD_READERSTATE the monitor uses.
type readerState struct {
	Reader  string
	Current uint32
	Event   uint32
	ATR     []byte
}

// session is what the monitor needs of one PC/SC context. Wait blocks until
// one of the states changes (SCardGetStatusChange with no timeout); Cancel
// unblocks it from another goroutine.
type session interface {
	ListReaders() ([]string, error)
	Wait(states []readerState) error
	Cancel() error
	Release() error
}

// MonitorOptions configure a Monitor.
type MonitorOptions struct {
	// Readers are glob patterns (path.Match) of reader names: slot i is the
	// reader matching Readers[i], and other readers are ignored. Empty: every
	// reader, each given the lowest free slot when it appears.
	Readers []string
	// Backoff bounds between attempts to reach pcscd after it went away.
	MinBackoff, MaxBackoff time.Duration
	Logger                 *slog.Logger
}

// Monitor watches the card readers and reports insertions, removals and
// reader hot-plug as events, sleeping in SCardGetStatusChange (no polling).
// When pcscd goes away every card and reader is reported gone, and the
// monitor reconnects with backoff until pcscd is back.
type Monitor struct {
	opts      MonitorOptions
	establish func() (session, error)

	slots  map[string]int
	seen   map[string]*slotState
	events chan<- Event
}

type slotState struct {
	present bool
	mute    bool
	atr     []byte
	count   uint32
	slot    int
}

// NewMonitor returns a monitor of the local pcscd.
func NewMonitor(opts MonitorOptions) *Monitor {
	return newMonitor(opts, establishSession)
}

func newMonitor(opts MonitorOptions, establish func() (session, error)) *Monitor {
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 100 * time.Millisecond
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Monitor{opts: opts, establish: establish}
}

// Run reports events until ctx is done, then returns ctx.Err().
func (m *Monitor) Run(ctx context.Context, events chan<- Event) error {
	m.events = events
	m.slots, m.seen = map[string]int{}, map[string]*slotState{}
	backoff := m.opts.MinBackoff
	for {
		s, err := m.establish()
		if err == nil {
			backoff = m.opts.MinBackoff
			err = m.watch(ctx, s)
			_ = s.Release()
			if ctx.Err() == nil {
				m.opts.Logger.Warn("pcsc monitor lost pcscd, reconnecting", "error", err)
			}
		}
		// Whatever was inserted can no longer be trusted to be there.
		m.dropAll(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, m.opts.MaxBackoff)
	}
}

// watch follows one PC/SC session until it fails or ctx is done.
func (m *Monitor) watch(ctx context.Context, s session) error {
	var mu sync.Mutex
	done := false
	// Cancel unblocks a wait under way, not one about to start: keep
	// cancelling until watch has returned.
	stop := context.AfterFunc(ctx, func() {
		for {
			mu.Lock()
			d := done
			mu.Unlock()
			if d {
				return
			}
			_ = s.Cancel()
			time.Sleep(20 * time.Millisecond)
		}
	})
	defer func() { mu.Lock(); done = true; mu.Unlock(); stop() }()

	states := []readerState{{Reader: pnpReader}}
	for {
		readers, err := s.ListReaders()
		if err != nil {
			return err
		}
		states = m.syncReaders(ctx, states, readers)
		for relist := false; !relist; {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err := s.Wait(states); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if errors.Is(err, ErrNoReader) {
					break // a reader left between the listing and the wait
				}
				return err
			}
			for i := range states {
				st := &states[i]
				if i == 0 {
					relist = st.Event&stateChanged != 0
				} else if st.Event&stateChanged != 0 {
					m.update(ctx, st)
				}
				st.Current = st.Event &^ stateChanged
			}
		}
	}
}

// syncReaders makes the wait list match the readers pcscd lists: new
// readers are added (unaware, so that their first wait reports their
// state), readers gone are reported removed.
func (m *Monitor) syncReaders(ctx context.Context, states []readerState, readers []string) []readerState {
	out := states[:1]
	for _, st := range states[1:] {
		if slices.Contains(readers, st.Reader) {
			out = append(out, st)
		} else {
			m.readerGone(ctx, st.Reader)
		}
	}
	for _, r := range readers {
		if slices.ContainsFunc(out, func(st readerState) bool { return st.Reader == r }) {
			continue
		}
		slot, ok := m.slotFor(r)
		if !ok {
			continue
		}
		m.slots[r] = slot
		m.seen[r] = &slotState{slot: slot}
		m.emit(ctx, Event{Kind: ReaderAdded, Slot: slot, Reader: r})
		out = append(out, readerState{Reader: r})
	}
	return out
}

func (m *Monitor) slotFor(reader string) (int, bool) {
	if len(m.opts.Readers) > 0 {
		for i, p := range m.opts.Readers {
			if ok, _ := path.Match(p, reader); ok {
				return i, true
			}
		}
		return 0, false
	}
	used := map[int]bool{}
	for _, s := range m.slots {
		used[s] = true
	}
	for i := 0; ; i++ {
		if !used[i] {
			return i, true
		}
	}
}

func (m *Monitor) update(ctx context.Context, st *readerState) {
	prev := m.seen[st.Reader]
	if prev == nil {
		return
	}
	ev := st.Event
	if ev&(stateUnknown|stateUnavailable) != 0 {
		m.cardGone(ctx, st.Reader, prev, false)
		return
	}
	present := ev&statePresent != 0
	mute := ev&stateMute != 0
	count := ev >> 16
	if prev.present && present && (count != prev.count && prev.count != 0 || string(st.ATR) != string(prev.atr)) {
		// Out and in again between two wakes: a different card, maybe.
		m.cardGone(ctx, st.Reader, prev, false)
	}
	switch {
	case present && !prev.present:
		prev.present, prev.mute, prev.atr = true, mute, append([]byte(nil), st.ATR...)
		var atr []byte
		if !mute {
			atr = prev.atr
		}
		m.emit(ctx, Event{Kind: CardInserted, Slot: prev.slot, Reader: st.Reader, ATR: atr, Mute: mute})
	case !present && prev.present:
		m.cardGone(ctx, st.Reader, prev, false)
	}
	prev.count = count
}

func (m *Monitor) cardGone(ctx context.Context, reader string, s *slotState, readerGone bool) {
	if !s.present {
		return
	}
	s.present, s.atr = false, nil
	m.emit(ctx, Event{Kind: CardRemoved, Slot: s.slot, Reader: reader, ReaderGone: readerGone})
}

func (m *Monitor) readerGone(ctx context.Context, reader string) {
	if s := m.seen[reader]; s != nil {
		m.cardGone(ctx, reader, s, true)
		m.emit(ctx, Event{Kind: ReaderRemoved, Slot: s.slot, Reader: reader})
	}
	delete(m.seen, reader)
	delete(m.slots, reader)
}

func (m *Monitor) dropAll(ctx context.Context) {
	readers := make([]string, 0, len(m.seen))
	for r := range m.seen {
		readers = append(readers, r)
	}
	slices.Sort(readers)
	for _, r := range readers {
		m.readerGone(ctx, r)
	}
}

func (m *Monitor) emit(ctx context.Context, e Event) {
	m.opts.Logger.Debug("pcsc event", "kind", e.Kind.String(), "slot", e.Slot, "reader", e.Reader)
	select {
	case m.events <- e:
	case <-ctx.Done():
	}
}

// String describes the event for logs and tests (the ATR is not patient
// data: it names the card model).
func (e Event) String() string {
	return fmt.Sprintf("%s slot=%d reader=%q atr=%X", e.Kind, e.Slot, e.Reader, e.ATR)
}
