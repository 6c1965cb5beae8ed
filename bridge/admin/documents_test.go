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
	page := adminGet(t, j)("/documents")
	for _, want := range []string{"compte rendu d&#39;imagerie", "premier envoi (MDM^T02)", "UFNEPH", "801234564895", "reçu et acquitté, à envoyer"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "279035121518989") || strings.Contains(page, "ClinicalDocument") {
		t.Error("the page shows the patient's INS or the document")
	}
	if !strings.Contains(page, "Tous les accusés ont été remis") {
		t.Errorf("no acknowledgement failing yet:\n%s", page)
	}
	// A business acknowledgement the sender did not take: listed, with
	// why and how many times, never its content.
	ctx := context.Background()
	ack := journal.Ack{ID: "RIS-Y/Organisation-Y/015", Sender: "RIS-Y", Created: time.Now(),
		Message: []byte("MSH|^~\\&|DMPKIOSK\rPID|||279035121518989\rOBX|1|CWE|ACK_RECEPTION_DMP||016|Y\r")}
	if err := j.AckEnqueue(ctx, ack); err != nil {
		t.Fatal(err)
	}
	ack.State, ack.Attempts, ack.Next, ack.Error = journal.AckDue, 3, time.Now().Add(time.Minute), "dial tcp 10.0.0.9:6661: connection refused"
	if err := j.AckSave(ctx, ack, "zam.retry", "attempt=3"); err != nil {
		t.Fatal(err)
	}
	page = adminGet(t, j)("/documents")
	_, acks, _ := strings.Cut(page, `id="acks-failing"`)
	acks, _, _ = strings.Cut(acks, "</table>")
	if !strings.Contains(acks, "RIS-Y/Organisation-Y/015") || !strings.Contains(acks, "connection refused") || !strings.Contains(acks, `<td class="n">3</td>`) ||
		strings.Contains(page, "279035121518989") {
		t.Errorf("the acknowledgement failing:\n%s", acks)
	}
}

// The infocentre counts the documents sent by the types the financing
// counts, and the documents' CSV export gives them by unit, type and
// state (audited).
func TestDocumentsInTheInfocentre(t *testing.T) {
	j := journaltest.OpenSQLite(t)
	ctx := context.Background()
	for i, state := range []string{journal.DocSent, journal.DocSent, journal.DocWaiting} {
		d := journal.Document{ID: "d" + string(rune('1'+i)), Received: time.Now(), Kind: "T02", TypeCode: "18748-4", Unit: "RADIO", CDA: []byte("<x/>")}
		if _, err := j.KeepDocument(ctx, d); err != nil {
			t.Fatal(err)
		}
		d.State = state
		if err := j.DocSave(ctx, d, "document."+state, ""); err != nil {
			t.Fatal(err)
		}
	}
	get := adminGet(t, j)
	day := time.Now().In(paris).Format(time.DateOnly)
	page := get("/infocentre?from=" + day + "&to=" + day + "&by=day")
	if !strings.Contains(page, "compte rendu d&#39;imagerie (18748-4)</td><td class=\"n\">2<") ||
		!strings.Contains(page, "lettre de liaison de sortie (11490-0)</td><td class=\"n\">0<") || !strings.Contains(page, "en attente d&#39;autorisation du patient") {
		t.Errorf("the infocentre's documents:\n%s", page)
	}
	csv := get("/documents.csv?from=" + day + "&to=" + day + "&by=range")
	if !strings.HasPrefix(csv, "\ufeffPériode;Unité;Type de document;Code du type;État;Documents") ||
		!strings.Contains(csv, ";RADIO;compte rendu d'imagerie;18748-4;envoyé au DMP;2") {
		t.Errorf("CSV:\n%s", csv)
	}
	if l, _ := j.AuditOf(ctx, "indicators.export"); len(l) != 1 || !strings.HasPrefix(l[0].Detail, "documents ") {
		t.Errorf("the export's audit: %+v", l)
	}
}

// adminGet serves the admin web over j and returns a getter of its
// pages, signed in, failing the test on anything but 200.
func adminGet(t *testing.T, j journal.Store) func(path string) string {
	t.Helper()
	hs := httptest.NewServer((&Admin{Journal: j, Fleet: NewFleet(), Password: "pw"}).Handler())
	t.Cleanup(hs.Close)
	return func(path string) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, hs.URL+path, nil)
		req.SetBasicAuth("admin", "pw")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
}

