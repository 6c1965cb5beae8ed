// Package insisim is a faithful simulator of the INSi teleservice for
// tests and demonstrations: mutual TLS that refuses a client certificate
// whose CN is not INSI-AUTO or INSI-MANU (desir_560), an allow-list of
// software authorisation numbers (siram_100/desir_550), dispatch on
// wsa:Action, the exact CR labels, ListePrenom without Prenom as live
// answers have, the public test identities of ../shared/docs/insi.md (INS
// history, the NIA OID, Corsican numbers, 02 until the birth place is
// given), technical faults for unknown people in "qualification" mode and
// CR 01 in "production" mode, latency and fault injection.
package insisim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"

	"dmpkiosk/bridge/insi"
	"dmpkiosk/bridge/internal/xmlq"
	"dmpkiosk/ins"
)

// Person is one identity of the simulator's base.
type Person struct {
	Traits  insi.Traits // FirstNames: the birth first names
	INS     insi.INS
	History []insi.INS
	// NotFound: the service answers 01 for this person whatever the first
	// names (CNDA case 2.07-2).
	NotFound bool
	// Insured (the insured person's NIR, 13 characters) and Rank (the
	// birth rank) find a beneficiary by the carte Vitale search; zero:
	// not by those.
	Insured string
	Rank    int
}

// Modes: what the service answers for someone it does not know.
const (
	Qualification = "qualification" // a technical fault (insi_102), as the qualification server does
	Production    = "production"    // CR 01
)

// Options configure a simulator.
type Options struct {
	// People are added to the public test identities.
	People []Person
	// IDAMs are the software authorisation numbers it accepts; none: any.
	IDAMs []string
	Mode  string // Qualification when empty
	// Latency is drawn for each answer; nil: 0.15–0.9 s as the
	// qualification server takes. Tests set a zero function.
	Latency func() time.Duration
	// Hold is how long an injected time-out keeps the call unanswered
	// (the client gives up first); 60 s when zero.
	Hold time.Duration
	// Check, if set, validates every request and every answer against the
	// official schemas; an invalid request gets a Sender fault.
	Check func(ctx context.Context, msg []byte) error
}

// Sim is an INSi simulator; it is an http.Handler for a TLS server that
// asks for client certificates.
type Sim struct {
	opts   Options
	people []Person

	mu        sync.Mutex
	next      []string // injected faults, in order
	calls     int
	answerErr []error
	busy      time.Duration // the time spent answering, latency included
}

// New returns a simulator.
func New(opts Options) *Sim {
	if opts.Mode == "" {
		opts.Mode = Qualification
	}
	if opts.Hold == 0 {
		opts.Hold = time.Minute
	}
	if opts.Latency == nil {
		opts.Latency = func() time.Duration { return 150*time.Millisecond + rand.N(750*time.Millisecond) }
	}
	return &Sim{opts: opts, people: append(Public(), opts.People...)}
}

// Injectable faults.
const (
	FaultTimeout    = "timeout"    // no answer before the client gives up
	FaultUnavail    = "desir_1020" // service temporarily unavailable
	FaultHTTP500    = "http500"    // HTTP 500 without a body
	FaultTechnical  = "insi_102"
	maxRequestBytes = 1 << 20
)

// Inject makes the next call answer with fault (one per call, in order).
func (s *Sim) Inject(fault ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next = append(s.next, fault...)
}

// Calls is how many requests were answered.
func (s *Sim) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Busy is the time the simulator has spent answering, in all (its
// latency, reading and checking the request, answering): the benchmarks
// count it as the service's time, not the bridge's.
func (s *Sim) Busy() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.busy
}

// AnswerErrors are the simulator's own answers that failed the check.
func (s *Sim) AnswerErrors() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.answerErr)
}

