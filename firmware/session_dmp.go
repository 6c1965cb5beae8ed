package firmware

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"dmpkiosk/display"
	"dmpkiosk/display/input"
	"dmpkiosk/firmware/event"
	ins2 "dmpkiosk/ins"
)

// Reading the patient's DMP at the bedside (the tablet's context,
// "bedside"): once INSi's identity is retained (an INS qualified), the
// professional signed in with his card chooses to read the DMP, in normal
// mode or in an emergency (bris de glace, with a reason), or to go on to
// the information and consent. Each request is signed by the device and
// his card and goes to the bridge (Link.AskDMP); the answers, encrypted
// to a key made for the request, come on Lookups. The document's pages
// go to the tablet's web view only, in memory, and are wiped when the
// professional goes back to the list, at the end of the session, when a
// card leaves and at the idle lock (forget).

// ContextBedside is the bedside tablet's context (provisioning.Contexts).
const ContextBedside = "bedside"

// consultWait bounds the wait for the DMP's answer through the bridge
// (Config.DMPWait; a vendor seen in public waits up to 90 s for TD3.2).
func (s *Session) consultWait() time.Duration {
	if s.Config.DMPWait.Duration > 0 {
		return s.Config.DMPWait.Duration
	}
	return 60 * time.Second
}

// consultState is the consultation of the session, wiped with it.
type consultState struct {
	id        string
	reply     *ecdsa.PrivateKey
	menu      int    // the menu's cursor
	purpose   string // normal or bris_de_glace
	reason    int    // the emergency reason's cursor
	entries   []event.ConsultEntry
	cursor    int
	agree     int // the agreement's cursor
	doc       *display.Document
	docTitle  string
	partial   []byte // the parts of the page coming, in order
	lastError string
	action    string // the request waited for
	// The unit's inpatients, the cursor and the room typed to find one.
	ward       []event.WardPatient
	wardCursor int
	wardFilter []byte
}

func (c *consultState) wipe() {
	clear(c.partial)
	if c.doc != nil {
		for _, p := range c.doc.Pages {
			clear(p.Data)
		}
	}
	*c = consultState{}
}

// Choices of the bedside menu.
var dmpMenu = []string{"Consulter le DMP du patient", "Accès en urgence (bris de glace)", "Recueillir l'information et le consentement"}

// atBedside tells whether the session offers to read the DMP: the
// tablet's context, INSi's identity retained.
func (s *Session) atBedside() bool {
	return s.Config.Context == ContextBedside && s.lookup.taken && s.lookup.answer != nil && s.lookup.answer.INS != nil && s.Link != nil
}

// menu is the bedside menu: the information and consent only with the
// patient's carte Vitale in.
func (s *Session) menu() []string {
	if s.patient() == nil {
		return dmpMenu[:2]
	}
	return dmpMenu
}

func (s *Session) showDMPMenu() state {
	t := s.lookup.answer.Traits
	who := ""
	if t != nil {
		who = t.BirthName + " " + t.FirstName
	}
	body := []string{"Patient : " + who + " (identité qualifiée)"}
	if s.fromWard() {
		body = append(body, "* : revenir aux patients de l'unité")
	}
	s.show(display.DMPChoice(s.status(), "Que souhaitez-vous faire ?", body, s.menu(), s.consult.menu))
	return stDMPMenu
}

// fromWard tells whether the patient was chosen from the unit's list
// (no carte Vitale in): the professional may go back to it for the next
// patient, signed in still.
func (s *Session) fromWard() bool { return s.patient() == nil && s.bedsideWard() }

func (s *Session) inputDMPMenu(ctx context.Context, in input.Event) state {
	if in.Key == '*' && s.fromWard() {
		// The next patient: this one's identity and documents wiped.
		s.lookup.wipe()
		s.consult.wipe()
		s.Display.ClearDocument()
		return s.askWard()
	}
	switch in.Button {
	case input.Non:
		s.consult.menu = (s.consult.menu + 1) % len(s.menu())
		return s.showDMPMenu()
	case input.Oui, input.Valider:
		switch s.consult.menu {
		case 0:
			s.consult.purpose = event.PurposeNormal
			return s.askDMP(ctx, event.ConsultList, nil)
		case 1:
			s.consult.purpose = event.PurposeBrisDeGlace
			return s.showReasons()
		default:
			return s.startConsent()
		}
	}
	return stDMPMenu
}

func (s *Session) showReasons() state {
	s.show(display.DMPChoice(s.status(), "Motif de l'accès en urgence", []string{
		"L'accès en urgence est réservé à une situation d'urgence ; il est tracé et le patient peut en être informé."},
		event.EmergencyReasons, s.consult.reason))
	return stDMPReason
}

