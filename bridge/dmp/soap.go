package dmp

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/beevik/etree"

	"dmpkiosk/bridge/internal/xmlq"
)

// Namespaces of the messages.
const (
	NSSOAP  = "http://www.w3.org/2003/05/soap-envelope"
	NSWSA   = "http://www.w3.org/2005/08/addressing"
	NSWSSE  = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	NSSAML  = "urn:oasis:names:tc:SAML:2.0:assertion"
	NSHL7   = "urn:hl7-org:v3"
	NSXSI   = "http://www.w3.org/2001/XMLSchema-instance"
	NSHabil = "urn:si-dmp-habilitations"
	// NSGDP is the namespace of GestionDossierPatientPartage.wsdl's own
	// elements (the TD1.1 answer's wrapper).
	NSGDP = "asip:ci-sis:gdp:2010"
	// NSFault qualifies the DMP's fault subcodes (inferred: the public
	// guides name the codes, not their namespace).
	NSFault = "urn:si-dmp:faults"
	// Anonymous is WS-Addressing's "reply on this connection".
	Anonymous = NSWSA + "/anonymous"
)

// Envelope is a SOAP 1.2 message with its WS-Addressing headers.
type Envelope struct {
	Action    string
	MessageID string
	To        string
	RelatesTo string         // in a response: the request's MessageID
	Security  *etree.Element // the VIHF assertion, in wsse:Security
	Body      *etree.Element
}

// Build writes the envelope as a document.
func (e *Envelope) Build() *etree.Document {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	env := doc.CreateElement("soap:Envelope")
	env.CreateAttr("xmlns:soap", NSSOAP)
	env.CreateAttr("xmlns:wsa", NSWSA)
	h := env.CreateElement("soap:Header")
	a := h.CreateElement("wsa:Action")
	a.CreateAttr("soap:mustUnderstand", "true")
	a.SetText(e.Action)
	h.CreateElement("wsa:MessageID").SetText(e.MessageID)
	if e.RelatesTo != "" {
		h.CreateElement("wsa:RelatesTo").SetText(e.RelatesTo)
	} else {
		h.CreateElement("wsa:ReplyTo").CreateElement("wsa:Address").SetText(Anonymous)
	}
	if e.To != "" {
		h.CreateElement("wsa:To").SetText(e.To)
	}
	if e.Security != nil {
		sec := h.CreateElement("wsse:Security")
		sec.CreateAttr("xmlns:wsse", NSWSSE)
		sec.AddChild(e.Security)
	}
	b := env.CreateElement("soap:Body")
	if e.Body != nil {
		b.AddChild(e.Body)
	}
	return doc
}

// ErrMalformed is a message that is not the SOAP the service speaks.
var ErrMalformed = errors.New("dmp: malformed SOAP message")

// ParseEnvelope reads a SOAP 1.2 message. A fault in the body is returned
// as *Fault with the envelope (its MessageID and RelatesTo kept).
func ParseEnvelope(data []byte) (*Envelope, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(data); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	env := doc.Root()
	if env == nil || env.Tag != "Envelope" || env.NamespaceURI() != NSSOAP {
		return nil, fmt.Errorf("%w: no SOAP 1.2 Envelope", ErrMalformed)
	}
	e := &Envelope{}
	if h := child(env, "Header", NSSOAP); h != nil {
		e.Action = text(child(h, "Action", NSWSA))
		e.MessageID = text(child(h, "MessageID", NSWSA))
		e.RelatesTo = text(child(h, "RelatesTo", NSWSA))
		e.To = text(child(h, "To", NSWSA))
		if sec := child(h, "Security", NSWSSE); sec != nil {
			e.Security = child(sec, "Assertion", NSSAML)
		}
	}
	body := child(env, "Body", NSSOAP)
	if body == nil {
		return nil, fmt.Errorf("%w: no Body", ErrMalformed)
	}
	kids := body.ChildElements()
	if len(kids) != 1 {
		return nil, fmt.Errorf("%w: the Body holds %d elements", ErrMalformed, len(kids))
	}
	e.Body = kids[0]
	if e.Body.Tag == "Fault" && e.Body.NamespaceURI() == NSSOAP {
		return e, parseFault(e.Body)
	}
	return e, nil
}

// Fault is a SOAP 1.2 fault of the DMP. Its Subcode tells what went wrong
// (DMPAccessDeniedByRightsService, DMPFound, ...); codes this client does
// not know are kept as they came. errors.Is matches a Fault against the
// sentinels below by subcode.
type Fault struct {
	Code    string // Sender or Receiver
	Subcode string
	Reason  string
	// Set by the client: which transaction, and the message identifiers.
	Transaction, RequestID, ResponseID string
}

func (f *Fault) Error() string {
	s := "dmp: fault " + f.Subcode
	if f.Subcode == "" {
		s = "dmp: fault " + f.Code
	}
	if f.Transaction != "" {
		s += " (" + f.Transaction + ")"
	}
	if f.Reason != "" {
		s += ": " + f.Reason
	}
	return s
}

// LogValue is the fault for a log: codes and message identifiers, not the
// service's free text (Reason), which may name the patient.
func (f *Fault) LogValue() slog.Value {
	return slog.GroupValue(slog.String("fault", f.Subcode), slog.String("code", f.Code), slog.String("transaction", f.Transaction),
		slog.String("request", f.RequestID), slog.String("response", f.ResponseID))
}

// Is matches a sentinel Fault (one without Code) by subcode.
func (f *Fault) Is(target error) bool {
	t, ok := target.(*Fault)
	return ok && t.Code == "" && t.Subcode == f.Subcode
}

// The DMP's faults this client acts on.
var (
	ErrAccessDenied        = &Fault{Subcode: "DMPAccessDeniedByRightsService"}
	ErrFound               = &Fault{Subcode: "DMPFound"}
	ErrInvalidCertificate  = &Fault{Subcode: "DMPInvalidCertificate"}
	ErrClosed              = &Fault{Subcode: "DMPClosed"}
	ErrIdentityCertFailure = &Fault{Subcode: "DMPIdentityCertificationFailure"}
)

// Transient reports whether trying again later may succeed: a fault of the
// receiver (the service) that is none of the known, final ones.
func (f *Fault) Transient() bool {
	for _, s := range []*Fault{ErrAccessDenied, ErrFound, ErrInvalidCertificate, ErrClosed, ErrIdentityCertFailure} {
		if f.Subcode == s.Subcode {
			return false
		}
	}
	return f.Code == "Receiver"
}

func parseFault(el *etree.Element) error {
	f := &Fault{}
	code := child(el, "Code", NSSOAP)
	f.Code = localName(text(child(code, "Value", NSSOAP)))
	if sub := child(code, "Subcode", NSSOAP); sub != nil {
		f.Subcode = localName(text(child(sub, "Value", NSSOAP)))
	}
	if r := child(el, "Reason", NSSOAP); r != nil {
		f.Reason = text(child(r, "Text", NSSOAP))
	}
	if f.Code != "Sender" && f.Code != "Receiver" && f.Code != "MustUnderstand" && f.Code != "VersionMismatch" && f.Code != "DataEncodingUnknown" {
		return fmt.Errorf("%w: fault code %q", ErrMalformed, f.Code)
	}
	return f
}

// localName drops a QName's prefix.
func localName(q string) string {
	if i := strings.IndexByte(q, ':'); i >= 0 {
		return q[i+1:]
	}
	return q
}

var (
	child = xmlq.Child
	text  = xmlq.Text
)
