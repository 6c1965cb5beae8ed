package insi_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"dmpkiosk/bridge/insi"
	"dmpkiosk/bridge/insi/insisim"
	"dmpkiosk/hwtest"
	"dmpkiosk/hwtest/cards"
	"dmpkiosk/hwtest/patients"
	"dmpkiosk/ins"
)

func creds(l *hwtest.Leaf) insi.Credentials {
	return insi.Credentials{Key: l.Key, Chain: []*x509.Certificate{l.Cert}}
}

var (
	validatorOnce sync.Once
	validator     *insisim.Validator
	validatorErr  error
)

// schemas is the official schemas' validator; xmllint missing fails the
// test in CI.
func schemas(t testing.TB) *insisim.Validator {
	t.Helper()
	validatorOnce.Do(func() { validator, validatorErr = insisim.OpenValidator() })
	if validatorErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(validatorErr)
		}
		t.Skip(validatorErr)
	}
	return validator
}

// rig is the simulator behind mutual TLS and a client with INSI-MANU and
// INSI-AUTO certificates.
type rig struct {
	sim    *insisim.Sim
	client *insi.Client
	cfg    insi.Config
	url    string
	ca     *hwtest.CA
}

func newRig(t testing.TB, opts insisim.Options, cfg func(*insi.Config)) *rig {
	t.Helper()
	v := schemas(t)
	ca := hwtest.NewCA(t, "TEST AC IGC-SANTE ELEMENTAIRE ORGANISATIONS")
	if opts.Latency == nil {
		opts.Latency = func() time.Duration { return 0 }
	}
	opts.Hold = 3 * time.Second // the client's time-out is 2 s
	if opts.Check == nil {
		opts.Check = v.Validate
	}
	sim := insisim.New(opts)
	srv := httptest.NewUnstartedServer(sim)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool(), MinVersion: tls.VersionTLS12,
		Certificates: []tls.Certificate{ca.Server(t, "qualiflps-services-ps-tlsm.test").TLS()}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	c := insi.Config{Endpoint: srv.URL + "/lps", Manu: creds(ca.Client(t, "INSI-MANU")), Auto: creds(ca.Client(t, "INSI-AUTO")),
		ServerRoots: ca.Pool(), IDAM: "TESTSGIE0000", Version: "0.1.0", Instance: "2d037640-1b09-11ee-be56-0242ac120002", Timeout: 2 * time.Second}
	if cfg != nil {
		cfg(&c)
	}
	t.Cleanup(func() {
		for _, err := range sim.AnswerErrors() {
			t.Errorf("the simulator wrote an answer the official schemas refuse: %v", err)
		}
	})
	return &rig{sim: sim, client: insi.NewClient(c), cfg: c, url: srv.URL, ca: ca}
}

func traits(name, first, sex, date, place string) insi.Traits {
	return insi.Traits{BirthName: name, FirstNames: strings.Fields(first), Sex: sex, BirthDate: date, BirthPlace: place}
}