// ServeHTTP answers one INSi call.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t0 := time.Now()
	defer func() { s.mu.Lock(); s.busy += time.Since(t0); s.mu.Unlock() }()
	s.mu.Lock()
	s.calls++
	var injected string
	if len(s.next) > 0 {
		injected, s.next = s.next[0], s.next[1:]
	}
	s.mu.Unlock()
	if d := s.opts.Latency(); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	switch injected {
	case FaultTimeout:
		select {
		case <-r.Context().Done():
		case <-time.After(s.opts.Hold):
		}
		return
	case FaultHTTP500:
		w.WriteHeader(http.StatusInternalServerError)
		return
	case FaultUnavail:
		s.fault(w, r, "Receiver", "siram_40", "desir_1020", "fatale", "Le service est temporairement inaccessible.", "")
		return
	case FaultTechnical:
		s.fault(w, r, "Receiver", "siram_40", "insi_102", "fatale", "Erreur technique.", "")
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		s.fault(w, r, "Sender", "siram_100", "desir_560", "erreur", "Certificat client absent.", "")
		return
	}
	if cn := r.TLS.PeerCertificates[0].Subject.CommonName; cn != "INSI-AUTO" && cn != "INSI-MANU" {
		s.fault(w, r, "Sender", "siram_100", "desir_560", "erreur", "Le certificat n'est pas un certificat INSi (CN "+cn+").", "")
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes))
	if err != nil {
		return
	}
	if s.opts.Check != nil {
		if err := s.opts.Check(r.Context(), data); err != nil {
			s.fault(w, r, "Sender", "siram_30", "insi_101", "erreur", "Requête non conforme : "+err.Error(), "")
			return
		}
	}
	env, err := insi.ParseEnvelope(data)
	if err != nil {
		s.fault(w, r, "Sender", "siram_30", "insi_101", "erreur", "Requête illisible.", "")
		return
	}
	idam := ""
	if lps := child(env.Header, "ContexteLPS", insi.NSCtxLPS); lps != nil {
		idam = text(child(child(lps, "LPS", insi.NSCtxLPS), "IDAM", insi.NSCtxLPS))
	}
	if len(s.opts.IDAMs) > 0 && !slices.Contains(s.opts.IDAMs, idam) {
		s.fault(w, r, "Sender", "siram_100", "desir_550", "erreur", "L'accès par ce progiciel au service n'est pas autorisé.", env.MessageID)
		return
	}
	var cr string
	var who *Person
	switch env.Action {
	case insi.Action(insi.OpTraits):
		cr, who, err = s.searchTraits(env.Body)
	case insi.Action(insi.OpVitale):
		cr, who, err = s.searchVitale(env.Body)
	default:
		s.fault(w, r, "Sender", "siram_30", "insi_101", "erreur", "Action inconnue.", env.MessageID)
		return
	}
	if errors.Is(err, errUnknown) {
		if s.opts.Mode == Qualification {
			s.fault(w, r, "Receiver", "siram_40", "insi_102", "fatale", "L'appel au service de recherche renvoie une erreur technique.", env.MessageID)
			return
		}
		cr = insi.CRNotFound
	}
	s.answer(w, r, env, cr, who)
}

var errUnknown = errors.New("insisim: nobody of that name and birth date")

// searchTraits finds the people a RECSANSVITALE names: same birth name,
// sex and birth date (and birth place, when given), each asked first name
// among their birth first names. None of that name and date: errUnknown;
// of that name and date but not those first names: 01; one: 00; several:
// 02.
func (s *Sim) searchTraits(body *etree.Element) (string, *Person, error) {
	if body == nil || body.Tag != "RECSANSVITALE" || body.NamespaceURI() != insi.NSRecSans {
		return "", nil, errUnknown
	}
	q := insi.Traits{BirthName: text(child(body, "NomNaissance", insi.NSRecSans)), Sex: text(child(body, "Sexe", insi.NSRecSans)),
		BirthDate: text(child(body, "DateNaissance", insi.NSRecSans)), BirthPlace: text(child(body, "LieuNaissance", insi.NSRecSans))}
	for _, p := range body.ChildElements() {
		if p.Tag == "Prenom" && p.NamespaceURI() == insi.NSRecSans {
			q.FirstNames = append(q.FirstNames, strings.Fields(text(p))...)
		}
	}
	var known bool
	var found []*Person
	for i := range s.people {
		p := &s.people[i]
		if p.Traits.BirthName != q.BirthName || p.Traits.Sex != q.Sex || p.Traits.BirthDate != q.BirthDate {
			continue
		}
		known = true
		if p.NotFound || (q.BirthPlace != "" && p.Traits.BirthPlace != q.BirthPlace) {
			continue
		}
		all := true
		for _, f := range q.FirstNames {
			all = all && slices.Contains(p.Traits.FirstNames, f)
		}
		if all {
			found = append(found, p)
		}
	}
	switch {
	case !known:
		return "", nil, errUnknown
	case len(found) == 0:
		return insi.CRNotFound, nil, nil
	case len(found) > 1:
		return insi.CRSeveral, nil, nil
	}
	return insi.CRFound, found[0], nil
}

