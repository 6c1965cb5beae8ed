package insi_test

import (
	"os"
	"path/filepath"
	"testing"

	"dmpkiosk/bridge/insi"
)

// Whatever INSi answers, the client reads it or refuses it; it never
// panics. Seeded with the answers and faults as the live service writes
// them.
func FuzzAnswers(f *testing.F) {
	entries, err := os.ReadDir(filepath.Join("testdata", "insi-examples"))
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".xml" {
			b, err := os.ReadFile(filepath.Join("testdata", "insi-examples", e.Name()))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	q := insi.Traits{BirthName: "ECETINSI", FirstNames: []string{"PIERRE-ALAIN"}, Sex: "M", BirthDate: "2009-07-14"}
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := insi.ParseEnvelope(b)
		if err != nil {
			return
		}
		_, _ = insi.ParseResult(insi.OpTraits, env.Body, &q)
		_, _ = insi.ParseResult(insi.OpVitale, env.Body, nil)
	})
}
