package firmware

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"dmpkiosk/display"
	"dmpkiosk/hwtest/cards"
)

// BenchmarkInsertionToEventStored runs whole sessions under the card-timing
// model (the Vitale card after PPS, the CPS at 9600 bd): from the cards
// entering the readers to the sealed event in the outbox, with every answer
// given as soon as its screen shows. pcscd's presence poll (400 ms) and the
// cards' wire time dominate.
func BenchmarkInsertionToEventStored(b *testing.B) {
	r := newKioskRig(b, "current")
	r.m.Stop() // the event waits in the outbox: what is measured ends there
	timed := func(pps bool) func([]byte) cards.Link {
		return func(atr []byte) cards.Link {
			l, err := cards.LinkFromATR(atr, pps)
			if err != nil {
				b.Fatal(err)
			}
			return l
		}
	}
	ctx := context.Background()
	for b.Loop() {
		r.insertTimed(0, "vitale-seul", timed(true))
		r.insertTimed(1, "cps-medecin", timed(false))
		consentSingle(r)
		r.wait(display.KindQueued, "sera transmis")
		b.StopTimer()
		r.remove(0)
		r.remove(1)
		r.wait(display.KindIdle, "Insérez")
		if p, _, _ := r.ob.Depth(ctx); p == 0 {
			b.Fatal("no event stored")
		}
		b.StartTimer()
	}
}

// BenchmarkOutboxPut is the outbox's durable store of one sealed event (its
// sequence number, then the event, each committed with synchronous=FULL),
// against a bare single-row commit in the same kind of database.
func BenchmarkOutboxPut(b *testing.B) {
	body := strings.Repeat("x", 3000) // a sealed event's size
	b.Run("stack", func(b *testing.B) {
		ob, err := OpenOutbox(filepath.Join(b.TempDir(), "o.db"), 1<<30)
		if err != nil {
			b.Fatal(err)
		}
		defer ob.Close()
		ctx := context.Background()
		for i := 0; b.Loop(); i++ {
			seq, err := ob.NextSeq(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if err := ob.Put(ctx, fmt.Sprint("e", i), seq, body); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("floor", func(b *testing.B) {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(b.TempDir(), "f.db")+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)")
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(`CREATE TABLE t (id TEXT PRIMARY KEY, body TEXT)`); err != nil {
			b.Fatal(err)
		}
		for i := 0; b.Loop(); i++ {
			if _, err := db.Exec(`INSERT INTO t VALUES (?, ?)`, fmt.Sprint("e", i), body); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
	})
}