// Each public test case of ../shared/docs/insi.md, through the client's
// search strategy against the simulator over mutual TLS, every request
// and answer checked against the official schemas.
func TestCNDACases(t *testing.T) {
	r := newRig(t, insisim.Options{IDAMs: []string{"TESTSGIE0000"}}, nil)
	ctx := context.Background()
	cases := []struct {
		name     string
		q        insi.Traits
		ins, key string
		oid      string
		history  []string
		calls    int
		needMore bool
		first    string // the answer's ListePrenom
	}{
		{"2.03-1", traits("D'ARTAGNAN DE L'HERAULT", "PIERRE-ALAIN", "M", "2001-06-17", ""), "1010663220754", "60", ins.OIDNIR, nil, 1, false, "PIERRE-ALAIN GUNTHER"},
		{"2.03-2", traits("ADRTROIS", "TOUSSAINT", "M", "1960-01-01", ""), "160012B020777", "13", ins.OIDNIR, nil, 1, false, "TOUSSAINT"},
		{"2.04", traits("ECETINSI", "PIERRE-ALAIN", "M", "2009-07-14", ""), "1090763220834", "89", ins.OIDNIR, []string{"2090763220834"}, 1, false, "PIERRE-ALAIN MURIEL FLORIANT"},
		{"2.05 NIA", traits("PROVISOIRE", "MATRICULE", "M", "2009-07-01", ""), "1090763220888", "35", ins.OIDNIA, nil, 1, false, "MATRICULE"},
		{"2.06 several", traits("DE VINCI", "LEONARDO", "M", "2014-02-01", ""), "", "", "", nil, 1, true, ""},
		{"2.06 with the birth place", traits("DE VINCI", "LEONARDO", "M", "2014-02-01", "63220"), "1140263220833", "56", ins.OIDNIR, nil, 1, false, "LEONARDO PIERO"},
		{"2.07-1 first names one by one", traits("TCHITCHI", "OLA CATARINA BELLA", "F", "1936-06-21", ""), "2360663220836", "56", ins.OIDNIR, nil, 2, false, "CATARINA BELLA"},
		{"2.07-2 not found", traits("HOUILLES", "PIERRE PAUL JACQUES", "M", "1993-01-27", ""), "", "", "", nil, 4, false, ""},
		{"2.08-1 Corsica", traits("CORSE", "ANTHONY", "M", "1980-03-02", ""), "180032B020401", "23", ins.OIDNIR, nil, 1, false, "ANTHONY"},
		{"ADRUN", traits("ADRUN", "ZOE", "F", "1975-12-31", ""), "2751263220749", "74", ins.OIDNIR, nil, 1, false, "ZOE"},
		{"ADRTROIS DOMINIQUE", traits("adrtrois", "Dominique", "F", "19970226", ""), "297022A020778", "78", ins.OIDNIR, nil, 1, false, "DOMINIQUE"},
	}
	for _, c := range cases {
		o, err := r.client.Lookup(ctx, insi.Manu, insi.Query{Traits: c.q})
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if len(o.Calls) != c.calls || o.NeedMore != c.needMore {
			t.Errorf("%s: %d calls, need more %v", c.name, len(o.Calls), o.NeedMore)
		}
		if c.ins == "" {
			if o.Found() {
				t.Errorf("%s: found %+v", c.name, o.Result.INS)
			}
			continue
		}
		if !o.Found() || o.Result.INS.Number != c.ins || o.Result.INS.Key != c.key || o.Result.INS.OID != c.oid ||
			strings.Join(o.Result.Traits.FirstNames, " ") != c.first || o.Result.LookedUp.IsZero() {
			t.Errorf("%s: %+v", c.name, o.Result)
			continue
		}
		var hist []string
		for _, h := range o.Result.History {
			hist = append(hist, h.Number)
		}
		if !slices.Equal(hist, c.history) {
			t.Errorf("%s: history %v", c.name, hist)
		}
	}
}

// What the service refuses, and what is "try later", never "not found".
func TestFaults(t *testing.T) {
	ctx := context.Background()
	q := insi.Query{Traits: traits("ADRUN", "ZOE", "F", "1975-12-31", "")}
	var f *insi.Fault

	r := newRig(t, insisim.Options{IDAMs: []string{"TESTSGIE0000"}}, func(c *insi.Config) { c.IDAM = "INCONNU" })
	if _, err := r.client.Lookup(ctx, insi.Manu, q); !errors.As(err, &f) || f.Code != "desir_550" || f.Subcode != "siram_100" || insi.Transient(err) {
		t.Errorf("unknown software authorisation: %v", err)
	}

	r = newRig(t, insisim.Options{}, nil)
	r.client = insi.NewClient(func() insi.Config { c := r.cfg; c.Manu = creds(r.ca.Client(t, "ORG AUTH_CLI")); return c }())
	if _, err := r.client.Lookup(ctx, insi.Manu, q); !errors.As(err, &f) || f.Code != "desir_560" {
		t.Errorf("a certificate that is not INSI-AUTO/MANU: %v", err)
	}

	r = newRig(t, insisim.Options{}, nil)
	unknown := insi.Query{Traits: traits("PERSONNE", "INCONNUE", "F", "1990-01-01", "")}
	if _, err := r.client.Lookup(ctx, insi.Auto, unknown); !errors.As(err, &f) || f.Code != "insi_102" || !insi.Transient(err) {
		t.Errorf("unknown person, qualification mode: %v", err)
	}
	prod := newRig(t, insisim.Options{Mode: insisim.Production}, nil)
	if o, err := prod.client.Lookup(ctx, insi.Auto, unknown); err != nil || o.Found() || o.Result.CR != insi.CRNotFound {
		t.Errorf("unknown person, production mode: %+v %v", o, err)
	}
	for _, c := range []struct {
		fault string
		check func(error) bool
	}{
		{insisim.FaultUnavail, func(err error) bool { return errors.As(err, &f) && f.Code == "desir_1020" }},
		{insisim.FaultHTTP500, func(err error) bool { var te *insi.TransportError; return errors.As(err, &te) && te.Status == 500 }},
		{insisim.FaultTimeout, func(err error) bool { var te *insi.TransportError; return errors.As(err, &te) }},
	} {
		r.sim.Inject(c.fault)
		o, err := r.client.Lookup(ctx, insi.Manu, q)
		if !c.check(err) || !insi.Transient(err) || (o != nil && o.Found()) {
			t.Errorf("%s: %v", c.fault, err)
		}
	}
	if _, err := r.client.Lookup(ctx, insi.Manu, insi.Query{Traits: q.Traits, Doubtful: true}); !errors.Is(err, insi.ErrNotEligible) {
		t.Errorf("a doubtful identity was sent: %v", err)
	}
	if _, err := r.client.Lookup(ctx, insi.Manu, insi.Query{Traits: traits("O'BRIEN3", "X", "M", "2000-01-01", "")}); !errors.Is(err, insi.ErrNotEligible) {
		t.Errorf("a birth name with a digit: %v", err)
	}
}

