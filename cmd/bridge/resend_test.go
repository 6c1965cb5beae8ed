package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dmpkiosk/bridge/dmp/dmpsim"
	"dmpkiosk/firmware"
	"dmpkiosk/firmware/event"
	"dmpkiosk/hwtest"
	"dmpkiosk/hwtest/gam"
	"dmpkiosk/hwtest/patients"
	"dmpkiosk/hwtest/system"
	"dmpkiosk/ins"
)

// sealFor makes a consent event of kiosk-1 for the first virtual patient
// with an INS, signed by the doctor's card, as the kiosk's session does.
func sealFor(t testing.TB, b *system.Bridge, id string, seq int64, at time.Time) string {
	return sealOf(t, b, id, seq, at, patients.AllWithINS()[0])
}

// sealOf is sealFor for patient p.
func sealOf(t testing.TB, b *system.Bridge, id string, seq int64, at time.Time, p patients.WithINS) string {
	t.Helper()
	cred := b.Site.Creds["kiosk-1"]
	cardKey, cardCert, err := b.IGC.UnlockedSigner("cps-medecin")
	if err != nil {
		t.Fatal(err)
	}
	e := &event.Event{Type: event.TypeConsent, ID: id, Device: "kiosk-1", Site: event.Site{FINESS: "750712184", Unit: "ACCUEIL"},
		Context: "admission", Regime: event.RegimeCurrent, Time: at.UTC(), Seq: seq,
		// Checked against a passport at the desk while offline (validée): the
		// bridge's own INSi lookup qualifies it.
		Patient: event.Patient{INS: &event.INS{Value: p.INS, OID: ins.OIDNIR}, Traits: p.Traits, Document: "passport",
			Identity: ins.Identity{Status: ins.Validee}},
		Professional: event.Professional{NationalID: "810100456789", NationalIDType: "RPPS", CardType: "CPS", CardSerial: "0000104567",
			Surname: "LEROY", FirstName: "SOPHIE", Profession: "10"},
		Consent: event.Consent{Informed: true, Authorization: true}}
	jwe, err := event.Seal(e, event.Signer{Key: cred.PrivateKey.(crypto.Signer), Chain: []*x509.Certificate{cred.Leaf}},
		event.Signer{Key: cardKey, Chain: []*x509.Certificate{cardCert}}, &b.Site.EncKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return jwe
}

// startLink runs kiosk-1's outbox and link against the bridge's broker.
func startLink(t testing.TB, b *system.Bridge, resultWait time.Duration) (*firmware.Link, *firmware.Outbox) {
	t.Helper()
	ob, err := firmware.OpenOutbox(filepath.Join(t.TempDir(), "outbox.db"), 1000)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	link := firmware.StartLink(ctx, firmware.LinkConfig{BrokerURL: b.Mosquitto.URL(), TLS: b.Site.TLS(b.Site.Creds["kiosk-1"]),
		DeviceID: "kiosk-1", ResultWait: resultWait}, ob)
	for deadline := time.Now().Add(10 * time.Second); !link.Online(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the kiosk never connected")
		}
	}
	return link, ob
}

