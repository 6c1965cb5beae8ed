package feed

import (
	"cmp"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"dmpkiosk/bridge/dmp"
	"dmpkiosk/bridge/internal/work"
	"dmpkiosk/bridge/journal"
	"dmpkiosk/firmware/event"
)

// DMP is what the worker needs of the DMP's client (*dmp.Client).
type DMP interface {
	TestExistence(ctx context.Context, who dmp.Who) (dmp.Existence, dmp.Exchange, error)
	Feed(ctx context.Context, f dmp.Feeding, finess string) (dmp.Exchange, error)
	FindEntries(ctx context.Context, who dmp.Who, statuses ...string) ([]dmp.DocumentEntry, dmp.Exchange, error)
	Delete(ctx context.Context, who dmp.Who, entryUUID string, lot dmp.Lot) (dmp.Exchange, error)
}

// WorkStore is what the worker needs of the journal.
type WorkStore interface {
	DocClaim(ctx context.Context, now time.Time, n int) ([]journal.Document, error)
	DocSave(ctx context.Context, d journal.Document, kind, detail string) error
	AckEnqueue(ctx context.Context, a journal.Ack) error
}

// Worker sends the documents kept to the DMP, one at a time per patient:
// the DMP's own rules first, then TD0.2 (a patient who has not authorized
// the establishment: the document waits, and is tried again until
// AuthWait has passed), then TD2.1.
type Worker struct {
	Journal WorkStore
	DMP     DMP
	// Rules are the establishment's (rules.go); the zero value sends
	// every document the sender does not hold back.
	Rules Rules
	// FINESS is the establishment's geographic FINESS (the VIHF's
	// structure); SourceID the software's OID (the lots' ids under it).
	FINESS, SourceID string
	// AuthWait is how long a document waits for the patient's
	// authorization (30 days when zero; inferred: a stay's length and its
	// follow-up consultation); Recheck how often it looks again (15 min).
	AuthWait, Recheck time.Duration
	// Backoff is the first delay after a transient failure (30 s),
	// doubled up to work.MaxBackoff; MaxAttempts (20) then refused.
	Backoff     time.Duration
	MaxAttempts int
	Logger      *slog.Logger
	Now         func() time.Time
	// Name is the bridge's application in the acknowledgements (MSH-3,
	// DMPKIOSK when empty); AckWake, when set, is told one was queued.
	Name    string
	AckWake func()
	kick    chan struct{}
}

func (w *Worker) defaults() {
	if w.AuthWait == 0 {
		w.AuthWait = 30 * 24 * time.Hour
	}
	if w.Recheck == 0 {
		w.Recheck = 15 * time.Minute
	}
	if w.Backoff == 0 {
		w.Backoff = 30 * time.Second
	}
	if w.MaxAttempts == 0 {
		w.MaxAttempts = 20
	}
	if w.Logger == nil {
		w.Logger = slog.New(slog.DiscardHandler)
	}
	if w.Now == nil {
		w.Now = time.Now
	}
	if w.kick == nil {
		w.kick = make(chan struct{}, 1)
	}
}

