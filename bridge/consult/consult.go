// Package consult is the flow of the bedside tablet's readings of the
// patient's DMP (docs/consultation.md): a request from a tablet, signed by
// the device and by the card of the professional signed in on it, opened
// and held to that card's certificate; TD0.2, then TD3.1 (the list) or
// TD3.2 (a document) in reinforced indirect mode (AIR) in his name, in
// normal or emergency (bris de glace) mode; the document rendered into
// inert pages (bridge/render), each sent encrypted to the request's reply
// key as soon as it is ready. Every consultation is audited (who, which
// patient by a pseudonym, which document, the mode and the reason), an
// emergency access apart; nothing of the document is kept.
//
// It must not know the other flows.
package consult

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"dmpkiosk/apdu/cps"
	"dmpkiosk/bridge/dmp"
	"dmpkiosk/bridge/internal/metrics"
	"dmpkiosk/bridge/internal/ratelimit"
	"dmpkiosk/bridge/journal"
	"dmpkiosk/bridge/render"
	"dmpkiosk/firmware/event"
	"dmpkiosk/ins"
	"dmpkiosk/provisioning"
)

// DMP is what the flow needs of the DMP's client (*dmp.Client).
type DMP interface {
	TestExistence(ctx context.Context, who dmp.Who) (dmp.Existence, dmp.Exchange, error)
	SetAuthorization(ctx context.Context, who dmp.Who, action string) (dmp.AuthorizationResult, dmp.Exchange, error)
	FindEntries(ctx context.Context, who dmp.Who, statuses ...string) ([]dmp.DocumentEntry, dmp.Exchange, error)
	Retrieve(ctx context.Context, who dmp.Who, repository, uniqueID string) (dmp.Retrieved, dmp.Exchange, error)
	ListAuthorizations(ctx context.Context, who dmp.Who, mode string) ([]dmp.ProfessionalAuthorization, dmp.Exchange, error)
	PatientList(ctx context.Context, who dmp.Who, since time.Time, dateType string) ([]dmp.AuthorizedPatient, dmp.Exchange, error)
}

// Renderer renders a document (*render.Renderer).
type Renderer interface {
	Document(ctx context.Context, cda []byte, emit func(render.Page) error) error
}

// Auditor is what the flow needs of the journal.
type Auditor interface {
	Audit(ctx context.Context, kind, ref, detail string) error
}

// Publisher sends a message to the broker (*broker.Conn).
type Publisher interface {
	Publish(topic string, payload []byte) error
}

// Config configures the flow.
type Config struct {
	DMP      DMP
	Renderer Renderer
	Journal  Auditor
	Broker   Publisher
	// EncKey opens the requests; KioskCA, Revocations and Chains check
	// the tablet that signed one, CardCA the professional's card.
	EncKey      *ecdsa.PrivateKey
	KioskCA     *x509.CertPool
	CardCA      *x509.CertPool
	Revocations *provisioning.Revocations
	Chains      *event.ChainCache
	// Wait bounds one request's work with the DMP (DefaultWait when
	// zero).
	Wait    time.Duration
	Limits  *ratelimit.Kiosks
	Metrics *metrics.Events
	Logger  *slog.Logger
	// Authorized, when set, is told the patient's authorization was
	// recorded at the bedside (the documents waiting for it may go).
	Authorized func(ctx context.Context, ins string)
	// Ward, when set, gives a unit's inpatients (the journal's, from the
	// GAMs' ADT messages).
	Ward interface {
		WardList(ctx context.Context, unit string) ([]journal.WardPatient, error)
	}
}

// Flow answers the tablets' consultations.
type Flow struct {
	cfg     Config
	running ratelimit.Slots
}

// New returns the flow; OnRequest takes the requests.
func New(cfg Config) *Flow {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Limits == nil {
		cfg.Limits = ratelimit.New(0, 0)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = &metrics.Events{}
	}
	if cfg.Renderer == nil {
		cfg.Renderer = &render.Renderer{}
	}
	return &Flow{cfg: cfg, running: ratelimit.NewSlots(maxRunning)}
}

// DefaultWait is how long a consultation may take with the DMP (a vendor
// seen in public waits up to 90 s for TD3.2; a professional at the
// bedside does not: inferred).
const DefaultWait = 60 * time.Second

// maxAge bounds a request's age when it arrives: the professional is at
// the bedside, waiting.
const maxAge = 2 * time.Minute

// MaxRequestBytes bounds a sealed request, checked before anything is
// decrypted: the device's and the card's chains, the reply key.
const MaxRequestBytes = 64 << 10

