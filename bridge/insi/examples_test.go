package insi_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"dmpkiosk/bridge/insi"
	"dmpkiosk/bridge/insi/insisim"
	"dmpkiosk/ins"
)

func example(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "insi-examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The answers and faults as the live service and the CNDA files write
// them (testdata/insi-examples/SOURCES.md) are read; the two the official
// schemas refuse are still read, and the schemas do refuse them (the
// validator can fail).
func TestOfficialExamples(t *testing.T) {
	v := schemas(t)
	ctx := context.Background()
	for name, valid := range map[string]bool{
		"rep-00-inshisto.xml": true, "rep-00-cnda-2.04-badorder.xml": false, "rep-01.xml": true, "rep-02.xml": true,
		"fault-siram100-desir550.xml": true, "fault-siram40-insi102.xml": false, "req-traits-mtls.xml": true,
	} {
		if err := v.Validate(ctx, example(t, name)); (err == nil) != valid {
			t.Errorf("%s: schemas say %v", name, err)
		}
	}
	q := traits("ECETINSI", "PIERRE-ALAIN", "M", "2009-07-14", "")
	for _, name := range []string{"rep-00-inshisto.xml", "rep-00-cnda-2.04-badorder.xml"} {
		env, err := insi.ParseEnvelope(example(t, name))
		if err != nil {
			t.Fatal(err)
		}
		r, err := insi.ParseResult(insi.OpTraits, env.Body, &q)
		if err != nil || r.INS.Number != "1090763220834" || r.INS.Key != "89" || r.INS.OID != ins.OIDNIR || len(r.History) == 0 ||
			r.History[0].Number != "2090763220834" || r.History[0].Start != "2019-03-01" || r.Traits.BirthPlace != "63220" {
			t.Errorf("%s: %+v %v", name, r, err)
		}
	}
	for name, cr := range map[string]string{"rep-01.xml": insi.CRNotFound, "rep-02.xml": insi.CRSeveral} {
		env, err := insi.ParseEnvelope(example(t, name))
		if err != nil {
			t.Fatal(err)
		}
		if r, err := insi.ParseResult(insi.OpTraits, env.Body, nil); err != nil || r.CR != cr || r.INS != nil {
			t.Errorf("%s: %+v %v", name, r, err)
		}
	}
	for name, want := range map[string]insi.Fault{
		"fault-siram100-desir550.xml": {Code: "desir_550", Subcode: "siram_100", Severity: "erreur"},
		"fault-siram40-insi102.xml":   {Code: "insi_102", Subcode: "siram_40", Severity: "fatal"},
	} {
		_, err := insi.ParseEnvelope(example(t, name))
		var f *insi.Fault
		if !errors.As(err, &f) || f.Code != want.Code || f.Subcode != want.Subcode || f.Severity != want.Severity {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Variants built from the official answer: a wrong key, an unknown
	// OID, a wrong label.
	for name, mutate := range map[string]func([]byte) []byte{
		"wrong key":   func(b []byte) []byte { return bytes.Replace(b, []byte("<Cle>89</Cle>"), []byte("<Cle>88</Cle>"), 1) },
		"unknown OID": func(b []byte) []byte { return bytes.Replace(b, []byte(ins.OIDNIR), []byte("1.2.3"), 1) },
		"wrong label": func(b []byte) []byte {
			return bytes.Replace(b, []byte("<LibelleCR>OK</LibelleCR>"), []byte("<LibelleCR>ok</LibelleCR>"), 1)
		},
		"no traits": func(b []byte) []byte {
			i := bytes.Index(b, []byte("<TIQ>"))
			j := bytes.Index(b, []byte("</TIQ>"))
			return append(b[:i:i], b[j+6:]...)
		},
	} {
		env, err := insi.ParseEnvelope(mutate(example(t, "rep-00-inshisto.xml")))
		if err == nil {
			_, err = insi.ParseResult(insi.OpTraits, env.Body, &q)
		}
		if !errors.Is(err, insi.ErrInconsistent) && !errors.Is(err, insi.ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Every request the client writes validates against the official schemas.
func TestRequestsValidate(t *testing.T) {
	v := schemas(t)
	r := newRig(t, insisim.Options{}, nil)
	for name, body := range map[string]func() []byte{
		"traits": func() []byte {
			b, err := r.client.Request(insi.Manu, insi.OpTraits, insi.TraitsBody(traits("DE VINCI", "LEONARDO", "M", "2014-02-01", "63220")), insi.NewUUID())
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		"vitale": func() []byte {
			q := insi.VitaleQuery{Individual: &insi.Matricule{Number: "2751263220749", Key: "74"}, Insured: insi.Matricule{Number: "2751263220749", Key: "74"},
				BirthName: "ADRUN", BirthDate: "19751231", BirthRank: 1}
			b, err := r.client.Request(insi.Auto, insi.OpVitale, insi.VitaleBody(q), insi.NewUUID())
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
	} {
		if err := v.Validate(context.Background(), body()); err != nil {
			t.Errorf("%s request: %v", name, err)
		}
	}
}