// Wake makes the worker look at the journal now (a document kept, an
// authorization recorded).
func (w *Worker) Wake() {
	if w.kick == nil {
		return
	}
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Run works the documents until ctx ends.
func (w *Worker) Run(ctx context.Context) {
	w.defaults()
	idle := time.NewTimer(time.Second)
	defer idle.Stop()
	for ctx.Err() == nil {
		l, err := w.Journal.DocClaim(ctx, w.Now(), 1)
		if err != nil && ctx.Err() == nil {
			w.Logger.Error("feed: claiming documents", "error", err)
		}
		if len(l) == 0 {
			idle.Reset(time.Second)
			select {
			case <-ctx.Done():
			case <-w.kick:
			case <-idle.C:
			}
			continue
		}
		w.Work(ctx, l[0])
	}
}

// meta is what the intake kept of the message beside the CDA.
type meta struct {
	Version, Type, Status, IPP, Class, Title string
	// Completion is TXA-17, the document's completion status.
	Completion   string
	Author       Person
	Organization Organization
	Flags        map[string]bool
	// The message's sender and addressee (MSH-3 to MSH-6) and its
	// control id: what the business acknowledgement answers.
	App, Facility, Receiver, ReceiverFacility, Control string
}

// Work takes one document one step and saves where it stands.
func (w *Worker) Work(ctx context.Context, d journal.Document) {
	w.defaults()
	now := w.Now()
	var m meta
	if err := json.Unmarshal(d.Meta, &m); err != nil {
		w.settle(ctx, d, journal.DocRefused, "message illisible", "unreadable meta")
		return
	}
	h, err := dmp.ReadCDAHeader(d.CDA)
	if err != nil {
		w.settle(ctx, d, journal.DocRefused, "document CDA illisible", "unreadable CDA")
		return
	}
	deletion := d.Kind == "T04" || d.Kind == "R01/D"
	// A document the staff released from the held ones goes whatever the
	// sender's flag and the rules said.
	if d.ReleasedBy == "" && !deletion {
		if dest, said := m.Flags["DESTDMP"]; said && !dest {
			w.settle(ctx, d, journal.DocHeld, "non destiné au DMP (choix du professionnel, DESTDMP N)", "DESTDMP N")
			return
		}
		if ok, why := w.Rules.sends(h.Type.Code, d.Unit, h.Title, m.Completion); !ok {
			w.settle(ctx, d, journal.DocHeld, why, "rules")
			return
		}
	}
	invisible, said := m.Flags["INVISIBLE_PATIENT"]
	if !said {
		invisible = w.Rules.invisible(h.Type.Code, d.Unit)
	}
	// R and V confidentiality (HL7): the author restricted the document;
	// inferred: not shared unless a professional releases it.
	if c := h.Confidentiality.Code; (c == "R" || c == "V") && d.ReleasedBy == "" && !deletion {
		w.settle(ctx, d, journal.DocHeld, "confidentialité "+c+" : document restreint, non partagé sans décision d'un professionnel", "confidentiality "+c)
		return
	}
	// A minor under a secret connection: only documents invisible to the
	// legal representatives go (EX_2.1-1050, docs/feeding.md); unsaid,
	// the bridge makes it so; said otherwise, it is refused.
	repsInvisible := m.Flags["INVISIBLE_REP_LEGAUX"]
	if m.Flags["CONNEXION_SECRETE"] && minor(h.BirthDate, h.Effective) && !deletion {
		if said, ok := m.Flags["INVISIBLE_REP_LEGAUX"]; ok && !said {
			w.settle(ctx, d, journal.DocRefused, "patient mineur en connexion secrète : le document doit être invisible aux représentants légaux", "minor, secret connection")
			return
		}
		repsInvisible = true
	}
	if m.Flags["MASQUE_PS"] && invisible && !deletion {
		w.settle(ctx, d, journal.DocRefused, "un document ne peut être à la fois masqué aux professionnels et invisible au patient", "masked and invisible")
		return
	}
	prof, spec := dmp.ProfessionOf(h.AuthorSpecialty.Code)
	pid := dmp.PatientID{Root: h.INSOID, Extension: h.INS}
	who := dmp.Who{Professional: event.Professional{NationalID: m.Author.ID, NationalIDType: "RPPS", Surname: m.Author.Family,
		FirstName: m.Author.Given, Profession: prof, Speciality: spec}, FINESS: w.FINESS, Patient: pid,
		// The establishment acts alone (its certificate, the document's
		// sender named): it did not authenticate him (PDT-INF-526).
		Mode: dmp.ModeIndirect}
	ex, _, err := w.DMP.TestExistence(ctx, who)
	if err != nil {
		d.Attempts++
		w.failed(ctx, d, err)
		return
	}
	switch {
	case !ex.Exists:
		w.settle(ctx, d, journal.DocRefused, "le patient n'a pas de DMP", "no DMP")
		return
	case ex.Authorization == dmp.AuthRefused:
		w.settle(ctx, d, journal.DocRefused, "le patient a refusé l'accès de l'établissement à son DMP", "authorization "+ex.Authorization)
		return
	case ex.Authorization != dmp.AuthValid:
		if now.Sub(d.Received) > w.AuthWait {
			w.settle(ctx, d, journal.DocRefused, "autorisation du patient non reçue dans le délai", "authorization "+ex.Authorization+", gave up")
			return
		}
		d.State, d.Next, d.Error = journal.DocWaiting, now.Add(w.Recheck), "en attente d'autorisation"
		w.save(ctx, d, "document.waiting", "authorization "+ex.Authorization)
		return
	}
	author := dmp.XDSAuthor{ID: m.Author.ID, Family: m.Author.Family, Given: m.Author.Given, Specialty: h.AuthorSpecialty,
		Institution: m.Organization.Name, InstitutionID: structureID(m.Organization)}
	lot, sig := dmp.NewLotIDs(w.SourceID, d.Received)
	if deletion {
		w.delete(ctx, d, h, who, dmp.Lot{Author: author, ContentType: contentType(m.Class), SourceID: w.SourceID, ID: lot, Time: now})
		return
	}
	f := dmp.Feeding{CDA: d.CDA, Header: h, MaskedToProfessionals: m.Flags["MASQUE_PS"], InvisibleToPatient: invisible,
		InvisibleToLegalRepresentatives: repsInvisible, Author: author,
		ContentType: contentType(m.Class), SourceID: w.SourceID, LotID: lot, SignatureID: sig, Time: now}
	note := "sent"
	if d.Kind == "T10" || d.Kind == "R01/C" {
		// A replacement names the entry it replaces by its entryUUID,
		// which TD3.1 gives (the original went first: one patient's
		// documents go in order). The original not in the DMP (held,
		// refused, deleted): the new version goes as a first one
		// (inferred: what the sender wants is the document in the DMP).
		replaced := cmp.Or(h.Replaces, d.Replaces)
		l, _, err := w.DMP.FindEntries(ctx, who)
		if err != nil {
			d.Attempts++
			w.failed(ctx, d, err)
			return
		}
		if e, ok := entryOf(l, replaced); ok {
			f.Replaces, note = e.EntryUUID, "sent, replacing "+e.EntryUUID
		} else {
			note = "sent as a first version: the replaced document is not in the DMP"
		}
	}
	// Counted before it is sent: a try whose answer was lost is known
	// at the next one.
	d.Attempts++
	if !w.save(ctx, d, "document.sending", fmt.Sprintf("attempt=%d lot=%s", d.Attempts, lot)) {
		return
	}
	_, err = w.DMP.Feed(ctx, f, w.FINESS)
	var re *dmp.RegistryError
	switch {
	case err == nil:
		w.settle(ctx, d, journal.DocSent, "", note)
	case errors.As(err, &re) && re.Code == "XDSDuplicateUniqueIdInRegistry":
		w.duplicate(ctx, d, who, h)
	case errors.As(err, &re) && !re.Transient():
		w.settle(ctx, d, journal.DocRefused, "refusé par le DMP : "+re.Code, "registry "+re.Code)
	case errors.Is(err, dmp.ErrFeeding) || errors.Is(err, dmp.ErrCDA):
		w.settle(ctx, d, journal.DocRefused, err.Error(), "not sendable")
	default:
		w.failed(ctx, d, err)
	}
}

// minor tells whether a patient born on birth (YYYYMMDD, as the CDA
// writes it) was under 18 at the document's time.
func minor(birth string, at time.Time) bool {
	b, err := time.Parse("20060102", birth[:min(len(birth), 8)])
	if err != nil {
		return false
	}
	return at.Before(b.AddDate(18, 0, 0))
}

// entryOf is the entry of uniqueId id in a TD3.1 list.
func entryOf(l []dmp.DocumentEntry, id string) (dmp.DocumentEntry, bool) {
	for _, e := range l {
		if e.UniqueID == id && id != "" {
			return e, true
		}
	}
	return dmp.DocumentEntry{}, false
}

// duplicate settles a document whose uniqueId the DMP has already: TD3.1
// says whether the entry there is this very document (the registry's
// SHA-1 of it: an earlier try whose answer was lost, or the same document
// sent again) — then it is in the DMP and not sent twice — or another
// one under the same id, which is refused.
func (w *Worker) duplicate(ctx context.Context, d journal.Document, who dmp.Who, h dmp.CDAHeader) {
	l, _, err := w.DMP.FindEntries(ctx, who, dmp.StatusApproved, dmp.StatusDeprecated)
	if err != nil {
		w.failed(ctx, d, err)
		return
	}
	sum := sha1.Sum(d.CDA)
	e, ok := entryOf(l, h.UniqueID)
	switch {
	case ok && strings.EqualFold(e.Hash, hex.EncodeToString(sum[:])):
		w.settle(ctx, d, journal.DocSent, "", "already in the DMP, unchanged: not sent again ("+e.EntryUUID+")")
	case ok:
		w.settle(ctx, d, journal.DocRefused, "un autre document porte déjà cet identifiant dans le DMP", "registry XDSDuplicateUniqueIdInRegistry")
	default:
		// Not listed to this establishment (masked by another author) or
		// deleted: the DMP's word stands.
		w.settle(ctx, d, journal.DocRefused, "identifiant déjà présent dans le DMP", "registry XDSDuplicateUniqueIdInRegistry")
	}
}

// delete is TD3.3c for a deletion message: the entry of the document's
// uniqueId, found by TD3.1, deleted in a lot of the establishment's. A
// document not in the DMP is refused as such, unless an earlier try's
// answer was lost (it was deleted then).
func (w *Worker) delete(ctx context.Context, d journal.Document, h dmp.CDAHeader, who dmp.Who, lot dmp.Lot) {
	l, _, err := w.DMP.FindEntries(ctx, who)
	if err != nil {
		d.Attempts++
		w.failed(ctx, d, err)
		return
	}
	e, ok := entryOf(l, h.UniqueID)
	switch {
	case !ok && d.Attempts > 0:
		w.settle(ctx, d, journal.DocSent, "", "deleted (by an earlier try)")
		return
	case !ok:
		w.settle(ctx, d, journal.DocRefused, "document à supprimer absent du DMP", "not in the DMP")
		return
	}
	d.Attempts++
	if !w.save(ctx, d, "document.deleting", fmt.Sprintf("attempt=%d entry=%s", d.Attempts, e.EntryUUID)) {
		return
	}
	_, err = w.DMP.Delete(ctx, who, e.EntryUUID, lot)
	var re *dmp.RegistryError
	switch {
	case err == nil:
		w.settle(ctx, d, journal.DocSent, "", "deleted "+e.EntryUUID)
	case errors.As(err, &re) && !re.Transient():
		w.settle(ctx, d, journal.DocRefused, "suppression refusée par le DMP : "+re.Code, "registry "+re.Code)
	default:
		w.failed(ctx, d, err)
	}
}

// failed is a failure of the DMP's call: a final fault refuses the
// document, anything else is tried again later.
func (w *Worker) failed(ctx context.Context, d journal.Document, err error) {
	var f *dmp.Fault
	if errors.As(err, &f) && !f.Transient() {
		w.settle(ctx, d, journal.DocRefused, "refusé par le DMP : "+f.Subcode, "fault "+f.Subcode)
		return
	}
	if d.Attempts >= w.MaxAttempts {
		w.settle(ctx, d, journal.DocRefused, "le DMP ne répond pas", "gave up")
		return
	}
	d.State, d.Next = journal.DocRetry, w.Now().Add(work.Backoff(w.Backoff, d.Attempts))
	d.Error = "nouvelle tentative prévue"
	if f != nil {
		d.Error += " (" + f.Subcode + ")"
	}
	w.Logger.Warn("feed: a document will be sent again", "document", d.ID, "attempt", d.Attempts)
	w.save(ctx, d, "document.retry", fmt.Sprintf("attempt=%d", d.Attempts))
}

// settle records what became of a document; sent or refused, the
// business acknowledgement is queued first (once per document), so that a
// stop between the two loses nothing: the document is worked again and
// the acknowledgement not doubled.
func (w *Worker) settle(ctx context.Context, d journal.Document, state, why, detail string) {
	if state == journal.DocSent || state == journal.DocRefused {
		var m meta
		json.Unmarshal(d.Meta, &m)
		name := w.Name
		if name == "" {
			name = "DMPKIOSK"
		}
		code, label := "", ""
		if state == journal.DocRefused {
			code, label = refusalCode(detail), why
		}
		ack := journal.Ack{ID: d.ID, Sender: m.App, Message: ZAM(name, m, state == journal.DocSent, code, label, w.Now()), Created: w.Now()}
		if err := w.Journal.AckEnqueue(ctx, ack); err != nil {
			w.Logger.Error("feed: queuing an acknowledgement", "document", d.ID, "error", err)
			return // worked again after its lease: nothing lost
		}
		if w.AckWake != nil {
			w.AckWake()
		}
	}
	d.State, d.Error = state, why
	w.save(ctx, d, "document."+state, detail)
}

// refusalCode is the code a refusal's acknowledgement carries: the DMP's
// (a fault's subcode, a registry's IHE code) or the bridge's own.
func refusalCode(detail string) string {
	for _, p := range []string{"fault ", "registry "} {
		if c, ok := strings.CutPrefix(detail, p); ok {
			return c
		}
	}
	return "DMPKIOSK_" + strings.ToUpper(strings.ReplaceAll(detail, " ", "_"))
}

func (w *Worker) save(ctx context.Context, d journal.Document, kind, detail string) bool {
	if err := w.Journal.DocSave(ctx, d, kind, detail); err != nil {
		w.Logger.Error("feed: saving a document's state", "document", d.ID, "error", err)
		return false
	}
	return true
}

// structureID is the national structure id (IDNST) of an organisation
// PRT SB names by FINESS: 1 then the FINESS (inferred from the ids of the
// package's examples).
func structureID(o Organization) string {
	if (o.IDType == "FINEG" || o.IDType == "FINEJ") && len(o.ID) == 9 {
		return "1" + o.ID
	}
	return o.ID
}

// contentType is the lot's contentTypeCode by the patient's class
// (PV1-2), 07 (consultation) when not given.
func contentType(class string) dmp.Code {
	c, ok := dmp.ContentTypeOfClass[class]
	if !ok {
		c = "07"
	}
	return dmp.Code{Code: c, System: dmp.CSContentType}
}
