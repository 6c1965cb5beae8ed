// Package dmpsim is a faithful simulator of the DMP's web services for the
// transactions the bridge makes (TD0.2, TD1.1, TD0.3, TD1.3a): mutual TLS
// with the establishment's authentication certificate, a VIHF signed with
// its signature certificate, the rights of each authentication mode and of
// the regime, the identity referential, and the same message structures and
// faults as the service. Its state (patients, DMPs, authorizations,
// oppositions and the access trace of every request) is kept in SQLite.
// Latency and faults can be injected for the reliability tests.
package dmpsim

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"dmpkiosk/bridge/dmp"
	"dmpkiosk/firmware/event"
	"dmpkiosk/ins"
)

// Regimes the simulator runs.
const (
	Legacy  = event.RegimeLegacy  // creation allowed with the patient's consent
	Current = event.RegimeCurrent // since July 2021: DMPs opened automatically, no creation
)

// Options configure a simulator.
type Options struct {
	DB       string         // the SQLite file
	Regime   string         // Legacy or Current
	OrgRoots *x509.CertPool // the IGC-Santé authority of the establishments' certificates
	People   []Person       // the identity referential (added when not known)
	Latency  time.Duration  // added to every transaction, before its change
	// ErrorRate is the share of requests answered by a transient fault of
	// the service (Receiver, DMPServiceUnavailable).
	ErrorRate float64
	// TimeoutRate is the share of requests never answered (held until the
	// client gives up).
	TimeoutRate float64
	Now         func() time.Time
	// CheckAnswers validates every answer against the official schemas
	// before it is written; one that fails is answered as the service's
	// internal error and kept in AnswerErrors (the tests set it).
	CheckAnswers bool
}

// Sim is the simulator: an http.Handler to serve over TLS requiring client
// certificates (Server does it).
type Sim struct {
	opts    Options
	schemas *Schemas
	st      *store
	badMu   sync.Mutex
	bad     []string // answers the official schemas refused (CheckAnswers)
	mu      sync.Mutex
	next    []string        // injected one-shot faults: a subcode, "timeout" or "truncate"
	closed  bool            // under mu: no request starts once set
	busy    time.Duration   // under mu: the time spent answering, in all
	types   map[string]bool // JDV_J07: the document types the registry takes
	reqs    sync.WaitGroup
	close   chan struct{}
}

// New opens the simulator's state and loads its referential.
func New(opts Options) (*Sim, error) {
	if opts.Regime != Legacy && opts.Regime != Current {
		return nil, fmt.Errorf("dmpsim: regime %q (legacy or current)", opts.Regime)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	schemas, err := OpenSchemas()
	if err != nil {
		return nil, err
	}
	types, err := readTypes(typesJDV)
	if err != nil {
		return nil, err
	}
	st, err := openStore(opts.DB)
	if err != nil {
		return nil, err
	}
	if err := st.seed(context.Background(), opts.People, opts.Regime == Current); err != nil {
		st.db.Close()
		return nil, err
	}
	return &Sim{opts: opts, schemas: schemas, st: st, close: make(chan struct{}), types: types}, nil
}

// AnswerErrors are the answers this simulator wrote that the official
// schemas refuse (with Options.CheckAnswers).
func (s *Sim) AnswerErrors() []string {
	s.badMu.Lock()
	defer s.badMu.Unlock()
	return append([]string(nil), s.bad...)
}

// Close releases held requests and the database.
func (s *Sim) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	close(s.close)
	s.reqs.Wait()
	return s.st.db.Close()
}

// Inject makes the next request fail: a fault subcode (answered as the
// service would), "timeout" (never answered) or "truncate" (half an
// answer, then the connection closes).
func (s *Sim) Inject(what ...string) {
	s.mu.Lock()
	s.next = append(s.next, what...)
	s.mu.Unlock()
}

func (s *Sim) injected() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.next) > 0 {
		w := s.next[0]
		s.next = s.next[1:]
		return w
	}
	switch r := rand.Float64(); {
	case r < s.opts.TimeoutRate:
		return "timeout"
	case r < s.opts.TimeoutRate+s.opts.ErrorRate:
		return "DMPServiceUnavailable"
	}
	return ""
}