// An event sent while the bridge is down is lost by the broker (the
// bridges' subscription keeps no session); the kiosk sends it again as
// soon as a bridge says it is back, not after its own delay — here an
// hour, so the result can only come from that resend. Events 11 minutes
// and 2 days old (an outage over a weekend) are processed.
func TestKioskResendsWhenBridgeReturns(t *testing.T) {
	b := system.StartBridge(t, buildBridge(t), system.BridgeOptions{Regime: dmpsim.Current})
	link, ob := startLink(t, b, time.Hour)
	ctx := context.Background()
	put := func(id string, seq int64, at time.Time) {
		if err := ob.Put(ctx, id, seq, sealFor(t, b, id, seq, at)); err != nil {
			t.Fatal(err)
		}
		link.Kick()
	}
	wait := func(id string) event.Result {
		t.Helper()
		for deadline := time.After(30 * time.Second); ; {
			select {
			case r := <-link.Results():
				if r.EventID == id {
					return r
				}
			case <-deadline:
				t.Fatalf("no result for %s\n%s", id, b.Log)
			}
		}
	}
	put("0190f1c2-cccc-7000-8000-000000000001", 1, time.Now())
	if r := wait("0190f1c2-cccc-7000-8000-000000000001"); r.Outcome != event.OutcomeAuthorized {
		t.Fatalf("first event: %+v", r)
	}

	b.Kill()
	for i, age := range []time.Duration{0, 11 * time.Minute, 2 * 24 * time.Hour} {
		put(fmt.Sprintf("0190f1c2-cccc-7000-8000-00000000001%d", i), int64(10+i), time.Now().Add(-age))
	}
	// The head goes out into the void and waits an hour for its result.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		p, ok, err := ob.Head(ctx)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		if p.Attempts > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the kiosk never sent its event")
		}
	}
	b.Start(t)
	for i := range 3 {
		id := fmt.Sprintf("0190f1c2-cccc-7000-8000-00000000001%d", i)
		if r := wait(id); r.Outcome != event.OutcomeAuthorized {
			t.Fatalf("%s after the restart: %+v", id, r)
		}
	}
	b.CheckNoPII(t)

	// The infocentre from the command line: four sessions today, two of
	// them queued offline more than a minute (11 minutes and 2 days old,
	// counted on the day they arrived).
	today := time.Now().In(paris(t)).Format(time.DateOnly)
	out, err := exec.Command(b.Bin(), "indicators", "--config", b.ConfigPath(), "--from", today, "--to", today, "--by", "range", "--format", "json").Output()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var rows []struct {
		Completed int `json:"sessions_completed"`
		Offline   int `json:"queued_offline"`
	}
	if err := json.Unmarshal(out, &rows); err != nil || len(rows) != 1 || rows[0].Completed != 4 || rows[0].Offline != 2 {
		t.Fatalf("bridge indicators: %v\n%s", err, out)
	}
}

func paris(t testing.TB) *time.Location {
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// BenchmarkRecoveryAfterRestart: the bridge is killed, a kiosk (default
// settings: a 30 s result wait) sends an event into the void, the bridge
// starts again. ns/op is the time from the restart to the event's result;
// the floor is the restart itself (the process up and consuming).
func BenchmarkRecoveryAfterRestart(b *testing.B) {
	br := system.StartBridge(b, buildBridgeB(b), system.BridgeOptions{Regime: dmpsim.Current})
	link, ob := startLink(b, br, 0)
	ctx := context.Background()
	var restart time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		br.Kill()
		id := fmt.Sprintf("0190f1c2-dddd-7000-8000-%012d", i)
		if err := ob.Put(ctx, id, int64(i+1), sealFor(b, br, id, int64(i+1), time.Now())); err != nil {
			b.Fatal(err)
		}
		link.Kick()
		for p, _, _ := ob.Head(ctx); p.Attempts == 0; p, _, _ = ob.Head(ctx) {
			time.Sleep(5 * time.Millisecond)
		}
		b.StartTimer()
		t0 := time.Now()
		br.Start(b)
		restart += time.Since(t0)
		for r := range link.Results() {
			if r.EventID == id {
				break
			}
		}
	}
	b.ReportMetric(float64(restart.Nanoseconds())/float64(b.N), "floor-ns/op")
}

// The disk full under the bridge's journal (its files may not grow:
// RLIMIT_FSIZE set on the running process): events are neither journaled
// nor answered, so the kiosk keeps them; once there is space again they
// are processed, each once, and the audit chain holds.
func TestJournalDiskFull(t *testing.T) {
	prlimit := hwtest.LookPath(t, "prlimit", "util-linux")
	b := system.StartBridge(t, buildBridge(t), system.BridgeOptions{Regime: dmpsim.Current})
	link, ob := startLink(t, b, time.Second)
	ctx := context.Background()
	pid := fmt.Sprint(b.PID())
	if out, err := exec.Command(prlimit, "--pid", pid, "--fsize=4096:unlimited").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	people := patients.AllWithINS()
	for i := range 3 {
		id := fmt.Sprintf("0190f1c2-ffff-7000-8000-00000000000%d", i)
		if err := ob.Put(ctx, id, int64(i+1), sealOf(t, b, id, int64(i+1), time.Now(), people[i])); err != nil {
			t.Fatal(err)
		}
	}
	link.Kick()
	select {
	case r := <-link.Results():
		t.Fatalf("an answer with the journal full: %+v", r)
	case <-time.After(3 * time.Second):
	}
	if p, _, _ := ob.Depth(ctx); p != 3 {
		t.Fatalf("the kiosk kept %d events of 3", p)
	}
	if out, err := exec.Command(prlimit, "--pid", pid, "--fsize=unlimited:unlimited").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for got := 0; got < 3; {
		select {
		case r := <-link.Results():
			if r.Outcome != event.OutcomeAuthorized {
				t.Fatalf("after space came back: %+v", r)
			}
			got++
		case <-time.After(30 * time.Second):
			t.Fatalf("%d answers of 3 after space came back\n%s", got, b.Log)
		}
	}
	var rows int64
	b.JournalRow(t, `SELECT count(*) FROM events WHERE state = 'done'`, &rows)
	if rows != 3 {
		t.Fatalf("%d events done", rows)
	}
	b.Stop()
	if out, err := exec.Command(b.Bin(), "audit", "verify", "--config", b.ConfigPath()).CombinedOutput(); err != nil || !strings.Contains(string(out), "intact") {
		t.Fatalf("audit: %v\n%s", err, out)
	}
}

