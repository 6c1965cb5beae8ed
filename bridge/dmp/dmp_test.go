package dmp_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"dmpkiosk/bridge/dmp"
	"dmpkiosk/bridge/dmp/dmpsim"
	"dmpkiosk/bridge/internal/work"
	"dmpkiosk/firmware/event"
	"dmpkiosk/hwtest"
	"dmpkiosk/hwtest/cards"
	"dmpkiosk/hwtest/patients"
	"dmpkiosk/ins"
)

// rig is a DMP simulator over mutual TLS and the establishment's keys on
// a SoftHSM token, as the bridge runs them.
type rig struct {
	sim      *dmpsim.Sim
	opts     dmpsim.Options
	addr     string
	server   tls.Certificate
	srvRoots *x509.CertPool
	igc      *cards.IGCSante
	sign     dmp.Credentials
	auth     dmp.Credentials
	cancel   context.CancelFunc
	done     chan struct{}
	mu       sync.Mutex
	audits   []string
}

const finess = "750712184"

func newRig(t *testing.T, regime string, extra ...dmpsim.Person) *rig {
	t.Helper()
	igc, err := cards.NewIGCSante()
	if err != nil {
		t.Fatal(err)
	}
	tk := hwtest.NewSoftHSM(t, "etablissement")
	signKey := tk.RSASigner(t, "org-sign", 2048)
	authKey := tk.RSASigner(t, "org-auth-cli", 2048)
	signCert, err := igc.OrgCertificate(signKey, cards.OrgSign, "750712001", "CHU TEST")
	if err != nil {
		t.Fatal(err)
	}
	authCert, err := igc.OrgCertificate(authKey, cards.OrgAuthCli, "750712001", "CHU TEST")
	if err != nil {
		t.Fatal(err)
	}
	people, err := patients.DMP()
	if err != nil {
		t.Fatal(err)
	}
	srvCA := hwtest.NewCA(t, "DMP server CA")
	r := &rig{igc: igc, srvRoots: srvCA.Pool(), server: srvCA.ServerRSA(t, "localhost").TLS(),
		sign: dmp.Credentials{Key: signKey, Chain: []*x509.Certificate{signCert}},
		auth: dmp.Credentials{Key: authKey, Chain: []*x509.Certificate{authCert}},
		opts: dmpsim.Options{DB: filepath.Join(t.TempDir(), "dmp.db"), Regime: regime, OrgRoots: igc.Pool(), People: append(people, extra...),
			CheckAnswers: true}}
	r.start(t, "127.0.0.1:0")
	t.Cleanup(func() {
		// Every answer the simulator wrote is valid against the official
		// schemas.
		if r.sim != nil {
			for _, e := range r.sim.AnswerErrors() {
				t.Errorf("the simulator wrote an answer the official schemas refuse: %s", e)
			}
		}
		r.stop()
	})
	return r
}

// start runs the simulator on addr (its state survives a restart).
func (r *rig) start(t *testing.T, addr string) {
	t.Helper()
	sim, err := dmpsim.New(r.opts)
	if err != nil {
		t.Fatal(err)
	}
	var l net.Listener
	for i := 0; i < 50; i++ { // the port of a restart may linger a moment
		if l, err = tls.Listen("tcp", addr, sim.TLSConfig(r.server)); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	r.sim, r.addr = sim, l.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	go func() { sim.Serve(ctx, l); close(r.done) }()
}

func (r *rig) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.sim.Close()
	<-r.done
	r.cancel = nil
}

func (r *rig) config() dmp.Config {
	_, port, _ := net.SplitHostPort(r.addr)
	return dmp.Config{BaseURL: "https://localhost:" + port + dmpsim.Path, Sign: r.sign, Auth: r.auth, ServerRoots: r.srvRoots,
		LPS: dmp.LPS{ID: "dmpkiosk", Name: "dmpkiosk", Version: "test", Homologation: "HOMOLOG-TEST"}, Timeout: 5 * time.Second}
}

func (r *rig) processor(cfg dmp.Config) *dmp.Processor {
	return &dmp.Processor{Client: dmp.NewClient(cfg), Audit: func(_ context.Context, kind, ref, detail string) error {
		r.mu.Lock()
		r.audits = append(r.audits, kind+" "+ref+" "+detail)
		r.mu.Unlock()
		return nil
	}}
}