func (s *Session) inputDMPReason(ctx context.Context, in input.Event) state {
	switch in.Button {
	case input.Non:
		s.consult.reason = (s.consult.reason + 1) % len(event.EmergencyReasons)
		return s.showReasons()
	case input.Oui, input.Valider:
		return s.askDMP(ctx, event.ConsultList, nil)
	}
	return stDMPReason
}

// askDMP signs (device and card), seals and sends one request, then waits.
func (s *Session) askDMP(ctx context.Context, action string, entry *event.ConsultEntry) state {
	if !s.Link.Online() {
		return s.dmpNotice(display.Warning, "DMP injoignable", "La tablette est hors ligne : le DMP ne peut pas être consulté pour l'instant.")
	}
	pro := s.professional()
	if pro == nil || pro.cps == nil || pro.info == nil {
		return s.dmpNotice(display.Danger, "Carte professionnelle absente", "Connectez-vous avec votre carte pour consulter le DMP.")
	}
	signer, err := pro.cps.Signer(ctx)
	if err != nil {
		return s.dmpNotice(display.Danger, txtNoSignatureTitle, Message(err))
	}
	cert, err := pro.cps.Certificate(ctx, true)
	if err != nil {
		return s.dmpNotice(display.Danger, txtNoSignatureTitle, Message(err))
	}
	id, err := uuid.NewV7()
	if err != nil {
		return s.dmpNotice(display.Danger, txtImpossibleTitle, Message(err))
	}
	reply, err := event.NewReplyKey()
	if err != nil {
		return s.dmpNotice(display.Danger, txtImpossibleTitle, Message(err))
	}
	p := pro.info.Holder
	req := &event.ConsultRequest{ID: id.String(), Device: s.Config.DeviceID, Time: s.now().UTC(),
		Site: event.Site{FINESS: s.Config.Site, Unit: s.Config.Unit},
		Professional: event.Professional{NationalID: p.NationalID, NationalIDType: p.NationalIDType, CardType: p.CardType, CardSerial: pro.info.Serial,
			Surname: p.Surname, FirstName: p.FirstName, Profession: p.Profession, Speciality: p.Speciality},
		Action: action, Purpose: s.consult.purpose}
	if action != event.ConsultWard {
		req.Patient = *s.lookup.answer.INS
	} else {
		// The round's overview: the patients whose DMP received documents
		// in the last three days (inferred: a round's horizon).
		req.Since = s.now().UTC().Add(-72 * time.Hour)
	}
	if s.consult.purpose == event.PurposeBrisDeGlace {
		req.Reason = event.EmergencyReasons[s.consult.reason]
	}
	if entry != nil {
		req.UniqueID, req.Repository = entry.UniqueID, entry.Repository
	}
	sealed, err := event.SealConsult(req, reply, s.Creds.Device, event.Signer{Key: signer, Chain: []*x509.Certificate{cert}}, s.Creds.BridgeKey)
	if err == nil {
		err = s.Link.AskDMP(sealed)
	}
	if err != nil {
		s.Logger.Warn("session: DMP consultation not sent", "error", err)
		return s.dmpNotice(display.Warning, "DMP injoignable", "La demande n'a pas pu être envoyée : réessayez.")
	}
	s.consult.id, s.consult.reply, s.consult.action = req.ID, reply, action
	s.idle.Reset(s.consultWait())
	what := "Interrogation du DMP…"
	switch action {
	case event.ConsultDocument:
		what = "Récupération du document…"
	case event.ConsultWard:
		what = "Patients de l'unité…"
	}
	s.show(display.DMPWaiting(s.status(), what))
	return stDMPWait
}