// searchVitale finds the beneficiary of a RECVITALE by their own
// matricule, else by the insured person's matricule, birth name and birth
// date.
func (s *Sim) searchVitale(body *etree.Element) (string, *Person, error) {
	if body == nil || body.Tag != "RECVITALE" || body.NamespaceURI() != insi.NSRecVit {
		return "", nil, errUnknown
	}
	num := func(name string) string {
		return text(child(child(body, name, insi.NSRecVit), "NumIdentifiant", insi.NSRecVit))
	}
	own, insured, name := num("MatriculeIndividu"), num("MatriculeOD"), text(child(body, "NomNaissance", insi.NSRecVit))
	date := strings.ReplaceAll(text(child(body, "DateNaissance", insi.NSRecVit)), "-", "")
	rank := text(child(body, "RangNaissance", insi.NSRecVit))
	var found []*Person
	for i := range s.people {
		p := &s.people[i]
		switch {
		case p.NotFound || p.Traits.BirthName != name:
		case own != "" && p.INS.Number == own:
			return insi.CRFound, p, nil
		case own == "" && strings.ReplaceAll(p.Traits.BirthDate, "-", "") == date && (p.Insured == "" || p.Insured == insured) &&
			(p.Rank == 0 || fmt.Sprint(p.Rank) == rank):
			found = append(found, p)
		}
	}
	switch len(found) {
	case 0:
		return "", nil, errUnknown
	case 1:
		return insi.CRFound, found[0], nil
	}
	return insi.CRSeveral, nil, nil
}

func envelope(action, relatesTo string) (*etree.Document, *etree.Element) {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	env := doc.CreateElement("soap:Envelope")
	env.CreateAttr("xmlns:soap", insi.NSSOAP)
	env.CreateAttr("xmlns:wsa", insi.NSWSA)
	h := env.CreateElement("soap:Header")
	if action != "" {
		h.CreateElement("wsa:Action").SetText(action)
	}
	h.CreateElement("wsa:MessageID").SetText("uuid:" + insi.NewUUID())
	if relatesTo != "" {
		h.CreateElement("wsa:RelatesTo").SetText(relatesTo)
	}
	return doc, env.CreateElement("soap:Body")
}

// answer writes a RESULTAT as the live service does (ListePrenom, no
// Prenom), HTTP 200.
func (s *Sim) answer(w http.ResponseWriter, r *http.Request, req *insi.Envelope, cr string, p *Person) {
	doc, body := envelope(req.Action+"Response", req.MessageID)
	res := body.CreateElement("RESULTAT")
	res.CreateAttr("xmlns", insi.NSResultat)
	c := res.CreateElement("CR")
	c.CreateElement("CodeCR").SetText(cr)
	c.CreateElement("LibelleCR").SetText(insi.Labels[cr])
	if cr == insi.CRFound && p != nil {
		ind := res.CreateElement("INDIVIDU")
		writeINS := func(name string, i insi.INS) {
			e := ind.CreateElement(name)
			id := e.CreateElement("IdIndividu")
			id.CreateElement("NumIdentifiant").SetText(i.Number)
			id.CreateElement("Cle").SetText(i.Key)
			e.CreateElement("OID").SetText(i.OID)
			if i.Start != "" {
				e.CreateElement("DateDeb").SetText(i.Start)
			}
			if i.End != "" {
				e.CreateElement("DateFin").SetText(i.End)
			}
		}
		writeINS("INSACTIF", p.INS)
		for _, h := range p.History {
			writeINS("INSHISTO", h)
		}
		tiq := ind.CreateElement("TIQ")
		tiq.CreateElement("NomNaissance").SetText(p.Traits.BirthName)
		tiq.CreateElement("ListePrenom").SetText(strings.Join(p.Traits.FirstNames, " "))
		tiq.CreateElement("Sexe").SetText(p.Traits.Sex)
		tiq.CreateElement("DateNaissance").SetText(p.Traits.BirthDate)
		tiq.CreateElement("LieuNaissance").SetText(p.Traits.BirthPlace)
	}
	s.write(w, r, doc, http.StatusOK)
}

