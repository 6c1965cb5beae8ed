package e2e

import (
	"slices"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"dmpkiosk/bridge/dmp/dmpsim"
	"dmpkiosk/hwtest"
	"dmpkiosk/hwtest/system"
)

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// BenchmarkInsertionToResult: whole sessions through the whole system —
// the cards inserted in pcscd's vpcd slots, the PIN and answers given as
// soon as each screen shows, the event through mosquitto to `bridge run`,
// TD0.2 (and TD0.3 the first time) with the DMP simulator at zero latency,
// the result on the kiosk's screen, a passport checked and INSi's traits
// found identical on the way (the INSi simulator at zero latency). The floor is the two MQTT round trips
// of an event and its result through the same broker (kiosk → bridge →
// kiosk, QoS 1), measured in the same run. Run with -benchtime 20x for
// percentiles.
func BenchmarkInsertionToResult(b *testing.B) {
	hwtest.StartPCSCD(b)
	br := system.StartBridge(b, bins["bridge"], system.BridgeOptions{Regime: dmpsim.Current, Kiosks: []string{"kiosk-1", "kiosk-2"}})
	k := system.StartKiosk(b, bins, br, "kiosk-1", "current")
	w := system.OpenWeb(b, k.Web)
	w.Wait("Insérez")
	var laps, lookups []time.Duration
	for b.Loop() {
		t0 := time.Now()
		w.Tray(0, "vitale-seul")
		w.Tray(1, "cps-medecin")
		w.Wait("Code de la carte")
		w.Keys("1234#")
		w.Wait("MARTIN")
		w.Press("oui")
		w.Wait("Quelle pièce")
		// The INSi lookup: from the document chosen (the beneficiary is
		// known) to INSi's traits on screen.
		t1 := time.Now()
		w.Press("valider")
		w.Wait("Identique à la pièce")
		lookups = append(lookups, time.Since(t1))
		w.Press("oui")
		w.Wait("informé")
		w.Press("oui", "oui", "valider", "valider")
		w.Wait("Autorisation enregistrée")
		laps = append(laps, time.Since(t0))
		b.StopTimer()
		w.Tray(0, "")
		w.Tray(1, "")
		w.Wait("Insérez")
		b.StartTimer()
	}
	b.StopTimer()
	floor := mqttRoundTrips(b, br)
	b.ReportMetric(float64(percentile(laps, 0.5).Milliseconds()), "p50-ms")
	b.ReportMetric(float64(percentile(laps, 0.99).Milliseconds()), "p99-ms")
	b.ReportMetric(float64(percentile(floor, 0.5).Microseconds()), "floor-p50-µs")
	// The lookup's floor is the same two round trips (request, answer) and
	// the INSi simulator's latency, zero here.
	b.ReportMetric(float64(percentile(lookups, 0.5).Milliseconds()), "insi-p50-ms")
	b.ReportMetric(float64(percentile(lookups, 0.5))/float64(percentile(floor, 0.5)), "insi-p50/floor-p50")
	var sum time.Duration
	for _, f := range floor {
		sum += f
	}
	b.ReportMetric(float64(sum.Nanoseconds())/float64(len(floor)), "floor-ns/op")
}

// mqttRoundTrips times an event from a kiosk to a bridge and a result back
// through the site's mosquitto, the bridge service stopped.
func mqttRoundTrips(b *testing.B, br *system.Bridge) []time.Duration {
	br.Stop()
	connect := func(id string) mqtt.Client {
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(br.Mosquitto.URL()).SetClientID(id).SetTLSConfig(br.Site.TLS(br.Site.Creds[id])))
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			b.Fatal(tok.Error())
		}
		return c
	}
	kiosk, bridge := connect("kiosk-2"), connect("bridge-1")
	defer kiosk.Disconnect(50)
	defer bridge.Disconnect(50)
	got := make(chan struct{}, 1)
	bridge.Subscribe("kiosk/+/events", 1, func(c mqtt.Client, m mqtt.Message) {
		c.Publish("kiosk/kiosk-2/results", 1, false, m.Payload())
	}).Wait()
	kiosk.Subscribe("kiosk/kiosk-2/results", 1, func(mqtt.Client, mqtt.Message) { got <- struct{}{} }).Wait()
	payload := make([]byte, 4096) // an event's size
	var out []time.Duration
	for i := 0; i < 200; i++ {
		t0 := time.Now()
		kiosk.Publish("kiosk/kiosk-2/events", 1, false, payload)
		select {
		case <-got:
		case <-time.After(10 * time.Second):
			b.Fatal("no round trip")
		}
		out = append(out, time.Since(t0))
	}
	return out
}
