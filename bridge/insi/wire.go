package insi

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/beevik/etree"

	"dmpkiosk/bridge/internal/xmlq"
	"dmpkiosk/ins"
)

// Namespaces of the INSi messages (WSDL DESIR_ICIR_EXP_1.5.0).
const (
	NSSOAP     = "http://www.w3.org/2003/05/soap-envelope"
	NSWSA      = "http://www.w3.org/2005/08/addressing"
	NSCtxBAM   = "urn:siram:bam:ctxbam"
	NSCtxLPS   = "urn:siram:lps:ctxlps"
	NSRecSans  = "http://www.cnamts.fr/INSiRecSans"
	NSRecVit   = "http://www.cnamts.fr/INSiRecVit"
	NSResultat = "http://www.cnamts.fr/INSiResultat"
	NSSiram    = "urn:siram"
)

// Operations.
const (
	OpTraits = "rechercherInsAvecTraitsIdentite"
	OpVitale = "rechercherInsAvecCarteVitale"
)

// Action is an operation's wsa:Action; the answer's adds "Response".
func Action(op string) string { return "urn:ServiceIdentiteCertifiee:1.0.0:" + op }

// CR codes and their exact labels.
const (
	CRFound    = "00"
	CRNotFound = "01"
	CRSeveral  = "02"
)

// Labels are the service's exact CR labels.
var Labels = map[string]string{CRFound: "OK", CRNotFound: "Aucune identite trouvee", CRSeveral: "Plusieurs identites trouvees"}

// Traits are the traits of a search, written as the service wants them:
// upper-case ASCII (hyphen, apostrophe and space kept), birth date
// AAAA-MM-JJ, sex M or F, birth place a 5-character INSEE code (optional).
type Traits struct {
	BirthName  string   `json:"birth_name"`
	FirstNames []string `json:"first_names,omitempty"`
	Sex        string   `json:"sex"`
	BirthDate  string   `json:"birth_date"`
	BirthPlace string   `json:"birth_place,omitempty"`
}

// Matricule is a NIR or NIA as the service writes it: 13 characters and a
// 2-digit key.
type Matricule struct {
	Number string `json:"value"`
	Key    string `json:"key"`
}

// VitaleQuery is the Vitale search: the beneficiary's own matricule when
// the card holds one, the insured person's, and the beneficiary's birth
// name, birth date (lunar dates allowed, AAAAMMJJ as on the card) and
// birth rank.
type VitaleQuery struct {
	Individual *Matricule
	Insured    Matricule
	BirthName  string
	BirthDate  string
	BirthRank  int
}

// INS is one matricule of an answer and its OID (NIR or NIA, told by the
// OID, never by the digits).
type INS struct {
	Matricule
	OID   string `json:"oid"`
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
}

// Result is a CR answer: for 00 the active INS, its history and the five
// official traits (ListePrenom: the birth first names, space separated).
type Result struct {
	Operation string  `json:"operation"`
	CR        string  `json:"cr"`
	Label     string  `json:"label"`
	INS       *INS    `json:"ins,omitempty"`
	History   []INS   `json:"history,omitempty"`
	Traits    *Traits `json:"traits,omitempty"`
	// LookedUp is when the answer came: an INS from INSi carries the date
	// of its lookup.
	LookedUp time.Time `json:"looked_up"`
}

// Fault is an INSi fault: the SOAP subcode (siram_40, siram_100…) and the
// siram:Erreur detail (insi_102, desir_550…, its severity).
type Fault struct {
	Code     string `json:"code"`    // siram:Erreur code, e.g. insi_102
	Subcode  string `json:"subcode"` // SOAP subcode, e.g. siram_40
	Severity string `json:"severity"`
	Reason   string `json:"reason,omitempty"`
	Status   int    `json:"-"` // HTTP status
}

func (f *Fault) Error() string {
	return fmt.Sprintf("insi: fault %s/%s (%s): %s", f.Subcode, f.Code, f.Severity, f.Reason)
}

// LogValue logs the codes only.
func (f *Fault) LogValue() slog.Value {
	return slog.GroupValue(slog.String("code", f.Code), slog.String("subcode", f.Subcode), slog.String("severity", f.Severity))
}

