package ins

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

func TestINSRenderings(t *testing.T) {
	for _, oid := range []string{OIDNIR, OIDNIA, OIDTestNIR, OIDDemoNIR} {
		i, err := NewINS("161027575428992", oid)
		if err != nil {
			t.Fatal(err)
		}
		cx := i.CX()
		if want := "161027575428992^^^&" + oid + "&ISO^NH"; cx != want {
			t.Errorf("CX %s, want %s", cx, want)
		}
		back, err := ParseCX(cx)
		if err != nil || back != i {
			t.Errorf("ParseCX(%s) = %v, %v", cx, back, err)
		}
		fh := i.FHIR()
		b, _ := json.Marshal(fh)
		if want := `{"system":"urn:oid:` + oid + `","value":"161027575428992"}`; string(b) != want {
			t.Errorf("FHIR %s, want %s", b, want)
		}
		back, err = ParseFHIR(fh)
		if err != nil || back != i {
			t.Errorf("ParseFHIR(%v) = %v, %v", fh, back, err)
		}
		if i.Kind() == "" {
			t.Errorf("no kind for %s", oid)
		}
	}
}

func TestINSBadInput(t *testing.T) {
	bad := []string{
		"161027575428992^^^&1.2.250.1.213.1.4.2&ISO^NH",  // INS-C authority: not an INS
		"161027575428993^^^&1.2.250.1.213.1.4.8&ISO^NH",  // wrong key
		"785029912345647^^^&1.2.250.1.213.1.4.8&ISO^NH",  // temporary number
		"161027575428992^^^&1.2.250.1.213.1.4.8&ISO^PI",  // not NH
		"161027575428992^^^1.2.250.1.213.1.4.8&ISO^NH",   // missing &
		"161027575428992^x^^&1.2.250.1.213.1.4.8&ISO^NH", // extra component
		"161027575428992",
		"",
	}
	for _, s := range bad {
		if _, err := ParseCX(s); !errors.Is(err, ErrINS) {
			t.Errorf("ParseCX(%q): %v, want ErrINS", s, err)
		}
	}
	if _, err := ParseFHIR(FHIRIdentifier{System: OIDNIR, Value: "161027575428992"}); !errors.Is(err, ErrINS) {
		t.Errorf("FHIR system without urn:oid: accepted")
	}
	// The NIR's own error stays reachable under ErrINS.
	if _, err := NewINS("161027575428993", OIDNIR); !errors.Is(err, ErrNIR) {
		t.Errorf("NewINS with a wrong key: %v, want it to unwrap to ErrNIR", err)
	}
}

// A NIA is told by its OID: a number shaped as a temporary one is a
// matricule under the NIA OID, not under the NIR OID.
func TestNIAByOID(t *testing.T) {
	k, err := NIRKey("7090763220888")
	if err != nil {
		t.Fatal(err)
	}
	m := "7090763220888" + fmt.Sprintf("%02d", k)
	if i, err := NewINS(m, OIDNIA); err != nil || i.Kind() != "NIA" {
		t.Errorf("NIA: %v", err)
	}
	if _, err := NewINS(m, OIDNIR); err == nil {
		t.Error("a temporary number accepted as a NIR")
	}
}
