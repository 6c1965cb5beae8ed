package journal_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"dmpkiosk/bridge/journal"

	"dmpkiosk/bridge/journal/journaltest"
	"dmpkiosk/hwtest"
)

// Every backend runs the one conformance suite.

func TestSQLiteJournal(t *testing.T) {
	journaltest.Exercise(t, func(t *testing.T) journal.Store { return journaltest.OpenSQLite(t) })
}

func TestPostgresJournal(t *testing.T) {
	journaltest.Exercise(t, journaltest.Postgres(hwtest.StartPostgres(t)))
}

// Two bridges on one PostgreSQL journal: one at a time works a receiver's
// outbox — the other gets nothing of it while the first holds a lease or
// a retry there, whoever claims first and however often they race — and
// takes it over, in order, once the first is gone (its leases ended).
func TestPostgresOneBridgePerGAMReceiver(t *testing.T) {
	a, b := journaltest.PostgresPair(t, hwtest.StartPostgres(t), "gam_pair")
	ctx := context.Background()
	base := time.Now().Add(-time.Minute)
	for i := range 6 {
		m := journal.SIHMessage{ID: fmt.Sprintf("gam/e%d", i), Receiver: "gam", Event: fmt.Sprintf("e%d", i), Patient: fmt.Sprintf("p%d", i%3),
			State: journal.SIHQuery, Payload: []byte(`{}`), Created: base.Add(time.Duration(i) * time.Second)}
		if _, err := a.SIHEnqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.SIHEnqueue(ctx, journal.SIHMessage{ID: "other/e0", Receiver: "other", Event: "e0", Patient: "p0", State: journal.SIHQuery,
		Payload: []byte(`{}`), Created: base}); err != nil {
		t.Fatal(err)
	}
	// Both race for the receiver, one entry at a time.
	var mu sync.Mutex
	owners := map[string]int{}
	var wg sync.WaitGroup
	for _, j := range []struct {
		name string
		s    journal.Store
	}{{"bridge-1", a}, {"bridge-2", b}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				l, err := j.s.SIHClaim(ctx, "gam", time.Now(), 1)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				owners[j.name] += len(l)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if (owners["bridge-1"] == 0) == (owners["bridge-2"] == 0) {
		t.Fatalf("both bridges worked the receiver: %v", owners)
	}
	holder, other := a, b
	if owners["bridge-2"] > 0 {
		holder, other = b, a
	}
	// The first entry of each patient only: p0, p1, p2.
	if n := owners["bridge-1"] + owners["bridge-2"]; n != 3 {
		t.Fatalf("%d entries claimed, want the first of each of the 3 patients", n)
	}
	// Another receiver is free for the other bridge.
	if l, err := other.SIHClaim(ctx, "other", time.Now(), 5); err != nil || len(l) != 1 {
		t.Fatalf("another receiver: %+v %v", l, err)
	}
	// A retry planned by the holder keeps the receiver its own.
	l, _ := holder.SIHClaim(ctx, "gam", time.Now().Add(6*time.Minute), 1)
	if len(l) != 1 {
		t.Fatalf("the holder's own expired lease: %+v", l)
	}
	m := l[0]
	m.Attempts, m.Next = 1, time.Now().Add(time.Minute)
	if err := holder.SIHSave(ctx, m, "sih.noanswer", "attempt=1"); err != nil {
		t.Fatal(err)
	}
	if l, _ := other.SIHClaim(ctx, "gam", time.Now().Add(2*time.Minute), 5); len(l) != 0 {
		t.Fatalf("the other bridge took the receiver under the holder's lease: %+v", l)
	}
	// The holder gone: once its leases and retries are over, the other
	// takes the receiver, each patient's oldest first.
	l, err := other.SIHClaim(ctx, "gam", time.Now().Add(12*time.Minute), 10)
	if err != nil || len(l) != 3 {
		t.Fatalf("after the holder's leases: %+v %v", l, err)
	}
	for i, m := range l {
		if m.Event != fmt.Sprintf("e%d", i) {
			t.Errorf("taken over out of order: %d is %s", i, m.Event)
		}
	}
}
