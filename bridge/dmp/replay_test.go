package dmp

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"

	"dmpkiosk/bridge/internal/work"
	"dmpkiosk/firmware/event"
)

// replay is a server answering each request with the next scripted answer
// (an official example answer or a variant of it), its RelatesTo set to the
// request's MessageID; it records the transactions asked.
type replay struct {
	t       *testing.T
	mu      sync.Mutex
	answers [][]byte
	asked   []string
}

func (r *replay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	env, err := ParseEnvelope(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asked = append(r.asked, env.Action)
	if len(r.answers) == 0 {
		r.t.Errorf("unexpected request %s", env.Action)
		http.Error(w, "no more answers", http.StatusInternalServerError)
		return
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(r.answers[0]); err != nil {
		r.t.Fatal(err)
	}
	r.answers = r.answers[1:]
	if rt := doc.FindElement("//RelatesTo"); rt != nil {
		rt.SetText(env.MessageID)
	}
	out, _ := doc.WriteToBytes()
	w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
	w.Write(out)
}

func replayClient(t *testing.T, answers ...[]byte) (*Client, *replay) {
	t.Helper()
	r := &replay{t: t, answers: answers}
	srv := httptest.NewUnstartedServer(r)
	srv.EnableHTTP2 = false
	srv.StartTLS()
	t.Cleanup(srv.Close)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "750712001/CHU TEST", Organization: []string{"CHU TEST"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageContentCommitment}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert, _ := x509.ParseCertificate(der)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	return NewClient(Config{BaseURL: srv.URL + "/si-dmp-server/v2/services/", Sign: Credentials{Key: key, Chain: []*x509.Certificate{cert}},
		ServerRoots: roots, LPS: LPS{ID: "dmpkiosk", Name: "dmpkiosk", Version: "test", Homologation: "TEST"}}), r
}

func replayEvent(regime string, consent bool) *event.Event {
	yes := true
	e := &event.Event{ID: "ev-1", Regime: regime, Site: event.Site{FINESS: "750712184"},
		Professional: event.Professional{NationalID: "810100456789", CardType: "CPS", Surname: "LEROY", FirstName: "SOPHIE", Profession: "10"},
		Patient:      event.Patient{INS: &event.INS{Value: "207058575627097", OID: "1.2.250.1.213.1.4.10"}},
		Consent:      event.Consent{Informed: true, Creation: &yes, Authorization: consent}}
	e.Patient.Traits.BirthName, e.Patient.Traits.FirstName, e.Patient.Traits.Sex, e.Patient.Traits.BirthDate = "PATB-QUATRE", "LAURENCE", "M", "19070525"
	return e
}

// The processor reads the official answers (and variants built from them)
// to the right transactions and the right words on the kiosk's screen.
func TestProcessorOverOfficialAnswers(t *testing.T) {
	setAuth := func(code string) []byte {
		return variant(t, td02Answer, func(b *etree.Element) { find(b, "./attentionLine[1]/value").CreateAttr("code", code) })
	}
	noDMP := variant(t, td02Answer, func(b *etree.Element) {
		cap := find(b, "./controlActProcess")
		cap.RemoveChild(find(cap, "./subject"))
		find(cap, "./queryAck/queryResponseCode").CreateAttr("code", "NF")
		find(b, "./attentionLine[1]/value").CreateAttr("code", AuthNone)
	})
	unknown := variant(t, td02Answer, func(b *etree.Element) { b.Tag = "PRPA_IN201399UV02" })
	for _, c := range []struct {
		name    string
		e       *event.Event
		answers [][]byte
		asked   int
		code    string
		message string
	}{
		{"legacy, DMP and authorization there", replayEvent("legacy", true), [][]byte{official(t, td02Answer)}, 1, event.OutcomeExists, msgExists},
		{"current, authorization withdrawn", replayEvent("current", false), [][]byte{official(t, td02Answer), official(t, td03Answer)}, 2, event.OutcomeRefused, msgNoAuth},
		{"current, authorization given", replayEvent("current", true), [][]byte{setAuth(AuthExpired), official(t, td03Answer)}, 2, event.OutcomeAuthorized, msgAuthorized},
		{"current, no DMP", replayEvent("current", true), [][]byte{noDMP}, 1, event.OutcomeRefused, msgNoDMP},
		{"legacy, created", replayEvent("legacy", true), [][]byte{noDMP, createdVariant(t, ""), official(t, td03Answer)}, 3, event.OutcomeCreated, msgCreated},
		{"legacy, created meanwhile", replayEvent("legacy", true), [][]byte{noDMP, createdVariant(t, "DMPFound"), official(t, td03Answer)}, 3, event.OutcomeExists, msgExists},
		{"legacy, identity refused", replayEvent("legacy", true), [][]byte{noDMP, createdVariant(t, "DMPIdentityCertificationFailure")}, 2, "", msgIdentity},
		{"legacy, DMP closed", replayEvent("legacy", true), [][]byte{noDMP, createdVariant(t, "DMPClosed")}, 2, "", msgClosed},
		{"unreadable answer", replayEvent("current", true), [][]byte{unknown}, 1, "", msgUnreadable},
	} {
		t.Run(c.name, func(t *testing.T) {
			client, r := replayClient(t, c.answers...)
			out, err := (&Processor{Client: client}).Process(context.Background(), c.e)
			var perm *work.PermanentError
			var lim *work.LimitedError
			switch {
			case c.code != "":
				if err != nil || out.Code != c.code || out.Message != c.message {
					t.Fatalf("%+v %v", out, err)
				}
			case errors.As(err, &perm):
				if perm.Message != c.message {
					t.Fatalf("message %q", perm.Message)
				}
			case errors.As(err, &lim):
				if lim.Message != c.message || lim.Attempts != 3 {
					t.Fatalf("%+v", lim)
				}
			default:
				t.Fatalf("%+v %v", out, err)
			}
			if len(r.asked) != c.asked {
				t.Fatalf("asked %v", r.asked)
			}
		})
	}
}

// A CPE holder (no profession code) with no staff role configured is
// refused before any call, with a message for the desk; with the role
// configured, the VIHF carries it.
func TestStaffRole(t *testing.T) {
	client, r := replayClient(t)
	e := replayEvent("current", true)
	e.Professional.CardType, e.Professional.Profession = "CPE", ""
	_, err := (&Processor{Client: client}).Process(context.Background(), e)
	var perm *work.PermanentError
	if !errors.As(err, &perm) || perm.Message != msgNoRole || len(r.asked) != 0 {
		t.Fatalf("%v asked %v", err, r.asked)
	}
	v := &VIHF{Professional: e.Professional, StaffRole: Role{Code: "X1", CodeSystem: "1.2.3.4", Display: "Accueil"}}
	a, err := v.Build(&x509.Certificate{})
	if err != nil {
		t.Fatal(err)
	}
	role := a.FindElement(".//Role")
	if role.SelectAttrValue("code", "") != "X1" || role.SelectAttrValue("codeSystem", "") != "1.2.3.4" {
		t.Fatalf("role %v", role.Attr)
	}
}
