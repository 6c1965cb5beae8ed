package firmware

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"dmpkiosk/display"
	"dmpkiosk/firmware/event"
)

// answerConsult plays the bridge: it opens the n-th consultation the
// tablet sent (both signatures and chains checked, as the bridge does) and
// sends it the answers answer gives.
func (r *memRig) answerConsult(n int, answer func(req *event.ConsultRequest) []*event.ConsultAnswer) *event.ConsultRequest {
	r.t.Helper()
	var sealed string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		r.link.mu.Lock()
		if len(r.link.consults) > n {
			sealed = r.link.consults[n]
		}
		r.link.mu.Unlock()
		if sealed != "" {
			break
		}
	}
	if sealed == "" {
		r.t.Fatalf("the tablet sent no consultation #%d", n)
	}
	req, _, card, err := event.OpenConsult(sealed, r.site.EncKey, r.site.CA.Pool(), r.igc.Pool(), time.Now(), nil)
	if err != nil || card == nil {
		r.t.Fatalf("the consultation does not open as the bridge opens it: %v", err)
	}
	for _, a := range answer(req) {
		a.Request = req.ID
		b, err := event.SealConsultAnswer(a, req.Reply)
		if err != nil {
			r.t.Fatal(err)
		}
		var s event.Sealed
		if err := json.Unmarshal(b, &s); err != nil {
			r.t.Fatal(err)
		}
		r.link.lookups <- s
	}
	return req
}

// toBedsideMenu drives a bedside session up to the DMP menu: the family
// card's LÉA, her identity retained from INSi.
func (r *memRig) toBedsideMenu() {
	r.t.Helper()
	r.toDocument()
	r.press(oui)
	r.wait(display.KindINSi, "")
	r.answerLookup(0, léa)
	r.wait(display.KindINSiTraits, "DURAND")
	r.press(oui)
	r.wait(display.KindDMP, "Que souhaitez-vous faire")
}

func bedside(c *Config) { c.Context, c.DMPWait = ContextBedside, duration{Duration: 2 * time.Second} }

