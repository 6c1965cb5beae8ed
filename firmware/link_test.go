package firmware

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"dmpkiosk/firmware/event"
	"dmpkiosk/hwtest"
	"dmpkiosk/provisioning"
)

// standIn is a bridge for the link tests: it records the events it gets
// (here the body is the event id) and answers each when told to.
type standIn struct {
	mu     sync.Mutex
	got    []string
	answer bool
	c      mqtt.Client
	seen   chan string
	status chan Heartbeat
}

func newStandIn(t *testing.T, url string, s *hwtest.Site) *standIn {
	t.Helper()
	b := &standIn{answer: true, seen: make(chan string, 32), status: make(chan Heartbeat, 32)}
	opts := mqtt.NewClientOptions().AddBroker(url).SetClientID("bridge-1").SetTLSConfig(s.TLS(s.Creds["bridge-1"])).
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(200 * time.Millisecond).
		SetOnConnectHandler(func(c mqtt.Client) {
			c.Subscribe(provisioning.BridgeEventsFilter, 1, b.onEvent).Wait()
			c.Subscribe("kiosk/+/status", 1, func(_ mqtt.Client, m mqtt.Message) {
				var hb Heartbeat
				if json.Unmarshal(m.Payload(), &hb) == nil {
					b.status <- hb
				}
			}).Wait()
		})
	b.c = mqtt.NewClient(opts)
	if tok := b.c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("stand-in bridge: %v", tok.Error())
	}
	t.Cleanup(func() { b.c.Disconnect(50) })
	return b
}

func (b *standIn) onEvent(c mqtt.Client, m mqtt.Message) {
	id := string(m.Payload())
	b.mu.Lock()
	b.got = append(b.got, id)
	answer := b.answer
	b.mu.Unlock()
	b.seen <- id
	if answer {
		r, _ := json.Marshal(event.Result{EventID: id, Outcome: event.OutcomeAuthorized, Message: "Autorisation enregistrée"})
		c.Publish(provisioning.ResultsTopic("kiosk-1"), 1, false, r)
	}
}

