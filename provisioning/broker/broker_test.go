package broker_test

import (
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"dmpkiosk/hwtest"
	"dmpkiosk/provisioning"
	"dmpkiosk/provisioning/broker"
)

// target is a broker under test and how to make it apply a new CRL.
type target struct {
	name      string
	url       string
	reloadCRL func(t *testing.T)
	// The embedded broker refuses outright a client id unlike the
	// certificate's name; mosquitto replaces it by that name. Both keep
	// every kiosk to its own session, which is what the tests assert of
	// both. Forbidden subscriptions both refuse in the SUBACK.
	refusesClientID bool
}

func embedded(t *testing.T, s *hwtest.Site) target {
	rev, err := provisioning.LoadRevocations(s.CA.CRLPath(), s.CA.Cert)
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.Start(broker.Options{Addr: "127.0.0.1:0", Roots: s.CA.Pool(), Server: s.Server, Revocations: rev})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return target{name: "embedded", url: b.URL(), refusesClientID: true, reloadCRL: func(t *testing.T) {
		if err := b.Reload(); err != nil {
			t.Fatal(err)
		}
	}}
}

func mosquitto(t *testing.T, s *hwtest.Site) target {
	m := s.StartMosquitto(t)
	return target{name: "mosquitto", url: m.URL(), reloadCRL: func(t *testing.T) {
		s.CopyCRL(t, m)
		// mosquitto reads its CRL when the listener starts.
		m.Stop()
		m.Start()
	}}
}

func TestBrokers(t *testing.T) {
	for _, mk := range []func(*testing.T, *hwtest.Site) target{embedded, mosquitto} {
		s := hwtest.NewSite(t, "kiosk-a", "kiosk-b")
		tg := mk(t, s)
		t.Run(tg.name, func(t *testing.T) { runPolicyTests(t, s, tg) })
	}
}

type inbox struct {
	mu   sync.Mutex
	msgs map[string][]string
	got  chan string
}

func newInbox() *inbox { return &inbox{msgs: map[string][]string{}, got: make(chan string, 64)} }

func (in *inbox) handler(_ mqtt.Client, m mqtt.Message) {
	in.mu.Lock()
	in.msgs[m.Topic()] = append(in.msgs[m.Topic()], string(m.Payload()))
	in.mu.Unlock()
	in.got <- m.Topic() + " " + string(m.Payload())
}

func (in *inbox) wait(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case g := <-in.got:
			if g == want {
				return
			}
		case <-deadline:
			t.Fatalf("never received %q", want)
		}
	}
}

func (in *inbox) count(topic string) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.msgs[topic])
}

func dial(url, clientID string, cfg *tls.Config, onLost func()) (mqtt.Client, error) {
	opts := mqtt.NewClientOptions().AddBroker(url).SetClientID(clientID).SetTLSConfig(cfg).
		SetConnectTimeout(5 * time.Second).SetAutoReconnect(false).SetCleanSession(true).SetConnectRetry(false)
	if onLost != nil {
		opts.SetConnectionLostHandler(func(mqtt.Client, error) { onLost() })
	}
	c := mqtt.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, errors.New("connect timed out")
	}
	if tok.Error() != nil {
		return nil, tok.Error()
	}
	return c, nil
}

func mustDial(t *testing.T, url, id string, cfg *tls.Config) mqtt.Client {
	t.Helper()
	c, err := dial(url, id, cfg, nil)
	if err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	t.Cleanup(func() { c.Disconnect(50) })
	return c
}

func subscribe(t *testing.T, c mqtt.Client, filter string, in *inbox) byte {
	t.Helper()
	tok := c.Subscribe(filter, 1, in.handler)
	if !tok.WaitTimeout(10 * time.Second) {
		t.Fatalf("subscribe %s timed out", filter)
	}
	// paho keys a shared subscription's code by the filter it shares.
	res := tok.(*mqtt.SubscribeToken).Result()
	if len(res) != 1 {
		t.Fatalf("subscribe %s: %v", filter, res)
	}
	for _, code := range res {
		return code
	}
	panic("unreachable")
}

