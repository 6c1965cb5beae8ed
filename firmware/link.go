package firmware

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"dmpkiosk/firmware/event"
	"dmpkiosk/provisioning"
)

// LinkConfig configures the MQTT link to the bridge.
type LinkConfig struct {
	BrokerURL string
	TLS       *tls.Config // the device certificate and the kiosk CA
	DeviceID  string
	Version   string
	// ResultWait is how long a sent event waits for its result before it
	// is sent again (then doubling, up to 5 minutes).
	ResultWait time.Duration
	Heartbeat  time.Duration
	Logger     *slog.Logger
	// Readers reports the card readers for the heartbeat.
	Readers func() []string
	// Site and Regime are the kiosk's configuration, told in the heartbeat
	// so that the bridge's admin can compare them with its enrollment and
	// with the bridge's DMP.
	Site   event.Site
	Regime string
}

// Heartbeat is the kiosk's retained status on kiosk/<device>/status.
type Heartbeat = event.Heartbeat

// Link sends the outbox's events to the bridge, oldest first and one at a
// time, each until its result arrives; it passes results on and keeps a
// retained heartbeat.
type Link struct {
	cfg    LinkConfig
	ob     *Outbox
	client mqtt.Client
	online atomic.Bool
	kick   chan struct{}

	mu      sync.Mutex
	lastErr string
	results chan event.Result
	lookups chan event.Sealed
	asking  map[string]asked // the lookups waiting for their answer, by id
}

// asked is a lookup request sent and not answered yet, kept in memory
// (never on disk) while the session waits for it.
type asked struct {
	sealed string
	until  time.Time
}

// StartLink connects (retrying in the background when the broker is down)
// and starts sending. Results arrive on Results().
func StartLink(ctx context.Context, cfg LinkConfig, ob *Outbox) *Link {
	if cfg.ResultWait == 0 {
		cfg.ResultWait = 30 * time.Second
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	l := &Link{cfg: cfg, ob: ob, kick: make(chan struct{}, 1), results: make(chan event.Result, 16), lookups: make(chan event.Sealed, 64),
		asking: map[string]asked{}}
	will, _ := json.Marshal(Heartbeat{Device: cfg.DeviceID, Online: false})
	opts := mqtt.NewClientOptions().AddBroker(cfg.BrokerURL).SetClientID(cfg.DeviceID).SetTLSConfig(cfg.TLS).
		SetCleanSession(true).SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(2*time.Second).
		SetMaxReconnectInterval(30*time.Second).SetConnectTimeout(10*time.Second).SetKeepAlive(30*time.Second).
		SetOrderMatters(false).SetBinaryWill(provisioning.StatusTopic(cfg.DeviceID), will, 1, true).
		SetOnConnectHandler(l.onConnect).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			l.online.Store(false)
			l.setErr("connexion perdue")
			cfg.Logger.Warn("link: connection lost", "error", err)
		})
	l.client = mqtt.NewClient(opts)
	l.client.Connect() // retries by itself (ConnectRetry)
	go l.sender(ctx)
	go l.heartbeat(ctx)
	go func() { <-ctx.Done(); l.client.Disconnect(250) }()
	return l
}

// Online reports whether the broker is connected.
func (l *Link) Online() bool { return l.online.Load() }

// Results are the bridge's answers, for the session's screen.
func (l *Link) Results() <-chan event.Result { return l.results }

// Lookups are the bridge's answers to INSi lookups and to DMP
// consultations (a document's pages among them).
func (l *Link) Lookups() <-chan event.Sealed { return l.lookups }

// AskDMP publishes a sealed consultation request (the bedside tablet's).
// It is not sent again: the professional, at the bedside, asks again.
func (l *Link) AskDMP(sealed string) error {
	if !l.online.Load() {
		return errors.New("link: offline")
	}
	tok := l.client.Publish(provisioning.ConsultTopic(l.cfg.DeviceID), 1, false, sealed)
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		return fmt.Errorf("link: sending the consultation: %v", tok.Error())
	}
	return nil
}

