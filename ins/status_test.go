package ins

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestIdentityStatus(t *testing.T) {
	// INSi first, then a document: qualifiée.
	var id Identity
	if err := id.Recovered(); err != nil || id.Status != Recuperee {
		t.Fatalf("recovered: %v %v", id.Status, err)
	}
	if id.Shareable() {
		t.Fatal("a récupérée identity must not be shareable")
	}
	if err := id.DocumentChecked(DocPassport, false); err != nil || id.Status != Qualifiee {
		t.Fatalf("document: %v %v", id.Status, err)
	}
	if !id.Shareable() {
		t.Fatal("a qualifiée identity must be shareable")
	}

	// A document first, then INSi: qualifiée too.
	id = Identity{}
	if err := id.DocumentChecked(DocResidencePermit, false); err != nil || id.Status != Validee {
		t.Fatalf("document first: %v %v", id.Status, err)
	}
	if err := id.Recovered(); err != nil || id.Status != Qualifiee {
		t.Fatalf("then INSi: %v %v", id.Status, err)
	}

	// Documents that do not validate.
	id = Identity{}
	if err := id.DocumentChecked(DocDrivingLicence, false); !errors.Is(err, ErrDocumentRefused) || id.Status != Provisoire {
		t.Fatalf("driving licence: %v %v", id.Status, err)
	}
	if err := id.DocumentChecked(DocBirthCertificate, false); !errors.Is(err, ErrDocumentRefused) {
		t.Fatalf("birth certificate for an adult: %v", err)
	}
	if err := id.DocumentChecked(DocBirthCertificate, true); err != nil || id.Status != Validee {
		t.Fatalf("birth certificate for a minor: %v %v", id.Status, err)
	}

	// Doubt sends a qualified identity back to provisoire and forbids INSi.
	id = Identity{Status: Qualifiee}
	id.MarkDoubtful()
	if id.Status != Provisoire || id.Shareable() {
		t.Fatalf("doubtful: %v", id.Status)
	}
	if err := id.Recovered(); !errors.Is(err, ErrINSiForbidden) || id.Status != Provisoire {
		t.Fatalf("INSi on a doubtful identity: %v %v", id.Status, err)
	}
	if err := id.DocumentChecked(DocPassport, false); !errors.Is(err, ErrINSiForbidden) || id.Status != Provisoire {
		t.Fatalf("document on a doubtful identity: %v %v", id.Status, err)
	}
	id = Identity{}
	id.MarkFictitious()
	if err := id.CanCallINSi(); !errors.Is(err, ErrINSiForbidden) {
		t.Fatal("INSi allowed on a fictitious identity")
	}
}

func TestCanTransition(t *testing.T) {
	allowed := map[[2]Status]bool{
		{Provisoire, Recuperee}: true, {Provisoire, Validee}: true,
		{Recuperee, Qualifiee}: true, {Validee, Qualifiee}: true,
	}
	for from := Provisoire; from <= Qualifiee; from++ {
		for to := Provisoire; to <= Qualifiee; to++ {
			want := allowed[[2]Status{from, to}] || from == to || to == Provisoire
			if got := CanTransition(from, to); got != want {
				t.Errorf("%v → %v: %v, want %v", from, to, got, want)
			}
		}
	}
}

func TestStatusText(t *testing.T) {
	b, err := json.Marshal(Identity{Status: Recuperee, Doubtful: true})
	if err != nil || string(b) != `{"status":"récupérée","douteuse":true}` {
		t.Fatalf("%s %v", b, err)
	}
	for in, want := range map[string]Status{`"qualifiée"`: Qualifiee, `"QUALIFIEE"`: Qualifiee, `"validee"`: Validee, `"provisoire"`: Provisoire} {
		var s Status
		if err := json.Unmarshal([]byte(in), &s); err != nil || s != want {
			t.Errorf("%s: %v %v", in, s, err)
		}
	}
	var s Status
	if err := json.Unmarshal([]byte(`"certifiée"`), &s); err == nil {
		t.Error("an unknown status was accepted")
	}
	if _, err := Status(9).MarshalText(); err == nil {
		t.Error("an out-of-range status was marshalled")
	}
}
