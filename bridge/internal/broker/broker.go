// Package broker is the bridge's one connection to the MQTT broker, which
// every flow shares: each flow says, before the connection starts, which
// topics it takes and what it does with a message (Handle); the connection
// subscribes them again whenever it connects, then tells the kiosks the
// bridge is back (its retained status), and that it is gone when it stops
// or dies (its will). It knows no flow and no message's content.
package broker

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"dmpkiosk/firmware/event"
	"dmpkiosk/provisioning"
)

// Config says where the broker is and who the bridge is.
type Config struct {
	URL      string
	TLS      *tls.Config
	ClientID string // the bridge's id (its certificate's name)
	Logger   *slog.Logger
}

// Handler takes one message; it runs on paho's goroutines, one a message,
// and the broker's in-flight window bounds them (the PUBACK waits for it).
type Handler func(topic string, payload []byte)

type route struct {
	filter string
	h      Handler
	what   string
}

// Conn is the connection the flows share.
type Conn struct {
	cfg    Config
	routes []route
	client mqtt.Client
	ready  atomic.Bool
}

// New returns a connection; Handle its routes, then Connect.
func New(cfg Config) *Conn {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Conn{cfg: cfg}
}

// Handle subscribes h to filter (QoS 1) at every connection; what names
// the messages in the log. It is called before Connect.
func (c *Conn) Handle(filter, what string, h Handler) {
	c.routes = append(c.routes, route{filter: filter, h: h, what: what})
}

// status is a bridge's retained status (event.BridgeStatus).
func status(online bool) []byte {
	b, _ := json.Marshal(event.BridgeStatus{Online: online})
	return b
}

// Connect starts connecting, and keeps reconnecting, in the background.
func (c *Conn) Connect() {
	statusTopic := provisioning.BridgeStatusTopic(c.cfg.ClientID)
	opts := mqtt.NewClientOptions().AddBroker(c.cfg.URL).SetClientID(c.cfg.ClientID).SetTLSConfig(c.cfg.TLS).
		// Clean sessions: with a shared subscription, a persistent session of
		// a stopped bridge keeps receiving part of the events (mosquitto
		// 2.0); the kiosks' outboxes resend instead.
		SetCleanSession(true).SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(2*time.Second).
		SetOrderMatters(false).
		// Gone (its will) or back (on connect), retained: a kiosk waiting
		// for an answer sends its message again as soon as a bridge is
		// back, rather than after its own resend delay.
		SetBinaryWill(statusTopic, status(false), 1, true).
		SetOnConnectHandler(func(mc mqtt.Client) {
			for _, r := range c.routes {
				tok := mc.Subscribe(r.filter, 1, func(_ mqtt.Client, m mqtt.Message) { r.h(m.Topic(), m.Payload()) })
				if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
					c.cfg.Logger.Error("bridge: subscribing failed", "messages", r.what, "error", tok.Error())
					return
				}
			}
			c.ready.Store(true)
			mc.Publish(statusTopic, 1, true, status(true))
			c.cfg.Logger.Info("bridge: consuming events", "broker", c.cfg.URL)
		}).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			c.ready.Store(false)
			c.cfg.Logger.Warn("bridge: broker connection lost", "error", err)
		})
	c.client = mqtt.NewClient(opts)
	c.client.Connect()
}

// Ready reports whether the bridge is connected and subscribed.
func (c *Conn) Ready() bool { return c.ready.Load() }

// Publish sends payload on topic (QoS 1, not retained) and waits for the
// broker to take it.
func (c *Conn) Publish(topic string, payload []byte) error {
	tok := c.client.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(10 * time.Second) {
		return errors.New("broker: no acknowledgement within 10 s")
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	return nil
}

// Close says the bridge is gone and disconnects.
func (c *Conn) Close() {
	if c.client.IsConnectionOpen() {
		c.client.Publish(provisioning.BridgeStatusTopic(c.cfg.ClientID), 1, true, status(false)).WaitTimeout(time.Second)
	}
	c.client.Disconnect(250)
}
