package dmp_test

import (
	"os"
	"path/filepath"
	"testing"

	"dmpkiosk/bridge/dmp"
)

// Whatever the DMP answers, the client reads it or refuses it; it never
// panics. Seeded with the official example answers.
func FuzzAnswers(f *testing.F) {
	for _, name := range []string{"TD0.2_Test-d-existence_answer.xml", "TD0.3_Mise-a-jour-de-l-autorisation_answer.xml",
		"TD1.3a_Consultation_answer.xml", "TD1.3b_Modification_answer.xml"} {
		b, err := os.ReadFile(filepath.Join("testdata", "dmp-examples", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body><soap:Fault><soap:Code><soap:Value>soap:Sender</soap:Value></soap:Code></soap:Fault></soap:Body></soap:Envelope>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := dmp.ParseEnvelope(b)
		if err != nil || env.Body == nil {
			return
		}
		_, _ = dmp.ParseExistence(env.Body)
		_, _ = dmp.ParseAdmin(env.Body)
		_ = dmp.ParseCreated(env.Body)
		_, _ = dmp.ParseAuthorization(env.Body)
	})
}
