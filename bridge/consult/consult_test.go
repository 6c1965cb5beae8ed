package consult

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"image/png"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"dmpkiosk/apdu/cps"
	"dmpkiosk/bridge/dmp"
	"dmpkiosk/bridge/dmp/dmpsim"
	"dmpkiosk/bridge/dmp/dmpsim/dmpsimtest"
	"dmpkiosk/bridge/events/eventstest"
	"dmpkiosk/bridge/journal"
	"dmpkiosk/bridge/journal/journaltest"
	"dmpkiosk/firmware/event"
	"dmpkiosk/provisioning"
)

var (
	dominique = event.INS{Value: "279035121518989", OID: "1.2.250.1.213.1.4.10"}
	opposed   = event.INS{Value: "180026912304567", OID: "1.2.250.1.213.1.4.10"}
	blocking  = event.INS{Value: "175067511203371", OID: "1.2.250.1.213.1.4.10"}
)

// published keeps what the flow sends.
type published struct {
	mu   sync.Mutex
	msgs map[string][][]byte
}

func (p *published) Publish(topic string, payload []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs[topic] = append(p.msgs[topic], payload)
	return nil
}

// rig is a bridge's consultation flow against the DMP simulator, with a
// site whose tablet is kiosk-1 and the test cards.
type rig struct {
	f       *eventstest.Fixture
	flow    *Flow
	out     *published
	journal journal.Store
	client  *dmp.Client
	golden  []byte
	// authorized are the patients whose authorization was recorded.
	authorized []string
	reply      *ecdsa.PrivateKey // the last request's
}

func newRig(t *testing.T) *rig {
	f := eventstest.NewFixture(t)
	_, client := dmpsimtest.Start(t,
		dmpsim.Person{IDs: []dmp.PatientID{{Root: dominique.OID, Extension: dominique.Value}},
			Demographics: dmp.Demographics{BirthName: "PAT-TROIS", FirstName: "DOMINIQUE", Sex: "F", BirthDate: "19790328"}},
		dmpsim.Person{IDs: []dmp.PatientID{{Root: blocking.OID, Extension: blocking.Value}}, Blocked: []string{"810100456789"},
			Demographics: dmp.Demographics{BirthName: "MARTIN", FirstName: "PAUL", Sex: "M", BirthDate: "19750612"}},
		dmpsim.Person{IDs: []dmp.PatientID{{Root: opposed.OID, Extension: opposed.Value}}, OpposedBrisDeGlace: true,
			Demographics: dmp.Demographics{BirthName: "DURAND", FirstName: "JEAN-PIERRE", Sex: "M", BirthDate: "19800215"}})
	j := journaltest.OpenSQLite(t)
	r := &rig{f: f, out: &published{msgs: map[string][][]byte{}}, journal: j, client: client}
	r.flow = New(Config{DMP: client, Journal: j, Ward: j, Broker: r.out, EncKey: f.V.EncKey, KioskCA: f.V.KioskCA, CardCA: f.IGC.Pool(),
		Revocations: f.V.Revocations, Chains: event.NewChainCache(), Authorized: func(_ context.Context, ins string) { r.authorized = append(r.authorized, ins) }})
	// The golden document in Dominique's DMP, fed by the establishment.
	cda, err := os.ReadFile("../dmp/testdata/cda/DOC_NON_STRUCTURE_CDA-R2-N1.xml")
	if err != nil {
		t.Fatal(err)
	}
	r.golden = cda
	h, err := dmp.ReadCDAHeader(cda)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	desk := dmp.Who{Professional: event.Professional{NationalID: "810100456789", NationalIDType: "RPPS", Surname: "LEROY", FirstName: "SOPHIE",
		Profession: "10"}, FINESS: "750712184", Patient: dmp.PatientID{Root: dominique.OID, Extension: dominique.Value}}
	if _, _, err := client.SetAuthorization(ctx, desk, dmp.ActionAdd); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Feed(ctx, dmp.Feeding{CDA: cda, Header: h, Author: dmp.XDSAuthor{ID: "801234564895", Family: "THOMAS", Given: "ERIC",
		Specialty: h.AuthorSpecialty}, ContentType: dmp.Code{Code: "03", System: dmp.CSContentType, Display: "Hospitalisation"}, SourceID: "1.2.250.1.999.1.1",
		LotID: "1.2.250.1.999.1.1.3.1", SignatureID: "1.2.250.1.999.1.1.4.1", Time: time.Now()}, "750712184"); err != nil {
		t.Fatal(err)
	}
	return r
}