// Transient reports whether the fault means "try later": a technical error
// or an unavailable service (never "not found").
func (f *Fault) Transient() bool {
	switch f.Code {
	case "insi_102", "desir_1020":
		return true
	}
	return f.Subcode == "siram_40"
}

// Errors a caller branches on.
var (
	// ErrMalformed is an answer that is not what the service writes.
	ErrMalformed = errors.New("insi: unreadable answer")
	// ErrInconsistent is an answer that cannot be true of the question
	// (a matricule whose key is wrong, traits unlike the question): never
	// used.
	ErrInconsistent = errors.New("insi: inconsistent answer")
)

// Envelope is what the client reads of a message.
type Envelope struct {
	Action    string
	MessageID string
	RelatesTo string
	Header    *etree.Element
	Body      *etree.Element // the Body's one child
}

// ParseEnvelope reads a SOAP 1.2 message by namespace (the service's
// prefixes vary: soap:, S:, env:); a fault is returned as *Fault.
func ParseEnvelope(data []byte) (*Envelope, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(data); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	root := doc.Root()
	if root == nil || root.Tag != "Envelope" || root.NamespaceURI() != NSSOAP {
		return nil, fmt.Errorf("%w: no SOAP 1.2 Envelope", ErrMalformed)
	}
	e := &Envelope{}
	if h := child(root, "Header", NSSOAP); h != nil {
		e.Header = h
		e.Action = text(child(h, "Action", NSWSA))
		e.MessageID = text(child(h, "MessageID", NSWSA))
		e.RelatesTo = text(child(h, "RelatesTo", NSWSA))
	}
	body := child(root, "Body", NSSOAP)
	if body == nil || len(body.ChildElements()) != 1 {
		return nil, fmt.Errorf("%w: the Body must hold one element", ErrMalformed)
	}
	e.Body = body.ChildElements()[0]
	if e.Body.Tag == "Fault" && e.Body.NamespaceURI() == NSSOAP {
		return e, parseFault(e.Body)
	}
	return e, nil
}

// qnameLocal is a QName value's local part (S:siram_40 → siram_40).
func qnameLocal(q string) string {
	if i := strings.LastIndexByte(q, ':'); i >= 0 {
		return q[i+1:]
	}
	return q
}

func parseFault(el *etree.Element) error {
	f := &Fault{}
	if code := child(el, "Code", NSSOAP); code != nil {
		if sub := child(code, "Subcode", NSSOAP); sub != nil {
			f.Subcode = qnameLocal(text(child(sub, "Value", NSSOAP)))
		}
	}
	if r := child(el, "Reason", NSSOAP); r != nil {
		f.Reason = text(child(r, "Text", NSSOAP))
	}
	if d := child(el, "Detail", NSSOAP); d != nil {
		if e := child(d, "Erreur", NSSiram); e != nil {
			f.Code = e.SelectAttrValue("code", "")
			f.Severity = e.SelectAttrValue("severite", "")
			if f.Reason == "" {
				f.Reason = text(e)
			}
		}
	}
	if f.Subcode == "" && f.Code == "" {
		return fmt.Errorf("%w: a fault without codes", ErrMalformed)
	}
	switch f.Severity {
	case "information", "avertissement", "erreur", "fatale", "fatal", "":
	default:
		return fmt.Errorf("%w: fault severity %q", ErrMalformed, f.Severity)
	}
	return f
}