// onConsult takes an answer to the request the session waits for: the
// list, the patient's agreement to ask, a page of the document, or what
// refused it.
func (s *Session) onConsult(sealed event.Sealed) state {
	if sealed.Consult == "" || sealed.Consult != s.consult.id || (s.st != stDMPWait && s.st != stDMPDoc) {
		return s.st
	}
	a, err := event.OpenConsultAnswer(sealed, s.consult.reply, s.consult.id)
	if err != nil {
		s.Logger.Warn("session: a DMP answer could not be opened", "error", err)
		return s.dmpNotice(display.Warning, "Réponse illisible", "La réponse du DMP n'a pas pu être lue : réessayez.")
	}
	s.touch()
	if a.Last {
		s.consult.id = ""
	}
	switch {
	case a.Page != nil:
		if s.consult.doc == nil {
			s.consult.doc = &display.Document{Title: s.consult.docTitle}
		}
		p := a.Page
		if p.Parts > 1 {
			// A page in parts: kept until its last part.
			if p.Part == 1 {
				clear(s.consult.partial)
				s.consult.partial = nil
			}
			s.consult.partial = append(s.consult.partial, p.Data...)
			if p.Part < p.Parts {
				return s.st
			}
			p.Data, s.consult.partial = s.consult.partial, nil
		}
		s.consult.doc.Pages = append(s.consult.doc.Pages, display.Page{N: p.N, Of: p.Of, Type: p.Type, Data: p.Data})
		s.Display.ShowDocument(*s.consult.doc)
		s.show(display.DMPDocument(s.status(), s.consult.docTitle, len(s.consult.doc.Pages), a.Page.Of))
		return stDMPDoc
	case a.Outcome == event.ConsultOK && s.st == stDMPWait && s.consult.action == event.ConsultWard:
		s.consult.ward, s.consult.wardCursor = a.Patients, 0
		return s.showWard()
	case a.Outcome == event.ConsultOK && s.st == stDMPWait:
		s.consult.entries, s.consult.cursor = a.Entries, 0
		return s.showDMPList()
	case a.Outcome == event.ConsultOK:
		return s.st // the document's last, empty answer
	case a.Outcome == event.ConsultNotAuthorized:
		s.consult.agree = 0
		return s.showAgree(a.Message)
	}
	title := map[string]string{event.ConsultNoDMP: "Pas de DMP", event.ConsultForbidden: "Accès refusé", event.ConsultUnavailable: "DMP indisponible",
		event.ConsultUnreadable: "Document non affichable", event.ConsultRefused: "Demande refusée"}[a.Outcome]
	if title == "" {
		title = "DMP"
	}
	tone := display.Warning
	if a.Outcome == event.ConsultForbidden || a.Outcome == event.ConsultRefused {
		tone = display.Danger
	}
	return s.dmpNotice(tone, title, a.Message)
}

var agreeItems = []string{"Oui, le patient est d'accord", "Non"}

func (s *Session) showAgree(msg string) state {
	s.consult.lastError = msg
	s.show(display.DMPChoice(s.status(), "Accord du patient", []string{msg}, agreeItems, s.consult.agree))
	return stDMPAgree
}

func (s *Session) inputDMPAgree(ctx context.Context, in input.Event) state {
	switch in.Button {
	case input.Non:
		s.consult.agree = (s.consult.agree + 1) % len(agreeItems)
		return s.showAgree(s.consult.lastError)
	case input.Oui, input.Valider:
		if s.consult.agree == 0 {
			return s.askDMP(ctx, event.ConsultAuthorize, nil)
		}
		return s.dmpNotice(display.Warning, "Pas d'accord du patient", "Sans l'accord du patient, son DMP n'est pas consulté.")
	}
	return stDMPAgree
}

// showDMPList lists the documents: local date, type in French, title,
// marked when the patient does not see it, its author and establishment.
func (s *Session) showDMPList() state {
	items := make([]string, len(s.consult.entries))
	for i, e := range s.consult.entries {
		items[i] = fmt.Sprintf("%s · %s · %s", e.Date.In(time.Local).Format("02/01/2006 15:04"), e.TypeLabel, e.Title)
		if e.InvisibleToPatient {
			items[i] += " · non visible du patient"
		}
		switch {
		case e.Author != "" && e.Institution != "":
			items[i] += " · " + e.Author + ", " + e.Institution
		case e.Author != "" || e.Institution != "":
			items[i] += " · " + e.Author + e.Institution
		}
	}
	s.show(display.DMPList(s.status(), items, s.consult.cursor, s.consult.purpose == event.PurposeBrisDeGlace))
	return stDMPList
}

func (s *Session) inputDMPList(ctx context.Context, in input.Event) state {
	n := len(s.consult.entries)
	switch {
	case in.Button == input.Non && n > 0:
		s.consult.cursor = (s.consult.cursor + 1) % n
		return s.showDMPList()
	case in.Key == '*':
		// Back to the menu: another mode, the consent, the list asked
		// again.
		s.consult.entries, s.consult.cursor = nil, 0
		return s.showDMPMenu()
	case (in.Button == input.Oui || in.Button == input.Valider) && n > 0:
		e := s.consult.entries[s.consult.cursor]
		if !s.Display.ShowsDocuments() {
			return s.dmpNotice(display.Neutral, "Lecture sur la tablette", "Le document se lit sur la tablette de chevet : cet écran en montre la liste.")
		}
		s.Display.ClearDocument()
		s.consult.doc, s.consult.docTitle = nil, e.TypeLabel+" · "+e.Title
		return s.askDMP(ctx, event.ConsultDocument, &e)
	}
	return stDMPList
}

// inputDMPDoc: Non goes back to the list, the document wiped.
func (s *Session) inputDMPDoc(_ context.Context, in input.Event) state {
	if in.Button == input.Non || in.Button == input.Valider {
		s.closeDocument()
		return s.showDMPList()
	}
	return stDMPDoc
}