// An answer that cannot be true of the question is never used.
func TestInconsistentAnswer(t *testing.T) {
	liar := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := os.ReadFile(filepath.Join("testdata", "insi-examples", "rep-00-inshisto.xml"))
		w.Header().Set("Content-Type", "application/soap+xml")
		_, _ = w.Write(body)
	})
	srv := httptest.NewServer(liar)
	defer srv.Close()
	c := insi.NewClient(insi.Config{Endpoint: srv.URL})
	// The answer is ECETINSI's: asked for ADRUN, it is refused.
	_, err := c.Lookup(context.Background(), insi.Manu, insi.Query{Traits: traits("ADRUN", "ZOE", "F", "1975-12-31", "")})
	if !errors.Is(err, insi.ErrInconsistent) {
		t.Fatalf("an answer about someone else: %v", err)
	}
}

// The Vitale search comes first when a card was read: the beneficiary's
// own matricule finds them in one call.
func TestVitaleSearchFirst(t *testing.T) {
	r := newRig(t, insisim.Options{}, nil)
	q := insi.Query{Traits: traits("ADRUN", "ZOE", "F", "1975-12-31", ""), Vitale: &insi.VitaleQuery{
		Individual: &insi.Matricule{Number: "2751263220749", Key: "74"}, Insured: insi.Matricule{Number: "2751263220749", Key: "74"},
		BirthName: "ADRUN", BirthDate: "19751231", BirthRank: 1}}
	o, err := r.client.Lookup(context.Background(), insi.Manu, q)
	if err != nil || !o.Found() || len(o.Calls) != 1 || o.Calls[0].Operation != insi.OpVitale || o.Result.INS.Number != "2751263220749" {
		t.Fatalf("%+v %v", o, err)
	}
}

// The bridge's own time per lookup (one traits search, over mutual TLS,
// request written and answer read and checked) against the simulator's
// latency, the floor a lookup cannot beat.
func BenchmarkLookup(b *testing.B) {
	const latency = 2 * time.Millisecond
	r := newRig(b, insisim.Options{Latency: func() time.Duration { return latency }, Check: func(context.Context, []byte) error { return nil }}, nil)
	q := insi.Query{Traits: traits("D'ARTAGNAN DE L'HERAULT", "PIERRE-ALAIN", "M", "2001-06-17", "")}
	ctx := context.Background()
	if _, err := r.client.Lookup(ctx, insi.Manu, q); err != nil { // the TLS session
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		o, err := r.client.Lookup(ctx, insi.Manu, q)
		if err != nil || !o.Found() {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(latency.Nanoseconds()), "floor-ns/op")
}

// The virtual Vitale cards' children have an INS of their own, which the
// Vitale search finds from the insured person's number, the birth date and
// the birth rank (the twins told apart by their rank).
func TestVitaleChildren(t *testing.T) {
	people, err := patients.INSi()
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, insisim.Options{People: people}, nil)
	insured := cards.NIRKeyed("1800269123045")
	seen := map[string]bool{}
	for _, child := range []struct {
		first, date string
		rank        int
	}{{"LEA", "20100504", 1}, {"MAELYS", "20160811", 1}, {"ZOE", "20160811", 2}} {
		q := insi.Query{Traits: traits("DURAND", child.first, "F", child.date, ""), Vitale: &insi.VitaleQuery{
			Insured: insi.Matricule{Number: insured[:13], Key: insured[13:]}, BirthName: "DURAND", BirthDate: child.date, BirthRank: child.rank}}
		o, err := r.client.Lookup(context.Background(), insi.Manu, q)
		if err != nil || !o.Found() || o.Result.INS.Number == insured[:13] || o.Result.Traits.FirstNames[0] != child.first || seen[o.Result.INS.Number] {
			t.Fatalf("%s: %+v %v", child.first, o, err)
		}
		seen[o.Result.INS.Number] = true
	}
}