// At the bedside, the doctor signed in with his card reads LÉA's DMP: the
// establishment is not authorized, the patient agrees, the list comes
// (local date, type in French, marked when the patient does not see it),
// a document comes page by page to the tablet's view only, and going back
// to the list, cancelling or removing the card wipes it. Each request is
// signed by the device and the card, names the card's holder and LÉA's
// INS.
func TestBedsideReadsTheDMP(t *testing.T) {
	r := newMemRig(t, "current", time.Minute, withINSi(5*time.Second), bedside)
	r.toBedsideMenu()
	r.press(oui)
	r.wait(display.KindDMP, "Interrogation du DMP")
	req := r.answerConsult(0, func(req *event.ConsultRequest) []*event.ConsultAnswer {
		return []*event.ConsultAnswer{{Outcome: event.ConsultNotAuthorized, Message: "L'établissement n'est pas autorisé. Le patient est-il d'accord ?", Last: true}}
	})
	if req.Action != event.ConsultList || req.Purpose != event.PurposeNormal || req.Patient.Value != "210057505690143" ||
		req.Professional.NationalID != "810100456789" || req.Device != "kiosk-1" || req.Site.FINESS != "750712184" {
		t.Fatalf("request: %+v", req)
	}
	r.wait(display.KindDMP, "Accord du patient")
	r.press(oui)
	date := time.Date(2026, 11, 30, 9, 15, 0, 0, time.UTC)
	req = r.answerConsult(1, func(req *event.ConsultRequest) []*event.ConsultAnswer {
		return []*event.ConsultAnswer{{Outcome: event.ConsultOK, Authorization: "VALIDE", Last: true, Entries: []event.ConsultEntry{
			{UniqueID: "1.2.3.1", EntryUUID: "urn:uuid:1", Title: "Lettre de sortie", Type: "11490-0", TypeLabel: "Lettre de liaison à la sortie",
				Date: date, Author: "ERIC THOMAS", Institution: "CHU TEST", Repository: "1.2.250.1.213.4.1.1.1.2"},
			{UniqueID: "1.2.3.2", EntryUUID: "urn:uuid:2", Title: "Scanner", Type: "18748-4", TypeLabel: "CR d'imagerie médicale",
				Date: date.Add(-24 * time.Hour), InvisibleToPatient: true}}}}
	})
	if req.Action != event.ConsultAuthorize {
		t.Fatalf("the patient's agreement: %s", req.Action)
	}
	list := r.wait(display.KindDMPList, "Lettre de liaison")
	local := date.In(time.Local).Format("02/01/2006 15:04")
	if len(list.Items) != 2 || !strings.HasPrefix(list.Items[0], local) || !strings.HasSuffix(list.Items[0], " · ERIC THOMAS, CHU TEST") ||
		!strings.Contains(list.Items[1], "non visible du patient") {
		t.Fatalf("list: %q", list.Items)
	}
	r.press(oui)
	r.wait(display.KindDMP, "Récupération du document")
	req = r.answerConsult(2, func(req *event.ConsultRequest) []*event.ConsultAnswer {
		return []*event.ConsultAnswer{
			{Outcome: event.ConsultOK, Page: &event.ConsultPage{N: 1, Of: 2, Type: "image/png", Data: []byte("page one")}},
			{Outcome: event.ConsultOK, Page: &event.ConsultPage{N: 2, Of: 2, Type: "image/png", Part: 1, Parts: 2, Data: []byte("page ")}},
			{Outcome: event.ConsultOK, Page: &event.ConsultPage{N: 2, Of: 2, Type: "image/png", Part: 2, Parts: 2, Data: []byte("two")}, Last: true}}
	})
	if req.Action != event.ConsultDocument || req.UniqueID != "1.2.3.1" || req.Repository != "1.2.250.1.213.4.1.1.1.2" {
		t.Fatalf("document request: %+v", req)
	}
	r.wait(display.KindDMPDoc, "2 page(s) sur 2")
	d := r.docs.shown()
	if d == nil || len(d.Pages) != 2 || string(d.Pages[1].Data) != "page two" || !strings.Contains(d.Title, "Lettre de sortie") {
		t.Fatalf("the tablet's view: %+v", d)
	}
	r.press(non)
	back := r.wait(display.KindDMPList, "Scanner")
	if r.docs.shown() != nil {
		t.Fatal("the document stays on the tablet after going back to the list")
	}
	// The cursor's place is said (a small panel shows a few lines); * goes
	// back to the menu, whose first choice asks the list again.
	if !slices.Contains(back.Body, "Document 1 sur 2") {
		t.Fatalf("the list's body: %q", back.Body)
	}
	r.press(non)
	r.wait(display.KindDMPList, "Document 2 sur 2")
	r.press(keys("*")...)
	r.wait(display.KindDMP, "Que souhaitez-vous faire")
	r.press(oui)
	req = r.answerConsult(3, func(req *event.ConsultRequest) []*event.ConsultAnswer {
		return []*event.ConsultAnswer{{Outcome: event.ConsultOK, Authorization: "VALIDE", Last: true, Entries: []event.ConsultEntry{
			{UniqueID: "1.2.3.1", EntryUUID: "urn:uuid:1", Title: "Lettre de sortie", Type: "11490-0", TypeLabel: "Lettre de liaison à la sortie", Date: date}}}}
	})
	if req.Action != event.ConsultList {
		t.Fatalf("the list asked again: %s", req.Action)
	}
	r.wait(display.KindDMPList, "Lettre de sortie")
	// Read again, then the doctor's card leaves: wiped.
	r.press(oui)
	r.answerConsult(4, func(req *event.ConsultRequest) []*event.ConsultAnswer {
		return []*event.ConsultAnswer{{Outcome: event.ConsultOK, Page: &event.ConsultPage{N: 1, Of: 1, Type: "text/html", Data: []byte("<p>x</p>")}, Last: true}}
	})
	r.wait(display.KindDMPDoc, "")
	if r.docs.shown() == nil {
		t.Fatal("the document is not shown")
	}
	r.remove(1)
	r.wait(display.KindIdle, "")
	for deadline := time.Now().Add(5 * time.Second); r.docs.shown() != nil && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
	}
	if r.docs.shown() != nil {
		t.Fatal("the document stays once the card is removed")
	}
}

// An emergency access names its reason; a refusal by the DMP is said in
// words; a DMP that does not answer in time is said too.
func TestBedsideEmergencyAndRefusals(t *testing.T) {
	r := newMemRig(t, "current", time.Minute, withINSi(5*time.Second), bedside)
	r.toBedsideMenu()
	r.press(non, oui) // the emergency access
	r.wait(display.KindDMP, "Motif de l'accès en urgence")
	r.press(non, oui) // the second reason
	req := r.answerConsult(0, func(req *event.ConsultRequest) []*event.ConsultAnswer {
		return []*event.ConsultAnswer{{Outcome: event.ConsultForbidden, Message: "Le DMP refuse l'accès : le patient s'est opposé à l'accès en mode bris de glace.", Last: true}}
	})
	if req.Purpose != event.PurposeBrisDeGlace || req.Reason != event.EmergencyReasons[1] {
		t.Fatalf("emergency request: %+v", req)
	}
	r.wait(display.KindDMP, "opposé")
	r.press(valider)
	r.wait(display.KindDMP, "Que souhaitez-vous faire")
	// A request the bridge never answers: the wait ends and says so; an
	// answer for another request meanwhile is ignored.
	r.press(non, non, oui) // back to the normal reading
	r.wait(display.KindDMP, "Interrogation du DMP")
	r.answerConsult(1, func(*event.ConsultRequest) []*event.ConsultAnswer { return nil })
	r.link.lookups <- event.Sealed{Consult: "another", JWE: "x"}
	r.wait(display.KindDMP, "n'a pas répondu à temps")
}

