package admin

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"dmpkiosk/bridge/journal"
	"dmpkiosk/bridge/journal/journaltest"
)

// The documents received are listed in French, the patient not shown.
func TestDocumentsPage(t *testing.T) {
	j := journaltest.OpenSQLite(t)
	if _, err := j.KeepDocument(context.Background(), journal.Document{ID: "RIS-Y/Organisation-Y/015", Received: time.Now(), Kind: "T02",
		UniqueID: "1.2.3", INS: "279035121518989", INSOID: "1.2.250.1.213.1.4.10", TypeCode: "18748-4", Unit: "UFNEPH",
		Sender: "801234564895", CDA: []byte("<ClinicalDocument/>")}); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer((&Admin{Journal: j, Fleet: NewFleet(), Password: "pw"}).Handler())
	defer hs.Close()
	req, _ := http.NewRequest(http.MethodGet, hs.URL+"/documents", nil)
	req.SetBasicAuth("admin", "pw")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	page := string(b)
	for _, want := range []string{"compte rendu d&#39;imagerie", "premier envoi (MDM^T02)", "UFNEPH", "801234564895", "reçu et acquitté, à envoyer"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "279035121518989") || strings.Contains(page, "ClinicalDocument") {
		t.Error("the page shows the patient's INS or the document")
	}
}
