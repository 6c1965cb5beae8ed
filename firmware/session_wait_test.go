package firmware

import (
	"testing"
	"time"

	"dmpkiosk/display"
)

// A wait says what it waits for and moves: INSi slow to answer, the
// screen is drawn again with the time gone by and the bar filling
// towards the time the desk waits at most; past it, the kiosk goes on
// with a provisional identity and the progress stops.
func TestSessionWaitShowsProgress(t *testing.T) {
	r := newMemRig(t, "legacy", time.Minute, withINSi(5*time.Second))
	r.toDocument()
	r.press(valider)
	first := r.wait(display.KindINSi, "Réponse du téléservice INSi : 0 s")
	if first.Progress == nil || first.Progress.Fraction() != 0 {
		t.Fatalf("first screen's progress: %+v", first.Progress)
	}
	later := r.wait(display.KindINSi, "Réponse du téléservice INSi : 2 s")
	if f := later.Progress.Fraction(); f < 0.25 || f > 0.55 {
		t.Fatalf("after about 2 s of 5 the bar is at %.2f", f)
	}
	r.wait(display.KindINSiNotice, "ne répond pas à temps")
	select {
	case sc := <-r.screens.ch:
		t.Fatalf("a screen after the notice: %v %q", sc.Kind, sc.Title)
	case <-time.After(3 * progressEvery):
	}
}