// ask seals a request as the tablet kiosk-1 does, signed by card, hands it
// to the flow and returns the answers it got, opened.
func (r *rig) ask(t *testing.T, card string, req event.ConsultRequest) []*event.ConsultAnswer {
	t.Helper()
	cred := r.f.Site.Creds["kiosk-1"]
	key, cert, err := r.f.IGC.UnlockedSigner(card)
	if err != nil {
		t.Fatal(err)
	}
	reply, err := event.NewReplyKey()
	if err != nil {
		t.Fatal(err)
	}
	r.reply = reply
	if req.ID == "" {
		req.ID = "0190f1c2-0000-7000-8000-" + strings.Repeat("0", 11) + string(rune('a'+len(r.out.msgs[provisioning.ResultsTopic("kiosk-1")])%26))
	}
	if req.Device == "" {
		req.Device, req.Site = "kiosk-1", event.Site{FINESS: "750712184", Unit: "ACCUEIL"}
	}
	if req.Time.IsZero() {
		req.Time = time.Now()
	}
	if req.Purpose == "" {
		req.Purpose = event.PurposeNormal
	}
	if req.Patient.Value == "" {
		req.Patient = dominique
	}
	if req.Professional.NationalID == "" {
		req.Professional = event.Professional{NationalID: cert.Subject.CommonName}
	}
	jwe, err := event.SealConsult(&req, reply, event.Signer{Key: cred.PrivateKey.(crypto.Signer), Chain: []*x509.Certificate{cred.Leaf}},
		event.Signer{Key: key, Chain: []*x509.Certificate{cert}}, &r.f.Site.EncKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return r.handle(t, jwe, reply, req.ID)
}

func (r *rig) handle(t *testing.T, jwe string, reply *ecdsa.PrivateKey, id string) []*event.ConsultAnswer {
	t.Helper()
	topic := provisioning.ResultsTopic("kiosk-1")
	r.out.mu.Lock()
	before := len(r.out.msgs[topic])
	r.out.mu.Unlock()
	r.flow.Handle("kiosk-1", []byte(jwe))
	r.out.mu.Lock()
	defer r.out.mu.Unlock()
	var out []*event.ConsultAnswer
	for _, m := range r.out.msgs[topic][before:] {
		var s event.Sealed
		if err := json.Unmarshal(m, &s); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(m, []byte(dominique.Value)) || bytes.Contains(m, []byte("PAT-TROIS")) {
			t.Fatal("an answer on the broker shows the patient in clear")
		}
		a, err := event.OpenConsultAnswer(s, reply, id)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

func one(t *testing.T, l []*event.ConsultAnswer) *event.ConsultAnswer {
	t.Helper()
	if len(l) != 1 || !l[0].Last {
		t.Fatalf("%d answers, want one, the last", len(l))
	}
	return l[0]
}

// A doctor at the bedside: for a patient who has not authorized the
// establishment, he is asked whether the patient agrees; with the
// patient's agreement it is recorded and the (empty) list comes. For a
// patient with a document: the list (French type, the ids to read), then
// the document as its two pages, the first marked 1 of 2, the last marked
// last; every consultation is audited without the INS.
func TestDoctorReadsTheDMP(t *testing.T) {
	r := newRig(t)
	a := one(t, r.ask(t, "cps-medecin", event.ConsultRequest{Action: event.ConsultList, Patient: opposed}))
	if a.Outcome != event.ConsultNotAuthorized || a.Authorization == dmp.AuthValid || a.Message == "" {
		t.Fatalf("not authorized: %+v", a)
	}
	a = one(t, r.ask(t, "cps-medecin", event.ConsultRequest{Action: event.ConsultAuthorize, Patient: opposed}))
	if a.Outcome != event.ConsultOK || a.Authorization != dmp.AuthValid || len(a.Entries) != 0 || a.Message == "" {
		t.Fatalf("authorized: %+v", a)
	}
	if len(r.authorized) != 1 || r.authorized[0] != opposed.Value {
		t.Errorf("the documents waiting were not told: %v", r.authorized)
	}
	a = one(t, r.ask(t, "cps-medecin", event.ConsultRequest{Action: event.ConsultList}))
	if a.Outcome != event.ConsultOK || a.Authorization != dmp.AuthValid || len(a.Entries) != 1 {
		t.Fatalf("a DMP with a document: %+v", a)
	}
	e := a.Entries[0]
	if e.UniqueID != "1.3.6.1.4.1.19376.1.2.20.12345.1.1" || e.Type != "11502-2" || e.TypeLabel == "11502-2" || e.Date.IsZero() ||
		e.EntryUUID == "" || e.Repository != dmp.RepositoryDMP || e.Title == "" {
		t.Errorf("entry: %+v", e)
	}
	parts := r.ask(t, "cps-medecin", event.ConsultRequest{Action: event.ConsultDocument, UniqueID: e.UniqueID, Repository: e.Repository})
	// The pages come in parts within the brokers' packet size, in order,
	// the first page's before the second's, only the very last marked.
	pages := map[int][]byte{}
	for i, a := range parts {
		p := a.Page
		if p == nil || p.Of != 2 || p.Parts < 1 || len(p.Data) > event.MaxPagePart || a.Last != (i == len(parts)-1) {
			t.Fatalf("part %d: %+v", i, a)
		}
		pages[p.N] = append(pages[p.N], p.Data...)
		if msg, _ := event.SealConsultAnswer(a, &jose.JSONWebKey{Key: &r.reply.PublicKey}); len(msg) > provisioning.MaxPacketBytes-1024 {
			t.Fatalf("part %d is %d bytes sealed", i, len(msg))
		}
	}
	if len(pages) != 2 || parts[0].Page.N != 1 {
		t.Fatalf("%d pages", len(pages))
	}
	for n, b := range pages {
		if _, err := png.Decode(bytes.NewReader(b)); err != nil {
			t.Errorf("page %d: %v", n, err)
		}
	}
	a = one(t, r.ask(t, "cps-medecin", event.ConsultRequest{Action: event.ConsultDocument, UniqueID: "1.2.3.4"}))
	if a.Outcome != event.ConsultForbidden || !strings.Contains(a.Message, "plus dans le DMP") {
		t.Errorf("an unknown document: %+v", a)
	}
	ctx := context.Background()
	audit, err := r.journal.AuditOf(ctx, "dmp.consult")
	if err != nil || len(audit) != 5 {
		t.Fatalf("audit: %d %v", len(audit), err)
	}
	for _, l := range audit {
		if strings.Contains(l.Detail, dominique.Value) || strings.Contains(l.Detail, opposed.Value) || !strings.Contains(l.Detail, "professional=810100456789") ||
			!strings.Contains(l.Detail, "patient="+Pseudonym(dominique)) && !strings.Contains(l.Detail, "patient="+Pseudonym(opposed)) {
			t.Errorf("audit: %s", l.Detail)
		}
	}
	if !strings.Contains(audit[3].Detail, "document=1.3.6.1.4.1.19376.1.2.20.12345.1.1") || !strings.Contains(audit[3].Detail, "mode=normal") {
		t.Errorf("the document's audit: %s", audit[3].Detail)
	}
}

// Refused plainly, before any call to the DMP: a card that is not a
// health professional's (CPE, CDE), a request whose professional is not
// the card's, a request too old; an emergency without a reason. A request
// that does not open gets no answer and is audited.
func TestConsultRefusals(t *testing.T) {
	r := newRig(t)
	for name, c := range map[string]struct {
		card string
		req  event.ConsultRequest
		want string
	}{
		"a CPE":                   {"cpe-accueil", event.ConsultRequest{Action: event.ConsultList}, event.ConsultForbidden},
		"a CDE":                   {"cde-directeur", event.ConsultRequest{Action: event.ConsultList}, event.ConsultForbidden},
		"another's name":          {"cps-medecin", event.ConsultRequest{Action: event.ConsultList, Professional: event.Professional{NationalID: "810100998877"}}, event.ConsultRefused},
		"too old":                 {"cps-medecin", event.ConsultRequest{Action: event.ConsultList, Time: time.Now().Add(-10 * time.Minute)}, event.ConsultRefused},
		"an emergency, no reason": {"cps-medecin", event.ConsultRequest{Action: event.ConsultList, Purpose: event.PurposeBrisDeGlace}, event.ConsultRefused},
		"no INS":                  {"cps-medecin", event.ConsultRequest{Action: event.ConsultList, Patient: event.INS{Value: "1234", OID: "1.2.3"}}, event.ConsultRefused},
	} {
		a := one(t, r.ask(t, c.card, c.req))
		if a.Outcome != c.want || a.Message == "" {
			t.Errorf("%s: %+v", name, a)
		}
	}
	refused, _ := r.journal.AuditOf(context.Background(), "dmp.consult.refused")
	if len(refused) != 6 {
		t.Errorf("%d refusals audited", len(refused))
	}
	if l, _ := r.journal.AuditOf(context.Background(), "dmp.consult"); len(l) != 0 {
		t.Errorf("a refused request went on: %+v", l)
	}
	reply, _ := event.NewReplyKey()
	if got := r.handle(t, "not a JWE", reply, "x"); len(got) != 0 {
		t.Error("an unreadable request answered")
	}
	if l, _ := r.journal.AuditOf(context.Background(), "dmp.consult.rejected"); len(l) != 1 {
		t.Errorf("rejected: %+v", l)
	}
}

// Emergency access (bris de glace): without the establishment's
// authorization (the patient withdrew it), with a reason, audited apart;
// refused when the patient opposed it; no authorization recorded in it.
func TestEmergencyAccess(t *testing.T) {
	r := newRig(t)
	desk := dmp.Who{Professional: event.Professional{NationalID: "810100456789", NationalIDType: "RPPS", Surname: "LEROY", FirstName: "SOPHIE",
		Profession: "10"}, FINESS: "750712184", Patient: dmp.PatientID{Root: dominique.OID, Extension: dominique.Value}}
	if _, _, err := r.client.SetAuthorization(context.Background(), desk, dmp.ActionRemove); err != nil {
		t.Fatal(err)
	}
	if a := one(t, r.ask(t, "cps-medecin", event.ConsultRequest{Action: event.ConsultList})); a.Outcome != event.ConsultForbidden {
		t.Fatalf("normal access, the authorization withdrawn: %+v", a)
	}
	reason := event.EmergencyReasons[0]
	a := one(t, r.ask(t, "cps-medecin", event.ConsultRequest{Action: event.ConsultList, Purpose: event.PurposeBrisDeGlace, Reason: reason}))
	if a.Outcome != event.ConsultOK || len(a.Entries) != 1 {
		t.Fatalf("bris de glace: %+v", a)
	}
	a = one(t, r.ask(t, "cps-medecin", event.ConsultRequest{Action: event.ConsultList, Purpose: event.PurposeBrisDeGlace, Reason: reason, Patient: opposed}))
	if a.Outcome != event.ConsultForbidden || !strings.Contains(a.Message, "opposé") {
		t.Errorf("a patient who opposed it: %+v", a)
	}
	bdg, _ := r.journal.AuditOf(context.Background(), "dmp.bris_de_glace")
	if len(bdg) != 2 || !strings.Contains(bdg[0].Detail, "reason="+reason) || strings.Contains(bdg[0].Detail, dominique.Value) {
		t.Errorf("emergency audit: %+v", bdg)
	}
	// What came of each: the refused one said in the trail, by its
	// request.
	out, _ := r.journal.AuditOf(context.Background(), "dmp.consult.outcome")
	outcome := map[string]string{}
	for _, o := range out {
		outcome[o.Ref] = o.Detail
	}
	if len(bdg) == 2 && (outcome[bdg[0].Ref] != "" || outcome[bdg[1].Ref] != "outcome=forbidden") {
		t.Errorf("outcomes audited: %+v (emergencies %+v)", out, bdg)
	}
	a = one(t, r.ask(t, "cps-medecin", event.ConsultRequest{Action: event.ConsultAuthorize, Purpose: event.PurposeBrisDeGlace, Reason: reason}))
	if a.Outcome != event.ConsultRefused {
		t.Errorf("an authorization in emergency: %+v", a)
	}
}

// The tablet's unit's inpatients, as the GAM placed them: the INS given
// only for a qualified identity; another unit's are not listed.
func TestWardList(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	for _, w := range []journal.WardPatient{
		{GAMPatient: journal.GAMPatient{IPP: "100001", INS: dominique.Value, INSOID: dominique.OID, BirthName: "PAT-TROIS", FirstName: "DOMINIQUE",
			BirthDate: "19790328", Sex: "F"}, Unit: "ACCUEIL", Room: "12"},
		{GAMPatient: journal.GAMPatient{IPP: "100002", BirthName: "DURAND", FirstName: "LEA", BirthDate: "20100504", Sex: "F"}, Unit: "ACCUEIL", Room: "14"},
		{GAMPatient: journal.GAMPatient{IPP: "100003", BirthName: "MARTIN", FirstName: "PAUL", BirthDate: "19750612", Sex: "M"}, Unit: "CARDIO", Room: "1"},
	} {
		if err := r.journal.WardMove(ctx, "gam", w); err != nil {
			t.Fatal(err)
		}
	}
	a := one(t, r.ask(t, "cps-medecin", event.ConsultRequest{Action: event.ConsultWard, Patient: event.INS{}, Since: time.Now().Add(-time.Hour)}))
	if a.Outcome != event.ConsultOK || len(a.Patients) != 2 || a.Patients[0].INS == nil || a.Patients[0].INS.Value != dominique.Value ||
		a.Patients[1].INS != nil || a.Patients[1].Room != "14" {
		t.Fatalf("the unit's inpatients: %+v", a)
	}
	// DOMINIQUE's DMP received the golden document (newRig fed it).
	if !a.Patients[0].NewDocuments || a.Patients[1].NewDocuments {
		t.Errorf("new documents: %+v", a.Patients)
	}
	if a := one(t, r.ask(t, "cps-medecin", event.ConsultRequest{Action: event.ConsultWard, Patient: event.INS{}, Since: time.Now().Add(time.Minute)})); a.Patients[0].NewDocuments {
		t.Errorf("none since later: %+v", a.Patients)
	}
	if a := one(t, r.ask(t, "cpe-accueil", event.ConsultRequest{Action: event.ConsultWard, Patient: event.INS{}})); a.Outcome != event.ConsultForbidden {
		t.Errorf("a CPE: %+v", a)
	}
}

// A patient who blocked this doctor: the DMP refuses, TD1.6 says why and
// the tablet is told in words; another doctor reads.
func TestBlockedProfessional(t *testing.T) {
	r := newRig(t)
	a := one(t, r.ask(t, "cps-medecin", event.ConsultRequest{Action: event.ConsultAuthorize, Patient: blocking}))
	if a.Outcome != event.ConsultForbidden || !strings.Contains(a.Message, "bloqué votre accès") {
		t.Fatalf("blocked: %+v", a)
	}
	if a := one(t, r.ask(t, "cpf-interne", event.ConsultRequest{Action: event.ConsultList, Patient: blocking})); a.Outcome != event.ConsultOK {
		t.Errorf("another doctor: %+v", a)
	}
}

// The VIHF names the card certificate's holder; the specialty and the
// card's serial come from the request only when it names the same
// professional.
func TestProfessionalOfTheCard(t *testing.T) {
	holder := cps.Holder{CardType: "CPS", NationalID: "810100456789", NationalIDType: "8", Surname: "LEROY", FirstName: "SOPHIE", Profession: "10"}
	got := professional(holder, event.Professional{NationalID: "810100456789", Surname: "AUTRE", Profession: "21", Speciality: "SM26", CardSerial: "0000104567"})
	if got.Surname != "LEROY" || got.Profession != "10" || got.Speciality != "SM26" || got.CardSerial != "0000104567" {
		t.Errorf("the card's holder: %+v", got)
	}
	if got := professional(holder, event.Professional{NationalID: "810100999999", Speciality: "SM26"}); got.Speciality != "" || got.NationalID != "810100456789" {
		t.Errorf("another professional's specialty taken: %+v", got)
	}
}