func publish(c mqtt.Client, topic, payload string) error {
	tok := c.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(5 * time.Second) {
		return errors.New("publish timed out")
	}
	return tok.Error()
}

func runPolicyTests(t *testing.T, s *hwtest.Site, tg target) {
	bridgeIn, kioskIn := newInbox(), newInbox()
	bridge := mustDial(t, tg.url, "bridge-1", s.TLS(s.Creds["bridge-1"]))
	if code := subscribe(t, bridge, provisioning.BridgeEventsFilter, bridgeIn); code > 2 {
		t.Fatalf("bridge shared subscription refused: %#x", code)
	}
	a := mustDial(t, tg.url, "kiosk-a", s.TLS(s.Creds["kiosk-a"]))
	if code := subscribe(t, a, provisioning.ResultsTopic("kiosk-a"), kioskIn); code > 2 {
		t.Fatalf("kiosk results subscription refused: %#x", code)
	}

	t.Run("event to the bridge, result to the kiosk", func(t *testing.T) {
		if err := publish(a, provisioning.EventsTopic("kiosk-a"), "e1"); err != nil {
			t.Fatal(err)
		}
		bridgeIn.wait(t, "kiosk/kiosk-a/events e1")
		if err := publish(bridge, provisioning.ResultsTopic("kiosk-a"), "r1"); err != nil {
			t.Fatal(err)
		}
		kioskIn.wait(t, "kiosk/kiosk-a/results r1")
	})

	t.Run("a kiosk subscribing to another kiosk's results", func(t *testing.T) {
		spy := newInbox()
		if code := subscribe(t, a, provisioning.ResultsTopic("kiosk-b"), spy); code != 0x80 {
			t.Errorf("subscription to kiosk-b's results granted: %#x", code)
		}
		if code := subscribe(t, a, "kiosk/+/results", spy); code != 0x80 {
			t.Errorf("wildcard subscription granted: %#x", code)
		}
		if err := publish(bridge, provisioning.ResultsTopic("kiosk-b"), "secret"); err != nil {
			t.Fatal(err)
		}
		// kiosk-a's own result comes after: had the other arrived, it
		// would be there by then.
		if err := publish(bridge, provisioning.ResultsTopic("kiosk-a"), "r2"); err != nil {
			t.Fatal(err)
		}
		kioskIn.wait(t, "kiosk/kiosk-a/results r2")
		if n := spy.count(provisioning.ResultsTopic("kiosk-b")); n != 0 {
			t.Fatalf("kiosk-a received %d of kiosk-b's results", n)
		}
	})

	t.Run("a kiosk joining the bridges' group", func(t *testing.T) {
		// Had the broker let it in, it would take its turn of the events
		// and its read rights would drop them: about one in two would not
		// reach a bridge on its first send.
		stolen := newInbox()
		thief := mustDial(t, tg.url, "kiosk-b", s.TLS(s.Creds["kiosk-b"]))
		for _, f := range []string{provisioning.BridgeEventsFilter, "$share/bridges/kiosk/kiosk-a/events", "$share/kiosks/kiosk/kiosk-b/results", "kiosk/+/events"} {
			if code := subscribe(t, thief, f, stolen); code != 0x80 {
				t.Errorf("kiosk-b's subscription to %s granted: %#x", f, code)
			}
		}
		const n = 20
		for i := range n {
			if err := publish(a, provisioning.EventsTopic("kiosk-a"), fmt.Sprintf("g%d", i)); err != nil {
				t.Fatal(err)
			}
		}
		// Every event reaches the bridge on its first send, in order.
		for i := range n {
			bridgeIn.wait(t, fmt.Sprintf("kiosk/kiosk-a/events g%d", i))
		}
		if got := stolen.count(provisioning.EventsTopic("kiosk-a")); got != 0 {
			t.Fatalf("kiosk-b received %d events", got)
		}
	})

	t.Run("a kiosk publishing on another kiosk's topic", func(t *testing.T) {
		forger := mustDial(t, tg.url, "kiosk-a", s.TLS(s.Creds["kiosk-a"]))
		_ = publish(forger, provisioning.EventsTopic("kiosk-b"), "forged") // dropped or disconnected
		_ = publish(forger, provisioning.StatusTopic("kiosk-b"), "forged")
		honest := mustDial(t, tg.url, "kiosk-a", s.TLS(s.Creds["kiosk-a"]))
		if err := publish(honest, provisioning.EventsTopic("kiosk-a"), "e2"); err != nil {
			t.Fatal(err)
		}
		bridgeIn.wait(t, "kiosk/kiosk-a/events e2")
		if n := bridgeIn.count(provisioning.EventsTopic("kiosk-b")); n != 0 {
			t.Fatalf("the bridge received %d forged events", n)
		}
		a = honest // the first kiosk-a connection was taken over
	})

	t.Run("certificates from a foreign CA or expired", func(t *testing.T) {
		other := hwtest.NewSite(t, "kiosk-a")
		if c, err := dial(tg.url, "kiosk-a", s.TLS(other.Creds["kiosk-a"]), nil); err == nil {
			c.Disconnect(0)
			t.Error("a foreign CA's certificate was accepted")
		}
		s.CA.Now = func() time.Time { return time.Now().Add(-3 * 365 * 24 * time.Hour) }
		old := s.Enroll(t, "kiosk-old", provisioning.RoleKiosk)
		s.CA.Now = time.Now
		if c, err := dial(tg.url, "kiosk-old", s.TLS(old), nil); err == nil {
			c.Disconnect(0)
			t.Error("an expired certificate was accepted")
		}
	})

	t.Run("a client id that differs from its certificate", func(t *testing.T) {
		var lost sync.WaitGroup
		lost.Add(1)
		b, err := dial(tg.url, "kiosk-b", s.TLS(s.Creds["kiosk-b"]), lost.Done)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Disconnect(50)
		impostor, err := dial(tg.url, "kiosk-b", s.TLS(s.Creds["kiosk-a"]), nil)
		if tg.refusesClientID && err == nil {
			impostor.Disconnect(0)
			t.Error("kiosk-a's certificate connected as kiosk-b")
		}
		if err == nil {
			defer impostor.Disconnect(0)
		}
		// Either way kiosk-b's session must not be taken over.
		time.Sleep(300 * time.Millisecond)
		if !b.IsConnectionOpen() {
			t.Fatal("kiosk-b was disconnected by a client using another certificate")
		}
	})

	t.Run("a revoked kiosk is shut out", func(t *testing.T) {
		lostB := make(chan struct{})
		b, err := dial(tg.url, "kiosk-b", s.TLS(s.Creds["kiosk-b"]), func() { close(lostB) })
		if err != nil {
			t.Fatal(err)
		}
		defer b.Disconnect(0)
		if err := s.CA.Revoke("kiosk-b"); err != nil {
			t.Fatal(err)
		}
		tg.reloadCRL(t)
		select {
		case <-lostB:
		case <-time.After(10 * time.Second):
			t.Fatal("the revoked kiosk stayed connected")
		}
		if c, err := dial(tg.url, "kiosk-b", s.TLS(s.Creds["kiosk-b"]), nil); err == nil {
			c.Disconnect(0)
			t.Fatal("a revoked certificate was accepted")
		}
		// Others are not affected.
		if c, err := dial(tg.url, "kiosk-a", s.TLS(s.Creds["kiosk-a"]), nil); err != nil {
			t.Fatalf("kiosk-a after kiosk-b's revocation: %v", err)
		} else {
			c.Disconnect(0)
		}
	})
}
