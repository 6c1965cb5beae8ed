package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"dmpkiosk/bridge"
	"dmpkiosk/bridge/dmp/dmpsim"
	"dmpkiosk/firmware"
	"dmpkiosk/hwtest"
	"dmpkiosk/hwtest/cards"
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
		w.Inform()
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

// BenchmarkPatientsInARow: a working day's pace at one kiosk — the doctor
// signed in once, then patient after patient: the Vitale card inserted,
// the document and INSi's traits confirmed, the consent given, the result
// on screen, the card out. ns/op is the time per patient. Each phase is
// reported against its own floor measured in the same run:
//   - insertion → identity on screen, against the card itself: pcscd's
//     detection of the card and its read (the same virtual card, read
//     directly before the kiosk starts);
//   - last Valider → result on screen, against two MQTT round trips plus
//     one durable journal commit (the DMP simulator at zero latency);
//   - the patient, against the sum of the two.
func BenchmarkPatientsInARow(b *testing.B) {
	hwtest.StartPCSCD(b)
	cardFloor := cardReads(b, "vitale-seul", 20)
	br := system.StartBridge(b, bins["bridge"], system.BridgeOptions{Regime: dmpsim.Current, Kiosks: []string{"kiosk-1", "kiosk-2"}})
	commitFloor := journalCommits(b, 200)
	k := system.StartKiosk(b, bins, br, "kiosk-1", "current")
	w := system.OpenWeb(b, k.Web)
	w.Wait("Insérez")
	w.Tray(1, "cps-medecin")
	w.Tray(0, "vitale-seul")
	w.Wait("Code de la carte")
	w.Keys("1234#") // once
	var identity, result, patients []time.Duration
	// One patient: from their card's insertion (or the PIN, the first
	// time) to the result on screen.
	patient := func(t0 time.Time) {
		w.Wait("MARTIN")
		identity = append(identity, time.Since(t0))
		w.Press("oui")
		w.Wait("Quelle pièce")
		w.Press("valider")
		w.Wait("Identique à la pièce")
		w.Press("oui")
		w.Inform()
		w.Press("oui", "oui", "valider")
		t1 := time.Now()
		w.Press("valider")
		w.Wait("Autorisation enregistrée")
		result = append(result, time.Since(t1))
	}
	patient(time.Now())
	identity, result = nil, nil
	for b.Loop() {
		w.Tray(0, "")
		w.Wait("Patient suivant")
		t0 := time.Now()
		w.Tray(0, "vitale-seul")
		patient(t0)
		patients = append(patients, time.Since(t0))
	}
	b.StopTimer()
	rtt := mqttRoundTrips(b, br)
	p50 := func(d []time.Duration) float64 {
		if len(d) == 0 {
			return 0
		}
		return float64(percentile(d, 0.5))
	}
	resultFloor := 2*p50(rtt) + p50(commitFloor)
	b.ReportMetric(p50(identity)/1e6, "identity-p50-ms")
	b.ReportMetric(p50(cardFloor)/1e6, "card-floor-p50-ms")
	if p50(cardFloor) > 0 {
		b.ReportMetric(p50(identity)/p50(cardFloor), "identity/floor")
	}
	b.ReportMetric(p50(result)/1e6, "result-p50-ms")
	b.ReportMetric(resultFloor/1e6, "result-floor-ms")
	b.ReportMetric(p50(result)/resultFloor, "result/floor")
	b.ReportMetric(p50(patients)/1e6, "patient-p50-ms")
	b.ReportMetric(p50(cardFloor)+resultFloor, "floor-ns/op")
}

// cardReads times n insertions of a virtual card in slot 0 until it is
// read through pcscd (detection and the card's own exchanges).
func cardReads(b *testing.B, profile string, n int) []time.Duration {
	b.Helper()
	virtual := cards.Cards(nil)
	var out []time.Duration
	for range n {
		c, err := virtual[profile]()
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		in, err := cards.Insert(context.Background(), hwtest.SlotAddr(0), c)
		if err != nil {
			b.Fatal(err)
		}
		// As the kiosk does: the card opened once pcscd has it, then read (a
		// card just powered may refuse a first exchange: opened again).
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(2 * time.Millisecond) {
			card, err := (firmware.PCSC{}).Open(context.Background(), hwtest.Reader(0))
			if err == nil {
				_, err = firmware.ReadCard(context.Background(), card, firmware.Classify(card.ATR()))
				card.Close()
			}
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("the card was never read: %v", err)
			}
		}
		out = append(out, time.Since(t0))
		in.Remove()
		time.Sleep(50 * time.Millisecond) // pcscd sees it gone
	}
	return out
}

// journalCommits times n durable accepts in a SQLite journal of its own.
func journalCommits(b *testing.B, n int) []time.Duration {
	b.Helper()
	j, err := bridge.OpenSQLite(filepath.Join(b.TempDir(), "journal.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	var out []time.Duration
	for i := range n {
		t0 := time.Now()
		if _, _, err := j.Accept(context.Background(), bridge.Record{ID: fmt.Sprint("e", i), Device: "kiosk-9", Seq: int64(i + 1), Type: "dmp.consent",
			Received: time.Now(), Payload: make([]byte, 4096)}); err != nil {
			b.Fatal(err)
		}
		out = append(out, time.Since(t0))
	}
	return out
}
