package display

import (
	"fmt"
	"strings"
	"time"

	"golang.org/x/text/language"

	"dmpkiosk/display/lang"
)

// Kind is which screen of the kiosk session is shown.
type Kind int

// The screens of the session (shared/docs/architecture.md).
const (
	KindIdle Kind = iota
	KindReading
	KindChooseBeneficiary
	KindEnterPIN
	KindCardProblem
	KindIdentity
	KindConsent
	KindSending
	KindQueued
	KindResult
	KindError
	KindSelfTest
	KindINSi       // waiting for INSi
	KindINSiTraits // INSi's traits, to compare with the document
	KindBirthPlace // the birth place typed for a new search
	KindINSiNotice // what INSi's answer means for the identity, and what to do
	KindLanguage   // the patient chooses the information's language
	KindInfo       // a page of the DMP information, in the patient's language
	KindDMP        // reading the patient's DMP at the bedside: a choice, a wait, a notice
	KindDMPList    // the documents of the patient's DMP
	KindDMPDoc     // a document shown on the tablet
)

var kindNames = [...]string{"idle", "reading", "choose", "pin", "card-problem", "identity", "consent",
	"sending", "queued", "result", "error", "selftest", "insi", "insi-traits", "birth-place", "insi-notice", "language", "info",
	"dmp", "dmp-list", "dmp-doc"}

func (k Kind) String() string { return kindNames[k] }

// Tone colours a screen: what the staff must notice at a glance.
type Tone int

// Tones.
const (
	Neutral Tone = iota
	Success
	Warning
	Danger
)

// Status is the line at the top of every screen.
type Status struct {
	Online bool
	Queue  int       // events waiting in the outbox
	Slots  [2]string // what each slot holds: "", "Vitale", "CPS"...
	// SignedIn names the professional signed in (their card stays in, its
	// PIN verified), "" when nobody is.
	SignedIn string
}

// compact is the status line of the smallest panels.
func (st Status) compact() string {
	net := "hors ligne"
	if st.Online {
		net = "en ligne"
	}
	slot := func(s string) string {
		if s == "" {
			return "-"
		}
		return s[:1]
	}
	q := ""
	if st.Queue > 0 {
		q = fmt.Sprintf(" · %d att.", st.Queue)
	}
	who := ""
	if st.SignedIn != "" {
		who = " · " + st.SignedIn
	}
	return fmt.Sprintf("%s%s · %s %s%s", net, q, slot(st.Slots[0]), slot(st.Slots[1]), who)
}

func (st Status) text() string {
	net := "hors ligne"
	if st.Online {
		net = "en ligne"
	}
	parts := []string{net}
	if st.Queue > 0 {
		parts = append(parts, fmt.Sprintf("%d en attente", st.Queue))
	}
	for i, s := range st.Slots {
		if s == "" {
			s = "vide"
		}
		parts = append(parts, fmt.Sprintf("L%d %s", i+1, s))
	}
	if st.SignedIn != "" {
		parts = append(parts, "connecté : "+st.SignedIn)
	}
	return strings.Join(parts, " · ")
}

// Screen is everything one screen shows. The firmware builds it with the
// constructors below; renderers draw it at any size.
type Screen struct {
	Kind       Kind
	Tone       Tone
	Title      string
	ShortTitle string   // for the smallest panels; Title when empty
	Body       []string // paragraphs, wrapped by the renderer
	Items      []string // choices: beneficiaries, answers
	Cursor     int      // the highlighted item
	PINDigits  int      // digits typed so far, shown masked
	PINMax     int
	Hint       string // what the buttons do
	Status     Status
	Scroll     int // first line of the body shown, for text that does not fit
	// Lang is the language of the title, body, items and hint (BCP 47;
	// "" is French); RTL lays them out right to left. The status line,
	// for the staff, stays in French.
	Lang string
	RTL  bool
	// Progress, when set, is a wait under way: what it waits for and how
	// long it has lasted, drawn as a bar.
	Progress *Progress
}

