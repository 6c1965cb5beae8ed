package firmware

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOutbox(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outbox.db")
	o, err := OpenOutbox(path, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		seq, err := o.NextSeq(ctx)
		if err != nil || seq != int64(i) {
			t.Fatalf("seq %d %v", seq, err)
		}
		if err := o.Put(ctx, fmt.Sprintf("e%d", i), seq, fmt.Sprintf("jwe-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	// Full: a visible error, nothing dropped.
	seq, _ := o.NextSeq(ctx)
	if err := o.Put(ctx, "e4", seq, "jwe-4"); !errors.Is(err, ErrOutboxFull) {
		t.Fatalf("full outbox: %v", err)
	}
	// Restart: events and sequence survive.
	o.Close()
	o, err = OpenOutbox(path, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if seq, _ := o.NextSeq(ctx); seq != 5 {
		t.Fatalf("sequence after restart %d, want 5", seq)
	}
	head, ok, err := o.Head(ctx)
	if err != nil || !ok || head.ID != "e1" || head.Body != "jwe-1" {
		t.Fatalf("head %+v %v %v", head, ok, err)
	}
	next := time.Now().Add(time.Minute).Truncate(time.Millisecond)
	if err := o.Attempted(ctx, "e1", next); err != nil {
		t.Fatal(err)
	}
	head, _, _ = o.Head(ctx)
	if head.Attempts != 1 || !head.NextAttempt.Equal(next) {
		t.Fatalf("after an attempt: %+v", head)
	}
	if found, err := o.Done(ctx, "e1"); !found || err != nil {
		t.Fatalf("done: %v %v", found, err)
	}
	if found, _ := o.Done(ctx, "e1"); found {
		t.Fatal("a result delivered twice removed something")
	}
	// A corrupt row is quarantined and reported, and the next one comes.
	if _, err := o.db.Exec(`UPDATE outbox SET body = 'tampered' WHERE id = 'e2'`); err != nil {
		t.Fatal(err)
	}
	head, ok, err = o.Head(ctx)
	if err != nil || !ok || head.ID != "e3" {
		t.Fatalf("head after corruption %+v %v %v", head, ok, err)
	}
	pending, quarantined, err := o.Depth(ctx)
	if err != nil || pending != 1 || quarantined != 1 {
		t.Fatalf("depth %d quarantined %d %v", pending, quarantined, err)
	}
}

// An outbox of a newer kiosk's schema is refused and left as it is, its
// events kept for that kiosk; one of this schema opens again.
func TestOutboxNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	ob, err := OpenOutbox(path, 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := ob.Put(context.Background(), "e1", 1, "sealed"); err != nil {
		t.Fatal(err)
	}
	if _, err := ob.db.Exec(`UPDATE meta SET v = 7 WHERE k = 'schema'`); err != nil {
		t.Fatal(err)
	}
	ob.Close()
	if _, err := OpenOutbox(path, 10); !errors.Is(err, ErrOutboxNewer) || !strings.Contains(err.Error(), "v7") {
		t.Fatalf("a newer outbox: %v", err)
	}
	db, _ := sql.Open("sqlite", "file:"+path)
	defer db.Close()
	var v, n int
	db.QueryRow(`SELECT v FROM meta WHERE k = 'schema'`).Scan(&v)
	db.QueryRow(`SELECT count(*) FROM outbox`).Scan(&n)
	if v != 7 || n != 1 {
		t.Fatalf("the newer outbox was changed: v%d, %d events", v, n)
	}
}
