package insi

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/beevik/etree"

	"dmpkiosk/bridge/internal/soapcall"
)

// Credentials are the establishment's INSi certificate (CN INSI-AUTO or
// INSI-MANU, OU the structure's identifier) and its key, which may sit on
// a PKCS#11 token.
type Credentials struct {
	Key   crypto.Signer
	Chain []*x509.Certificate
}

// Config is how the bridge reaches INSi in establishment mode (mutual
// TLS, no SAML assertion).
type Config struct {
	Endpoint string // e.g. https://qualiflps-services-ps-tlsm.ameli.fr/lps
	// Manu authenticates the lookups a professional starts at a kiosk
	// (CN INSI-MANU), Auto those the bridge starts on its own (INSI-AUTO).
	Manu, Auto  Credentials
	ServerRoots *x509.CertPool
	// IDAM is the software's CNDA authorisation number, Version its
	// version, Instance the installation's UUID (made once, kept), Name
	// the software's name.
	IDAM, Version, Instance, Name string
	Timeout                       time.Duration // per call; 10 s when zero
	Now                           func() time.Time
	// Observe, when set, is told of every call once it ended: for the
	// audit trail and the metrics. It carries no trait and no number.
	Observe func(Call)
}

// Call is what is recorded of one INSi call: never a trait or a number.
type Call struct {
	Operation string
	MessageID string
	Mode      Mode
	// Outcome is the CR (00, 01, 02), the fault's code (insi_102…),
	// "transport" when no answer came, or "unreadable".
	Outcome string
	Elapsed time.Duration
}

// outcomeOf names how a call ended.
func outcomeOf(r *Result, err error) string {
	var f *Fault
	var t *TransportError
	switch {
	case err == nil && r != nil:
		return r.CR
	case errors.As(err, &f):
		if f.Code != "" {
			return f.Code
		}
		return f.Subcode
	case errors.As(err, &t), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "transport"
	case errors.Is(err, ErrInconsistent):
		return "inconsistent"
	}
	return "unreadable"
}

// Exchange is one call as sent and received (for traces and the command
// line).
type Exchange struct {
	Operation string
	MessageID string
	Request   []byte
	Status    int
	Response  []byte
	Elapsed   time.Duration
}

// Client calls INSi.
type Client struct {
	cfg        Config
	manu, auto *http.Client
}

// Mode says who started a lookup: a professional at a kiosk (MANU) or the
// bridge on its own (AUTO).
type Mode int

// Modes.
const (
	Manu Mode = iota
	Auto
)

func (m Mode) String() string {
	if m == Auto {
		return "INSI-AUTO"
	}
	return "INSI-MANU"
}

func httpClient(c Credentials, roots *x509.CertPool, timeout time.Duration) *http.Client {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}
	if c.Key != nil && len(c.Chain) > 0 {
		var chain [][]byte
		for _, x := range c.Chain {
			chain = append(chain, x.Raw)
		}
		cfg.Certificates = []tls.Certificate{{Certificate: chain, PrivateKey: c.Key, Leaf: c.Chain[0]}}
	}
	return &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: cfg, TLSHandshakeTimeout: 10 * time.Second, MaxIdleConnsPerHost: 4},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// NewClient returns a client for cfg.
func NewClient(cfg Config) *Client {
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Name == "" {
		cfg.Name = "dmpkiosk"
	}
	return &Client{cfg: cfg, manu: httpClient(cfg.Manu, cfg.ServerRoots, cfg.Timeout), auto: httpClient(cfg.Auto, cfg.ServerRoots, cfg.Timeout)}
}

// NewUUID is a random (version 4) UUID.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0F | 0x40
	b[8] = b[8]&0x3F | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// emitter is the structure's identifier: the certificate's OU.
func (c Credentials) emitter() string {
	if len(c.Chain) > 0 && len(c.Chain[0].Subject.OrganizationalUnit) > 0 {
		return c.Chain[0].Subject.OrganizationalUnit[0]
	}
	return ""
}

// Request writes a signed-and-ready request (establishment mode: the TLS
// certificate authenticates, the envelope carries no assertion).
func (c *Client) Request(mode Mode, op string, body *etree.Element, msgID string) ([]byte, error) {
	cred := c.cfg.Manu
	if mode == Auto {
		cred = c.cfg.Auto
	}
	now := c.cfg.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	env := doc.CreateElement("soap:Envelope")
	env.CreateAttr("xmlns:soap", NSSOAP)
	env.CreateAttr("xmlns:wsa", NSWSA)
	env.CreateAttr("xmlns:ctxbam", NSCtxBAM)
	env.CreateAttr("xmlns:ctxlps", NSCtxLPS)
	h := env.CreateElement("soap:Header")
	bam := h.CreateElement("ctxbam:ContexteBAM")
	bam.CreateAttr("Version", "01_02")
	bam.CreateElement("ctxbam:Id").SetText(NewUUID())
	bam.CreateElement("ctxbam:Temps").SetText(now)
	bam.CreateElement("ctxbam:Emetteur").SetText(cred.emitter())
	bam.CreateElement("ctxbam:COUVERTURE")
	lps := h.CreateElement("ctxlps:ContexteLPS")
	lps.CreateAttr("Nature", "CTXLPS")
	lps.CreateAttr("Version", "01_00")
	lps.CreateElement("ctxlps:Id").SetText(NewUUID())
	lps.CreateElement("ctxlps:Temps").SetText(now)
	lps.CreateElement("ctxlps:Emetteur").SetText(cred.emitter())
	l := lps.CreateElement("ctxlps:LPS")
	idam := l.CreateElement("ctxlps:IDAM")
	idam.CreateAttr("R", "4")
	idam.SetText(c.cfg.IDAM)
	l.CreateElement("ctxlps:Version").SetText(c.cfg.Version)
	l.CreateElement("ctxlps:Instance").SetText(c.cfg.Instance)
	l.CreateElement("ctxlps:Nom").SetText("urn:lps:" + c.cfg.Name + ":" + c.cfg.Version)
	h.CreateElement("wsa:Action").SetText(Action(op))
	h.CreateElement("wsa:MessageID").SetText("uuid:" + msgID)
	env.CreateElement("soap:Body").AddChild(body)
	doc.WriteSettings.CanonicalText = true // apostrophes as written: D'ARTAGNAN
	return doc.WriteToBytes()
}

