package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"dmpkiosk/hwtest"
)

// v1Schema is the journal as the bridge wrote it before schema versions
// (its tables then: no infocentre columns, no lookups, no outbox to the
// information system), for the dialect's blob type.
func v1Schema(blob string) string {
	return `CREATE TABLE events (id TEXT PRIMARY KEY, device TEXT NOT NULL, seq BIGINT NOT NULL, site TEXT NOT NULL, unit TEXT NOT NULL,
	type TEXT NOT NULL, received BIGINT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
	next_attempt BIGINT NOT NULL DEFAULT 0, outcome TEXT NOT NULL DEFAULT '', message TEXT NOT NULL DEFAULT '',
	last_error TEXT NOT NULL DEFAULT '', payload ` + blob + ` NOT NULL` + map[string]string{"BYTEA": ", owner TEXT NOT NULL DEFAULT ''"}[blob] + `);
CREATE TABLE devices (device TEXT PRIMARY KEY, last_seq BIGINT NOT NULL);
CREATE TABLE marks (event TEXT NOT NULL, mark TEXT NOT NULL, at BIGINT NOT NULL, PRIMARY KEY (event, mark));
CREATE TABLE audit (seq BIGINT PRIMARY KEY, at BIGINT NOT NULL, kind TEXT NOT NULL, ref TEXT NOT NULL, detail TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL);
INSERT INTO events (id, device, seq, site, unit, type, received, state, payload) VALUES ('old-queued', 'kiosk-1', 1, '750712184', 'ACCUEIL', 'dmp.consent', ` +
		fmt.Sprint(time.Now().Add(-time.Hour).UnixMilli()) + `, 'verified', '{}');
INSERT INTO events (id, device, seq, site, unit, type, received, state, attempts, last_error, payload) VALUES ('old-dead', 'kiosk-1', 2, '750712184', 'ACCUEIL', 'dmp.consent', ` +
		fmt.Sprint(time.Now().Add(-time.Hour).UnixMilli()) + `, 'dead', 8, 'DMP unreachable', '{}');
INSERT INTO devices (device, last_seq) VALUES ('kiosk-1', 2)`
}

// migrationSuite: a journal written before schema versions, with an
// event queued and a dead letter, is migrated when opened (in one
// transaction) and its events processed; the sequence of its kiosk goes
// on; opened again it is left as it is; a journal of a newer schema is
// refused with a clear message and left untouched.
func migrationSuite(t *testing.T, old func(t *testing.T, schema string) (open func() (Store, error), version func() int)) {
	ctx := context.Background()
	open, version := old(t, "")
	j, err := open()
	if err != nil {
		t.Fatal(err)
	}
	if v := version(); v != JournalSchema {
		t.Fatalf("migrated to v%d", v)
	}
	claimed, err := j.Claim(ctx, time.Now(), 10)
	if err != nil || len(claimed) != 1 || claimed[0].ID != "old-queued" {
		t.Fatalf("the queued event after the migration: %+v %v", claimed, err)
	}
	if err := j.Finish(ctx, "old-queued", "authorized", "ok"); err != nil {
		t.Fatal(err)
	}
	if err := j.Retry(ctx, "old-dead"); err != nil {
		t.Fatalf("retrying the old dead letter: %v", err)
	}
	if claimed, _ := j.Claim(ctx, time.Now(), 10); len(claimed) != 1 || claimed[0].ID != "old-dead" {
		t.Fatalf("the old dead letter, retried: %+v", claimed)
	}
	if _, _, err := j.Accept(ctx, Record{ID: "new-1", Device: "kiosk-1", Seq: 2, Type: "dmp.consent", Received: time.Now(), Payload: []byte(`{}`)}); !errors.Is(err, ErrReplay) {
		t.Fatalf("the kiosk's sequence was forgotten: %v", err)
	}
	if _, err := j.SIHEnqueue(ctx, SIHMessage{ID: "gam/x", Receiver: "gam", Event: "x", Patient: "p", State: SIHQuery, Payload: []byte(`{}`), Created: time.Now()}); err != nil {
		t.Fatalf("the new tables: %v", err)
	}
	j.Close()
	if j, err = open(); err != nil {
		t.Fatalf("opened again: %v", err)
	}
	j.Close()

	open, version = old(t, "newer")
	if _, err := open(); !errors.Is(err, ErrSchemaNewer) || !strings.Contains(err.Error(), "v99") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("a newer journal: %v", err)
	}
	if v := version(); v != 99 {
		t.Fatalf("a newer journal was changed (v%d)", v)
	}
}

