package dmp_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"dmpkiosk/bridge/dmp"
	"dmpkiosk/bridge/dmp/dmpsim"
	"dmpkiosk/firmware/event"
)

// Reading in reinforced mode (AIR) against the simulator, which enforces
// what the DMP does: a doctor lists and reads a document (TD3.1, TD3.2,
// MTOM answer, the CDA byte for byte); a document masked to professionals
// is listed and read only by its author; an entryUUID given for the
// uniqueId finds nothing; a CPE lists but may not read; the
// establishment's certificate alone may not read; nothing is read once
// the patient withdrew the authorization, except in emergency (bris de
// glace), which a patient who opposed it refuses; TD2.1 is refused in
// AIR.
func TestReadingInReinforcedMode(t *testing.T) {
	pid := dmp.PatientID{Root: "1.2.250.1.213.1.4.10", Extension: "279035121518989"}
	opposed := dmp.PatientID{Root: "1.2.250.1.213.1.4.10", Extension: "180026912304527"}
	r := newRig(t, dmpsim.Current, dmpsim.Person{IDs: []dmp.PatientID{pid},
		Demographics: dmp.Demographics{BirthName: "PAT-TROIS", FirstName: "DOMINIQUE", Sex: "F", BirthDate: "19790328"}},
		dmpsim.Person{IDs: []dmp.PatientID{opposed}, OpposedBrisDeGlace: true,
			Demographics: dmp.Demographics{BirthName: "DURAND", FirstName: "JEAN", Sex: "M", BirthDate: "19800215"}})
	c := dmp.NewClient(r.config())
	ctx := context.Background()
	doctor := familyEvent(t, "current", false).Professional
	establishment := dmp.Who{Professional: doctor, FINESS: finess, Patient: pid, Mode: dmp.ModeIndirect}
	if _, _, err := c.SetAuthorization(ctx, dmp.Who{Professional: doctor, FINESS: finess, Patient: pid}, dmp.ActionAdd); err != nil {
		t.Fatal(err)
	}
	cda, h := golden(t)
	f := feedingOf(cda, h)
	f.Author.Specialty = dmp.Code{"G15_10/SM26", "1.2.250.1.213.1.1.4.5", "Médecin - Qualifié en Médecine Générale (SM)"}
	if _, err := c.Feed(ctx, f, finess); err != nil {
		t.Fatal(err)
	}
	masked, err := dmpsim.Revise(cda, h.UniqueID+".7")
	if err != nil {
		t.Fatal(err)
	}
	mh, _ := dmp.ReadCDAHeader(masked)
	mf := feedingOf(masked, mh)
	mf.Author, mf.LotID, mf.SignatureID, mf.MaskedToProfessionals = f.Author, f.LotID+".7", f.SignatureID+".7", true
	mf.InvisibleToLegalRepresentatives = false
	if _, err := c.Feed(ctx, mf, finess); err != nil {
		t.Fatal(err)
	}

	air := dmp.Who{Professional: doctor, FINESS: finess, Patient: pid, Mode: dmp.ModeReinforced}
	l, _, err := c.FindEntries(ctx, air)
	if err != nil || len(l) != 1 || l[0].UniqueID != h.UniqueID {
		t.Fatalf("the doctor's list: %+v %v", l, err)
	}
	d, x, err := c.Retrieve(ctx, air, l[0].RepositoryID, l[0].UniqueID)
	if err != nil || !bytes.Equal(d.Data, cda) || d.MimeType != "text/xml" {
		t.Fatalf("TD3.2: %d bytes, %v", len(d.Data), err)
	}
	if bytes.Contains(x.Response, []byte("ClinicalDocument")) || len(x.Response) > 200 {
		t.Errorf("the exchange keeps the document: %.200s", x.Response)
	}
	var re *dmp.RegistryError
	for name, uid := range map[string]string{"a masked document": mh.UniqueID, "an entryUUID": l[0].EntryUUID} {
		if _, _, err := c.Retrieve(ctx, air, "", uid); !errors.As(err, &re) || re.Code != "XDSDocumentUniqueIdError" {
			t.Errorf("%s: %v", name, err)
		}
	}
	author := air
	author.Professional = event.Professional{NationalID: mh.Author.ID, NationalIDType: "RPPS", Surname: mh.Author.Family, FirstName: mh.Author.Given, Profession: "10"}
	if l, _, err := c.FindEntries(ctx, author); err != nil || len(l) != 2 {
		t.Errorf("the masked document's author lists %d, %v", len(l), err)
	}
	if d, _, err := c.Retrieve(ctx, author, "", mh.UniqueID); err != nil || !bytes.Equal(d.Data, masked) {
		t.Errorf("its author reads it: %v", err)
	}
	cpe := air
	cpe.Professional = event.Professional{NationalID: "0B0012345", NationalIDType: "ADELI", CardType: "CPE", Surname: "MARTIN", FirstName: "JULIE"}
	cc := r.config()
	cc.StaffRole = dmp.Role{Code: "ACCUEIL", CodeSystem: "2.25.142109932307565464957882138239304963770", Display: "Personnel d'accueil"}
	staff := dmp.NewClient(cc)
	if l, _, err := staff.FindEntries(ctx, cpe); err != nil || len(l) != 1 {
		t.Errorf("a CPE's list: %d %v", len(l), err)
	}
	if _, _, err := staff.Retrieve(ctx, cpe, "", h.UniqueID); !errors.Is(err, dmp.ErrAccessDenied) {
		t.Errorf("a CPE reads: %v", err)
	}
	if _, _, err := c.Retrieve(ctx, establishment, "", h.UniqueID); !errors.Is(err, dmp.ErrAccessDenied) {
		t.Errorf("the establishment's certificate alone reads: %v", err)
	}
	f2 := f
	f2.LotID, f2.SignatureID = f.LotID+".8", f.SignatureID+".8"
	if _, err := c.Feed(ctx, f2, finess); err == nil {
		t.Error("TD2.1 accepted")
	}

	// The patient withdraws the authorization: normal access refused,
	// emergency access allowed, refused to a patient who opposed it.
	if _, _, err := c.SetAuthorization(ctx, air, dmp.ActionRemove); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.FindEntries(ctx, air); !errors.Is(err, dmp.ErrAccessDenied) {
		t.Errorf("no authorization: %v", err)
	}
	emergency := air
	emergency.Purpose = dmp.PurposeBrisDeGlace
	if l, _, err := c.FindEntries(ctx, emergency); err != nil || len(l) != 1 {
		t.Errorf("bris de glace: %d %v", len(l), err)
	}
	if d, _, err := c.Retrieve(ctx, emergency, "", h.UniqueID); err != nil || !bytes.Equal(d.Data, cda) {
		t.Errorf("bris de glace TD3.2: %v", err)
	}
	emergency.Patient = opposed
	if _, _, err := c.FindEntries(ctx, emergency); !errors.Is(err, dmp.ErrAccessDenied) {
		t.Errorf("bris de glace on a patient who opposed it: %v", err)
	}
	unknown := air
	unknown.Patient = dmp.PatientID{Root: "1.2.250.1.213.1.4.10", Extension: "299999999999999"}
	if _, _, err := c.FindEntries(ctx, unknown); !errors.As(err, &re) || re.Code != "XDSUnknownPatientId" {
		t.Errorf("TD3.1 of a patient without a DMP: %v", err)
	}
	if _, _, err := c.Retrieve(ctx, unknown, "", h.UniqueID); !errors.As(err, &re) || re.Code != "XDSUnknownPatientId" {
		t.Errorf("TD3.2 of a patient without a DMP: %v", err)
	}
	staffEmergency := cpe
	staffEmergency.Purpose = dmp.PurposeBrisDeGlace
	if _, _, err := staff.FindEntries(ctx, staffEmergency); !errors.Is(err, dmp.ErrAccessDenied) {
		t.Errorf("bris de glace by a CPE: %v", err)
	}
}