// Text is the screen as plain text, in reading order: for screen readers,
// logs of what was shown (it holds no PIN), and tests.
func (s Screen) Text() string {
	var b strings.Builder
	b.WriteString(s.Status.text() + "\n")
	b.WriteString(s.Title + "\n")
	for _, p := range s.Body {
		b.WriteString(p + "\n")
	}
	for i, it := range s.Items {
		mark := "  "
		if i == s.Cursor {
			mark = "> "
		}
		b.WriteString(mark + it + "\n")
	}
	if s.PINMax > 0 {
		b.WriteString("Code : " + strings.Repeat("●", s.PINDigits) + strings.Repeat("_", s.PINMax-s.PINDigits) + "\n")
	}
	if s.Progress != nil {
		b.WriteString(s.Progress.text() + "\n")
	}
	if s.Hint != "" {
		b.WriteString(s.Hint + "\n")
	}
	return b.String()
}

// LanguageChoice lets the patient choose the information's language:
// each named in itself, the title and hint in the language under the
// cursor.
func LanguageChoice(st Status, set *lang.Set, cursor int) Screen {
	tags := set.Tags()
	var names []string
	for _, t := range tags {
		names = append(names, set.Name(t))
	}
	t := tags[cursor]
	p := set.Printer(t)
	return Screen{Kind: KindLanguage, Title: p.Sprintf("language.choose"), Items: names, Cursor: cursor,
		Hint: p.Sprintf("language.hint"), Status: st, Lang: t.String(), RTL: lang.RightToLeft(t)}
}

// InfoPage is page i (from 0) of the DMP information in language t.
func InfoPage(st Status, set *lang.Set, t language.Tag, i int) Screen {
	pages := set.Pages(t)
	p := set.Printer(t)
	return Screen{Kind: KindInfo, Title: pages[i].Title, Body: []string{pages[i].Body, p.Sprintf("info.page", i+1, len(pages))},
		Hint: p.Sprintf("info.hint"), Status: st, Lang: t.String(), RTL: lang.RightToLeft(t)}
}

// Idle invites the staff to insert the cards.
func Idle(st Status) Screen {
	return Screen{Kind: KindIdle, Title: "Insérez les cartes", Status: st,
		Body: []string{"Carte Vitale du patient et carte professionnelle, dans l'un ou l'autre lecteur."}}
}

// Reading says the cards are being read.
func Reading(st Status) Screen {
	return Screen{Kind: KindReading, Title: "Lecture des cartes…", Status: st,
		Body: []string{"Ne retirez pas les cartes."}}
}

// ChooseBeneficiary lists the beneficiaries of a Vitale card.
func ChooseBeneficiary(st Status, names []string, cursor int) Screen {
	return Screen{Kind: KindChooseBeneficiary, Title: "Quel patient ?", Items: names, Cursor: cursor, Status: st,
		Hint: "Oui : choisir · Non : suivant · Annuler"}
}

// EnterPIN asks for the professional's PIN; triesLeft < 0 when no code was
// wrong yet.
func EnterPIN(st Status, digits, max, triesLeft int) Screen {
	s := Screen{Kind: KindEnterPIN, Title: "Code de la carte professionnelle", ShortTitle: "Code CPS", PINDigits: digits, PINMax: max, Status: st,
		Hint: "Valider · * : corriger · Annuler"}
	if triesLeft >= 0 {
		s.Tone = Warning
		s.Body = []string{fmt.Sprintf("Code faux. Il reste %d essai(s) avant blocage de la carte.", triesLeft)}
	}
	return s
}

// CardProblem explains why a card cannot be used and what to do.
func CardProblem(st Status, title, advice string) Screen {
	return Screen{Kind: KindCardProblem, Tone: Danger, Title: title, Body: []string{advice}, Status: st,
		Hint: "Retirez la carte"}
}

// IdentitySummary shows what the professional must check against an
// identity document.
func IdentitySummary(st Status, lines []string) Screen {
	return Screen{Kind: KindIdentity, Title: "Vérifiez l'identité", ShortTitle: "Identité", Body: lines, Status: st,
		Hint: "Oui : pièce d'identité vérifiée · Non : pas de pièce · Annuler"}
}

// Consent asks one consent question with its answers.
func Consent(st Status, question string, answers []string, cursor int) Screen {
	return Screen{Kind: KindConsent, Title: "Consentement du patient", ShortTitle: "Consentement", Body: []string{question}, Items: answers, Cursor: cursor,
		Status: st, Hint: "Oui / Non · Annuler"}
}