// fault writes a SOAP 1.2 fault with its siram:Erreur detail, HTTP 500.
func (s *Sim) fault(w http.ResponseWriter, r *http.Request, code, subcode, errCode, severity, reason, msgID string) {
	doc, body := envelope("", "")
	f := body.CreateElement("soap:Fault")
	c := f.CreateElement("soap:Code")
	c.CreateElement("soap:Value").SetText("soap:" + code)
	c.CreateElement("soap:Subcode").CreateElement("soap:Value").SetText("soap:" + subcode)
	rt := f.CreateElement("soap:Reason").CreateElement("soap:Text")
	rt.CreateAttr("xml:lang", "fr")
	rt.SetText(reason)
	e := f.CreateElement("soap:Detail").CreateElement("siram:Erreur")
	e.CreateAttr("xmlns:siram", insi.NSSiram)
	e.CreateAttr("code", errCode)
	if msgID != "" {
		e.CreateAttr("messageID", msgID)
	}
	e.CreateAttr("severite", severity)
	e.SetText(reason)
	s.write(w, r, doc, http.StatusInternalServerError)
}

func (s *Sim) write(w http.ResponseWriter, r *http.Request, doc *etree.Document, status int) {
	doc.WriteSettings.CanonicalText = true
	data, err := doc.WriteToBytes()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if s.opts.Check != nil {
		// The answer is judged whether or not its client is still there (a
		// bridge killed mid-call must not cancel the check and pass for a
		// refusal).
		if err := s.opts.Check(context.WithoutCancel(r.Context()), data); err != nil {
			s.mu.Lock()
			s.answerErr = append(s.answerErr, err)
			s.mu.Unlock()
		}
	}
	w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// nir is a NIR or NIA with its key.
func nir(body, oid string) insi.INS {
	k, err := ins.NIRKey(body)
	if err != nil {
		panic(fmt.Sprintf("insisim: test identity %s: %v", body, err))
	}
	return insi.INS{Matricule: insi.Matricule{Number: body, Key: fmt.Sprintf("%02d", k)}, OID: oid}
}

// Public are the public test identities (the qualification server's and
// the CNDA cases', ../shared/docs/insi.md). Where the table is silent
// (a birth place, the other DE VINCI) the values are inferred.
func Public() []Person {
	t := func(name, first, sex, date, place string) insi.Traits {
		return insi.Traits{BirthName: name, FirstNames: strings.Fields(first), Sex: sex, BirthDate: date, BirthPlace: place}
	}
	histo := nir("2090763220834", ins.OIDNIR)
	histo.Start, histo.End = "2019-03-01", "2019-02-28"
	return []Person{
		{Traits: t("D'ARTAGNAN DE L'HERAULT", "PIERRE-ALAIN GUNTHER", "M", "2001-06-17", "63220"), INS: nir("1010663220754", ins.OIDNIR)},
		{Traits: t("ADRTROIS", "TOUSSAINT", "M", "1960-01-01", "2B020"), INS: nir("160012B020777", ins.OIDNIR)},
		{Traits: t("ECETINSI", "PIERRE-ALAIN MURIEL FLORIANT", "M", "2009-07-14", "63220"), INS: nir("1090763220834", ins.OIDNIR), History: []insi.INS{histo}},
		{Traits: t("PROVISOIRE", "MATRICULE", "M", "2009-07-01", "63220"), INS: nir("1090763220888", ins.OIDNIA)},
		{Traits: t("DE VINCI", "LEONARDO PIERO", "M", "2014-02-01", "63220"), INS: nir("1140263220833", ins.OIDNIR)},
		{Traits: t("DE VINCI", "LEONARDO", "M", "2014-02-01", "99127"), INS: nir("1140299127001", ins.OIDNIR)},
		{Traits: t("TCHITCHI", "CATARINA BELLA", "F", "1936-06-21", "63220"), INS: nir("2360663220836", ins.OIDNIR)},
		{Traits: t("HOUILLES", "PIERRE PAUL JACQUES", "M", "1993-01-27", ""), NotFound: true},
		{Traits: t("CORSE", "ANTHONY", "M", "1980-03-02", "2B020"), INS: nir("180032B020401", ins.OIDNIR)},
		{Traits: t("ADRUN", "ZOE", "F", "1975-12-31", "63220"), INS: nir("2751263220749", ins.OIDNIR)},
		{Traits: t("ADRTROIS", "DOMINIQUE", "F", "1997-02-26", "2A020"), INS: nir("297022A020778", ins.OIDNIR)},
	}
}

var (
	child = xmlq.Child
	text  = xmlq.Text
)