// maxRunning bounds the consultations under way at once.
const maxRunning = 8

// professions are the health professions (TRE_G15) that read the DMP in
// AIR: médecin, pharmacien, chirurgien-dentiste, sage-femme, infirmier,
// masseur-kinésithérapeute and the other professions of the code system
// (inferred from PDT-INF-606: "every health professional"); a card with
// none (a CPE, a CDE) does not.
var professions = []string{"10", "21", "40", "50", "60", "69", "70", "80", "81", "82", "83", "84", "85", "86", "91", "92", "93", "94", "95", "96", "98"}

// OnRequest takes a tablet's request off paho's goroutine.
func (f *Flow) OnRequest(topic string, payload []byte) {
	device, ok := provisioning.KioskOf(topic, "dmp")
	if !ok || len(payload) > MaxRequestBytes {
		f.audit("dmp.consult.rejected", topic, "not a consultation on kiosk/<device>/dmp, or too large")
		return
	}
	if !f.cfg.Limits.Admit(context.Background(), device, func() { f.cfg.Metrics.Reject(journal.RejectRateLimited) }, f.cfg.Journal.Audit, f.cfg.Logger) {
		return
	}
	if !f.running.Go(func() { f.Handle(device, payload) }) {
		f.cfg.Logger.Warn("bridge: too many consultations under way", "device", device)
	}
}

func (f *Flow) audit(kind, ref, detail string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.cfg.Journal.Audit(ctx, kind, ref, detail); err != nil {
		f.cfg.Logger.Error("bridge: auditing a consultation", "error", err)
	}
}

// Pseudonym names a patient in the audit trail without their INS: the
// first 16 hexadecimal digits of SHA-256 over the OID and the INS (the
// establishment finds a patient's entries by computing it).
func Pseudonym(p event.INS) string {
	h := sha256.Sum256([]byte(p.OID + "|" + p.Value))
	return hex.EncodeToString(h[:8])
}

