package firmware

import (
	"time"
)

// Signed in once: the professional's card stays in its slot and its PIN,
// verified once, serves the patients who follow (Config.StaySignedIn).
// The kiosk locks — the PIN is asked again — when the card leaves, after
// LockIdle without use, and at LockAt each day; a patient's data are
// wiped at the end of each patient's session all the same (forget).

// signIn records that the professional's PIN was verified.
func (s *Session) signIn() {
	if s.Config.StaySignedIn {
		s.signedIn, s.signedAt = true, s.now()
	}
}

// signOut ends the professional's signing in.
func (s *Session) signOut() { s.signedIn = false }

// lockDue says why the kiosk must lock now, "" when it need not.
func (s *Session) lockDue() string {
	if !s.signedIn {
		return ""
	}
	now := s.now()
	if d := s.Config.LockIdle.Duration; d > 0 && !s.lastUse.IsZero() && now.Sub(s.lastUse) > d {
		return txtLockedIdle
	}
	if at, err := time.Parse("15:04", s.Config.LockAt); err == nil {
		today := time.Date(now.Year(), now.Month(), now.Day(), at.Hour(), at.Minute(), 0, 0, now.Location())
		if s.signedAt.Before(today) && !now.Before(today) {
			return txtLockedHour
		}
	}
	return ""
}

// signedInName is who the status line says is signed in.
func (s *Session) signedInName() string {
	if !s.signedIn {
		return ""
	}
	if pro := s.professional(); pro != nil && pro.info != nil {
		return pro.info.FirstName + " " + pro.info.Surname
	}
	return ""
}