func TestSQLiteSchemaMigration(t *testing.T) {
	migrationSuite(t, func(t *testing.T, kind string) (func() (Store, error), func() int) {
		path := filepath.Join(t.TempDir(), "journal.db")
		db, err := sql.Open("sqlite", "file:"+path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(v1Schema("BLOB")); err != nil {
			t.Fatal(err)
		}
		if kind == "newer" {
			if _, err := db.Exec(schemaVersionTable + `; INSERT INTO schema_version VALUES (99)`); err != nil {
				t.Fatal(err)
			}
		}
		return func() (Store, error) { return OpenSQLite(path) }, func() int {
			db, _ := sql.Open("sqlite", "file:"+path)
			defer db.Close()
			v := 0
			db.QueryRow(`SELECT version FROM schema_version`).Scan(&v)
			return v
		}
	})
}

func TestPostgresSchemaMigration(t *testing.T) {
	pg := hwtest.StartPostgres(t)
	n := 0
	migrationSuite(t, func(t *testing.T, kind string) (func() (Store, error), func() int) {
		ctx := context.Background()
		n++
		conn, err := pgx.Connect(ctx, pg.DSN)
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("migration_%d", n)
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
			t.Fatal(err)
		}
		conn.Close(ctx)
		dsn := strings.Replace(pg.DSN, "/postgres?", "/"+name+"?", 1)
		db, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close(ctx)
		for _, q := range strings.Split(v1Schema("BYTEA"), ";\n") {
			if _, err := db.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		if kind == "newer" {
			if _, err := db.Exec(ctx, schemaVersionTable); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(ctx, `INSERT INTO schema_version VALUES (99)`); err != nil {
				t.Fatal(err)
			}
		}
		return func() (Store, error) { return OpenPostgres(ctx, dsn, "bridge-1") }, func() int {
			c, err := pgx.Connect(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(ctx)
			v := 0
			c.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&v)
			return v
		}
	})
}

// A backup made while the journal takes events is consistent; restored in
// a journal's place, it opens, its audit chain holds and it has every
// event accepted before it was made; a backup whose chain is broken is not
// restored.
func TestSQLiteBackupRestore(t *testing.T) {
	dir := t.TempDir()
	j, err := OpenSQLite(filepath.Join(dir, "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	accept := func(i int) {
		if _, _, err := j.Accept(ctx, Record{ID: fmt.Sprintf("e%03d", i), Device: "kiosk-1", Seq: int64(i + 1), Type: "dmp.consent", Received: time.Now(), Payload: []byte(`{}`)}); err != nil {
			t.Error(err)
		}
	}
	for i := range 50 {
		accept(i)
	}
	done := make(chan struct{})
	go func() { // the bridge goes on while the backup is made
		defer close(done)
		for i := 50; i < 150; i++ {
			accept(i)
		}
	}()
	backup := filepath.Join(dir, "backup.db")
	if err := j.Backup(ctx, backup); err != nil {
		t.Fatal(err)
	}
	<-done
	if err := j.Backup(ctx, backup); err == nil {
		t.Error("a backup over an existing file")
	}
	j.Close()
	target := filepath.Join(dir, "restored", "journal.db")
	os.MkdirAll(filepath.Dir(target), 0o700)
	links, err := RestoreSQLite(ctx, backup, target)
	if err != nil {
		t.Fatal(err)
	}
	r, err := OpenSQLite(target)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	n, broken, err := r.VerifyAudit(ctx)
	if err != nil || broken != 0 || n != links || n < 50 {
		t.Fatalf("restored audit: %d links (backup %d), broken %d, %v", n, links, broken, err)
	}
	_, total, _ := r.List(ctx, EventFilter{})
	if total < 50 || total != n {
		t.Fatalf("restored %d events for %d audit links", total, n)
	}
	// A backup whose chain was altered is refused.
	db, _ := sql.Open("sqlite", "file:"+backup)
	db.Exec(`DROP TRIGGER audit_append_only_u`)
	db.Exec(`UPDATE audit SET detail = 'altered' WHERE seq = 3`)
	db.Close()
	if _, err := RestoreSQLite(ctx, backup, filepath.Join(dir, "other.db")); err == nil || !strings.Contains(err.Error(), "audit chain") {
		t.Fatalf("an altered backup restored: %v", err)
	}
}

// A PostgreSQL journal backed up with PostgreSQL's own tools, as the
// README says (pg_dump -Fc while the bridge runs, pg_restore into a new
// database): the restored journal opens, its audit chain holds and its
// events are there.
func TestPostgresBackupRestoreWithItsTools(t *testing.T) {
	pg := hwtest.StartPostgres(t)
	ctx := context.Background()
	j, err := OpenPostgres(ctx, pg.DSN, "bridge-1")
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for i := range 20 {
		if _, _, err := j.Accept(ctx, Record{ID: fmt.Sprintf("e%02d", i), Device: "kiosk-1", Seq: int64(i + 1), Type: "dmp.consent", Received: time.Now(), Payload: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_dump")
	if len(bins) == 0 {
		t.Fatal("pg_dump (package postgresql) is missing")
	}
	dir := filepath.Dir(bins[len(bins)-1])
	dump := filepath.Join(t.TempDir(), "journal.dump")
	if out, err := exec.Command(filepath.Join(dir, "pg_dump"), "-Fc", "-f", dump, "-d", pg.DSN).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	if _, err := j.pool.Exec(ctx, "CREATE DATABASE restored"); err != nil {
		t.Fatal(err)
	}
	target := strings.Replace(pg.DSN, "/postgres?", "/restored?", 1)
	if out, err := exec.Command(filepath.Join(dir, "pg_restore"), "--no-owner", "-d", target, dump).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, out)
	}
	r, err := OpenPostgres(ctx, target, "bridge-1")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	n, broken, err := r.VerifyAudit(ctx)
	if _, total, _ := r.List(ctx, EventFilter{}); err != nil || broken != 0 || n != 20 || total != 20 {
		t.Fatalf("restored: %d links, broken %d, %d events, %v", n, broken, total, err)
	}
}