// A document preloaded in the simulator (the demonstration's documents
// from elsewhere) is listed and read like one fed by TD2.1.
func TestPreloadedDocument(t *testing.T) {
	pid := dmp.PatientID{Root: "1.2.250.1.213.1.4.10", Extension: "279035121518989"}
	r := newRig(t, dmpsim.Current, dmpsim.Person{IDs: []dmp.PatientID{pid},
		Demographics: dmp.Demographics{BirthName: "PAT-TROIS", FirstName: "DOMINIQUE", Sex: "F", BirthDate: "19790328"}})
	cda, h := golden(t)
	ctx := context.Background()
	if err := r.sim.Preload(ctx, pid, "1130099999", cda); err != nil {
		t.Fatal(err)
	}
	if err := r.sim.Preload(ctx, pid, "1130099999", cda); err != nil {
		t.Fatalf("preloaded twice: %v", err)
	}
	c := dmp.NewClient(r.config())
	air := dmp.Who{Professional: familyEvent(t, "current", false).Professional, FINESS: finess, Patient: pid, Mode: dmp.ModeReinforced,
		Purpose: dmp.PurposeBrisDeGlace}
	l, _, err := c.FindEntries(ctx, air)
	if err != nil || len(l) != 1 || l[0].UniqueID != h.UniqueID || l[0].Type.Code != h.Type.Code {
		t.Fatalf("%+v %v", l, err)
	}
	if d, _, err := c.Retrieve(ctx, air, "", h.UniqueID); err != nil || !bytes.Equal(d.Data, cda) {
		t.Fatalf("TD3.2: %v", err)
	}
}