// Handle verifies one request and answers it. A request that does not
// verify gets no answer (no one to trust with one); every other gets one
// or more, the last marked.
func (f *Flow) Handle(device string, payload []byte) {
	v := f.cfg
	now := time.Now()
	r, devCert, cardCert, err := event.OpenConsult(string(payload), v.EncKey, v.KioskCA, v.CardCA, now, v.Chains)
	if devCert == nil {
		f.audit("dmp.consult.rejected", device, err.Error())
		return
	}
	who, idErr := provisioning.IdentityOf(devCert, v.Revocations)
	if idErr != nil || who.Role != provisioning.RoleKiosk || who.ID != device {
		f.audit("dmp.consult.rejected", device, "the request's device is not its certificate's, or is revoked")
		return
	}
	if r == nil {
		// The device is known, its request not (the card's chain, a
		// missing reply key): no key to answer with; said in the trail.
		f.audit("dmp.consult.rejected", device, err.Error())
		return
	}
	answer := func(a *event.ConsultAnswer) {
		a.Request = r.ID
		msg, err := event.SealConsultAnswer(a, r.Reply)
		if err != nil {
			f.cfg.Logger.Error("bridge: sealing a consultation's answer", "request", r.ID, "error", err)
			return
		}
		if err := f.cfg.Broker.Publish(provisioning.ResultsTopic(device), msg); err != nil {
			f.cfg.Logger.Error("bridge: publishing a consultation's answer", "request", r.ID, "error", err)
		}
	}
	refuse := func(outcome, message, why string) {
		f.audit("dmp.consult.refused", r.ID, fmt.Sprintf("device=%s action=%s %s", device, r.Action, why))
		answer(&event.ConsultAnswer{Outcome: outcome, Message: message, Last: true})
	}
	holder, herr := cps.HolderOf(cardCert.Subject)
	switch {
	case r.Device != device || r.Site.FINESS != who.Site.FINESS:
		refuse(event.ConsultRefused, "Demande d'une autre borne ou d'un autre site.", "device or site not the certificate's")
		return
	case now.Sub(r.Time) > maxAge || r.Time.Sub(now) > maxAge:
		refuse(event.ConsultRefused, "Demande trop ancienne : l'horloge de la tablette est-elle à l'heure ?", "too old")
		return
	case herr != nil || holder.NationalID != r.Professional.NationalID:
		refuse(event.ConsultRefused, "La carte qui signe n'est pas celle du professionnel connecté.", "professional not the card's")
		return
	case !slices.Contains(professions, holder.Profession) || holder.CardType == "CPE" || holder.CardType == "CDE":
		refuse(event.ConsultForbidden, "La consultation du DMP est réservée aux professionnels de santé : votre carte ("+holder.CardType+
			") ne le permet pas.", "not a health professional ("+holder.CardType+" "+holder.Profession+")")
		return
	case r.Action == event.ConsultWard:
		f.audit("dmp.ward", r.ID, fmt.Sprintf("device=%s professional=%s unit=%s", device, holder.NationalID, who.Site.Unit))
		answer(f.ward(r, holder, who.Site.FINESS, who.Site.Unit))
		return
	case !qualified(r.Patient):
		refuse(event.ConsultRefused, "Patient sans INS qualifiée : le DMP ne peut pas être consulté.", "no qualified INS")
		return
	case r.Purpose != event.PurposeNormal && r.Purpose != event.PurposeBrisDeGlace:
		refuse(event.ConsultRefused, "Mode d'accès inconnu.", "purpose "+r.Purpose)
		return
	case r.Purpose == event.PurposeBrisDeGlace && !slices.Contains(event.EmergencyReasons, r.Reason):
		refuse(event.ConsultRefused, "Un accès en urgence demande d'en choisir le motif.", "emergency without a reason")
		return
	case r.Purpose == event.PurposeBrisDeGlace && r.Action == event.ConsultAuthorize:
		refuse(event.ConsultRefused, "En urgence, l'autorisation du patient ne s'enregistre pas.", "authorize in emergency")
		return
	}
	whoDMP := dmp.Who{Professional: professional(holder, r.Professional), FINESS: who.Site.FINESS,
		Patient: dmp.PatientID{Root: r.Patient.OID, Extension: r.Patient.Value}, Mode: dmp.ModeReinforced, Purpose: r.Purpose}
	detail := fmt.Sprintf("device=%s professional=%s patient=%s action=%s mode=%s", device, holder.NationalID, Pseudonym(r.Patient), r.Action, r.Purpose)
	if r.UniqueID != "" {
		detail += " document=" + r.UniqueID
	}
	if r.Purpose == event.PurposeBrisDeGlace {
		detail += " reason=" + r.Reason
		f.audit("dmp.bris_de_glace", r.ID, detail)
	}
	f.audit("dmp.consult", r.ID, detail)
	ctx, cancel := context.WithTimeout(context.Background(), f.wait())
	defer cancel()
	sent := answer
	answer = func(a *event.ConsultAnswer) {
		// What came of it, in the trail too: a refusal is an access
		// attempted and not granted.
		if a.Last && a.Outcome != event.ConsultOK {
			f.audit("dmp.consult.outcome", r.ID, "outcome="+a.Outcome)
		}
		sent(a)
	}
	switch r.Action {
	case event.ConsultList, event.ConsultAuthorize:
		answer(f.list(ctx, r, whoDMP))
	case event.ConsultDocument:
		f.document(ctx, r, whoDMP, answer)
	default:
		answer(&event.ConsultAnswer{Outcome: event.ConsultRefused, Message: "Demande inconnue.", Last: true})
	}
}

// professional is who the VIHF names: the card certificate's holder, and
// the specialty his card's data gives (the request says it, signed by the
// same card; the certificate does not).
func professional(holder cps.Holder, asked event.Professional) event.Professional {
	p := event.Professional{NationalID: holder.NationalID, NationalIDType: holder.NationalIDType, CardType: holder.CardType,
		Surname: holder.Surname, FirstName: holder.FirstName, Profession: holder.Profession}
	if asked.NationalID == holder.NationalID {
		p.Speciality, p.CardSerial = asked.Speciality, asked.CardSerial
	}
	return p
}

func (f *Flow) wait() time.Duration {
	if f.cfg.Wait > 0 {
		return f.cfg.Wait
	}
	return DefaultWait
}

