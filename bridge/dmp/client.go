package dmp

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/beevik/etree"

	"dmpkiosk/bridge/internal/soapcall"

	"dmpkiosk/firmware/event"
)

// Config is how the bridge reaches the DMP.
type Config struct {
	// BaseURL is the services' root, e.g.
	// https://<env>/si-dmp-server/v2/services/ (the service name follows).
	BaseURL     string
	Sign        Credentials    // ORG SIGN: signs the VIHF
	Auth        Credentials    // ORG AUTH_CLI: mutual TLS
	ServerRoots *x509.CertPool // the DMP server's authority; nil: the system's
	LPS         LPS
	Sector      string // Secteur_Activite; SA07^1.2.250.1.71.4.2.4 when empty
	Mode        string // ModeReinforced when empty
	// StructureName is the establishment's name in TD1.1 (its
	// providerOrganization and the author's organization); the ORG SIGN
	// certificate's organization when empty.
	StructureName string
	// StaffRole is the VIHF role of establishment staff whose card has no
	// profession code (a CPE): the code the establishment's DMP
	// homologation gives. Unset: their events are refused before any call.
	StaffRole Role
	// TestEnvironment marks the HL7 messages processingCode D, as the
	// package's examples sent to the DMP's test platform; P otherwise.
	TestEnvironment bool
	Timeout         time.Duration // per request; 30 s when zero
	// Trace receives every exchange (request and response as sent and
	// received): the traces DMP homologation asks for. Nil: none kept.
	Trace func(Exchange)
	Now   func() time.Time
}

