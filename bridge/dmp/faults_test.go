package dmp_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"dmpkiosk/bridge/dmp"
	"dmpkiosk/bridge/dmp/dmpsim"
	"dmpkiosk/bridge/internal/work"
	"dmpkiosk/bridge/journal"
	"dmpkiosk/firmware/event"
	"dmpkiosk/hwtest"
)

// Each fault of the DMP ends the event in a clear state: final ones as a
// permanent error with a plain message for the kiosk (the bridge puts the
// event in the dead letters with the reason), transient ones returned for
// the bridge to retry; unknown codes are kept.
func TestFaults(t *testing.T) {
	r := newRig(t, dmpsim.Legacy)
	p := r.processor(r.config())
	ctx := context.Background()

	for _, tc := range []struct {
		inject    string
		fault     *dmp.Fault
		transient bool
		message   string
	}{
		{"DMPAccessDeniedByRightsService", dmp.ErrAccessDenied, false, "refuse cette action"},
		{"DMPInvalidCertificate", dmp.ErrInvalidCertificate, false, "certificat"},
		{"DMPClosed", dmp.ErrClosed, false, "fermé"},
		{"DMPIdentityCertificationFailure", dmp.ErrIdentityCertFailure, false, "identité"},
		{"DMPServiceUnavailable", nil, true, ""},
		{"DMPSomethingNew", nil, false, "n'a pas pu aboutir"},
	} {
		r.sim.Inject(tc.inject)
		_, err := p.Process(ctx, familyEvent(t, "legacy", true))
		var f *dmp.Fault
		if !errors.As(err, &f) || f.Subcode != tc.inject || f.Transaction != dmp.TD02 || f.RequestID == "" || f.ResponseID == "" {
			t.Fatalf("%s: error %v (%+v)", tc.inject, err, f)
		}
		var perm *work.PermanentError
		if tc.transient {
			if errors.As(err, &perm) || !dmp.Transient(err) {
				t.Fatalf("%s should be retried: %v", tc.inject, err)
			}
			continue
		}
		perm = wantPermanent(t, err, tc.fault)
		if !strings.Contains(perm.Message, tc.message) {
			t.Fatalf("%s: kiosk message %q", tc.inject, perm.Message)
		}
	}

	// DMPFound answering a creation (created meanwhile elsewhere): the DMP
	// exists, the authorization is still recorded.
	e := familyEvent(t, "legacy", false)
	c := dmp.NewClient(r.config())
	who := dmp.Who{Professional: e.Professional, FINESS: finess, Patient: dmp.PatientID{Root: e.Patient.INS.OID, Extension: e.Patient.INS.Value}}
	tr := e.Patient.Traits
	cr := dmp.Creation{Patient: who.Patient, Consent: true, Demographics: dmp.Demographics{BirthName: tr.BirthName, FirstName: tr.FirstName, Sex: tr.Sex, BirthDate: tr.BirthDate}}
	if _, err := c.Create(ctx, who, cr); err != nil {
		t.Fatal(err)
	}
	x, err := c.Create(ctx, who, cr)
	if !errors.Is(err, dmp.ErrFound) || x.ResponseID == "" {
		t.Fatalf("second creation: %v", err)
	}
	out, err := p.Process(ctx, e)
	if err != nil || out.Code != event.OutcomeExists {
		t.Fatalf("%+v, %v", out, err)
	}

	// A closed DMP, for real: DMPClosed.
	if err := r.sim.CloseDMP(ctx, who.Patient); err != nil {
		t.Fatal(err)
	}
	_, err = p.Process(ctx, e)
	wantPermanent(t, err, dmp.ErrClosed)
}