func (s *Session) closeDocument() {
	s.Display.ClearDocument()
	if s.consult.doc != nil {
		for _, p := range s.consult.doc.Pages {
			clear(p.Data)
		}
	}
	s.consult.doc, s.consult.id = nil, ""
}

func (s *Session) dmpNotice(tone display.Tone, title, body string) state {
	s.consult.id = ""
	s.show(display.DMPNotice(s.status(), tone, title, body))
	return stDMPNotice
}

// inputDMPNotice: Valider goes back to the list when there is one, else to
// the menu.
func (s *Session) inputDMPNotice(_ context.Context, in input.Event) state {
	if in.Button == input.Valider || in.Button == input.Oui || in.Key == '#' {
		switch {
		case s.consult.entries != nil:
			return s.showDMPList()
		case s.lookup.answer != nil && s.lookup.answer.INS != nil:
			return s.showDMPMenu()
		case s.consult.ward != nil:
			return s.showWard()
		}
		return s.askWard()
	}
	return stDMPNotice
}

// bedsideWard tells whether the professional's card alone starts a
// session: at the bedside, the patient then chosen from the unit's
// inpatients.
func (s *Session) bedsideWard() bool {
	return s.Config.Context == ContextBedside && s.Link != nil
}

// askWard asks the bridge for the unit's inpatients.
func (s *Session) askWard() state {
	s.consult.purpose = event.PurposeNormal
	return s.askDMP(s.ctx, event.ConsultWard, nil)
}

// wardShown are the inpatients the room typed keeps (all when none).
func (s *Session) wardShown() []event.WardPatient {
	if len(s.consult.wardFilter) == 0 {
		return s.consult.ward
	}
	var out []event.WardPatient
	for _, p := range s.consult.ward {
		if strings.HasPrefix(p.Room, string(s.consult.wardFilter)) {
			out = append(out, p)
		}
	}
	return out
}

// showWard lists the unit's inpatients (room, name, birth date), those
// whose identity is not qualified marked: their DMP cannot be read.
func (s *Session) showWard() state {
	l := s.wardShown()
	items := make([]string, len(l))
	for i, p := range l {
		items[i] = fmt.Sprintf("Ch. %s%s · %s %s · %s", p.Room, p.Bed, p.BirthName, p.FirstName, dateFR(p.BirthDate))
		if p.INS == nil {
			items[i] += " · identité non qualifiée"
		}
		if p.NewDocuments {
			items[i] += " · nouveaux documents"
		}
	}
	body := []string{"Tapez le numéro de chambre pour chercher (* : effacer)."}
	if f := string(s.consult.wardFilter); f != "" {
		body = []string{"Chambre " + f + "… (* : effacer)"}
	}
	s.consult.wardCursor = min(s.consult.wardCursor, max(0, len(l)-1))
	switch {
	case len(l) == 0:
		body = append(body, "Aucun patient.")
	case len(l) > 1:
		// Where the cursor is, for the panels that show a few lines.
		body = append(body, fmt.Sprintf("Patient %d sur %d", s.consult.wardCursor+1, len(l)))
	}
	sc := display.DMPChoice(s.status(), "Patients de l'unité "+s.Config.Unit, body, items, s.consult.wardCursor)
	if len(l) > 1 {
		sc.ShortTitle = fmt.Sprintf("Patients %d/%d", s.consult.wardCursor+1, len(l))
	}
	s.show(sc)
	return stWard
}

func (s *Session) inputWard(_ context.Context, in input.Event) state {
	l := s.wardShown()
	switch {
	case in.Key >= '0' && in.Key <= '9' && len(s.consult.wardFilter) < 6:
		s.consult.wardFilter = append(s.consult.wardFilter, byte(in.Key))
		s.consult.wardCursor = 0
	case in.Key == '*':
		s.consult.wardFilter, s.consult.wardCursor = nil, 0
	case in.Button == input.Non && len(l) > 0:
		s.consult.wardCursor = (s.consult.wardCursor + 1) % len(l)
	case (in.Button == input.Oui || in.Button == input.Valider) && len(l) > 0:
		p := l[s.consult.wardCursor]
		if p.INS == nil {
			return s.dmpNotice(display.Warning, "Identité non qualifiée",
				"L'INS de ce patient n'est pas qualifiée : son DMP ne peut pas être consulté. Passez par sa carte Vitale et l'INSi.")
		}
		ins := *p.INS
		s.lookup.answer = &event.LookupAnswer{INS: &ins, Traits: &ins2.Traits{BirthName: p.BirthName, FirstName: p.FirstName, Sex: p.Sex,
			BirthDate: p.BirthDate}}
		s.lookup.taken = true
		s.consult.menu = 0
		return s.showDMPMenu()
	}
	return s.showWard()
}