// list is TD0.2 (normal mode), TD0.3 when the patient agreed, then TD3.1.
func (f *Flow) list(ctx context.Context, r *event.ConsultRequest, who dmp.Who) *event.ConsultAnswer {
	a := &event.ConsultAnswer{Last: true}
	if r.Purpose == event.PurposeNormal {
		ex, _, err := f.cfg.DMP.TestExistence(ctx, who)
		if err != nil {
			return failed(a, err)
		}
		a.Authorization = ex.Authorization
		switch {
		case !ex.Exists:
			a.Outcome, a.Message = event.ConsultNoDMP, "Ce patient n'a pas de DMP."
			return a
		case ex.Authorization == dmp.AuthRefused:
			a.Outcome, a.Message = event.ConsultForbidden, "Le patient a interdit à l'établissement l'accès à son DMP : rien n'est lu."
			return a
		case ex.Authorization != dmp.AuthValid && r.Action != event.ConsultAuthorize:
			a.Outcome, a.Message = event.ConsultNotAuthorized,
				"L'établissement n'est pas autorisé à accéder à ce DMP. Le patient est-il d'accord ? Son accord sera enregistré."
			return a
		case ex.Authorization != dmp.AuthValid:
			if _, _, err := f.cfg.DMP.SetAuthorization(ctx, who, dmp.ActionAdd); err != nil {
				return failed(a, err)
			}
			a.Authorization = dmp.AuthValid
			if f.cfg.Authorized != nil {
				f.cfg.Authorized(ctx, r.Patient.Value)
			}
		}
	}
	l, _, err := f.cfg.DMP.FindEntries(ctx, who)
	if err != nil {
		return f.refused(ctx, who, a, err)
	}
	sort.SliceStable(l, func(i, j int) bool { return l[i].Created.After(l[j].Created) })
	for _, e := range l {
		author := strings.TrimSpace(e.Author.Given + " " + e.Author.Family)
		a.Entries = append(a.Entries, event.ConsultEntry{UniqueID: e.UniqueID, EntryUUID: e.EntryUUID, Repository: e.RepositoryID,
			Title: e.Title, Type: e.Type.Code, TypeLabel: dmp.TypeLabel(e.Type.Code), Date: e.Created.UTC(), Author: author,
			Institution: e.Author.Institution, InvisibleToPatient: e.Has(dmp.ConfInvisiblePatient)})
	}
	a.Outcome = event.ConsultOK
	if len(l) == 0 {
		a.Message = "Aucun document dans le DMP de ce patient."
	}
	return a
}

// document is TD3.2, rendered page by page; each page goes as soon as it
// is ready, the document itself is dropped once rendered.
func (f *Flow) document(ctx context.Context, r *event.ConsultRequest, who dmp.Who, answer func(*event.ConsultAnswer)) {
	if r.UniqueID == "" {
		answer(&event.ConsultAnswer{Outcome: event.ConsultRefused, Message: "Document non précisé.", Last: true})
		return
	}
	d, _, err := f.cfg.DMP.Retrieve(ctx, who, r.Repository, r.UniqueID)
	if err != nil {
		answer(f.refused(ctx, who, &event.ConsultAnswer{Last: true}, err))
		return
	}
	sent := 0
	err = f.cfg.Renderer.Document(ctx, d.Data, func(p render.Page) error {
		// Each page goes as soon as it is rendered (the first before the
		// others are), in parts the brokers take; the last part of the
		// last page says it is the last.
		page := event.ConsultPage{N: p.N, Of: p.Of, Type: p.Type, Data: p.Data}
		for _, part := range page.Split() {
			answer(&event.ConsultAnswer{Outcome: event.ConsultOK, Page: &part, Last: p.N == p.Of && part.Part == part.Parts})
		}
		sent++
		return nil
	})
	if err == nil && sent == 0 {
		err = render.ErrUnreadable
	}
	if err != nil {
		msg := "Ce document ne peut pas être affiché sur la tablette."
		switch {
		case errors.Is(err, render.ErrUnsafe):
			msg = "Ce document contient du code actif : il n'est pas affiché, par sécurité."
		case errors.Is(err, render.ErrUnsupported):
			msg = "Ce document est dans un format que la tablette n'affiche pas."
		case errors.Is(err, render.ErrTooLong):
			msg = "Ce document est trop long pour la tablette : consultez-le sur un poste de l'établissement."
		}
		f.audit("dmp.consult.unreadable", r.ID, err.Error())
		answer(&event.ConsultAnswer{Outcome: event.ConsultUnreadable, Message: msg, Last: true})
	}
}