// The VIHF is signed with the authentication key instead of the signature
// one: DMPInvalidCertificate. A plain indirect mode may test existence but
// not record the authorization: DMPAccessDeniedByRightsService. A VIHF
// altered after signing, or missing an attribute, is refused.
func TestVIHFRules(t *testing.T) {
	r := newRig(t, dmpsim.Current)
	ctx := context.Background()
	e := familyEvent(t, "current", false)
	who := dmp.Who{Professional: e.Professional, FINESS: finess, Patient: dmp.PatientID{Root: e.Patient.INS.OID, Extension: e.Patient.INS.Value}}

	cfg := r.config()
	cfg.Sign = r.auth
	if _, _, err := dmp.NewClient(cfg).TestExistence(ctx, who); !errors.Is(err, dmp.ErrInvalidCertificate) {
		t.Fatalf("VIHF signed with AUTH_CLI: %v", err)
	}

	cfg = r.config()
	cfg.Mode = dmp.ModeIndirect
	c := dmp.NewClient(cfg)
	if _, _, err := c.TestExistence(ctx, who); err != nil {
		t.Fatalf("TD0.2 in indirect mode: %v", err)
	}
	if _, _, err := c.SetAuthorization(ctx, who, dmp.ActionAdd); !errors.Is(err, dmp.ErrAccessDenied) {
		t.Fatalf("TD0.3 in indirect mode: %v", err)
	}

	cfg = r.config()
	cfg.LPS.Homologation = ""
	if _, _, err := dmp.NewClient(cfg).TestExistence(ctx, who); err == nil || !strings.Contains(err.Error(), "LPS_ID_HOMOLOGATION_DMP") {
		t.Fatalf("VIHF without the homologation id: %v", err)
	}

	// Altered after signing: another professional named.
	v := &dmp.VIHF{Professional: e.Professional, Structure: "1" + finess, Sector: "SA07^1.2.250.1.71.4.2.4", Patient: who.Patient,
		Mode: dmp.ModeReinforced, Purpose: "normal", LPS: r.config().LPS, Issued: time.Now()}
	a, err := v.Sign(r.sign)
	if err != nil {
		t.Fatal(err)
	}
	a.FindElement("./Subject/NameID").SetText("810000000001")
	body := dmp.QueryBody(dmp.TD02, dmp.Message{ID: "6c1d4f0e-1b7a-4d0e-9a43-0c3f4b1f2a11", Created: time.Now(),
		Sender: dmp.Device{OID: dmp.DefaultDeviceOID, Name: "dmpkiosk"}, Receiver: dmp.DMP}, who.Patient)
	if err := postRaw(t, r, a, body); !strings.Contains(err.Error(), "DMPInvalidVIHF (TD0.2): signature du VIHF invalide") {
		t.Fatalf("altered VIHF: %v", err)
	}
}

// postRaw sends a hand-made request through the client's TLS settings.
func postRaw(t *testing.T, r *rig, assertion, body *etree.Element) error {
	t.Helper()
	c := dmp.NewClient(r.config())
	return c.Send(context.Background(), dmp.TD02, assertion, body)
}

// A time-out, a truncated answer (the service restarting mid-reply), the
// simulator down then back with its state, and a server certificate the
// client does not trust: each is an error of the right kind.
func TestTransportFailures(t *testing.T) {
	r := newRig(t, dmpsim.Legacy)
	ctx := context.Background()
	cfg := r.config()
	cfg.Timeout = 300 * time.Millisecond
	p := r.processor(cfg)
	e := familyEvent(t, "legacy", true)

	r.sim.Inject("timeout")
	_, err := p.Process(ctx, e)
	var te *dmp.TransportError
	if !errors.As(err, &te) || !dmp.Transient(err) {
		t.Fatalf("time-out: %v", err)
	}

	r.sim.Inject("truncate")
	_, err = p.Process(ctx, e)
	if err == nil || !dmp.Transient(err) {
		t.Fatalf("truncated answer: %v", err)
	}

	// Down mid-request: a request held, the simulator stopped under it.
	cfg.Timeout = 10 * time.Second
	p = r.processor(cfg)
	r.sim.Inject("timeout")
	errc := make(chan error, 1)
	go func() { _, err := p.Process(ctx, e); errc <- err }()
	time.Sleep(200 * time.Millisecond)
	addr := r.addr
	r.stop()
	if err := <-errc; err == nil || !dmp.Transient(err) {
		t.Fatalf("simulator stopped mid-request: %v", err)
	}
	_, err = p.Process(ctx, e)
	if !dmp.Transient(err) {
		t.Fatalf("simulator down: %v", err)
	}
	r.start(t, addr)
	out, err := p.Process(ctx, e)
	if err != nil || out.Code != event.OutcomeCreated {
		t.Fatalf("after the restart: %+v, %v", out, err)
	}

	// A server whose certificate the client does not trust: final.
	cfg = r.config()
	cfg.ServerRoots = hwtest.NewCA(t, "another CA").Pool()
	_, err = r.processor(cfg).Process(ctx, e)
	if dmp.Transient(err) {
		t.Fatalf("untrusted server: %v", err)
	}
	wantPermanent(t, err, nil)
}

