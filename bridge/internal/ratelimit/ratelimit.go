// Package ratelimit bounds what each kiosk may send the bridge, one token
// bucket per kiosk shared by every flow that takes a kiosk's messages (its
// events, its INSi lookups), so that a kiosk cannot flood one flow by way
// of another.
package ratelimit

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Rate limits per kiosk. An admission desk makes an event every minute or
// two; a kiosk back from a long outage sends its outbox one event at a
// time, each waiting for its result. The default lets that drain run at
// two events a second with a burst of 60, and stops a kiosk (or a stolen
// key) from flooding the bridge's verification and journal.
const (
	DefaultKioskRate  = 2.0
	DefaultKioskBurst = 60
)

// Kiosks keeps one token bucket per kiosk id.
type Kiosks struct {
	every rate.Limit
	burst int

	mu      sync.Mutex
	byID    map[string]*rate.Limiter
	audited map[string]time.Time // per kiosk, the last time over its limit was audited
}

// New returns the buckets: perSecond messages a second with a burst
// (DefaultKioskRate, DefaultKioskBurst when zero; a negative rate lifts the
// limit).
func New(perSecond float64, burst int) *Kiosks {
	if perSecond == 0 {
		perSecond = DefaultKioskRate
	}
	if burst == 0 {
		burst = DefaultKioskBurst
	}
	return &Kiosks{every: rate.Limit(perSecond), burst: burst, byID: map[string]*rate.Limiter{}, audited: map[string]time.Time{}}
}

// Allow takes a token from device's bucket. Only enrolled kiosks' ids
// reach here (the broker's policy); the map grows with the fleet.
func (k *Kiosks) Allow(device string, now time.Time) bool {
	if k.every < 0 {
		return true
	}
	k.mu.Lock()
	l, ok := k.byID[device]
	if !ok {
		l = rate.NewLimiter(k.every, k.burst)
		k.byID[device] = l
	}
	k.mu.Unlock()
	return l.AllowN(now, 1)
}

// Over handles a message over its kiosk's limit: count counts it, and
// the first of each minute per kiosk is audited (a flood must not flood
// the audit trail) and logged.
func (k *Kiosks) Over(ctx context.Context, device string, count func(),
	audit func(ctx context.Context, kind, ref, detail string) error, log *slog.Logger) {
	count()
	now := time.Now()
	k.mu.Lock()
	first := now.Sub(k.audited[device]) >= time.Minute
	if first {
		k.audited[device] = now
	}
	k.mu.Unlock()
	if !first {
		return
	}
	if err := audit(ctx, "event.rate-limited", device, "events over the kiosk's limit are left in its outbox"); err != nil {
		log.Error("bridge: auditing a rate limit", "error", err)
	}
	log.Warn("bridge: kiosk over its event rate", "device", device)
}

// Admit takes a token from device's bucket; a message over the limit is
// handled as Over says and Admit answers false.
func (k *Kiosks) Admit(ctx context.Context, device string, count func(),
	audit func(ctx context.Context, kind, ref, detail string) error, log *slog.Logger) bool {
	if k.Allow(device, time.Now()) {
		return true
	}
	k.Over(ctx, device, count, audit, log)
	return false
}

// Slots bounds the requests a flow works at once (the kiosks' INSi
// lookups, the tablets' consultations), each on its own goroutine.
type Slots chan struct{}

// NewSlots allows n at once.
func NewSlots(n int) Slots { return make(Slots, n) }

// Go runs work on its own goroutine if a slot is free, and says whether it
// did: false when n are under way already.
func (s Slots) Go(work func()) bool {
	select {
	case s <- struct{}{}:
	default:
		return false
	}
	go func() {
		defer func() { <-s }()
		work()
	}()
	return true
}