func (b *standIn) expect(t *testing.T, id string) {
	t.Helper()
	select {
	case got := <-b.seen:
		if got != id {
			t.Fatalf("bridge got %s, want %s", got, id)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("bridge never got %s", id)
	}
}

func put(t *testing.T, ob *Outbox, id string) {
	t.Helper()
	ctx := context.Background()
	seq, err := ob.NextSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ob.Put(ctx, id, seq, id); err != nil {
		t.Fatal(err)
	}
}

func waitResult(t *testing.T, l *Link, id string) {
	t.Helper()
	select {
	case r := <-l.Results():
		if r.EventID != id {
			t.Fatalf("result for %s, want %s", r.EventID, id)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no result for %s", id)
	}
}

func TestLinkThroughMosquitto(t *testing.T) {
	site := hwtest.NewSite(t, "kiosk-1")
	m := site.StartMosquitto(t)
	bridge := newStandIn(t, m.URL(), site)
	path := filepath.Join(t.TempDir(), "outbox.db")
	ob, err := OpenOutbox(path, 100)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cfg := LinkConfig{BrokerURL: m.URL(), TLS: site.TLS(site.Creds["kiosk-1"]), DeviceID: "kiosk-1", Version: "test",
		ResultWait: 400 * time.Millisecond, Heartbeat: 200 * time.Millisecond, Site: event.Site{FINESS: "750712184", Unit: "ACCUEIL"}, Regime: "current"}
	link := StartLink(ctx, cfg, ob)

	// In order, one at a time, each removed when its result arrives.
	put(t, ob, "e1")
	put(t, ob, "e2")
	link.Kick()
	bridge.expect(t, "e1")
	waitResult(t, link, "e1")
	bridge.expect(t, "e2")
	waitResult(t, link, "e2")

	// The heartbeat says the kiosk is online with an empty outbox.
	deadline := time.After(10 * time.Second)
	for ok := false; !ok; {
		select {
		case hb := <-bridge.status:
			ok = hb.Device == "kiosk-1" && hb.Online && hb.Outbox == 0 && hb.Version == "test" &&
				hb.Regime == "current" && hb.Site.Unit == "ACCUEIL" && bytes.Equal(hb.Cert, site.Creds["kiosk-1"].Leaf.Raw)
		case <-deadline:
			t.Fatal("no heartbeat")
		}
	}

	// A silent bridge: the event stays and is sent again.
	bridge.mu.Lock()
	bridge.answer = false
	bridge.mu.Unlock()
	put(t, ob, "e3")
	link.Kick()
	bridge.expect(t, "e3")
	bridge.expect(t, "e3")
	if st := link.Status(); st.Outbox != 1 {
		t.Fatalf("outbox depth %d while the bridge is silent", st.Outbox)
	}
	bridge.mu.Lock()
	bridge.answer = true
	bridge.mu.Unlock()
	bridge.expect(t, "e3")
	waitResult(t, link, "e3")

	// The broker goes down: the event waits, visible; it comes back: sent.
	m.Stop()
	put(t, ob, "e4")
	link.Kick()
	time.Sleep(500 * time.Millisecond)
	if link.Online() {
		t.Fatal("the link says online with the broker stopped")
	}
	if st := link.Status(); st.Outbox != 1 {
		t.Fatalf("outbox depth %d with the broker down", st.Outbox)
	}
	m.Start()
	bridge.expect(t, "e4")
	waitResult(t, link, "e4")

	// Killed between storing and sending: the next start sends it.
	cancel()
	time.Sleep(300 * time.Millisecond)
	put(t, ob, "e5")
	ob.Close()
	ob2, err := OpenOutbox(path, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer ob2.Close()
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	link2 := StartLink(ctx2, cfg, ob2)
	bridge.expect(t, "e5")
	waitResult(t, link2, "e5")
	if p, q, _ := ob2.Depth(context.Background()); p != 0 || q != 0 {
		t.Fatalf("outbox after all results: %d pending, %d quarantined", p, q)
	}
}

// A lookup in flight when its bridge goes is sent again, unchanged, when
// a bridge says it is back (its retained status), as long as the session
// waits for it; once answered, or past its wait, it is not.
func TestLinkAsksAgainWhenABridgeIsBack(t *testing.T) {
	site := hwtest.NewSite(t, "kiosk-1")
	m := site.StartMosquitto(t)
	asked := make(chan string, 8)
	b := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(m.URL()).SetClientID("bridge-1").SetTLSConfig(site.TLS(site.Creds["bridge-1"])))
	if tok := b.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer b.Disconnect(50)
	b.Subscribe(provisioning.BridgeLookupFilter, 1, func(_ mqtt.Client, msg mqtt.Message) { asked <- string(msg.Payload()) }).Wait()
	ob, err := OpenOutbox(filepath.Join(t.TempDir(), "outbox.db"), 100)
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	link := StartLink(ctx, LinkConfig{BrokerURL: m.URL(), TLS: site.TLS(site.Creds["kiosk-1"]), DeviceID: "kiosk-1"}, ob)
	for deadline := time.Now().Add(10 * time.Second); !link.Online(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the link never came online")
		}
	}
	expect := func(want string) {
		t.Helper()
		select {
		case got := <-asked:
			if got != want {
				t.Fatalf("asked %q, want %q", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%q never asked", want)
		}
	}
	none := func() {
		t.Helper()
		select {
		case got := <-asked:
			t.Fatalf("asked again: %q", got)
		case <-time.After(700 * time.Millisecond):
		}
	}
	back := func() {
		t.Helper()
		st, _ := json.Marshal(event.BridgeStatus{Online: true})
		b.Publish(provisioning.BridgeStatusTopic("bridge-1"), 1, true, st).Wait()
	}
	if err := link.Ask("L1", "sealed-L1", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := link.Ask("L2", "sealed-L2", time.Now().Add(500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	expect("sealed-L1")
	expect("sealed-L2")
	time.Sleep(600 * time.Millisecond) // L2's session has given up
	back()
	expect("sealed-L1")
	none()
	// Answered: not sent again.
	ans, _ := json.Marshal(event.Sealed{Lookup: "L1"})
	b.Publish(provisioning.ResultsTopic("kiosk-1"), 1, false, ans).Wait()
	select {
	case s := <-link.Lookups():
		if s.Lookup != "L1" {
			t.Fatalf("answer for %s", s.Lookup)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the answer never reached the session")
	}
	back()
	none()
}