// CipherSuites are the TLS 1.2 suites of the DMP that Go implements
// (ECDHE-RSA with AES-GCM or ChaCha20-Poly1305; the AES-256-CBC-SHA384
// suite the DMP also accepts is not in Go's TLS).
var CipherSuites = []uint16{
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// TLSConfig is the client side of the DMP's mutual TLS: TLS 1.2, the
// DMP's suites, the ORG AUTH_CLI key (which may sit on a token).
func TLSConfig(auth Credentials, roots *x509.CertPool) *tls.Config {
	var chain [][]byte
	for _, c := range auth.Chain {
		chain = append(chain, c.Raw)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12, CipherSuites: CipherSuites, RootCAs: roots}
	if auth.Key != nil && len(chain) > 0 {
		cfg.Certificates = []tls.Certificate{{Certificate: chain, PrivateKey: auth.Key, Leaf: auth.Chain[0]}}
	}
	return cfg
}

// Client speaks to the DMP's web services.
type Client struct {
	cfg  Config
	http *http.Client
}

// NewClient returns a client for cfg.
func NewClient(cfg Config) *Client {
	if cfg.Sector == "" {
		cfg.Sector = "SA07^1.2.250.1.71.4.2.4"
	}
	if cfg.Mode == "" {
		cfg.Mode = ModeReinforced
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.StructureName == "" && len(cfg.Sign.Chain) > 0 && len(cfg.Sign.Chain[0].Subject.Organization) > 0 {
		cfg.StructureName = cfg.Sign.Chain[0].Subject.Organization[0]
	}
	if cfg.LPS.DeviceOID == "" {
		cfg.LPS.DeviceOID = DefaultDeviceOID
	}
	if !strings.HasSuffix(cfg.BaseURL, "/") {
		cfg.BaseURL += "/"
	}
	tr := &http.Transport{TLSClientConfig: TLSConfig(cfg.Auth, cfg.ServerRoots), ForceAttemptHTTP2: false,
		MaxIdleConnsPerHost: 4, IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second}
	return &Client{cfg: cfg, http: &http.Client{Transport: tr, Timeout: cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Who is on whose behalf and about whom a transaction is made.
type Who struct {
	Professional event.Professional
	FINESS       string // the site's geographic FINESS
	Patient      PatientID
	// Mode is the VIHF's authentication mode for this request (the
	// client's configured one when empty): ModeIndirect when the bridge
	// acts for the establishment alone (feeding, its TD3.1 and TD3.3c),
	// ModeReinforced for a professional it authenticated by his card.
	Mode string
	// Purpose is the access mode (TRE_R248): normal (when empty) or
	// bris_de_glace.
	Purpose string
}

// Exchange is one request and its response, with their identifiers.
type Exchange struct {
	Transaction           string
	RequestID, ResponseID string
	Request, Response     []byte
	Status                int
	// Unreadable: the answer is not one this client can read (kept for
	// the IT team even when the traces are off).
	Unreadable bool
}

// NewMessageID is a urn:uuid (version 4).
func NewMessageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func oidOfUUID(urn string) string { return strings.TrimPrefix(urn, "urn:uuid:") }

// DefaultDeviceOID names the software when the configuration gives no OID
// of its own: the arc 2.25 (an OID made of a UUID, ITU-T X.667) with this
// project's fixed UUID. An establishment's homologated installation sets
// dmp.lps.device_oid.
const DefaultDeviceOID = "2.25.184518147161097449036655359774429945767"

// Request builds and signs the complete SOAP request of tx: what would be
// sent (the dry run prints it).
func (c *Client) Request(tx string, who Who, body *etree.Element, msgID string) ([]byte, error) {
	svc, ok := Services[tx]
	if !ok {
		return nil, fmt.Errorf("dmp: unknown transaction %q", tx)
	}
	mode, purpose := c.cfg.Mode, PurposeNormal
	if who.Mode != "" {
		mode = who.Mode
	}
	if who.Purpose != "" {
		purpose = who.Purpose
	}
	v := &VIHF{Professional: who.Professional, Structure: "1" + who.FINESS, Sector: c.cfg.Sector, Patient: who.Patient,
		Mode: mode, Purpose: purpose, LPS: c.cfg.LPS, Issued: c.cfg.Now(), StaffRole: c.cfg.StaffRole}
	assertion, err := v.Sign(c.cfg.Sign)
	if err != nil {
		return nil, err
	}
	env := &Envelope{Action: svc.Action, MessageID: msgID, To: c.cfg.BaseURL + svc.Path, Security: assertion, Body: body}
	doc := env.Build()
	doc.WriteSettings.CanonicalEndTags = true
	return doc.WriteToBytes()
}

// Body builds the body of tx for who; creation and action are used by
// TD1.1 and TD0.3.
func (c *Client) Body(tx, msgID string, who Who, creation *Creation, action string) (*etree.Element, error) {
	m := Message{ID: oidOfUUID(msgID), Created: c.cfg.Now(), Sender: Device{OID: c.cfg.LPS.DeviceOID, Name: c.cfg.LPS.Name},
		Receiver: DMP, ProcessingCodeTest: c.cfg.TestEnvironment}
	switch tx {
	case TD02, TD13a:
		return QueryBody(tx, m, who.Patient), nil
	case TD11:
		if creation == nil {
			return nil, errors.New("dmp: TD1.1 without the creation's content")
		}
		if d := creation.Demographics; d.BirthName == "" || d.FirstName == "" || d.Sex == "" || d.BirthDate == "" {
			return nil, errors.New("dmp: TD1.1 needs the patient's birth name, first name, sex and birth date")
		}
		p := who.Professional
		if p.Surname == "" || p.FirstName == "" {
			return nil, errors.New("dmp: TD1.1 needs the professional's name (the DMP refuses an author without one)")
		}
		role := Role{Code: p.Profession}
		if role.Code == "" {
			role = c.cfg.StaffRole
		}
		return CreateBody(m, *creation, Author{NationalID: p.NationalID, Surname: p.Surname, FirstName: p.FirstName,
			StructureID: "1" + who.FINESS, StructureName: c.cfg.StructureName, Profession: role.Code, Display: role.Display}), nil
	case TD03:
		if action != ActionAdd && action != ActionRemove {
			return nil, fmt.Errorf("dmp: TD0.3 action %q", action)
		}
		return AuthorizationBody(action), nil
	}
	return nil, fmt.Errorf("dmp: unknown transaction %q", tx)
}

// maxResponse bounds what is read of an answer; MaxDocumentAnswer a
// TD3.2 answer's (a document of tens of MB: a scanned report, imaging).
const (
	maxResponse       = 4 << 20
	MaxDocumentAnswer = 64 << 20
)

// call sends tx and returns the response body's element.
func (c *Client) call(ctx context.Context, tx string, who Who, creation *Creation, action string) (*etree.Element, Exchange, error) {
	msgID := NewMessageID()
	x := Exchange{Transaction: tx, RequestID: msgID}
	body, err := c.Body(tx, msgID, who, creation, action)
	if err != nil {
		return nil, x, err
	}
	req, err := c.Request(tx, who, body, msgID)
	if err != nil {
		return nil, x, err
	}
	return c.post(ctx, tx, msgID, req)
}

// post sends a request and reads its answer.
func (c *Client) post(ctx context.Context, tx, msgID string, req []byte) (*etree.Element, Exchange, error) {
	return c.postAs(ctx, tx, msgID, `application/soap+xml; charset=utf-8; action="`+Services[tx].Action+`"`, req)
}

// postAs sends a request of the content type given (an MTOM package's
// multipart/related) and reads its answer, an MTOM package or not.
func (c *Client) postAs(ctx context.Context, tx, msgID, contentType string, req []byte) (_ *etree.Element, x Exchange, _ error) {
	x = Exchange{Transaction: tx, RequestID: msgID, Request: req}
	limit := int64(maxResponse)
	if tx == TD32 {
		limit = MaxDocumentAnswer
	}
	status, body, err := soapcall.PostAs(ctx, c.http, c.cfg.BaseURL+Services[tx].Path, contentType, req, limit)
	x.Status, x.Response = status, body
	if err != nil {
		return nil, x, &TransportError{Transaction: tx, Err: err}
	}
	root, parts, perr := splitMTOM("", x.Response)
	var env *Envelope
	if perr == nil {
		env, perr = ParseEnvelope(root)
	}
	if perr == nil && parts != nil {
		perr = inlineXOP(env.Body, parts)
	}
	if env != nil {
		x.ResponseID = env.MessageID
	}
	var f *Fault
	switch {
	case errors.As(perr, &f):
		f.Transaction, f.RequestID, f.ResponseID = tx, x.RequestID, x.ResponseID
		return nil, x, f
	case status != http.StatusOK:
		return nil, x, &HTTPError{Transaction: tx, Status: status}
	case perr != nil:
		return nil, x, fmt.Errorf("%s: %w", tx, perr)
	case env.RelatesTo != msgID:
		return nil, x, fmt.Errorf("%w: %s answers %q, not this request", ErrMalformed, tx, env.RelatesTo)
	}
	return env.Body, x, nil
}

// Unreadable reports whether err is an answer this client could not read
// (a fault, which is read, is not).
func Unreadable(err error) bool {
	var f *Fault
	return errors.Is(err, ErrMalformed) && !errors.As(err, &f)
}

// traced hands the exchange to the trace, marked unreadable when its
// answer could not be read, and returns err.
func (c *Client) traced(x *Exchange, err error) error {
	x.Unreadable = Unreadable(err)
	if c.cfg.Trace != nil && len(x.Request) > 0 {
		c.cfg.Trace(*x)
	}
	return err
}

// TestExistence is TD0.2: does the patient have a DMP, and is the
// establishment authorized.
func (c *Client) TestExistence(ctx context.Context, who Who) (Existence, Exchange, error) {
	body, x, err := c.call(ctx, TD02, who, nil, "")
	if err != nil {
		return Existence{}, x, c.traced(&x, err)
	}
	e, err := ParseExistence(body)
	return e, x, c.traced(&x, err)
}

// Create is TD1.1 (legacy regime only).
func (c *Client) Create(ctx context.Context, who Who, cr Creation) (Exchange, error) {
	body, x, err := c.call(ctx, TD11, who, &cr, "")
	if err != nil {
		return x, c.traced(&x, err)
	}
	err = ParseCreated(body)
	var f *Fault
	if errors.As(err, &f) {
		f.Transaction, f.RequestID, f.ResponseID = TD11, x.RequestID, x.ResponseID
	}
	return x, c.traced(&x, err)
}

// SetAuthorization is TD0.3: add (AJOUT) or remove (SUPPRESSION) the
// establishment's authorization.
func (c *Client) SetAuthorization(ctx context.Context, who Who, action string) (AuthorizationResult, Exchange, error) {
	body, x, err := c.call(ctx, TD03, who, nil, action)
	if err != nil {
		return AuthorizationResult{}, x, c.traced(&x, err)
	}
	r, err := ParseAuthorization(body)
	var f *Fault
	if errors.As(err, &f) {
		f.Transaction, f.RequestID, f.ResponseID = TD03, x.RequestID, x.ResponseID
	}
	return r, x, c.traced(&x, err)
}

// ReadAdmin is TD1.3a: the patient's administrative data.
func (c *Client) ReadAdmin(ctx context.Context, who Who) (Admin, Exchange, error) {
	body, x, err := c.call(ctx, TD13a, who, nil, "")
	if err != nil {
		return Admin{}, x, c.traced(&x, err)
	}
	a, err := ParseAdmin(body)
	return a, x, c.traced(&x, err)
}

// TransportError is a request that did not get an answer: refused or
// reset connection, time-out, TLS failure.
type TransportError struct {
	Transaction string
	Err         error
}

func (e *TransportError) Error() string { return "dmp: " + e.Transaction + ": " + e.Err.Error() }
func (e *TransportError) Unwrap() error { return e.Err }

// HTTPError is an answer that is neither the SOAP response nor a fault.
type HTTPError struct {
	Transaction string
	Status      int
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("dmp: %s: HTTP %d without a SOAP answer", e.Transaction, e.Status)
}

// Transient reports whether err may pass if tried again later: time-outs,
// network failures, the service's own failures, a garbled answer (the
// service restarted mid-answer). A refusal by the DMP, a certificate the
// client or the server does not accept, or a request the client cannot
// build are final.
func Transient(err error) bool {
	var f *Fault
	if errors.As(err, &f) {
		return f.Transient()
	}
	var ue x509.UnknownAuthorityError
	var he x509.HostnameError
	var ie x509.CertificateInvalidError
	var ve *tls.CertificateVerificationError
	if errors.As(err, &ue) || errors.As(err, &he) || errors.As(err, &ie) || errors.As(err, &ve) {
		return false
	}
	var te *TransportError
	if errors.As(err, &te) {
		return true
	}
	var h *HTTPError
	if errors.As(err, &h) {
		return h.Status >= 500 || h.Status == http.StatusTooManyRequests || h.Status == http.StatusRequestTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return errors.Is(err, ErrMalformed)
}

// Send posts a hand-made assertion and body as tx (tests of the service's
// checks; the bridge uses the transactions above).
func (c *Client) Send(ctx context.Context, tx string, assertion, body *etree.Element) error {
	svc := Services[tx]
	env := &Envelope{Action: svc.Action, MessageID: NewMessageID(), To: c.cfg.BaseURL + svc.Path, Security: assertion, Body: body}
	data, err := env.Build().WriteToBytes()
	if err != nil {
		return err
	}
	_, x, err := c.post(ctx, tx, env.MessageID, data)
	return c.traced(&x, err)
}
