// Package work is what every worker of the bridge and the services'
// clients it calls agree on: what a piece of work came to (Outcome), the
// failures that decide between trying again and the dead letters
// (PermanentError, LimitedError), and the delay before the next try
// (Backoff). It knows no flow, no journal and no service.
package work

import (
	"math/rand/v2"
	"time"
)

// Outcome is what processing an event came to, for the kiosk's screen.
type Outcome struct {
	Code    string // event.OutcomeCreated, Authorized, Exists, Refused
	Message string // plain French
}

// PermanentError is a failure retrying cannot mend (a DMP refusal, a
// malformed request): the work goes to the dead letters at once.
type PermanentError struct {
	Err     error
	Message string // plain French for the kiosk
}

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// LimitedError is a failure that may pass if tried again, but only a few
// times (an answer that could not be read: the service may have been
// restarting, or it speaks a shape this bridge does not know): after
// Attempts tries the work goes to the dead letters with Message.
type LimitedError struct {
	Err      error
	Attempts int
	Message  string // plain French for the kiosk and the dead letters
}

func (e *LimitedError) Error() string { return e.Err.Error() }
func (e *LimitedError) Unwrap() error { return e.Err }

// MaxBackoff bounds the delay between two tries.
const MaxBackoff = 10 * time.Minute

// Backoff is the delay before try attempt+1 of a piece of work whose first
// retry waits first: doubled each try up to MaxBackoff, with full jitter
// over its upper half, so that the works failed together are not tried
// again together.
func Backoff(first time.Duration, attempt int) time.Duration {
	d := min(first<<min(max(attempt-1, 0), 20), MaxBackoff)
	return d/2 + rand.N(d/2+1)
}