// TLSConfig is the server side: TLS 1.2 and the DMP's suites, client
// certificates required and verified against the establishments' authority.
func (s *Sim) TLSConfig(server tls.Certificate) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12, CipherSuites: dmp.CipherSuites,
		Certificates: []tls.Certificate{server}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: s.opts.OrgRoots}
}

// Serve answers on l (a TLS listener made with TLSConfig) until ctx ends.
func (s *Sim) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); srv.Close() }()
	err := srv.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Path is where the services live.
const Path = "/si-dmp-server/v2/services/"

// ServeHTTP implements http.Handler.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "simulator stopping", http.StatusServiceUnavailable)
		return
	}
	s.reqs.Add(1)
	s.mu.Unlock()
	defer s.reqs.Done()
	t0 := time.Now()
	defer func() { s.mu.Lock(); s.busy += time.Since(t0); s.mu.Unlock() }()
	if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, Path) {
		http.Error(w, "not a DMP service", http.StatusNotFound)
		return
	}
	service := strings.TrimPrefix(r.URL.Path, Path)
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		return
	}
	// TD2.1 comes as an MTOM package: its documents, put back in the
	// XML, are what the schemas judge.
	if plain, err := dmp.UnpackMTOM(r.Header.Get("Content-Type"), body); err == nil {
		body = plain
	}
	env, perr := dmp.ParseEnvelope(body)
	reqID := ""
	if env != nil {
		reqID = env.MessageID
	}
	a := &answer{w: w, reqID: reqID, respID: dmp.NewMessageID(), sim: s, ctx: r.Context()}
	if env != nil {
		a.action = env.Action
	}
	switch inj := s.injected(); inj {
	case "":
	case "timeout":
		select {
		case <-r.Context().Done():
		case <-s.close:
		}
		return
	case "truncate":
		a.truncate = true
	default:
		code := "Sender"
		if inj == "DMPServiceUnavailable" {
			code = "Receiver"
		}
		a.fault(code, inj, "défaut injecté par le simulateur")
		return
	}
	if perr != nil || env.MessageID == "" {
		a.fault("Sender", "DMPInvalidRequest", "message SOAP 1.2 illisible")
		return
	}
	// The DMP refuses a request its schemas refuse.
	if err := s.schemas.ValidateEnvelope(r.Context(), body); err != nil {
		if r.Context().Err() != nil {
			return
		}
		a.fault("Sender", "DMPInvalidRequest", "requête non conforme aux schémas : "+strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": "))
		return
	}
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
		a.fault("Sender", dmp.ErrInvalidCertificate.Subcode, "authentification TLS par certificat requise")
		return
	}
	s.handle(r.Context(), a, service, env, r.TLS.VerifiedChains[0][0])
}

// answer writes a response envelope.
type answer struct {
	w             http.ResponseWriter
	reqID, respID string
	action        string
	truncate      bool
	outcome       string
	sim           *Sim
	ctx           context.Context
}

func (a *answer) write(status int, body *etree.Element) {
	env := &dmp.Envelope{Action: a.responseAction(body), MessageID: a.respID, RelatesTo: a.reqID, To: dmp.Anonymous, Body: body}
	out, _ := env.Build().WriteToBytes()
	if a.sim.opts.CheckAnswers && body.Tag != "Fault" {
		if err := a.sim.schemas.ValidateEnvelope(a.ctx, out); err != nil && a.ctx.Err() == nil {
			a.sim.badMu.Lock()
			a.sim.bad = append(a.sim.bad, err.Error())
			a.sim.badMu.Unlock()
			env.Body = faultBody(&dmp.Fault{Code: "Receiver", Subcode: "DMPInternalError", Reason: "réponse non conforme aux schémas"})
			out, _ = env.Build().WriteToBytes()
			status = http.StatusInternalServerError
		}
	}
	a.w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
	if a.truncate {
		// Half an answer, then the connection goes: a service restarting
		// in the middle of a reply.
		a.w.Header().Set("Content-Length", fmt.Sprint(len(out)))
		a.w.WriteHeader(status)
		a.w.Write(out[:len(out)/2])
		if hj, ok := a.w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
			}
		}
		return
	}
	a.w.WriteHeader(status)
	a.w.Write(out)
}