// Ask publishes the sealed lookup request id and keeps it in memory until
// its answer comes or until: a bridge that says it is back meanwhile (the
// one that had it may have died with it) is sent it again, unchanged and
// under the same id, and answers it from its journal or runs it. It is
// never written to disk: a lookup is worth asking only while the
// professional waits at the desk.
func (l *Link) Ask(id, sealed string, until time.Time) error {
	if !l.online.Load() {
		return errors.New("link: offline")
	}
	l.mu.Lock()
	l.asking[id] = asked{sealed: sealed, until: until}
	l.mu.Unlock()
	if err := l.publishLookup(sealed); err != nil {
		l.mu.Lock()
		delete(l.asking, id)
		l.mu.Unlock()
		return err
	}
	return nil
}

func (l *Link) publishLookup(sealed string) error {
	tok := l.client.Publish(provisioning.LookupTopic(l.cfg.DeviceID), 1, false, sealed)
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		return fmt.Errorf("link: sending the lookup: %v", tok.Error())
	}
	return nil
}

// askAgain sends again the lookups still waited for (a bridge is back),
// and forgets those no one waits for any more. It runs off paho's
// goroutine: a publish waits for the broker.
func (l *Link) askAgain() {
	now := time.Now()
	var again []string
	l.mu.Lock()
	for id, a := range l.asking {
		if now.After(a.until) {
			delete(l.asking, id)
			continue
		}
		again = append(again, a.sealed)
	}
	l.mu.Unlock()
	for _, sealed := range again {
		if err := l.publishLookup(sealed); err != nil {
			l.cfg.Logger.Warn("link: a lookup could not be sent again", "error", err)
		}
	}
	if len(again) > 0 {
		l.cfg.Logger.Info("link: a bridge is up; the lookups waiting sent again", "count", len(again))
	}
}

// Kick asks the sender to look at the outbox now (an event was stored).
func (l *Link) Kick() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

func (l *Link) setErr(s string) {
	l.mu.Lock()
	l.lastErr = s
	l.mu.Unlock()
}

func (l *Link) onConnect(c mqtt.Client) {
	tok := c.Subscribe(provisioning.ResultsTopic(l.cfg.DeviceID), 1, l.onResult)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		l.cfg.Logger.Error("link: subscribing to results failed", "error", tok.Error())
		return
	}
	// A bridge back: the event waiting for its result is sent again at
	// once. Without the right (an older broker policy), the kiosk only
	// waits longer.
	tok = c.Subscribe(provisioning.BridgeStatusFilter, 1, l.onBridgeStatus)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil || tok.(*mqtt.SubscribeToken).Result()[provisioning.BridgeStatusFilter] > 2 {
		l.cfg.Logger.Warn("link: the bridges' status is not readable; resends wait their delay", "error", tok.Error())
	}
	l.online.Store(true)
	l.setErr("")
	l.cfg.Logger.Info("link: connected", "broker", l.cfg.BrokerURL)
	l.publishStatus()
	l.Kick()
}

// onBridgeStatus makes the pending event due now when a bridge says it is
// up (on its connect, or retained when the kiosk connects).
func (l *Link) onBridgeStatus(_ mqtt.Client, m mqtt.Message) {
	var st event.BridgeStatus
	if json.Unmarshal(m.Payload(), &st) != nil || !st.Online {
		return
	}
	go l.askAgain()
	if err := l.ob.DueNow(context.Background()); err != nil {
		l.cfg.Logger.Error("link: outbox", "error", err)
		return
	}
	l.cfg.Logger.Info("link: a bridge is up; sending the pending event now")
	l.Kick()
}