// TD0.4 against the simulator: the DMPs the establishment is authorized
// on that received a document since a date.
func TestPatientListSince(t *testing.T) {
	pid := dmp.PatientID{Root: "1.2.250.1.213.1.4.10", Extension: "279035121518989"}
	r := newRig(t, dmpsim.Current, dmpsim.Person{IDs: []dmp.PatientID{pid},
		Demographics: dmp.Demographics{BirthName: "PAT-TROIS", FirstName: "DOMINIQUE", Sex: "F", BirthDate: "19790328"}})
	c := dmp.NewClient(r.config())
	ctx := context.Background()
	who := dmp.Who{Professional: familyEvent(t, "current", false).Professional, FINESS: finess, Patient: pid}
	if _, _, err := c.SetAuthorization(ctx, who, dmp.ActionAdd); err != nil {
		t.Fatal(err)
	}
	if l, _, err := c.PatientList(ctx, who, time.Now().Add(-time.Hour), dmp.SinceLastDocument); err != nil || len(l) != 0 {
		t.Fatalf("no document yet: %+v %v", l, err)
	}
	if l, _, err := c.PatientList(ctx, who, time.Now().Add(-time.Hour), dmp.SinceLastAuthorization); err != nil || len(l) != 1 || !l[0].Has(pid) {
		t.Fatalf("authorized: %+v %v", l, err)
	}
	cda, h := golden(t)
	f := feedingOf(cda, h)
	f.Author.Specialty = dmp.Code{Code: "G15_10/SM26", System: "1.2.250.1.213.1.1.4.5"}
	if _, err := c.Feed(ctx, f, finess); err != nil {
		t.Fatal(err)
	}
	if l, _, err := c.PatientList(ctx, who, time.Now().Add(-time.Hour), dmp.SinceLastDocument); err != nil || len(l) != 1 || l[0].LastAdd.IsZero() {
		t.Fatalf("a document since: %+v %v", l, err)
	}
	if l, _, err := c.PatientList(ctx, who, time.Now().Add(time.Hour), dmp.SinceLastDocument); err != nil || len(l) != 0 {
		t.Fatalf("none since later: %+v %v", l, err)
	}
}