// familyEvent is an event of the vitale-famille card: the insured father
// (an INS of his own) or a child (INS-C only).
func familyEvent(t *testing.T, regime string, child bool) *event.Event {
	t.Helper()
	e := &event.Event{Type: event.TypeConsent, ID: "0190f1c2-aaaa-7000-8000-000000000001", Device: "kiosk-1",
		Site: event.Site{FINESS: finess, Unit: "ACCUEIL"}, Regime: regime, Time: time.Now(), Seq: 1,
		Professional: event.Professional{NationalID: "810100456789", NationalIDType: "RPPS", CardType: "CPS", CardSerial: "0000104567",
			Surname: "LEROY", FirstName: "SOPHIE", Profession: "10", Speciality: "SM26"},
		Consent: event.Consent{Informed: true, Authorization: true, BrisDeGlaceOpposition: true}}
	if child {
		insc, err := ins.INSC("LÉA", "100504", "1800269123045")
		if err != nil {
			t.Fatal(err)
		}
		e.Patient = event.Patient{INSC: insc, Traits: ins.Traits{BirthName: "DURAND", FirstName: "LEA", Sex: "I", BirthDate: "20100504"}}
	} else {
		n, err := ins.ParseNIR13("1800269123045")
		if err != nil {
			t.Fatal(err)
		}
		e.Patient = event.Patient{INS: &event.INS{Value: n.String(), OID: ins.OIDNIR},
			Traits: ins.Traits{BirthName: "DURAND", FirstName: "JEAN-PIERRE", Sex: "M", BirthDate: "19800215"}}
	}
	if regime == "legacy" {
		yes := true
		e.Consent.Creation = &yes
		e.Type = event.TypeCreate
	}
	return e
}

