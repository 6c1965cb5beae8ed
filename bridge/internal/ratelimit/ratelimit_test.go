package ratelimit

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// A kiosk over its rate is refused, counted and audited once a minute;
// another kiosk keeps its own bucket.
func TestAdmit(t *testing.T) {
	k := New(1, 2)
	counted, audited := 0, 0
	audit := func(context.Context, string, string, string) error { audited++; return nil }
	admit := func(device string) bool {
		return k.Admit(context.Background(), device, func() { counted++ }, audit, slog.New(slog.DiscardHandler))
	}
	for i, want := range []bool{true, true, false, false} {
		if got := admit("kiosk-1"); got != want {
			t.Fatalf("message %d: admitted %v, want %v (a burst of 2)", i+1, got, want)
		}
	}
	if counted != 2 || audited != 1 {
		t.Errorf("counted %d, audited %d", counted, audited)
	}
	if !admit("kiosk-2") {
		t.Error("another kiosk refused")
	}
}

// Slots run up to n at once, each on its own goroutine, and refuse the
// next until one ends.
func TestSlots(t *testing.T) {
	s := NewSlots(2)
	release := make(chan struct{})
	var started sync.WaitGroup
	started.Add(2)
	for range 2 {
		if !s.Go(func() { started.Done(); <-release }) {
			t.Fatal("a free slot refused")
		}
	}
	started.Wait()
	if s.Go(func() {}) {
		t.Fatal("a third run while two are under way")
	}
	close(release)
	done := make(chan struct{})
	for !s.Go(func() { close(done) }) {
		time.Sleep(time.Millisecond) // the first two giving their slots back
	}
	<-done
}