// ParseResult reads a RESULTAT: CR, and for 00 the INS (INSACTIF), every
// INSHISTO (whatever the order of their children) and the TIQ (ListePrenom
// or Prenom). The answer is checked against the question q (nil: not
// checked): a matricule whose key is wrong, or traits unlike the
// question's, make it ErrInconsistent.
func ParseResult(op string, el *etree.Element, q *Traits) (*Result, error) {
	if el == nil || el.Tag != "RESULTAT" || el.NamespaceURI() != NSResultat {
		return nil, fmt.Errorf("%w: no RESULTAT", ErrMalformed)
	}
	cr := child(el, "CR", NSResultat)
	r := &Result{Operation: op, CR: text(child(cr, "CodeCR", NSResultat)), Label: text(child(cr, "LibelleCR", NSResultat))}
	if want, ok := Labels[r.CR]; !ok || r.Label != want {
		return nil, fmt.Errorf("%w: CR %q %q", ErrMalformed, r.CR, r.Label)
	}
	ind := child(el, "INDIVIDU", NSResultat)
	if r.CR != CRFound {
		if ind != nil {
			return nil, fmt.Errorf("%w: CR %s with an individual", ErrMalformed, r.CR)
		}
		return r, nil
	}
	if ind == nil {
		return nil, fmt.Errorf("%w: CR 00 without an individual", ErrMalformed)
	}
	readINS := func(e *etree.Element) (INS, error) {
		id := child(e, "IdIndividu", NSResultat)
		i := INS{Matricule: Matricule{Number: text(child(id, "NumIdentifiant", NSResultat)), Key: text(child(id, "Cle", NSResultat))},
			OID: text(child(e, "OID", NSResultat)), Start: text(child(e, "DateDeb", NSResultat)), End: text(child(e, "DateFin", NSResultat))}
		if i.OID != ins.OIDNIR && i.OID != ins.OIDNIA {
			return i, fmt.Errorf("%w: OID %q", ErrMalformed, i.OID)
		}
		n, err := ins.ParseNIR13(i.Number)
		if err != nil {
			return i, fmt.Errorf("%w: matricule: %v", ErrInconsistent, err)
		}
		if fmt.Sprintf("%02d", n.Key()) != i.Key {
			return i, fmt.Errorf("%w: the key of %s… is not its number's", ErrInconsistent, i.Number[:5])
		}
		return i, nil
	}
	active, err := readINS(child(ind, "INSACTIF", NSResultat))
	if err != nil {
		return nil, err
	}
	r.INS = &active
	for _, h := range ind.ChildElements() {
		if h.Tag == "INSHISTO" && h.NamespaceURI() == NSResultat {
			old, err := readINS(h)
			if err != nil {
				return nil, err
			}
			r.History = append(r.History, old)
		}
	}
	tiq := child(ind, "TIQ", NSResultat)
	if tiq == nil {
		return nil, fmt.Errorf("%w: CR 00 without traits", ErrMalformed)
	}
	t := &Traits{BirthName: text(child(tiq, "NomNaissance", NSResultat)), Sex: text(child(tiq, "Sexe", NSResultat)),
		BirthDate: text(child(tiq, "DateNaissance", NSResultat)), BirthPlace: text(child(tiq, "LieuNaissance", NSResultat))}
	if l := text(child(tiq, "ListePrenom", NSResultat)); l != "" {
		t.FirstNames = strings.Fields(l)
	} else if p := text(child(tiq, "Prenom", NSResultat)); p != "" {
		t.FirstNames = strings.Fields(p)
	}
	r.Traits = t
	if q != nil {
		if err := consistent(q, t); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// consistent checks that the official traits can be the answer to the
// question: same birth name, sex and birth date (the question's first
// names are among the answer's, the birth place the question's when it
// gave one).
func consistent(q, a *Traits) error {
	switch {
	case a.BirthName != q.BirthName:
		return fmt.Errorf("%w: another birth name", ErrInconsistent)
	case a.Sex != q.Sex:
		return fmt.Errorf("%w: another sex", ErrInconsistent)
	case a.BirthDate != q.BirthDate:
		return fmt.Errorf("%w: another birth date", ErrInconsistent)
	case q.BirthPlace != "" && a.BirthPlace != q.BirthPlace:
		return fmt.Errorf("%w: another birth place", ErrInconsistent)
	}
	for _, f := range q.FirstNames {
		found := false
		for _, g := range a.FirstNames {
			found = found || g == f
		}
		if !found {
			return fmt.Errorf("%w: a first name not among the answer's", ErrInconsistent)
		}
	}
	return nil
}

var (
	child = xmlq.Child
	text  = xmlq.Text
)