// The bridge killed after the update went to the GAM and before its
// acknowledgement: started again, it sends the very same message (same
// control id), which the GAM acknowledges without applying it twice;
// nothing is lost or doubled.
func TestGAMUpdateSurvivesAKilledBridge(t *testing.T) {
	b := system.StartBridge(t, buildBridge(t), system.BridgeOptions{Regime: dmpsim.Current,
		GAM: []gam.Patient{{IPP: "100002", BirthName: "MARTIN", FirstName: "PAUL", BirthDate: "19750612", Sex: "M"}}})
	killMidSend(t, b, nil)
}

// Two bridges on PostgreSQL, the one sending the update killed mid-send:
// the other does not take the receiver meanwhile (one bridge at a time
// works a GAM's outbox), and the killed one, back, sends the same message
// again; the GAM applies it once.
func TestGAMUpdateSurvivesAKilledBridgeOnPostgres(t *testing.T) {
	b := system.StartBridge(t, buildBridge(t), system.BridgeOptions{Regime: dmpsim.Current,
		Postgres: hwtest.StartPostgres(t).DSN, Peers: []string{"bridge-2"},
		GAM: []gam.Patient{{IPP: "100002", BirthName: "MARTIN", FirstName: "PAUL", BirthDate: "19750612", Sex: "M"}}})
	killMidSend(t, b, b.Peer(t, "bridge-2"))
}

// killMidSend has the GAM apply an update and acknowledge it late, kills
// the bridge sending it (b or peer, which the journal says) before the
// acknowledgement, checks that peer does not send it meanwhile, starts the
// killed bridge again and checks that the same message was sent again and
// applied once.
func killMidSend(t *testing.T, b, peer *system.Bridge) {
	t.Helper()
	b.GAM.Delay = 3 * time.Second
	b.GAM.Script(gam.Normal, gam.Slow) // the query answered, the update applied then acknowledged late
	link, ob := startLink(t, b, time.Minute)
	id := "0190f1c2-dddd-7000-8000-000000000001"
	if err := ob.Put(context.Background(), id, 1, sealFor(t, b, id, 1, time.Now())); err != nil {
		t.Fatal(err)
	}
	link.Kick()
	a31s := func() (out []string) {
		for _, m := range b.GAM.Received() {
			if strings.Contains(string(m), "ADT^A31") {
				out = append(out, string(m))
			}
		}
		return out
	}
	for deadline := time.Now().Add(30 * time.Second); len(a31s()) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no update reached the GAM\n%s", b.Log)
		}
	}
	sender := b
	if peer != nil {
		var owner string
		b.JournalRow(t, `SELECT owner FROM sih_outbox WHERE event = '`+id+`'`, &owner)
		if owner == "bridge-2" {
			sender, peer = peer, b
		}
	}
	sender.Kill()
	if peer != nil {
		// The other bridge, alive, leaves the receiver to the sender's lease.
		time.Sleep(2 * time.Second)
		if got := a31s(); len(got) != 1 {
			t.Fatalf("%d updates sent while the sender was down (the other bridge took its receiver)\n%s", len(got), peer.Log)
		}
	}
	sender.Start(t)
	var state string
	for deadline := time.Now().Add(30 * time.Second); state != "done"; time.Sleep(50 * time.Millisecond) {
		b.JournalRow(t, `SELECT state FROM sih_outbox WHERE event = '`+id+`'`, &state)
		if time.Now().After(deadline) {
			t.Fatalf("the update is %s after the restart\n%s", state, sender.Log)
		}
	}
	got := a31s()
	if p := b.GAM.Patient("100002"); p.Updates != 1 || len(got) != 2 || got[0] != got[1] {
		t.Fatalf("%d updates applied, %d received (the same: %v)", p.Updates, len(got), len(got) == 2 && got[0] == got[1])
	}
	b.CheckNoPII(t)
	if peer != nil {
		peer.CheckNoPII(t)
	}
}
