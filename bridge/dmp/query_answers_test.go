package dmp

import (
	"errors"
	"testing"
	"time"

	"github.com/beevik/etree"
)

const (
	td31Answer  = "TD3.1_Recherche-de-document_answer.xml"
	td33cAnswer = "TD3.3c_Supprimer-un-document_answer.xml"
)

// The official TD3.1 answer read whole: its 21 entries with the values
// the list and TD3.2/TD3.3 need; variants built from it: no entry, each
// kind of refusal, and shapes that cannot be read.
func TestOfficialSearchAnswer(t *testing.T) {
	b, err := body(t, official(t, td31Answer))
	if err != nil {
		t.Fatal(err)
	}
	l, err := ParseQueryResponse(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(l) != 21 {
		t.Fatalf("%d entries, want 21", len(l))
	}
	e := l[0]
	if e.EntryUUID != "urn:uuid:7953af1a-ba1c-11eb-816f-0050569e422e" || e.UniqueID != "1.2.250.1.999.1.1.7898.1.995657292" ||
		e.Status != StatusApproved || e.Class.Code != "10" || e.Class.Display != "Compte rendu" || e.Size != 2768 ||
		e.Hash != "af326fb44feb720121d2c277ce10f87407818089" || e.RepositoryID != "1.2.250.1.213.4.1.1.1.2" ||
		e.Title != "Titre du document de TEST KIT EDITEUR CSharp" || e.Author.ID != "899900063480" || e.Author.Family != "Kit" ||
		e.Author.InstitutionID != "10B0127189" || e.Author.Specialty.Code != "G15_10/SM04" || e.MimeType != "text/xml" ||
		!e.Created.Equal(time.Date(2010, 3, 19, 18, 32, 44, 0, time.UTC)) || e.Type.Code == "" || e.Format.Code == "" || !e.Has("N") {
		t.Errorf("first entry: %+v", e)
	}
	invisible := 0
	for _, e := range l {
		if e.Has(ConfInvisiblePatient) {
			invisible++
		}
		if e.UniqueID == "" || e.Type.Code == "" || e.Created.IsZero() {
			t.Errorf("entry %s incomplete: %+v", e.EntryUUID, e)
		}
	}
	if invisible != 3 {
		t.Errorf("%d entries invisible to the patient, want 3", invisible)
	}

	// No document.
	b, err = body(t, variant(t, td31Answer, func(r *etree.Element) {
		l := r.SelectElement("RegistryObjectList")
		for _, c := range l.ChildElements() {
			l.RemoveChild(c)
		}
		r.CreateAttr("totalResultCount", "0")
	}))
	if err != nil {
		t.Fatal(err)
	}
	if l, err := ParseQueryResponse(b); err != nil || len(l) != 0 {
		t.Errorf("no entry: %d, %v", len(l), err)
	}
	// A refusal.
	b, _ = body(t, variant(t, td31Answer, func(r *etree.Element) {
		r.CreateAttr("status", "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure")
		r.RemoveChild(r.SelectElement("RegistryObjectList"))
		e := r.CreateElement("ns2:RegistryErrorList").CreateElement("ns2:RegistryError")
		e.CreateAttr("errorCode", "XDSStoredQueryParamNumber")
		e.CreateAttr("codeContext", "paramètre manquant")
		e.CreateAttr("severity", "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error")
	}))
	var re *RegistryError
	if _, err := ParseQueryResponse(b); !errors.As(err, &re) || re.Code != "XDSStoredQueryParamNumber" {
		t.Errorf("refusal: %v", err)
	}
	for name, edit := range map[string]func(*etree.Element){
		"unknown status": func(r *etree.Element) { r.CreateAttr("status", "Perhaps") },
		"failure, no error": func(r *etree.Element) {
			r.CreateAttr("status", "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure")
		},
		"not a query answer": func(r *etree.Element) { r.Tag = "RegistryResponse" },
		"an entry without uniqueId": func(r *etree.Element) {
			eo := r.FindElement("RegistryObjectList/ExtrinsicObject")
			for _, ei := range eo.SelectElements("ExternalIdentifier") {
				if ei.SelectAttrValue("identificationScheme", "") == xdsEntryUID {
					eo.RemoveChild(ei)
				}
			}
		},
		"an unreadable time": func(r *etree.Element) {
			r.FindElement("RegistryObjectList/ExtrinsicObject/Slot[@name='creationTime']/ValueList/Value").SetText("hier")
		},
		"an unreadable size": func(r *etree.Element) {
			r.FindElement("RegistryObjectList/ExtrinsicObject/Slot[@name='size']/ValueList/Value").SetText("-")
		},
	} {
		b, err := body(t, variant(t, td31Answer, edit))
		if err == nil {
			_, err = ParseQueryResponse(b)
		}
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// TD3.3c's official answer is a success.
	if b, err := body(t, official(t, td33cAnswer)); err != nil || ParseRegistryResponse(b) != nil {
		t.Errorf("TD3.3c's answer: %v", err)
	}
}

// The official TD1.6 answer: one professional the patient authorized;
// variants: one blocked, a status other than DMPOk, a professional
// without id.
func TestOfficialAuthorizationList(t *testing.T) {
	const td16 = "TD1.6_Liste-des-PS-autorises-ou-bloques_answer.xml"
	b, err := body(t, official(t, td16))
	if err != nil {
		t.Fatal(err)
	}
	l, err := ParseAuthorizationList(b)
	if err != nil || len(l) != 1 || l[0].NationalID != "899900063480" || l[0].LastName != "LIBRE" || l[0].Mode != ListActive ||
		len(l[0].Specialities) != 1 || Blocks(l, "899900063480") {
		t.Fatalf("%+v %v", l, err)
	}
	b, _ = body(t, variant(t, td16, func(r *etree.Element) { find(r, "output/listOfAuthorizationByPatient/mode").SetText(ListForbidden) }))
	if l, err := ParseAuthorizationList(b); err != nil || !Blocks(l, "899900063480") || Blocks(l, "810100456789") {
		t.Errorf("blocked: %+v %v", l, err)
	}
	for name, edit := range map[string]func(*etree.Element){
		"refused": func(r *etree.Element) { find(r, "output/status").SetText("DMPAccessDenied") },
		"no id": func(r *etree.Element) {
			o := find(r, "output/listOfAuthorizationByPatient")
			o.RemoveChild(o.SelectElement("nationalId"))
		},
		"not TD1.6's": func(r *etree.Element) { r.Tag = "setAuthorizationResponse" },
	} {
		b, err := body(t, variant(t, td16, edit))
		if err == nil {
			_, err = ParseAuthorizationList(b)
		}
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// The official TD0.4 answer: two DMPs with their identifiers and dates;
// variants: a refusal, an unreadable date, a DMP without identifier.
func TestOfficialPatientList(t *testing.T) {
	const td04 = "TD0.4_Liste-des-DMP-autorises_answer.xml"
	b, err := body(t, official(t, td04))
	if err != nil {
		t.Fatal(err)
	}
	l, err := ParsePatientList(b)
	if err != nil || len(l) != 2 || !l[0].Has(PatientID{Root: "1.2.250.1.213.1.4.10", Extension: "153078987658513"}) || l[0].LastName != "PAT-TROIS" ||
		!l[0].LastAdd.Equal(time.Date(2021, 5, 25, 13, 47, 35, 0, time.UTC)) {
		t.Fatalf("%+v %v", l, err)
	}
	for name, edit := range map[string]func(*etree.Element){
		"refused":    func(r *etree.Element) { find(r, "output/status").SetText("DMPAccessDenied") },
		"a bad date": func(r *etree.Element) { find(r, "output/patientlistData/lastAddDate").SetText("hier") },
		"no identifier": func(r *etree.Element) {
			d := find(r, "output/patientlistData")
			d.RemoveChild(d.SelectElement("patientIdentifier"))
			d.RemoveChild(d.SelectElement("patientIdentifier"))
		},
	} {
		b, err := body(t, variant(t, td04, edit))
		if err == nil {
			_, err = ParsePatientList(b)
		}
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