func txs(t *testing.T, sim *dmpsim.Sim) string {
	t.Helper()
	tr, err := sim.Trace(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, a := range tr {
		s = append(s, a.Tx+":"+a.Outcome)
	}
	return strings.Join(s, " ")
}

func wantPermanent(t *testing.T, err error, fault *dmp.Fault) *work.PermanentError {
	t.Helper()
	var perm *work.PermanentError
	if !errors.As(err, &perm) {
		t.Fatalf("error %v: want a permanent error", err)
	}
	if fault != nil && !errors.Is(err, fault) {
		t.Fatalf("error %v: want fault %s", err, fault.Subcode)
	}
	if perm.Message == "" {
		t.Fatal("no message for the kiosk")
	}
	return perm
}

// Legacy regime: a child of the family card, no DMP yet, consent to
// creation and authorization: TD0.2 (not found), TD1.1 with the
// oppositions, TD0.3; the simulator holds the DMP, the consent and the
// authorization; each exchange audited with its message identifiers. The
// same event processed again (a redelivery after a lost result) creates
// nothing more.
func TestLegacyCreation(t *testing.T) {
	r := newRig(t, dmpsim.Legacy)
	p := r.processor(r.config())
	e := familyEvent(t, "legacy", true)
	out, err := p.Process(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	if out.Code != event.OutcomeCreated || !strings.Contains(out.Message, "DMP créé") {
		t.Fatalf("outcome %+v", out)
	}
	if got := txs(t, r.sim); got != "TD0.2:NF TD1.1:created TD0.3:VALIDE" {
		t.Fatalf("transactions %q", got)
	}
	pid := dmp.PatientID{Root: dmp.OIDINSC, Extension: e.Patient.INSC}
	d, err := r.sim.Record(context.Background(), pid, "1"+finess)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Exists || !d.Consent || !d.OppBrisGlace || d.OppUrgence || d.Authorization != dmp.AuthValid || d.CreatedBy != "1"+finess {
		t.Fatalf("DMP in the simulator: %+v", d)
	}
	tr, _ := r.sim.Trace(context.Background())
	if len(r.audits) != 3 {
		t.Fatalf("audits %q", r.audits)
	}
	for i, a := range tr {
		if !strings.Contains(r.audits[i], "request="+a.RequestID) || !strings.Contains(r.audits[i], "response="+a.ResponseID) ||
			!strings.HasPrefix(r.audits[i], "dmp."+a.Tx+" "+e.ID) || a.Professional != "810100456789" || a.Mode != dmp.ModeReinforced {
			t.Fatalf("audit %q does not match the trace %+v", r.audits[i], a)
		}
		if strings.Contains(r.audits[i], "DURAND") || strings.Contains(r.audits[i], e.Patient.INSC) {
			t.Fatalf("patient data in the audit: %q", r.audits[i])
		}
	}
	out, err = p.Process(context.Background(), e)
	if err != nil || out.Code != event.OutcomeExists {
		t.Fatalf("again: %+v, %v", out, err)
	}
	if got := txs(t, r.sim); got != "TD0.2:NF TD1.1:created TD0.3:VALIDE TD0.2:OK" {
		t.Fatalf("transactions after a redelivery %q", got)
	}
	// The administrative data read back (TD1.3a) carry the oppositions.
	c := dmp.NewClient(r.config())
	adm, _, err := c.ReadAdmin(context.Background(), dmp.Who{Professional: e.Professional, FINESS: finess, Patient: pid})
	if err != nil {
		t.Fatal(err)
	}
	if adm.Demographics.BirthName != "DURAND" || !adm.Observations[dmp.ObsBrisDeGlace] || adm.Observations[dmp.ObsEmergency] {
		t.Fatalf("TD1.3a: %+v", adm)
	}

	// No consent to creation: nothing created, the kiosk told so.
	e2 := familyEvent(t, "legacy", false)
	no := false
	e2.Consent.Creation = &no
	out, err = p.Process(context.Background(), e2)
	if err != nil || out.Code != event.OutcomeRefused {
		t.Fatalf("without consent: %+v, %v", out, err)
	}
	if d, _ := r.sim.Record(context.Background(), dmp.PatientID{Root: ins.OIDNIR, Extension: e2.Patient.INS.Value}, ""); d.Exists {
		t.Fatal("a DMP was created without consent")
	}

	// Identity traits that do not match the referential:
	// DMPIdentityCertificationFailure, final, plain message.
	e3 := familyEvent(t, "legacy", false)
	e3.Patient.Traits.BirthDate = "19800216"
	_, err = p.Process(context.Background(), e3)
	wantPermanent(t, err, dmp.ErrIdentityCertFailure)
}

// Current regime: the DMP exists (Mon espace santé), the authorization is
// recorded, no creation is ever asked; the simulator refuses a creation
// and an INS-C; a patient who opposed has no DMP.
func TestCurrentRegime(t *testing.T) {
	opposed := dmpsim.Person{IDs: []dmp.PatientID{{Root: ins.OIDNIR, Extension: "299017511200188"}},
		Demographics: dmp.Demographics{BirthName: "OPPOSE", FirstName: "ANNE", Sex: "F", BirthDate: "19990101"}, Opposed: true}
	r := newRig(t, dmpsim.Current, opposed)
	p := r.processor(r.config())
	e := familyEvent(t, "current", false)
	out, err := p.Process(context.Background(), e)
	if err != nil || out.Code != event.OutcomeAuthorized {
		t.Fatalf("%+v, %v", out, err)
	}
	if got := txs(t, r.sim); got != "TD0.2:OK TD0.3:VALIDE" {
		t.Fatalf("transactions %q", got)
	}
	// The patient withdraws the authorization.
	e.Consent.Authorization = false
	out, err = p.Process(context.Background(), e)
	if err != nil || out.Code != event.OutcomeRefused {
		t.Fatalf("%+v, %v", out, err)
	}
	pid := dmp.PatientID{Root: ins.OIDNIR, Extension: e.Patient.INS.Value}
	if d, _ := r.sim.Record(context.Background(), pid, "1"+finess); d.Authorization != dmp.AuthRefused || d.CreatedBy != "Mon espace santé" {
		t.Fatalf("DMP %+v", d)
	}
	// A creation asked directly is refused by the service.
	c := dmp.NewClient(r.config())
	who := dmp.Who{Professional: e.Professional, FINESS: finess, Patient: pid}
	tr := e.Patient.Traits
	if _, err := c.Create(context.Background(), who, dmp.Creation{Patient: pid, Consent: true,
		Demographics: dmp.Demographics{BirthName: tr.BirthName, FirstName: tr.FirstName, Sex: tr.Sex, BirthDate: tr.BirthDate}}); !errors.Is(err, dmp.ErrAccessDenied) {
		t.Fatalf("creation in the current regime: %v", err)
	}
	// The opposed patient: no DMP, nothing recorded.
	e2 := familyEvent(t, "current", false)
	e2.Patient.INS.Value = "299017511200188"
	out, err = p.Process(context.Background(), e2)
	if err != nil || out.Code != event.OutcomeRefused || !strings.Contains(out.Message, "opposé") {
		t.Fatalf("opposed: %+v, %v", out, err)
	}
	// A child known only by an INS-C: the kiosk's event is refused before
	// any call (no INS); asked directly, the service refuses the INS-C.
	_, err = p.Process(context.Background(), familyEvent(t, "current", true))
	wantPermanent(t, err, nil)
	child := familyEvent(t, "current", true)
	if _, _, err := c.TestExistence(context.Background(), dmp.Who{Professional: e.Professional, FINESS: finess,
		Patient: dmp.PatientID{Root: dmp.OIDINSC, Extension: child.Patient.INSC}}); !errors.Is(err, dmp.ErrIdentityCertFailure) {
		t.Fatalf("INS-C in the current regime: %v", err)
	}
}
