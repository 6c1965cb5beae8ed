package display

import "fmt"

// The bedside tablet's screens for reading the patient's DMP (the
// firmware's session_dmp.go), and the document itself: its pages go to
// the panels that can show them (the tablet's web view, DocumentPanel);
// the small panels show the list and say that the document is read on
// the tablet.

// DMPChoice offers a choice about the DMP (what to do, the patient's
// agreement, the reason of an emergency).
func DMPChoice(st Status, title string, body []string, items []string, cursor int) Screen {
	return Screen{Kind: KindDMP, Title: title, ShortTitle: "DMP", Body: body, Items: items, Cursor: cursor, Status: st,
		Hint: "Oui : choisir · Non : suivant · Annuler"}
}

// DMPWaiting waits for the DMP's answer through the bridge.
func DMPWaiting(st Status, what string) Screen {
	return Screen{Kind: KindDMP, Title: what, ShortTitle: "DMP…", Body: []string{"La passerelle interroge le DMP. Quelques secondes."},
		Status: st, Hint: "Annuler"}
}

// DMPNotice says what the DMP answered, when it is not a list.
func DMPNotice(st Status, tone Tone, title, body string) Screen {
	return Screen{Kind: KindDMP, Tone: tone, Title: title, ShortTitle: "DMP", Body: []string{body}, Status: st,
		Hint: "Valider : revenir · Annuler : terminer"}
}

// DMPList lists the documents (each line: date, type, title, marks),
// newest first, the cursor on one; emergency marks the access.
func DMPList(st Status, items []string, cursor int, emergency bool) Screen {
	s := Screen{Kind: KindDMPList, Title: "Documents du DMP", ShortTitle: "DMP", Items: items, Cursor: cursor, Status: st,
		Hint: "Oui : afficher · Non : suivant · * : menu · Annuler : terminer"}
	if emergency {
		s.Tone, s.Body = Warning, []string{"Accès en urgence (bris de glace) : tracé."}
	}
	if len(items) > 1 {
		// Where the cursor is: the smallest panels show a few lines, and
		// their title stays when the list scrolls.
		s.Body = append(s.Body, fmt.Sprintf("Document %d sur %d", cursor+1, len(items)))
		s.ShortTitle = fmt.Sprintf("DMP %d/%d", cursor+1, len(items))
	}
	if len(items) == 0 {
		s.Body = append(s.Body, "Aucun document dans le DMP de ce patient.")
	}
	return s
}

// DMPDocument says which document is shown on the tablet and how far its
// pages have come.
func DMPDocument(st Status, title string, shown, of int) Screen {
	body := []string{"Le document s'affiche sur la tablette."}
	if of > 1 {
		body = append(body, fmt.Sprintf("%d page(s) sur %d reçue(s).", shown, of))
	}
	return Screen{Kind: KindDMPDoc, Title: title, ShortTitle: "Document", Body: body, Status: st,
		Hint: "Non : retour à la liste · Annuler : terminer"}
}

// Page is one page of a document as the bridge rendered it: a PNG image,
// cleaned HTML or text.
type Page struct {
	N, Of int
	Type  string
	Data  []byte
}

// Document is the document being read: its title and the pages received
// so far (Of says how many will come).
type Document struct {
	Title string
	Pages []Page
}

// DocumentPanel is a panel that shows a document's pages (the tablet's
// web view). The document lives in its memory only, until cleared.
type DocumentPanel interface {
	ShowDocument(d Document)
	ClearDocument()
}

// ShowDocument gives the document to every panel that shows documents;
// ClearDocument wipes it from them.
func (d *Display) ShowDocument(doc Document) {
	for _, p := range d.panels {
		if dp, ok := p.(DocumentPanel); ok {
			dp.ShowDocument(doc)
		}
	}
}

// ClearDocument wipes the document from every panel.
func (d *Display) ClearDocument() {
	for _, p := range d.panels {
		if dp, ok := p.(DocumentPanel); ok {
			dp.ClearDocument()
		}
	}
}

// ShowsDocuments tells whether a panel can show a document (else the
// professional is told to read it elsewhere).
func (d *Display) ShowsDocuments() bool {
	for _, p := range d.panels {
		if _, ok := p.(DocumentPanel); ok {
			return true
		}
	}
	return false
}
