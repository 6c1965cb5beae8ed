package bridge

import (
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

// kioskLimits keeps one token bucket per kiosk id.
type kioskLimits struct {
	every rate.Limit
	burst int

	mu   sync.Mutex
	byID map[string]*rate.Limiter
}

func newKioskLimits(perSecond float64, burst int) *kioskLimits {
	if perSecond == 0 {
		perSecond = DefaultKioskRate
	}
	if burst == 0 {
		burst = DefaultKioskBurst
	}
	return &kioskLimits{every: rate.Limit(perSecond), burst: burst, byID: map[string]*rate.Limiter{}}
}

// allow takes a token from device's bucket. Only enrolled kiosks' ids
// reach here (the broker's policy); the map grows with the fleet.
func (k *kioskLimits) allow(device string, now time.Time) bool {
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
