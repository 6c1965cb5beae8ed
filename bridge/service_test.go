package bridge

import (
	"dmpkiosk/bridge/events/eventstest"
	"dmpkiosk/bridge/internal/work"
	"dmpkiosk/bridge/journal"

	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"dmpkiosk/firmware/event"
	"dmpkiosk/hwtest"
	"dmpkiosk/provisioning"
)

// scriptedDMP stands in for the DMP transactions of issue 10 in these
// tests: it counts the calls and fails as told.
type scriptedDMP struct {
	mu        sync.Mutex
	calls     map[string]int
	transient int // fail this many calls first
	permanent bool
	limited   bool // an answer that cannot be read, every time
}

func (p *scriptedDMP) Process(_ context.Context, e *event.Event) (work.Outcome, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls[e.ID]++
	if p.permanent {
		return work.Outcome{}, &work.PermanentError{Err: errors.New("DMPIdentityCertificationFailure"), Message: "Identité non certifiée par le DMP."}
	}
	if p.limited {
		return work.Outcome{}, &work.LimitedError{Err: errors.New("malformed answer"), Attempts: 2, Message: "Réponse du DMP illisible."}
	}
	if p.transient > 0 {
		p.transient--
		return work.Outcome{}, errors.New("DMP unreachable")
	}
	return work.Outcome{Code: event.OutcomeAuthorized, Message: "Autorisation enregistrée"}, nil
}

func (p *scriptedDMP) count(id string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[id]
}

type serviceRig struct {
	journalPath string
	f           *eventstest.Fixture
	m           *hwtest.Mosquitto
	journal     *journal.SQLiteJournal
	dmp         *scriptedDMP
	svc         *Service
	stop        context.CancelFunc
	kiosk       mqtt.Client
	results     chan event.Result
	sealed      chan event.Sealed    // INSi lookups' and consultations' answers
	tune        func(*ServiceConfig) // applied when the service (re)starts
}

// newServiceRig starts mosquitto for the site (with the extra bridges
// enrolled) and the service as bridge-1.
func newServiceRig(t *testing.T, bridges ...string) *serviceRig {
	f := eventstest.NewFixture(t)
	for _, b := range bridges {
		f.Site.Creds[b] = f.Site.Enroll(t, b, provisioning.RoleBridge)
	}
	m := f.Site.StartMosquitto(t)
	path := filepath.Join(t.TempDir(), "journal.db")
	j, err := journal.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	r := &serviceRig{journalPath: path, f: f, m: m, journal: j, dmp: &scriptedDMP{calls: map[string]int{}}, results: make(chan event.Result, 16), sealed: make(chan event.Sealed, 16)}
	r.start(t)
	opts := mqtt.NewClientOptions().AddBroker(m.URL()).SetClientID("kiosk-1").SetTLSConfig(f.Site.TLS(f.Site.Creds["kiosk-1"]))
	r.kiosk = mqtt.NewClient(opts)
	if tok := r.kiosk.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	r.kiosk.Subscribe(provisioning.ResultsTopic("kiosk-1"), 1, func(_ mqtt.Client, msg mqtt.Message) {
		var sealed event.Sealed
		if json.Unmarshal(msg.Payload(), &sealed) == nil && (sealed.Lookup != "" || sealed.Consult != "") {
			r.sealed <- sealed
			return
		}
		var res event.Result
		if json.Unmarshal(msg.Payload(), &res) == nil {
			r.results <- res
		}
	}).Wait()
	t.Cleanup(func() { r.kiosk.Disconnect(50) })
	return r
}

func (r *serviceRig) start(t *testing.T) { r.startWith(t, r.journal) }