// The truth after a lost answer: a creation the DMP made but whose answer
// was cut is retried; the retry finds the DMP and, because the journal
// kept that this event's creation was sent, says "DMP créé" — not "the
// patient already has a DMP". Nothing is created twice.
func TestLostCreationAnswer(t *testing.T) {
	r := newRig(t, dmpsim.Legacy)
	ctx := context.Background()
	j, err := journal.OpenSQLite(filepath.Join(t.TempDir(), "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	p := r.processor(r.config())
	p.Marks = j
	e := familyEvent(t, "legacy", true)
	r.sim.Inject("", "truncate") // TD0.2 answered, TD1.1 made and its answer cut
	if _, err := p.Process(ctx, e); err == nil || !dmp.Transient(err) {
		t.Fatalf("cut answer: %v", err)
	}
	out, err := p.Process(ctx, e)
	if err != nil || out.Code != event.OutcomeCreated || !strings.HasPrefix(out.Message, "DMP créé") {
		t.Fatalf("the retry: %+v, %v", out, err)
	}
	// Another event for the same patient is told the truth too: it exists.
	other := familyEvent(t, "legacy", true)
	other.ID = "another-event"
	if out, err := p.Process(ctx, other); err != nil || out.Code != event.OutcomeExists {
		t.Fatalf("another event: %+v, %v", out, err)
	}
	trace, err := r.sim.Trace(ctx)
	if err != nil {
		t.Fatal(err)
	}
	creations := 0
	for _, a := range trace {
		if a.Tx == dmp.TD11 && a.Outcome == "created" {
			creations++
		}
	}
	if creations != 1 {
		t.Fatalf("%d creations in the DMP's trace: %+v", creations, trace)
	}
}

// An exchange that cannot be audited fails the event, to be retried (not
// reported done without its trace).
func TestAuditFailureFailsTheEvent(t *testing.T) {
	r := newRig(t, dmpsim.Current)
	p := r.processor(r.config())
	p.Audit = func(context.Context, string, string, string) error { return errors.New("journal full") }
	_, err := p.Process(context.Background(), familyEvent(t, "current", false))
	var perm *work.PermanentError
	if err == nil || errors.As(err, &perm) || !strings.Contains(err.Error(), "journal full") {
		t.Fatalf("unaudited exchange: %v", err)
	}
}

// A request its client gave up on (its time-out) is not a DMP fault in
// the simulator's trace.
func TestCancelledRequestTrace(t *testing.T) {
	r := newRig(t, dmpsim.Legacy)
	addr := r.addr
	r.stop()
	// The client gives up while the service works, after its checks
	// (which take longer under the race detector on a loaded machine).
	r.opts.Latency = 2 * time.Second
	r.start(t, addr)
	cfg := r.config()
	cfg.Timeout = time.Second
	ctx := context.Background()
	if _, err := r.processor(cfg).Process(ctx, familyEvent(t, "legacy", true)); !dmp.Transient(err) {
		t.Fatalf("time-out: %v", err)
	}
	var trace []dmpsim.Access
	for deadline := time.Now().Add(5 * time.Second); len(trace) == 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var err error
		if trace, err = r.sim.Trace(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(trace) != 1 || trace[0].Outcome != "cancelled by the client" {
		t.Errorf("a cancelled request traced as %+v", trace)
	}
}
