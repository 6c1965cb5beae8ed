package insi_test

import (
	"errors"
	"testing"
	"time"

	"dmpkiosk/bridge/insi"
	"dmpkiosk/ins"
)

func TestQualify(t *testing.T) {
	official := traits("TCHITCHI", "CATARINA BELLA", "F", "1936-06-21", "63220")
	r := &insi.Result{CR: insi.CRFound, INS: &insi.INS{Matricule: insi.Matricule{Number: "2360663220836", Key: "56"}, OID: ins.OIDNIR},
		Traits: &official, LookedUp: time.Now()}
	// The document as the professional reads it: accents and case differ,
	// the traits are the same.
	var id ins.Identity
	if diff, err := insi.Qualify(&id, r, ins.DocIdentityCard, false, traits("Tchitchi", "Catarina Bella", "F", "19360621", "63220")); err != nil || len(diff) > 0 || !id.Shareable() {
		t.Fatalf("same traits: %v %v %+v", diff, err, id)
	}
	// A first name more on the document (OLA): not qualified, récupérée.
	id = ins.Identity{}
	diff, err := insi.Qualify(&id, r, ins.DocIdentityCard, false, traits("TCHITCHI", "OLA CATARINA BELLA", "F", "1936-06-21", "63220"))
	if !errors.Is(err, insi.ErrTraitsDiffer) || len(diff) != 1 || diff[0].Trait != "first_names" || id.Status != ins.Recuperee {
		t.Fatalf("a first name more: %v %v %+v", diff, err, id)
	}
	// The same, the document already checked at the desk (validée): the
	// differences keep it from qualifiée.
	id = ins.Identity{Status: ins.Validee}
	if _, err := insi.Qualify(&id, r, ins.DocIdentityCard, false, traits("TCHITCHI", "OLA CATARINA BELLA", "F", "1936-06-21", "63220")); !errors.Is(err, insi.ErrTraitsDiffer) || id.Status != ins.Recuperee {
		t.Fatalf("validée, a first name more: %v %+v", err, id)
	}
	// No birth place on the document: not compared, not qualified.
	id = ins.Identity{}
	if _, err := insi.Qualify(&id, r, ins.DocPassport, false, traits("TCHITCHI", "CATARINA BELLA", "F", "1936-06-21", "")); !errors.Is(err, insi.ErrTraitsDiffer) {
		t.Fatalf("no birth place: %v", err)
	}
	// A driving licence does not qualify.
	id = ins.Identity{}
	if _, err := insi.Qualify(&id, r, ins.DocDrivingLicence, false, traits("TCHITCHI", "CATARINA BELLA", "F", "1936-06-21", "63220")); !errors.Is(err, ins.ErrDocumentRefused) || id.Shareable() {
		t.Fatalf("driving licence: %v", err)
	}
	// A doubtful identity is not sent, nor qualified.
	id = ins.Identity{Doubtful: true}
	if _, err := insi.Qualify(&id, r, ins.DocPassport, false, official); !errors.Is(err, ins.ErrINSiForbidden) {
		t.Fatalf("doubtful: %v", err)
	}
}