func (l *Link) onResult(_ mqtt.Client, m mqtt.Message) {
	var sealed event.Sealed
	if json.Unmarshal(m.Payload(), &sealed) == nil && sealed.Consult != "" {
		select {
		case l.lookups <- sealed:
		default:
			l.cfg.Logger.Warn("link: consultation answer not taken by the session", "consult", sealed.Consult)
		}
		return
	}
	if json.Unmarshal(m.Payload(), &sealed) == nil && sealed.Lookup != "" {
		l.mu.Lock()
		delete(l.asking, sealed.Lookup)
		l.mu.Unlock()
		select {
		case l.lookups <- sealed:
		default:
			l.cfg.Logger.Warn("link: lookup answer not taken by the session", "lookup", sealed.Lookup)
		}
		return
	}
	var r event.Result
	if err := json.Unmarshal(m.Payload(), &r); err != nil || r.EventID == "" {
		l.cfg.Logger.Warn("link: malformed result ignored")
		return
	}
	// The handler must not block the client: the database write is quick,
	// and the result channel is buffered and never waited on.
	found, err := l.ob.Done(context.Background(), r.EventID)
	if err != nil {
		l.cfg.Logger.Error("link: removing a delivered event", "event", r.EventID, "error", err)
		return
	}
	if !found {
		return // a result delivered twice
	}
	select {
	case l.results <- r:
	default:
		l.cfg.Logger.Warn("link: result not taken by the session", "event", r.EventID)
	}
	l.Kick()
}

// sender publishes the head of the outbox whenever it is due.
func (l *Link) sender(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	for {
		wait := time.Hour
		if l.online.Load() {
			wait = l.sendHead(ctx)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-l.kick:
		case <-timer.C:
		}
	}
}

// sendHead sends the oldest event if it is due and returns how long to wait
// before looking again.
func (l *Link) sendHead(ctx context.Context) time.Duration {
	p, ok, err := l.ob.Head(ctx)
	if err != nil {
		l.setErr("file d'attente illisible")
		l.cfg.Logger.Error("link: outbox", "error", err)
		return 10 * time.Second
	}
	if !ok {
		return time.Hour
	}
	if d := time.Until(p.NextAttempt); d > 0 {
		return d
	}
	tok := l.client.Publish(provisioning.EventsTopic(l.cfg.DeviceID), 1, false, p.Body)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		l.setErr("envoi impossible")
		return 2 * time.Second
	}
	wait := l.cfg.ResultWait << min(p.Attempts, 4)
	wait = min(wait, 5*time.Minute)
	if err := l.ob.Attempted(ctx, p.ID, time.Now().Add(wait)); err != nil {
		l.cfg.Logger.Error("link: outbox", "error", err)
	}
	l.cfg.Logger.Info("link: event sent", "event", p.ID, "seq", p.Seq, "attempt", p.Attempts+1)
	return wait
}

func (l *Link) heartbeat(ctx context.Context) {
	t := time.NewTicker(l.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if l.online.Load() {
				l.publishStatus()
			}
		}
	}
}

// Status is the heartbeat as it stands.
func (l *Link) Status() Heartbeat {
	pending, quarantined, err := l.ob.Depth(context.Background())
	l.mu.Lock()
	last := l.lastErr
	l.mu.Unlock()
	if err != nil {
		last = "file d'attente illisible"
	}
	hb := Heartbeat{Device: l.cfg.DeviceID, Online: l.online.Load(), Version: l.cfg.Version, Outbox: pending,
		Quarantined: quarantined, LastError: last, Clock: time.Now().UTC(), Site: l.cfg.Site, Regime: l.cfg.Regime}
	if l.cfg.TLS != nil && len(l.cfg.TLS.Certificates) > 0 && len(l.cfg.TLS.Certificates[0].Certificate) > 0 {
		hb.Cert = l.cfg.TLS.Certificates[0].Certificate[0]
	}
	if l.cfg.Readers != nil {
		hb.Readers = l.cfg.Readers()
	}
	return hb
}

func (l *Link) publishStatus() {
	b, _ := json.Marshal(l.Status())
	l.client.Publish(provisioning.StatusTopic(l.cfg.DeviceID), 1, true, b)
}
