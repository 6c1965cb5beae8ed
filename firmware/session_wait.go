package firmware

import (
	"time"

	"dmpkiosk/display"
)

// Every wait longer than a moment says what it waits for and shows its
// progress: the cards being read, INSi, the establishment and the DMP.
// The screen is drawn again every progressEvery while it lasts.
const progressEvery = 500 * time.Millisecond

// waitState is the wait under way.
type waitState struct {
	what     string
	since    time.Time
	expected time.Duration
	st       state // the state the wait belongs to
}

// showWaiting shows a waiting screen and starts its progress.
func (s *Session) showWaiting(sc display.Screen, what string, expected time.Duration) {
	s.wait = waitState{what: what, since: s.now(), expected: expected, st: s.waitingState(sc.Kind)}
	sc.Progress = &display.Progress{What: what, Expected: expected}
	s.show(sc)
}

func (s *Session) waitingState(k display.Kind) state {
	switch k {
	case display.KindReading:
		return stReading
	case display.KindINSi:
		return stINSi
	}
	return stSending
}

// onTick moves the progress of the wait under way, if the session is
// still in it.
func (s *Session) onTick() {
	if s.wait.what == "" {
		return
	}
	if s.st != s.wait.st {
		s.wait = waitState{}
		return
	}
	sc := s.Display.Last()
	sc.Status = s.status()
	sc.Progress = &display.Progress{What: s.wait.what, Elapsed: s.now().Sub(s.wait.since), Expected: s.wait.expected}
	s.show(sc)
}
