// Package standin is a stand-in bridge for the kiosk's tests: it opens
// events as the bridge does and answers them. It is apart from hwtest so
// that the event package's own tests can use hwtest.
package standin

import (
	"crypto/x509"
	"encoding/json"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"dmpkiosk/firmware/event"
	"dmpkiosk/hwtest"
	"dmpkiosk/provisioning"
)

// Bridge plays the bridge for kiosk tests until the bridge itself
// runs them: it consumes the events on the bridges' shared subscription,
// opens each as the bridge does (decrypt, verify both signatures and
// chains), keeps it, and answers on the kiosk's results topic (created for
// a creation, authorized otherwise).
type Bridge struct {
	mu     sync.Mutex
	Events []*event.Opened
	Errs   []error
}

// Start connects as bridge-1 of the site.
func Start(t testing.TB, url string, site *hwtest.Site, cardCA *x509.CertPool) *Bridge {
	t.Helper()
	b := &Bridge{}
	opts := mqtt.NewClientOptions().AddBroker(url).SetClientID("bridge-1").SetTLSConfig(site.TLS(site.Creds["bridge-1"])).
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(200 * time.Millisecond).
		SetOnConnectHandler(func(c mqtt.Client) {
			c.Subscribe(provisioning.BridgeEventsFilter, 1, func(c mqtt.Client, m mqtt.Message) {
				o, err := event.Open(string(m.Payload()), site.EncKey, site.CA.Pool(), cardCA, time.Now())
				b.mu.Lock()
				defer b.mu.Unlock()
				if err != nil {
					b.Errs = append(b.Errs, err)
					return
				}
				b.Events = append(b.Events, o)
				out, msg := event.OutcomeAuthorized, "L'établissement peut alimenter le DMP du patient."
				if o.Event.Type == event.TypeCreate {
					out, msg = event.OutcomeCreated, "Remettez au patient son document d'accès."
				}
				r, _ := json.Marshal(event.Result{EventID: o.Event.ID, Outcome: out, Message: msg})
				c.Publish(provisioning.ResultsTopic(o.Event.Device), 1, false, r)
			}).Wait()
		})
	c := mqtt.NewClient(opts)
	c.Connect().WaitTimeout(10 * time.Second)
	t.Cleanup(func() { c.Disconnect(50) })
	return b
}

// Received returns the events opened so far and the errors met.
func (b *Bridge) Received() ([]*event.Opened, []error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*event.Opened(nil), b.Events...), append([]error(nil), b.Errs...)
}