// writeMTOM answers body as the DMP answers TD3.2: an MTOM package, the
// documents as binary parts (checked against the schemas, once put back,
// with Options.CheckAnswers).
func (a *answer) writeMTOM(body *etree.Element) {
	env := &dmp.Envelope{Action: a.responseAction(body), MessageID: a.respID, RelatesTo: a.reqID, To: dmp.Anonymous, Body: body}
	pkg, ct, err := dmp.PackMTOMAsTheDMP(env.Build(), dmp.NSXDS, "Document", env.Action)
	if err == nil && a.sim.opts.CheckAnswers {
		_, err = a.sim.schemas.ValidateMTOM(a.ctx, ct, pkg)
	}
	if err != nil {
		if a.ctx.Err() == nil {
			a.sim.badMu.Lock()
			a.sim.bad = append(a.sim.bad, err.Error())
			a.sim.badMu.Unlock()
		}
		a.fault("Receiver", "DMPInternalError", "réponse non conforme aux schémas")
		return
	}
	a.w.Header().Set("Content-Type", ct)
	a.w.WriteHeader(http.StatusOK)
	a.w.Write(pkg)
}

func (a *answer) fault(code, subcode, reason string) {
	a.outcome = "fault " + subcode
	status := http.StatusBadRequest
	if code == "Receiver" {
		status = http.StatusInternalServerError
	}
	a.write(status, faultBody(&dmp.Fault{Code: code, Subcode: subcode, Reason: reason}))
}

// responseAction is the answer's wsa:Action, as the package's answers
// write it: the HL7 answer's interaction, or the operation's Response.
func (a *answer) responseAction(body *etree.Element) string {
	switch {
	case body.Tag == "Fault":
		return "http://www.w3.org/2005/08/addressing/soap/fault"
	case body.Tag == "PRPA_IN201311UV02_Response":
		return "urn:hl7-org:v3:PRPA_IN201311ResponseUV02"
	case body.NamespaceURI() == dmp.NSHL7:
		return "urn:hl7-org:v3:" + body.Tag
	}
	return a.action + "Response"
}

// vihf is a verified token.
type vihf struct {
	attrs  map[string][]string
	nameID string
	// professional: one of its roles is a health profession (TRE_G15),
	// not an establishment's staff role (a CPE).
	professional bool
}