// INSiSearching waits for the INSi lookup the bridge makes.
func INSiSearching(st Status) Screen {
	return Screen{Kind: KindINSi, Title: "Recherche de l'identité nationale (INSi)…", ShortTitle: "INSi…",
		Body: []string{"L'établissement interroge le téléservice INSi. Quelques secondes."}, Status: st, Hint: "Annuler"}
}

// INSiTraits shows the identity INSi returned, for the professional to
// compare with the identity document.
func INSiTraits(st Status, lines []string) Screen {
	return Screen{Kind: KindINSiTraits, Title: "Identité INSi", ShortTitle: "INSi", Body: lines, Status: st,
		Hint: "Oui : identique · Non : différente · Annuler"}
}

// BirthPlace asks for the birth place's INSEE code, typed so far.
func BirthPlace(st Status, typed string) Screen {
	shown := typed + strings.Repeat("_", max(0, 5-len(typed)))
	return Screen{Kind: KindBirthPlace, Title: "Lieu de naissance", ShortTitle: "Lieu naiss.", Status: st,
		Body: []string{"Plusieurs identités possibles : saisissez le code INSEE du lieu de naissance (5 caractères ; 2A, 2B : Corse ; 99… : né à l'étranger).",
			"Code : " + shown},
		Hint: "Chiffres · Non : A ou B après 2 · * : effacer · Valider : rechercher · Annuler"}
}

// INSiNotice says what an INSi answer means for the identity.
func INSiNotice(st Status, tone Tone, title, body string) Screen {
	return Screen{Kind: KindINSiNotice, Tone: tone, Title: title, Body: []string{body}, Status: st, Hint: "Valider : continuer · Annuler"}
}

// Sending waits for the hospital's answer.
func Sending(st Status) Screen {
	return Screen{Kind: KindSending, Title: "Envoi en cours…", Body: []string{"Réponse de l'établissement attendue."}, Status: st}
}

// Queued says the event is kept and will be sent.
func Queued(st Status) Screen {
	return Screen{Kind: KindQueued, Tone: Warning, Title: "Enregistré, sera transmis", ShortTitle: "Enregistré", Status: st,
		Body: []string{"Le réseau est indisponible. La demande est conservée dans la borne et partira dès le retour du réseau.",
			"Vous pouvez retirer les cartes."}}
}

// Result shows the outcome and what to do next.
func Result(st Status, tone Tone, outcome, next string) Screen {
	return Screen{Kind: KindResult, Tone: tone, Title: outcome, Body: []string{next}, Status: st, Hint: "Retirez les cartes"}
}

// Error shows a failure with advice.
func Error(st Status, message, advice string) Screen {
	return Screen{Kind: KindError, Tone: Danger, Title: message, Body: []string{advice}, Status: st, Hint: "Annuler"}
}

// SelfTest is the test pattern screen of kiosk selftest.
func SelfTest(st Status) Screen {
	return Screen{Kind: KindSelfTest, Title: "Auto-test de l'écran", ShortTitle: "Auto-test", Status: st,
		Body: []string{"Les quatre coins, les couleurs et les accents doivent être visibles : é è à ç ù ô Œ."}}
}

// Progress is a wait under way.
type Progress struct {
	// What is waited for, said on screen ("Lecture des cartes", "INSi",
	// "Réponse de l'établissement").
	What string
	// Elapsed is how long it has lasted; Expected how long it usually
	// lasts at most (the bar fills up to it, then says it is taking long).
	Elapsed, Expected time.Duration
}

// text is the progress as words, for the screen reader and the panels.
func (p *Progress) text() string {
	s := int(p.Elapsed.Round(time.Second) / time.Second)
	if p.Elapsed > p.Expected && p.Expected > 0 {
		return fmt.Sprintf("%s : plus long que d'habitude (%d s)…", p.What, s)
	}
	return fmt.Sprintf("%s : %d s…", p.What, s)
}

// Fraction is how far the bar is filled, 0 to 1.
func (p *Progress) Fraction() float64 {
	if p.Expected <= 0 {
		return 0
	}
	return min(1, float64(p.Elapsed)/float64(p.Expected))
}