// A held document is listed apart; the staff release it (it goes back to
// the worker, marked with who released it) or discard it (refused, who
// said so kept); both audited; a document that is not held is neither.
func TestHeldDocumentsReleasedOrDiscarded(t *testing.T) {
	j := journaltest.OpenSQLite(t)
	ctx := context.Background()
	for _, id := range []string{"h1", "h2", "s1"} {
		d := journal.Document{ID: id, Received: time.Now(), Kind: "T02", TypeCode: "18748-4", Unit: "PSY", CDA: []byte("<x/>")}
		if _, err := j.KeepDocument(ctx, d); err != nil {
			t.Fatal(err)
		}
		d.State, d.Error = journal.DocHeld, "unité PSY non prévue par les règles de l'établissement"
		if id == "s1" {
			d.State, d.Error = journal.DocSent, ""
		}
		j.DocSave(ctx, d, "document."+d.State, "")
	}
	woken := 0
	hs := httptest.NewServer((&Admin{Journal: j, Fleet: NewFleet(), Password: "pw", WakeFeed: func() { woken++ }}).Handler())
	defer hs.Close()
	page := adminGet(t, j)("/documents")
	if !strings.Contains(page, `id="documents-held"`) || strings.Count(page, `action="/documents/release"`) != 2 {
		t.Fatalf("the held list:\n%s", page)
	}
	post := func(path, id string) int {
		req, _ := http.NewRequest(http.MethodPost, hs.URL+path, strings.NewReader("id="+id))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("admin", "pw")
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("/documents/release", "h1"); code != http.StatusSeeOther || woken != 1 {
		t.Fatalf("release: %d, woken %d", code, woken)
	}
	if d, _ := j.Document(ctx, "h1"); d.State != journal.DocReceived || d.ReleasedBy != "admin:admin" {
		t.Fatalf("released: %+v", d.State)
	}
	if code := post("/documents/discard", "h2"); code != http.StatusSeeOther {
		t.Fatalf("discard: %d", code)
	}
	if d, _ := j.Document(ctx, "h2"); d.State != journal.DocRefused || !strings.Contains(d.Error, "admin:admin") {
		t.Fatalf("discarded: %+v %s", d.State, d.Error)
	}
	if code := post("/documents/release", "s1"); code != http.StatusConflict {
		t.Fatalf("a sent document released: %d", code)
	}
	rel, _ := j.AuditOf(ctx, "document.released")
	dis, _ := j.AuditOf(ctx, "document.discarded")
	if len(rel) != 1 || rel[0].Detail != "by admin:admin" || len(dis) != 1 {
		t.Fatalf("audit: %+v %+v", rel, dis)
	}
	// The discarded one is now among the refused, sent again from there.
	page = adminGet(t, j)("/documents")
	if !strings.Contains(page, `id="documents-refused"`) || strings.Count(page, `action="/documents/retry"`) != 1 {
		t.Fatalf("the refused list:\n%s", page)
	}
	if code := post("/documents/retry", "s1"); code != http.StatusConflict {
		t.Fatalf("a sent document sent again: %d", code)
	}
	if code := post("/documents/retry", "h2"); code != http.StatusSeeOther || woken != 3 {
		t.Fatalf("retry: %d, woken %d", code, woken)
	}
	if d, _ := j.Document(ctx, "h2"); d.State != journal.DocReceived {
		t.Fatalf("sent again: %+v", d.State)
	}
}

// The emergency accesses to the DMP are listed apart (who, the patient's
// pseudonym, the reason, the tablet), the latest first, and counted in
// the infocentre with the consultations.
func TestEmergencyAccessesListed(t *testing.T) {
	j := journaltest.OpenSQLite(t)
	ctx := context.Background()
	for i, reason := range []string{"Urgence vitale", "Autre urgence médicale"} {
		detail := "device=tablette-" + string(rune('1'+i)) + " professional=810100456789 patient=9ad46c4a164cd3f3 action=list mode=bris_de_glace reason=" + reason
		if err := j.Audit(ctx, "dmp.bris_de_glace", "req-"+reason, detail); err != nil {
			t.Fatal(err)
		}
		if err := j.Audit(ctx, "dmp.consult", "req-"+reason, detail); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Audit(ctx, "dmp.consult", "req-normal", "device=tablette-1 professional=810100456789 patient=x action=list mode=normal"); err != nil {
		t.Fatal(err)
	}
	// The second was refused (the patient opposed emergency access).
	if err := j.Audit(ctx, "dmp.consult.outcome", "req-Autre urgence médicale", "outcome=forbidden"); err != nil {
		t.Fatal(err)
	}
	get := adminGet(t, j)
	page := get("/emergencies")
	first, second := strings.Index(page, "Autre urgence médicale"), strings.Index(page, "Urgence vitale")
	if first < 0 || second < 0 || first > second || !strings.Contains(page, "tablette-2") || !strings.Contains(page, "9ad46c4a164cd3f3") {
		t.Errorf("the emergency accesses:\n%s", page)
	}
	refused, granted := strings.Index(page, ">refusé par le DMP<"), strings.Index(page, "<td>accordé</td>")
	if refused < first || refused > second || granted < second || strings.Count(page, "liste des documents") != 2 {
		t.Errorf("each access's outcome:\n%s", page)
	}
	day := time.Now().In(paris).Format(time.DateOnly)
	info := get("/infocentre?from=" + day + "&to=" + day + "&by=day")
	if !strings.Contains(info, `Consultations (liste ou document)</th><td class="n">3<`) || !strings.Contains(info, `bris de glace)</th><td class="n">2<`) {
		t.Errorf("the infocentre's consultations:\n%s", info)
	}
}