// At the bedside the doctor's card alone: signed in, the unit's
// inpatients come from the bridge; the room typed on the keypad finds
// one; a patient whose identity is not qualified cannot be chosen; a
// qualified one leads to reading her DMP (the information and consent,
// which need her carte Vitale, not offered).
func TestBedsideWardList(t *testing.T) {
	r := newMemRig(t, "current", time.Minute, withINSi(5*time.Second), bedside)
	r.insert(1, "cps-medecin")
	r.wait(display.KindEnterPIN, "Code")
	r.press(keys("1234#")...)
	r.wait(display.KindDMP, "Patients de l'unité")
	req := r.answerConsult(0, func(req *event.ConsultRequest) []*event.ConsultAnswer {
		return []*event.ConsultAnswer{{Outcome: event.ConsultOK, Last: true, Patients: []event.WardPatient{
			{IPP: "100001", BirthName: "PAT-TROIS", FirstName: "DOMINIQUE", BirthDate: "19790328", Sex: "F", Room: "12",
				INS: &event.INS{Value: "279035121518989", OID: "1.2.250.1.213.1.4.10"}, NewDocuments: true},
			{IPP: "100002", BirthName: "DURAND", FirstName: "LEA", BirthDate: "20100504", Sex: "F", Room: "14"}}}}
	})
	if req.Action != event.ConsultWard || req.Patient.Value != "" || time.Since(req.Since) < 71*time.Hour {
		t.Fatalf("ward request: %+v", req)
	}
	sc := r.wait(display.KindDMP, "Patients de l'unité ACCUEIL")
	if len(sc.Items) != 2 || !strings.Contains(sc.Items[1], "non qualifiée") || !strings.Contains(sc.Items[0], "nouveaux documents") ||
		!slices.Contains(sc.Body, "Patient 1 sur 2") {
		t.Fatalf("ward: %q %q", sc.Items, sc.Body)
	}
	r.press(keys("14")...)
	sc = r.wait(display.KindDMP, "Chambre 14")
	if len(sc.Items) != 1 || !strings.Contains(sc.Items[0], "DURAND") {
		t.Fatalf("room 14: %q", sc.Items)
	}
	r.press(oui)
	r.wait(display.KindDMP, "Identité non qualifiée")
	r.press(valider)
	r.wait(display.KindDMP, "Chambre 14")
	r.press(keys("*")...)
	r.wait(display.KindDMP, "Tapez le numéro")
	r.press(oui)
	sc = r.wait(display.KindDMP, "Que souhaitez-vous faire")
	if len(sc.Items) != 2 || !strings.Contains(strings.Join(sc.Body, " "), "PAT-TROIS") {
		t.Fatalf("menu: %q %q", sc.Items, sc.Body)
	}
	r.press(oui)
	req = r.answerConsult(1, func(req *event.ConsultRequest) []*event.ConsultAnswer {
		return []*event.ConsultAnswer{{Outcome: event.ConsultOK, Authorization: "VALIDE", Last: true}}
	})
	if req.Action != event.ConsultList || req.Patient.Value != "279035121518989" {
		t.Fatalf("list request: %+v", req)
	}
	r.wait(display.KindDMPList, "Aucun document")
	// The next patient: * on the menu goes back to the unit's list, the
	// professional signed in still, this patient forgotten.
	r.press(keys("*")...)
	sc = r.wait(display.KindDMP, "Que souhaitez-vous faire")
	if !strings.Contains(strings.Join(sc.Body, " "), "revenir aux patients") {
		t.Fatalf("menu: %q", sc.Body)
	}
	r.press(keys("*")...)
	r.wait(display.KindDMP, "Patients de l'unité…")
	if req = r.answerConsult(2, func(req *event.ConsultRequest) []*event.ConsultAnswer {
		return []*event.ConsultAnswer{{Outcome: event.ConsultOK, Last: true}}
	}); req.Action != event.ConsultWard {
		t.Fatalf("the unit's list asked again: %s", req.Action)
	}
	r.wait(display.KindDMP, "Aucun patient")
}