// TraitsBody is a RECSANSVITALE.
func TraitsBody(t Traits) *etree.Element {
	el := etree.NewElement("ins:RECSANSVITALE")
	el.CreateAttr("xmlns:ins", NSRecSans)
	el.CreateElement("ins:NomNaissance").SetText(t.BirthName)
	for _, p := range t.FirstNames {
		el.CreateElement("ins:Prenom").SetText(p)
	}
	el.CreateElement("ins:Sexe").SetText(t.Sex)
	el.CreateElement("ins:DateNaissance").SetText(t.BirthDate)
	if t.BirthPlace != "" {
		el.CreateElement("ins:LieuNaissance").SetText(t.BirthPlace)
	}
	return el
}

// VitaleBody is a RECVITALE.
func VitaleBody(q VitaleQuery) *etree.Element {
	el := etree.NewElement("vit:RECVITALE")
	el.CreateAttr("xmlns:vit", NSRecVit)
	mat := func(name string, m Matricule) {
		e := el.CreateElement("vit:" + name)
		e.CreateElement("vit:NumIdentifiant").SetText(m.Number)
		e.CreateElement("vit:Cle").SetText(m.Key)
	}
	if q.Individual != nil {
		mat("MatriculeIndividu", *q.Individual)
	}
	mat("MatriculeOD", q.Insured)
	el.CreateElement("vit:NomNaissance").SetText(q.BirthName)
	el.CreateElement("vit:DateNaissance").SetText(q.BirthDate)
	el.CreateElement("vit:RangNaissance").SetText(fmt.Sprint(q.BirthRank))
	return el
}

const maxResponse = 1 << 20

// TransportError is a call that got no answer (connection, TLS, time-out,
// an HTTP error without a SOAP fault): "try later".
type TransportError struct {
	Operation string
	Status    int
	Err       error
}

func (e *TransportError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("insi: %s: HTTP %d without a fault", e.Operation, e.Status)
	}
	return "insi: " + e.Operation + ": " + e.Err.Error()
}
func (e *TransportError) Unwrap() error { return e.Err }

// Transient reports whether err means "try later" (never "not found").
func Transient(err error) bool {
	var t *TransportError
	var f *Fault
	return errors.As(err, &t) || (errors.As(err, &f) && f.Transient()) || errors.Is(err, context.DeadlineExceeded)
}

// call sends one request, reads its answer and tells Observe.
func (c *Client) call(ctx context.Context, mode Mode, op string, body *etree.Element, q *Traits) (*Result, Exchange, error) {
	r, x, err := c.exchange(ctx, mode, op, body, q)
	if c.cfg.Observe != nil {
		c.cfg.Observe(Call{Operation: op, MessageID: x.MessageID, Mode: mode, Outcome: outcomeOf(r, err), Elapsed: x.Elapsed})
	}
	return r, x, err
}

func (c *Client) exchange(ctx context.Context, mode Mode, op string, body *etree.Element, q *Traits) (*Result, Exchange, error) {
	msgID := NewUUID()
	x := Exchange{Operation: op, MessageID: msgID}
	req, err := c.Request(mode, op, body, msgID)
	if err != nil {
		return nil, x, err
	}
	x.Request = req
	hc := c.manu
	if mode == Auto {
		hc = c.auto
	}
	start := time.Now()
	status, answer, err := soapcall.Post(ctx, hc, c.cfg.Endpoint, Action(op), req, maxResponse)
	x.Elapsed, x.Status, x.Response = time.Since(start), status, answer
	if err != nil {
		return nil, x, &TransportError{Operation: op, Err: err}
	}
	if status != http.StatusOK && len(bytes.TrimSpace(x.Response)) == 0 {
		return nil, x, &TransportError{Operation: op, Status: status}
	}
	env, err := ParseEnvelope(x.Response)
	var f *Fault
	switch {
	case errors.As(err, &f):
		f.Status = status
		return nil, x, f
	case err != nil && status != http.StatusOK:
		return nil, x, &TransportError{Operation: op, Status: status}
	case err != nil:
		return nil, x, err
	case status != http.StatusOK:
		return nil, x, &TransportError{Operation: op, Status: status}
	}
	if env.Action != "" && env.Action != Action(op)+"Response" {
		return nil, x, fmt.Errorf("%w: action %q", ErrMalformed, env.Action)
	}
	r, err := ParseResult(op, env.Body, q)
	if err != nil {
		return nil, x, err
	}
	r.LookedUp = c.cfg.Now()
	return r, x, nil
}

// SearchTraits is one rechercherInsAvecTraitsIdentite.
func (c *Client) SearchTraits(ctx context.Context, mode Mode, t Traits) (*Result, Exchange, error) {
	return c.call(ctx, mode, OpTraits, TraitsBody(t), &t)
}

// SearchVitale is one rechercherInsAvecCarteVitale.
func (c *Client) SearchVitale(ctx context.Context, mode Mode, q VitaleQuery) (*Result, Exchange, error) {
	return c.call(ctx, mode, OpVitale, VitaleBody(q), nil)
}