func (r *serviceRig) startWith(t *testing.T, j journal.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cfg := ServiceConfig{BrokerURL: r.m.URL(), TLS: r.f.Site.TLS(r.f.Site.Creds["bridge-1"]), ClientID: "bridge-1",
		Verifier: r.f.V, Journal: j, Processor: r.dmp, Backoff: 50 * time.Millisecond, MaxAttempts: 4}
	if r.tune != nil {
		r.tune(&cfg)
	}
	r.svc = NewService(cfg)
	done := make(chan struct{})
	go func() { r.svc.Run(ctx); close(done) }()
	r.stop = func() { cancel(); <-done }
	t.Cleanup(r.stop)
	deadline := time.Now().Add(10 * time.Second)
	for !r.svc.Ready() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *serviceRig) send(t *testing.T, payload []byte) {
	t.Helper()
	if tok := r.kiosk.Publish(provisioning.EventsTopic("kiosk-1"), 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
}

func (r *serviceRig) result(t *testing.T, id string) event.Result {
	t.Helper()
	for {
		select {
		case res := <-r.results:
			if res.EventID == id {
				return res
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("no result for %s", id)
		}
	}
}

func (r *serviceRig) noResult(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case res := <-r.results:
		t.Fatalf("unexpected result %+v", res)
	case <-time.After(within):
	}
}

func TestServiceProcessesOnce(t *testing.T) {
	r := newServiceRig(t)
	e := eventstest.SampleEvent("kiosk-1")
	payload := r.f.Seal(t, e, "kiosk-1", "cps-medecin", nil)
	r.send(t, payload)
	if res := r.result(t, e.ID); res.Outcome != event.OutcomeAuthorized {
		t.Fatalf("result %+v", res)
	}
	// Redelivered (the kiosk missed the result): answered from the
	// journal, not processed again.
	r.send(t, payload)
	if res := r.result(t, e.ID); res.Outcome != event.OutcomeAuthorized {
		t.Fatalf("result of a redelivery %+v", res)
	}
	if n := r.dmp.count(e.ID); n != 1 {
		t.Fatalf("processed %d times", n)
	}
	if r.svc.Metrics.Duplicates.Load() != 1 || r.svc.Metrics.Done.Load() != 1 {
		t.Fatalf("metrics %d duplicates, %d done", r.svc.Metrics.Duplicates.Load(), r.svc.Metrics.Done.Load())
	}
}

func TestServiceRejects(t *testing.T) {
	r := newServiceRig(t)
	ctx := context.Background()
	// Encrypted to another bridge: refused, audited, never answered.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	forged := *r.f
	site := *r.f.Site
	site.EncKey = other
	forged.Site = &site
	r.send(t, forged.Seal(t, eventstest.SampleEvent("kiosk-1"), "kiosk-1", "cps-medecin", nil))
	r.noResult(t, 500*time.Millisecond)
	// A replayed sequence from the kiosk itself: refused and told.
	first := eventstest.SampleEvent("kiosk-1")
	r.send(t, r.f.Seal(t, first, "kiosk-1", "cps-medecin", nil))
	r.result(t, first.ID)
	again := eventstest.SampleEvent("kiosk-1")
	again.ID = "0190f1c2-0000-7000-8000-00000000beef" // new id, same sequence
	r.send(t, r.f.Seal(t, again, "kiosk-1", "cps-medecin", nil))
	if res := r.result(t, again.ID); res.Outcome != event.OutcomeRefused {
		t.Fatalf("replay answered %+v", res)
	}
	if r.dmp.count(again.ID) != 0 {
		t.Fatal("a replay was processed")
	}
	// The same id with another content (the patient's refusal, a new
	// sequence): not the event the journal answered; refused and told,
	// never given the old answer, nothing processed.
	reused := eventstest.SampleEvent("kiosk-1")
	reused.ID, reused.Seq, reused.Consent.Authorization = first.ID, 9, false
	r.send(t, r.f.Seal(t, reused, "kiosk-1", "cps-medecin", nil))
	if res := r.result(t, first.ID); res.Outcome != event.OutcomeRefused {
		t.Fatalf("a reused id answered %+v", res)
	}
	if r.dmp.count(first.ID) != 1 {
		t.Fatalf("a reused id was processed: %d calls", r.dmp.count(first.ID))
	}
	by := r.svc.Metrics.Rejections()
	if by[journal.RejectUndecrypt] != 1 || by[journal.RejectReplay] != 1 || by[journal.RejectReused] != 1 {
		t.Fatalf("rejections %v", by)
	}
	n, broken, err := r.journal.VerifyAudit(ctx)
	if err != nil || broken != 0 || n < 5 { // 3 rejections, 1 accepted, 1 done
		t.Fatalf("audit: %d links, broken %d, %v", n, broken, err)
	}
}

// Every kiosk hears back: an event that waited offline is processed; one
// refused though its device is authenticated (too old, another site) is
// answered with the reason in words, kept as refused (never processed nor
// retried), and the kiosk's next event goes through.
func TestServiceTellsRefusals(t *testing.T) {
	r := newServiceRig(t)
	ctx := context.Background()
	late := eventstest.SampleEvent("kiosk-1")
	late.ID, late.Time = "0190f1c2-0000-7000-8000-0000000002a1", time.Now().Add(-3*time.Hour)
	r.send(t, r.f.Seal(t, late, "kiosk-1", "cps-medecin", nil))
	if res := r.result(t, late.ID); res.Outcome != event.OutcomeAuthorized {
		t.Fatalf("an event 3 hours old: %+v", res)
	}
	for i, c := range []struct {
		name    string
		change  func(*event.Event)
		reason  string
		message string
	}{
		{"eight days old", func(e *event.Event) { e.Time = time.Now().Add(-8 * 24 * time.Hour) }, journal.RejectTooOld, "trop ancienne"},
		{"another unit", func(e *event.Event) { e.Site.Unit = "URGENCES" }, journal.RejectSite, "pas inscrite pour ce site"},
	} {
		e := eventstest.SampleEvent("kiosk-1")
		e.ID, e.Seq = fmt.Sprintf("0190f1c2-0000-7000-8000-0000000002b%d", i), int64(10+i)
		c.change(e)
		sealed := r.f.Seal(t, e, "kiosk-1", "cps-medecin", nil)
		r.send(t, sealed)
		res := r.result(t, e.ID)
		if res.Outcome != event.OutcomeRefused || !strings.Contains(res.Message, c.message) {
			t.Fatalf("%s: %+v", c.name, res)
		}
		rec, err := r.journal.Get(ctx, e.ID)
		if err != nil || rec.State != journal.StateRefused || !strings.HasPrefix(rec.LastError, c.reason+":") || rec.Message != res.Message {
			t.Fatalf("%s: journal %+v, %v", c.name, rec, err)
		}
		if err := r.journal.Retry(ctx, e.ID); err == nil {
			if rec, _ := r.journal.Get(ctx, e.ID); rec.State != journal.StateRefused {
				t.Fatalf("%s: a refused event was put back in the queue", c.name)
			}
		}
		// Sent again (the answer was lost): the same answer, from the
		// journal.
		r.send(t, sealed)
		if again := r.result(t, e.ID); again != res {
			t.Fatalf("%s: answered again %+v, first %+v", c.name, again, res)
		}
		if r.dmp.count(e.ID) != 0 {
			t.Fatalf("%s: processed", c.name)
		}
	}
	next := eventstest.SampleEvent("kiosk-1")
	next.ID, next.Seq = "0190f1c2-0000-7000-8000-0000000002c1", 20
	r.send(t, r.f.Seal(t, next, "kiosk-1", "cps-medecin", nil))
	if res := r.result(t, next.ID); res.Outcome != event.OutcomeAuthorized {
		t.Fatalf("the next event: %+v", res)
	}
	if refused, _, err := r.journal.List(ctx, journal.EventFilter{State: journal.StateRefused, Limit: 10}); err != nil || len(refused) != 2 {
		t.Fatalf("refused list: %d, %v", len(refused), err)
	}
	if n, broken, err := r.journal.VerifyAudit(ctx); err != nil || broken != 0 || n == 0 {
		t.Fatalf("audit: %d, %d, %v", n, broken, err)
	}
}

// A kiosk over its rate: the events over the limit are neither looked at
// nor answered (so the kiosk keeps them and sends them again), the first
// is audited, and once the bucket refills the same event goes through.
func TestServiceRateLimit(t *testing.T) {
	r := newServiceRig(t)
	r.stop()
	r.tune = func(c *ServiceConfig) { c.KioskRate, c.KioskBurst = 0.2, 2 } // a token every 5 s
	r.start(t)
	var evs []*event.Event
	var sealed [][]byte
	for i := range 4 {
		e := eventstest.SampleEvent("kiosk-1")
		e.ID, e.Seq = fmt.Sprintf("0190f1c2-0000-7000-8000-0000000001%02d", i), int64(i+1)
		evs, sealed = append(evs, e), append(sealed, r.f.Seal(t, e, "kiosk-1", "cps-medecin", nil))
	}
	// One at a time, as the kiosk's outbox sends: two within the burst,
	// then two over it.
	for i := range 2 {
		r.send(t, sealed[i])
		r.result(t, evs[i].ID)
	}
	r.send(t, sealed[2])
	r.send(t, sealed[3])
	r.noResult(t, 300*time.Millisecond)
	if by := r.svc.Metrics.Rejections(); by[journal.RejectRateLimited] != 2 {
		t.Fatalf("rejections %v", by)
	}
	for _, e := range evs[2:] {
		if _, err := r.journal.Get(context.Background(), e.ID); !errors.Is(err, journal.ErrUnknown) {
			t.Fatalf("%s journaled over the limit: %v", e.ID, err)
		}
	}
	// One audit line for the burst of refusals, not one each.
	n, broken, err := r.journal.VerifyAudit(context.Background())
	if err != nil || broken != 0 || n != 5 { // 2 accepted, 2 done, 1 rate limit
		t.Fatalf("audit: %d links, broken %d, %v", n, broken, err)
	}
	// The kiosk sends the same event again until a token is back.
	for deadline := time.Now().Add(20 * time.Second); ; {
		if time.Now().After(deadline) {
			t.Fatal("the limited event never went through")
		}
		r.send(t, sealed[2])
		select {
		case res := <-r.results:
			if res.EventID != evs[2].ID || res.Outcome != event.OutcomeAuthorized {
				t.Fatalf("after the limit: %+v", res)
			}
			return
		case <-time.After(time.Second):
		}
	}
}

func TestServiceRetriesThenDeadLetters(t *testing.T) {
	r := newServiceRig(t)
	r.dmp.transient = 2
	e := eventstest.SampleEvent("kiosk-1")
	r.send(t, r.f.Seal(t, e, "kiosk-1", "cps-medecin", nil))
	if res := r.result(t, e.ID); res.Outcome != event.OutcomeAuthorized || r.dmp.count(e.ID) != 3 {
		t.Fatalf("after two transient failures: %+v, %d calls", res, r.dmp.count(e.ID))
	}
	r.dmp.mu.Lock()
	r.dmp.permanent = true
	r.dmp.mu.Unlock()
	e2 := eventstest.SampleEvent("kiosk-1")
	e2.ID, e2.Seq = "0190f1c2-0000-7000-8000-000000000002", 2
	r.send(t, r.f.Seal(t, e2, "kiosk-1", "cps-medecin", nil))
	res := r.result(t, e2.ID)
	if res.Outcome != event.OutcomeError || res.Message != "Identité non certifiée par le DMP." {
		t.Fatalf("permanent failure: %+v", res)
	}
	dead, _, _ := r.journal.List(context.Background(), journal.EventFilter{State: journal.StateDead, Limit: 10})
	if len(dead) != 1 || dead[0].ID != e2.ID {
		t.Fatalf("dead letters %+v", dead)
	}
	// An unreadable answer is tried its own few times (not the network's
	// eight), then dead with its own message.
	r.dmp.mu.Lock()
	r.dmp.permanent, r.dmp.limited = false, true
	r.dmp.mu.Unlock()
	e3 := eventstest.SampleEvent("kiosk-1")
	e3.ID, e3.Seq = "0190f1c2-0000-7000-8000-000000000003", 3
	r.send(t, r.f.Seal(t, e3, "kiosk-1", "cps-medecin", nil))
	if res := r.result(t, e3.ID); res.Outcome != event.OutcomeError || res.Message != "Réponse du DMP illisible." || r.dmp.count(e3.ID) != 2 {
		t.Fatalf("unreadable answers: %+v after %d calls", res, r.dmp.count(e3.ID))
	}
}

// The bridge stops between journaling an event and processing it: the
// next run processes it, once.
func TestServiceRestart(t *testing.T) {
	r := newServiceRig(t)
	r.dmp.transient = 1000 // nothing succeeds while the first run lives
	e := eventstest.SampleEvent("kiosk-1")
	payload := r.f.Seal(t, e, "kiosk-1", "cps-medecin", nil)
	r.send(t, payload)
	deadline := time.Now().Add(10 * time.Second)
	for r.dmp.count(e.ID) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	r.stop()
	r.dmp.mu.Lock()
	r.dmp.transient = 0
	r.dmp.mu.Unlock()
	r.start(t)
	if res := r.result(t, e.ID); res.Outcome != event.OutcomeAuthorized {
		t.Fatalf("after restart %+v", res)
	}
	rec, _ := r.journal.Get(context.Background(), e.ID)
	if rec.State != journal.StateDone {
		t.Fatalf("state %s", rec.State)
	}
}

// failingJournal refuses the first accepts, as a full disk would.
type failingJournal struct {
	journal.Store
	mu    sync.Mutex
	fails int
}

func (f *failingJournal) Accept(ctx context.Context, r journal.Record) (journal.Record, bool, error) {
	f.mu.Lock()
	if f.fails > 0 {
		f.fails--
		f.mu.Unlock()
		return journal.Record{}, false, errors.New("disk I/O error: no space left on device")
	}
	f.mu.Unlock()
	return f.Store.Accept(ctx, r)
}

// A journal locked by another writer delays an event; one that fails
// loses nothing either: no result is sent, the kiosk's outbox sends again.
func TestServiceJournalLockedOrFull(t *testing.T) {
	r := newServiceRig(t)
	// Locked: another connection holds the write lock for a moment.
	locker, err := sql.Open("sqlite", "file:"+r.journalPath+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close()
	conn, err := locker.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	e := eventstest.SampleEvent("kiosk-1")
	r.send(t, r.f.Seal(t, e, "kiosk-1", "cps-medecin", nil))
	time.Sleep(700 * time.Millisecond)
	if _, err := conn.ExecContext(context.Background(), "COMMIT"); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if res := r.result(t, e.ID); res.Outcome != event.OutcomeAuthorized {
		t.Fatalf("after the lock: %+v", res)
	}

	// Full: the accept fails, no result; the kiosk's resend goes through.
	r.stop()
	fj := &failingJournal{Store: r.journal, fails: 1}
	r.svc = nil
	r.startWith(t, fj)
	e2 := eventstest.SampleEvent("kiosk-1")
	e2.ID, e2.Seq = "0190f1c2-0000-7000-8000-0000000000f2", 2
	payload := r.f.Seal(t, e2, "kiosk-1", "cps-medecin", nil)
	r.send(t, payload)
	r.noResult(t, 500*time.Millisecond)
	r.send(t, payload) // the kiosk's outbox, after its result wait
	if res := r.result(t, e2.ID); res.Outcome != event.OutcomeAuthorized || r.dmp.count(e2.ID) != 1 {
		t.Fatalf("after the resend: %+v, %d calls", res, r.dmp.count(e2.ID))
	}
}

// db reads the rig's journal file beside the bridge (SQLite's WAL lets a
// reader in), for what the journal's interface does not list.
func (r *serviceRig) db(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+r.journalPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