// checkVIHF verifies the assertion: signed (exclusive C14N, the signature
// after Issuer) by a signature certificate of the IGC-Santé that belongs to
// the same legal entity as the TLS client certificate, within its
// validity, with every required attribute.
func (s *Sim) checkVIHF(a *etree.Element, tlsCert *x509.Certificate) (*vihf, string, string) {
	if a == nil {
		return nil, "DMPInvalidVIHF", "jeton VIHF absent"
	}
	var certB64 string
	if sig := a.FindElement("./Signature/KeyInfo/X509Data/X509Certificate"); sig != nil {
		certB64 = strings.Join(strings.Fields(sig.Text()), "")
	}
	if certB64 == "" {
		return nil, "DMPInvalidVIHF", "jeton VIHF non signé"
	}
	cert, err := parseB64Cert(certB64)
	if err != nil {
		return nil, dmp.ErrInvalidCertificate.Subcode, "certificat de signature illisible"
	}
	now := s.opts.Now()
	if _, err := cert.Verify(x509.VerifyOptions{Roots: s.opts.OrgRoots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, dmp.ErrInvalidCertificate.Subcode, "certificat de signature non reconnu"
	}
	if cert.KeyUsage&x509.KeyUsageContentCommitment == 0 || hasEKU(cert, x509.ExtKeyUsageClientAuth) {
		return nil, dmp.ErrInvalidCertificate.Subcode, "VIHF signé avec un certificat d'authentification et non de signature"
	}
	if len(cert.Subject.Organization) == 0 || len(tlsCert.Subject.Organization) == 0 ||
		cert.Subject.Organization[0] != tlsCert.Subject.Organization[0] || entity(cert) != entity(tlsCert) {
		return nil, dmp.ErrInvalidCertificate.Subcode, "certificats de signature et d'authentification de structures différentes"
	}
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
	vc.IdAttribute = "ID"
	vc.Clock = dsig.NewFakeClockAt(now)
	if _, err := vc.Validate(a); err != nil {
		return nil, "DMPInvalidVIHF", "signature du VIHF invalide"
	}
	if sig := a.SelectElement("Signature"); sig == nil || sig.Index() != a.SelectElement("Issuer").Index()+1 {
		return nil, "DMPInvalidVIHF", "la signature doit suivre Issuer"
	}
	if c := a.SelectElement("Conditions"); c != nil {
		nb, err1 := time.Parse(time.RFC3339, c.SelectAttrValue("NotBefore", ""))
		na, err2 := time.Parse(time.RFC3339, c.SelectAttrValue("NotOnOrAfter", ""))
		if err1 != nil || err2 != nil || now.Before(nb.Add(-time.Minute)) || !now.Before(na.Add(time.Minute)) {
			return nil, "DMPInvalidVIHF", "jeton VIHF hors de sa période de validité"
		}
	}
	v := &vihf{attrs: map[string][]string{}}
	if n := a.FindElement("./Subject/NameID"); n != nil {
		v.nameID = strings.TrimSpace(n.Text())
	}
	for _, at := range a.FindElements("./AttributeStatement/Attribute") {
		name := at.SelectAttrValue("Name", "")
		for _, av := range at.SelectElements("AttributeValue") {
			val := strings.TrimSpace(av.Text())
			if kids := av.ChildElements(); len(kids) > 0 {
				val = kids[0].SelectAttrValue("code", "")
				if name == dmp.AttrRole && kids[0].SelectAttrValue("codeSystem", "") == dmp.CSProfession {
					v.professional = true
				}
			}
			v.attrs[name] = append(v.attrs[name], val)
		}
	}
	for _, req := range dmp.RequiredAttributes {
		if len(v.attrs[req]) == 0 || v.attrs[req][0] == "" {
			return nil, "DMPInvalidVIHF", "attribut VIHF obligatoire absent : " + req
		}
	}
	if v.nameID == "" {
		return nil, "DMPInvalidVIHF", "NameID absent"
	}
	return v, "", ""
}

func (v *vihf) get(name string) string {
	if len(v.attrs[name]) == 0 {
		return ""
	}
	return v.attrs[name][0]
}

func hasEKU(c *x509.Certificate, u x509.ExtKeyUsage) bool {
	for _, e := range c.ExtKeyUsage {
		if e == u {
			return true
		}
	}
	return false
}

// entity is the legal entity (FINESS EJ) of an establishment certificate:
// its CN is <FINESS EJ>/<name>.
func entity(c *x509.Certificate) string {
	ej, _, _ := strings.Cut(c.Subject.CommonName, "/")
	return ej
}

// handle runs one verified request.
func (s *Sim) handle(ctx context.Context, a *answer, service string, env *dmp.Envelope, tlsCert *x509.Certificate) {
	t := traceEntry{RequestID: a.reqID, ResponseID: a.respID}
	defer func() {
		t.Outcome = a.outcome
		_ = s.st.trace(context.Background(), t)
	}()
	var tx string
	var req request
	if env.Body.NamespaceURI() == dmp.NSHL7 {
		req = readRequest(env.Body)
	}
	switch {
	case service == "patients" && env.Action == dmp.Services[dmp.TD11].Action && env.Body.Tag == "PRPA_IN201311UV02" && req.reason == dmp.Reasons[dmp.TD11].Code:
		tx = dmp.TD11
	case service == "patients" && env.Action == dmp.Services[dmp.TD02].Action && env.Body.Tag == "PRPA_IN201307UV02" && req.reason == dmp.Reasons[dmp.TD02].Code:
		tx = dmp.TD02
	case service == "patients" && env.Action == dmp.Services[dmp.TD13a].Action && env.Body.Tag == "PRPA_IN201307UV02" && req.reason == dmp.Reasons[dmp.TD13a].Code:
		tx = dmp.TD13a
	case service == "patientsSpecific" && env.Action == dmp.ActionTD04 && env.Body.Tag == "patientList":
		tx = dmp.TD04
	case service == "habilitations" && env.Action == dmp.ActionTD16 && env.Body.Tag == "listAuthorizationByPatient":
		tx = dmp.TD16
	case service == "habilitations" && env.Action == dmp.Services[dmp.TD03].Action:
		tx = dmp.TD03
	case service == "repository" && env.Action == dmp.ActionTD21 && env.Body.Tag == "ProvideAndRegisterDocumentSetRequest":
		tx = dmp.TD21
	case service == "repository" && env.Action == dmp.ActionTD32 && env.Body.Tag == "RetrieveDocumentSetRequest":
		tx = dmp.TD32
	case service == "registry" && env.Action == dmp.ActionTD31 && env.Body.Tag == "AdhocQueryRequest":
		tx = dmp.TD31
	case service == "registry" && env.Action == dmp.ActionTD33c && env.Body.Tag == "SubmitObjectsRequest":
		tx = dmp.TD33c
	default:
		t.Tx = service
		a.fault("Sender", "DMPInvalidRequest", "action "+env.Action+" ("+env.Body.Tag+" "+req.reason+") inconnue du service "+service)
		return
	}
	t.Tx = tx
	v, code, why := s.checkVIHF(env.Security, tlsCert)
	if v == nil {
		a.fault("Sender", code, why)
		return
	}
	t.Professional, t.Structure, t.Mode = v.nameID, v.get(dmp.AttrStructure), v.get(dmp.AttrMode)
	pid, err := parseCX(v.get(dmp.AttrResourceID))
	if err != nil {
		a.fault("Sender", "DMPInvalidVIHF", "resource-id illisible")
		return
	}
	if env.Body.NamespaceURI() == dmp.NSHL7 {
		body, ok := req.patient()
		if !ok {
			a.fault("Sender", "DMPInvalidRequest", "identifiant du patient absent")
			return
		}
		if body != pid {
			a.fault("Sender", "DMPInvalidVIHF", "le patient du message n'est pas celui du VIHF")
			return
		}
	}
	// Rights of the authentication mode (matrix PDT-INF-526): with the
	// establishment's certificate alone, TD0.2, TD1.3a, TD2.1 and TD3.1
	// (references) and TD3.3c, not TD0.3 nor TD3.2; in reinforced mode
	// (PDT-INF-606) everything but TD2.1, and TD3.2 only for a health
	// professional (not a CPE); direct (card) mode is not this
	// interface's. Emergency access (bris de glace) is a professional's in
	// reinforced mode, never to record an authorization.
	purpose := v.get(dmp.AttrPurposeOfUse)
	deny := func(why string) { a.fault("Sender", dmp.ErrAccessDenied.Subcode, why) }
	switch mode := t.Mode; {
	case mode == dmp.ModeReinforced && tx == dmp.TD21:
		deny("transaction " + tx + " non autorisée en mode " + mode)
		return
	case mode == dmp.ModeReinforced && tx == dmp.TD32 && !v.professional:
		deny("consultation d'un document refusée à un non-professionnel de santé")
		return
	case mode == dmp.ModeIndirect && (tx == dmp.TD03 || tx == dmp.TD32 || tx == dmp.TD16):
		deny("transaction " + tx + " non autorisée en mode " + mode)
		return
	case mode != dmp.ModeReinforced && mode != dmp.ModeIndirect:
		deny("transaction " + tx + " non autorisée en mode " + mode)
		return
	}
	switch purpose {
	case dmp.PurposeNormal:
	case dmp.PurposeBrisDeGlace:
		if t.Mode != dmp.ModeReinforced || !v.professional || tx == dmp.TD03 || tx == dmp.TD16 || tx == dmp.TD04 {
			deny("mode bris de glace réservé à un professionnel de santé authentifié, hors autorisation")
			return
		}
	default:
		a.fault("Sender", "DMPInvalidVIHF", "mode d'accès "+purpose+" non pris en charge")
		return
	}
	if s.opts.Regime == Current && pid.Root == dmp.OIDINSC {
		a.fault("Sender", dmp.ErrIdentityCertFailure.Subcode, "l'INS-C n'est plus acceptée : INS qualifiée requise")
		return
	}
	if s.opts.Latency > 0 {
		// The service's own time, between the checks and the change.
		time.Sleep(s.opts.Latency)
	}
	if err := s.transaction(ctx, a, tx, env, req, pid, v, &t); err != nil {
		if ctx.Err() != nil {
			// The client went away (its time-out): nothing was done and
			// no one reads an answer; the trace says so, not a DMP fault.
			a.outcome = "cancelled by the client"
			return
		}
		a.fault("Receiver", "DMPInternalError", "erreur interne")
	}
}

func (s *Sim) transaction(ctx context.Context, a *answer, tx string, env *dmp.Envelope, req request, pid dmp.PatientID, v *vihf, t *traceEntry) error {
	dbtx, err := s.st.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer dbtx.Rollback()
	x := &txn{sim: s, a: a, tx: tx, env: env, req: req, pid: pid, dbtx: dbtx, structure: v.get(dmp.AttrStructure), now: s.opts.Now(),
		respOID: strings.TrimPrefix(a.respID, "urn:uuid:"), vihf: v}
	x.rec, err = s.st.lookup(ctx, dbtx, pid, x.structure)
	x.known = err == nil
	if err != nil && !errors.Is(err, errUnknownPatient) {
		return err
	}
	if x.known {
		t.person = sql.NullInt64{Int64: x.rec.person, Valid: true}
	}
	x.ids = inscOf(x.rec.insc)
	if pid.Root != dmp.OIDINSC {
		x.ids = append(x.ids, pid)
	}
	if tx == dmp.TD04 {
		return x.patientList(ctx)
	}
	if x.known && x.rec.hasDMP && x.rec.state == "closed" && tx != dmp.TD11 {
		a.fault("Sender", dmp.ErrClosed.Subcode, "le DMP de ce patient est fermé")
		return nil
	}
	switch tx {
	case dmp.TD02:
		x.testExistence()
	case dmp.TD13a:
		x.readAdmin()
	case dmp.TD11:
		return x.create(ctx)
	case dmp.TD03:
		return x.setAuthorization(ctx)
	case dmp.TD21:
		return x.feed(ctx)
	case dmp.TD31:
		return x.find(ctx)
	case dmp.TD16:
		return x.listAuthorizations(ctx)
	case dmp.TD32:
		return x.retrieve(ctx)
	case dmp.TD33c:
		return x.delete(ctx)
	}
	return nil
}

// txn is one transaction being answered: the request, the patient's
// record, the database transaction.
type txn struct {
	sim       *Sim
	a         *answer
	tx        string
	env       *dmp.Envelope
	req       request
	pid       dmp.PatientID
	dbtx      *sql.Tx
	structure string
	now       time.Time
	respOID   string
	rec       record
	known     bool
	ids       []dmp.PatientID
	vihf      *vihf
}

// testExistence answers TD0.2.
func (x *txn) testExistence() {
	ex := dmp.Existence{Exists: x.known && x.rec.hasDMP, Authorization: dmp.AuthNone}
	if ex.Exists {
		ex.Authorization, ex.IDs, ex.Demographics = x.rec.auth, x.ids, x.rec.demographics
	}
	x.a.outcome = "OK"
	if !ex.Exists {
		x.a.outcome = "NF"
	}
	x.a.write(http.StatusOK, existenceAnswer(x.tx, x.respOID, x.now, x.req, ex))
}

// readAdmin answers TD1.3a.
func (x *txn) readAdmin() {
	switch {
	case !x.known || !x.rec.hasDMP:
		x.a.fault("Sender", "DMPNotFound", "pas de DMP pour ce patient")
		return
	case x.rec.auth != dmp.AuthValid:
		x.a.fault("Sender", dmp.ErrAccessDenied.Subcode, "l'établissement n'est pas autorisé par le patient")
		return
	}
	x.a.outcome = "OK"
	x.a.write(http.StatusOK, existenceAnswer(x.tx, x.respOID, x.now, x.req, dmp.Existence{Exists: true, Authorization: x.rec.auth, IDs: x.ids,
		Demographics: x.rec.demographics, Observations: map[string]bool{dmp.ObsBrisDeGlace: x.rec.oppBDG, dmp.ObsEmergency: x.rec.oppUrg}}))
}

// create answers TD1.1.
func (x *txn) create(ctx context.Context) error {
	if x.sim.opts.Regime == Current {
		x.a.fault("Sender", dmp.ErrAccessDenied.Subcode, "création de DMP interdite depuis le 1er juillet 2021")
		return nil
	}
	c, _, ok := x.req.creation()
	refuse := func(code, why string) {
		x.a.outcome = "refused " + code
		x.a.write(http.StatusOK, createdAnswer(x.respOID, x.now, x.req, c, x.ids, code, why))
	}
	switch {
	case !ok:
		x.a.fault("Sender", "DMPInvalidRequest", "demande de création incomplète")
		return nil
	case !x.known || !sameIdentity(x.rec.demographics, c.Demographics):
		x.ids = []dmp.PatientID{x.pid}
		refuse(dmp.ErrIdentityCertFailure.Subcode, "identité non certifiée")
		return nil
	case x.rec.hasDMP && x.rec.state == "closed":
		refuse(dmp.ErrClosed.Subcode, "DMP fermé")
		return nil
	case x.rec.hasDMP:
		refuse(dmp.ErrFound.Subcode, "le patient a déjà un DMP")
		return nil
	case !c.Consent:
		refuse("DMPConsentMissing", "consentement du patient absent")
		return nil
	}
	if _, err := x.dbtx.ExecContext(ctx, `INSERT INTO dmps (person, state, created, created_by, consent, opp_bris_de_glace, opp_urgence)
		VALUES (?, 'open', ?, ?, 1, ?, ?)`, x.rec.person, x.now.UnixMilli(), x.structure, c.OppBrisGlace, c.OppUrgence); err != nil {
		return err
	}
	x.a.outcome = "created"
	if err := x.dbtx.Commit(); err != nil {
		return err
	}
	x.a.write(http.StatusOK, createdAnswer(x.respOID, x.now, x.req, c, x.ids, "", ""))
	return nil
}

// setAuthorization answers TD0.3.
func (x *txn) setAuthorization(ctx context.Context) error {
	act := action(x.env.Body)
	status := map[string]string{dmp.ActionAdd: dmp.AuthValid, dmp.ActionRemove: dmp.AuthRefused}[act]
	switch {
	case status == "":
		x.a.fault("Sender", "DMPInvalidRequest", "action "+act+" inconnue")
		return nil
	case !x.known || !x.rec.hasDMP:
		x.a.fault("Sender", "DMPNotFound", "pas de DMP pour ce patient")
		return nil
	}
	if _, err := x.dbtx.ExecContext(ctx, `INSERT INTO authorizations (person, structure, status, updated) VALUES (?, ?, ?, ?)
		ON CONFLICT (person, structure) DO UPDATE SET status = excluded.status, updated = excluded.updated`,
		x.rec.person, x.structure, status, x.now.UnixMilli()); err != nil {
		return err
	}
	x.a.outcome = status
	if x.rec.auth == status {
		x.a.outcome = "unchanged " + status // the trace tells a change from a no-op
	}
	if err := x.dbtx.Commit(); err != nil {
		return err
	}
	context := map[string]string{dmp.ActionAdd: "Autorisation ajoutée", dmp.ActionRemove: "Autorisation supprimée"}[act]
	if x.rec.auth == status {
		// As the package's example answers an authorization already there.
		context = "Autorisation déjà présente aucune action effectuée"
	}
	x.a.write(http.StatusOK, authorizationAnswer(context))
	return nil
}

// sameIdentity compares the traits the identity referential certifies:
// birth name, first name (normalised), birth date, and sex when both know it.
func sameIdentity(ref, got dmp.Demographics) bool {
	norm := func(s string) string {
		n, err := ins.NormalizeName(s)
		if err != nil {
			return s
		}
		return n
	}
	first := func(s string) string { f, _, _ := strings.Cut(norm(s), " "); return f }
	if norm(ref.BirthName) != norm(got.BirthName) || first(ref.FirstName) != first(got.FirstName) || ref.BirthDate != got.BirthDate {
		return false
	}
	known := func(s string) bool { return s == "M" || s == "F" }
	return !known(ref.Sex) || !known(got.Sex) || ref.Sex == got.Sex
}

// parseCX reads the patient's identifier from its CX form.
func parseCX(s string) (dmp.PatientID, error) {
	id, oid, err := ins.SplitCX(s)
	if err != nil {
		return dmp.PatientID{}, fmt.Errorf("dmpsim: %w", err)
	}
	return dmp.PatientID{Root: oid, Extension: id}, nil
}

// Busy is the time the simulator has spent answering requests, in all
// (reading, checking against the schemas, answering): the benchmarks
// count it as the service's time, not the bridge's.
func (s *Sim) Busy() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.busy
}