// ward is the unit's inpatients, the INS kept only when qualified.
func (f *Flow) ward(r *event.ConsultRequest, holder cps.Holder, finess, unit string) *event.ConsultAnswer {
	a := &event.ConsultAnswer{Last: true}
	if f.cfg.Ward == nil {
		a.Outcome, a.Message = event.ConsultUnavailable, "La liste des patients de l'unité n'est pas tenue par la passerelle (pas de GAM qui lui dise les admissions)."
		return a
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := f.cfg.Ward.WardList(ctx, unit)
	if err != nil {
		f.cfg.Logger.Error("bridge: a unit's inpatients", "error", err)
		a.Outcome, a.Message = event.ConsultUnavailable, "La liste des patients de l'unité n'a pas pu être lue : réessayez."
		return a
	}
	a.Outcome = event.ConsultOK
	for _, w := range l {
		p := event.WardPatient{IPP: w.IPP, BirthName: w.BirthName, FirstName: w.FirstName, BirthDate: w.BirthDate, Sex: w.Sex, Room: w.Room, Bed: w.Bed}
		if ins := (event.INS{Value: w.INS, OID: w.INSOID}); qualified(ins) {
			p.INS = &ins
		}
		a.Patients = append(a.Patients, p)
	}
	if len(l) == 0 {
		a.Message = "Aucun patient dans l'unité " + unit + "."
	}
	f.markNew(ctx, r, holder, finess, a.Patients)
	return a
}

// markNew marks the inpatients whose DMP received documents since the
// request's date (TD0.4, LASTDOC, in the professional's name; the VIHF
// names one of them, as it must name a patient). Without an answer the
// list goes unmarked.
func (f *Flow) markNew(ctx context.Context, r *event.ConsultRequest, holder cps.Holder, finess string, ps []event.WardPatient) {
	if r.Since.IsZero() {
		return
	}
	var any *event.INS
	for _, p := range ps {
		if p.INS != nil {
			any = p.INS
			break
		}
	}
	if any == nil {
		return
	}
	who := dmp.Who{Professional: event.Professional{NationalID: holder.NationalID, NationalIDType: holder.NationalIDType, CardType: holder.CardType,
		Surname: holder.Surname, FirstName: holder.FirstName, Profession: holder.Profession}, FINESS: finess,
		Patient: dmp.PatientID{Root: any.OID, Extension: any.Value}, Mode: dmp.ModeReinforced, Purpose: dmp.PurposeNormal}
	l, _, err := f.cfg.DMP.PatientList(ctx, who, r.Since, dmp.SinceLastDocument)
	if err != nil {
		f.cfg.Logger.Warn("bridge: the unit's new documents (TD0.4)", "error", err)
		return
	}
	for i, p := range ps {
		if p.INS == nil {
			continue
		}
		for _, d := range l {
			if d.Has(dmp.PatientID{Root: p.INS.OID, Extension: p.INS.Value}) {
				ps[i].NewDocuments = true
			}
		}
	}
}

// refused explains a refusal of the DMP: in normal mode, TD1.6 tells
// whether the patient blocked this professional, and says so.
func (f *Flow) refused(ctx context.Context, who dmp.Who, a *event.ConsultAnswer, err error) *event.ConsultAnswer {
	if errors.Is(err, dmp.ErrAccessDenied) && who.Purpose == dmp.PurposeNormal {
		if l, _, lerr := f.cfg.DMP.ListAuthorizations(ctx, who, dmp.ListForbidden); lerr == nil && dmp.Blocks(l, who.Professional.NationalID) {
			a.Last, a.Outcome = true, event.ConsultForbidden
			a.Message = "Le patient a bloqué votre accès à son DMP : il ne vous est pas permis de le consulter."
			return a
		}
	}
	return failed(a, err)
}

// qualified tells an INS the DMP can be asked by: a valid matricule under
// an INS authority's OID.
func qualified(p event.INS) bool {
	_, err := ins.NewINS(p.Value, p.OID)
	return err == nil
}

// failed says in words what the DMP's refusal or failure means.
func failed(a *event.ConsultAnswer, err error) *event.ConsultAnswer {
	a.Last = true
	var f *dmp.Fault
	var re *dmp.RegistryError
	switch {
	case errors.As(err, &re) && re.Code == "XDSDocumentUniqueIdError":
		a.Outcome, a.Message = event.ConsultForbidden, "Ce document n'est plus dans le DMP, ou ne vous est pas accessible."
	case errors.As(err, &re) && re.Code == "XDSUnknownPatientId":
		a.Outcome, a.Message = event.ConsultNoDMP, "Ce patient n'a pas de DMP."
	case errors.As(err, &re):
		a.Outcome, a.Message = event.ConsultUnavailable, "Le DMP a refusé la demande ("+re.Code+")."
	case errors.Is(err, dmp.ErrAccessDenied):
		reason := "accès refusé par le DMP"
		if errors.As(err, &f) && f.Reason != "" {
			reason = f.Reason
		}
		a.Outcome, a.Message = event.ConsultForbidden, "Le DMP refuse l'accès : "+reason+"."
	case errors.As(err, &f) && !f.Transient():
		a.Outcome, a.Message = event.ConsultForbidden, "Le DMP refuse la demande : "+f.Reason+"."
	default:
		a.Outcome, a.Message = event.ConsultUnavailable, "Le DMP ne répond pas : réessayez dans un instant."
	}
	return a
}
