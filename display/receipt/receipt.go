// Package receipt is the written trace the patient leaves the desk with:
// what was recorded for their DMP, the information they were given and
// where they manage their record, in their language. It is printed on an
// ESC/POS thermal printer (USB or network) or shown as a page the tablet
// prints. It names the patient but carries neither their INS, NIR nor
// birth date unless the establishment configures it.
package receipt

import (
	"strings"
	"time"

	"golang.org/x/text/language"

	"dmpkiosk/display/lang"
)

// Outcomes a receipt states.
const (
	Created  = "created"  // the DMP was created
	Exists   = "exists"   // the DMP already existed (or access was recorded)
	Pending  = "pending"  // kept by the kiosk, to be sent
	Identity = "identity" // the establishment checks the identity first
)

// Receipt is what one patient's receipt says.
type Receipt struct {
	Establishment string
	At            time.Time // in the establishment's time zone
	Lang          language.Tag
	Patient       string // the name as the screen showed it
	// BirthDate (DD/MM/YYYY) and INS: "" unless the establishment prints
	// them (receipt.identity).
	BirthDate, INS string
	Outcome        string
	// CreationRefused: the patient refused the DMP's creation (the
	// regime before 2021, where it was asked).
	CreationRefused bool
	Authorized      bool
	// The oppositions recorded.
	BrisDeGlaceOpposed, SAMUOpposed bool
	// PagesRead: the information pages the patient read on the kiosk (0:
	// the information was given otherwise, a brochure).
	PagesRead int
}

// Line is one line of a receipt as laid out: the printer and the page
// wrap it to their width.
type Line struct {
	Text   string
	Bold   bool
	Big    bool
	Center bool
	Rule   bool // a separating rule; Text is empty
}

// Lines are the receipt's content in its language.
func (r Receipt) Lines(set *lang.Set) []Line {
	p := set.Printer(r.Lang)
	out := []Line{{Text: r.Establishment, Bold: true, Big: true, Center: true},
		{Text: p.Sprintf("receipt.title"), Bold: true, Center: true},
		{Text: p.Sprintf("receipt.date", r.At.Format("02/01/2006"), r.At.Format("15:04")), Center: true},
		{Rule: true}}
	if r.Patient != "" {
		out = append(out, Line{Text: p.Sprintf("receipt.patient", r.Patient)})
	}
	if r.BirthDate != "" {
		out = append(out, Line{Text: p.Sprintf("receipt.birth", r.BirthDate)})
	}
	if r.INS != "" {
		out = append(out, Line{Text: p.Sprintf("receipt.ins", r.INS)})
	}
	out = append(out, Line{Text: p.Sprintf("receipt.recorded"), Bold: true})
	switch r.Outcome {
	case Created:
		out = append(out, Line{Text: p.Sprintf("receipt.created")})
	case Exists:
		out = append(out, Line{Text: p.Sprintf("receipt.exists")})
	case Pending:
		out = append(out, Line{Text: p.Sprintf("receipt.pending")})
	case Identity:
		out = append(out, Line{Text: p.Sprintf("receipt.identity")})
	}
	if r.CreationRefused {
		out = append(out, Line{Text: p.Sprintf("receipt.creation.refused")})
	}
	pick := func(yes bool, a, b string) string {
		if yes {
			return p.Sprintf(a)
		}
		return p.Sprintf(b)
	}
	out = append(out,
		Line{Text: pick(r.Authorized, "receipt.authorized", "receipt.refused")},
		Line{Text: pick(r.BrisDeGlaceOpposed, "receipt.bdg.opposed", "receipt.bdg.allowed")},
		Line{Text: pick(r.SAMUOpposed, "receipt.samu.opposed", "receipt.samu.allowed")})
	if r.PagesRead > 0 {
		out = append(out, Line{Text: p.Sprintf("receipt.informed", r.PagesRead)})
	}
	return append(out, Line{Rule: true},
		Line{Text: p.Sprintf("info.manage"), Bold: true},
		Line{Text: p.Sprintf("receipt.keep"), Center: true})
}

// Text is the receipt's lines as plain text, for logs of tests and the
// page's accessible text.
func Text(lines []Line) string {
	var b strings.Builder
	for _, l := range lines {
		if l.Rule {
			b.WriteString("--\n")
			continue
		}
		b.WriteString(l.Text + "\n")
	}
	return b.String()
}
