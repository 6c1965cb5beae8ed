package dmp

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

// official reads one of the package DMP's example messages
// (testdata/dmp-examples/SOURCES.md).
func official(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "dmp-examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// variant is an official answer changed by edit (its body element given).
func variant(t testing.TB, name string, edit func(body *etree.Element)) []byte {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(official(t, name)); err != nil {
		t.Fatal(err)
	}
	body := doc.Root().SelectElement("Body").ChildElements()[0]
	edit(body)
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func body(t testing.TB, data []byte) (*etree.Element, error) {
	t.Helper()
	env, err := ParseEnvelope(data)
	if err != nil {
		return nil, err
	}
	return env.Body, nil
}

func find(el *etree.Element, path string) *etree.Element {
	f := el.FindElement(path)
	if f == nil {
		panic("no " + path)
	}
	return f
}

const (
	td02Answer  = "TD0.2_Test-d-existence_answer.xml"
	td13Answer  = "TD1.3a_Consultation_answer.xml"
	td03Answer  = "TD0.3_Mise-a-jour-de-l-autorisation_answer.xml"
	td13bAnswer = "TD1.3b_Modification_answer.xml"
)

// The official TD0.2 answer, and answers built from it with other values,
// read to what they say.
func TestOfficialExistenceAnswers(t *testing.T) {
	setAuth := func(code string) func(*etree.Element) {
		return func(b *etree.Element) { find(b, "./attentionLine[1]/value").CreateAttr("code", code) }
	}
	noDMP := func(b *etree.Element) {
		cap := find(b, "./controlActProcess")
		cap.RemoveChild(find(cap, "./subject"))
		find(cap, "./queryAck/queryResponseCode").CreateAttr("code", "NF")
		setAuth(AuthNone)(b)
	}
	for name, c := range map[string]struct {
		data []byte
		want Existence
	}{
		"official": {official(t, td02Answer), Existence{Exists: true, Authorization: AuthValid, Doctor: true}},
		"expired":  {variant(t, td02Answer, setAuth(AuthExpired)), Existence{Exists: true, Authorization: AuthExpired, Doctor: true}},
		"refused":  {variant(t, td02Answer, setAuth(AuthRefused)), Existence{Exists: true, Authorization: AuthRefused, Doctor: true}},
		"not the doctor": {variant(t, td02Answer, func(b *etree.Element) { find(b, "./attentionLine[2]/value").CreateAttr("value", "false") }),
			Existence{Exists: true, Authorization: AuthValid}},
		"no DMP": {variant(t, td02Answer, noDMP), Existence{Authorization: AuthNone, Doctor: true}},
	} {
		b, err := body(t, c.data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		e, err := ParseExistence(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if e.Exists != c.want.Exists || e.Authorization != c.want.Authorization || e.Doctor != c.want.Doctor {
			t.Errorf("%s: %+v, want %+v", name, e, c.want)
		}
		if e.Exists {
			want := []PatientID{{OIDINSC, "1197854176879056415520"}, {"1.2.250.1.213.1.4.10", "207058575627097"}}
			if fmt.Sprint(e.IDs) != fmt.Sprint(want) || e.Demographics != (Demographics{"patb-quatre", "LAURENCE", "M", "19070525"}) {
				t.Errorf("%s: %+v", name, e)
			}
			if v, ok := e.Observations["RATTACHEMENT_ENS"]; !ok || v {
				t.Errorf("%s: observations %v", name, e.Observations)
			}
		} else if len(e.IDs) != 0 {
			t.Errorf("%s: ids %v without a DMP", name, e.IDs)
		}
	}
}

// A "no DMP" answer (NF, no patient) and an answer without its attention
// lines are read, never refused as malformed: every combination of the
// AUTORISATION and STATUT_MT lines present or absent, on the official
// answer and on it with the patient removed and NF. A missing AUTORISATION
// is no authorization; a missing STATUT_MT is not the doctor.
func TestExistenceAttentionLinesOptional(t *testing.T) {
	for _, dmp := range []bool{true, false} {
		for _, keepAuth := range []bool{true, false} {
			for _, keepDoctor := range []bool{true, false} {
				name := fmt.Sprintf("DMP %v, AUTORISATION %v, STATUT_MT %v", dmp, keepAuth, keepDoctor)
				data := variant(t, td02Answer, func(b *etree.Element) {
					auth, doctor := find(b, "./attentionLine[1]"), find(b, "./attentionLine[2]")
					if !keepAuth {
						b.RemoveChild(auth)
					}
					if !keepDoctor {
						b.RemoveChild(doctor)
					}
					if !dmp {
						cap := find(b, "./controlActProcess")
						cap.RemoveChild(find(cap, "./subject"))
						find(cap, "./queryAck/queryResponseCode").CreateAttr("code", "NF")
					}
				})
				b, err := body(t, data)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				e, err := ParseExistence(b)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				want := Existence{Exists: dmp, Authorization: AuthNone, Doctor: keepDoctor}
				if keepAuth {
					want.Authorization = AuthValid
				}
				if e.Exists != want.Exists || e.Authorization != want.Authorization || e.Doctor != want.Doctor || !dmp && len(e.IDs) != 0 {
					t.Errorf("%s: %+v, want %+v", name, e, want)
				}
			}
		}
	}
}

// What cannot be read is ErrMalformed (never taken for a success); a
// refusal in the acknowledgement is the DMP's code.
func TestUnreadableAnswers(t *testing.T) {
	good := official(t, td02Answer)
	for name, data := range map[string][]byte{
		"empty":      nil,
		"not XML":    []byte("<html>502 Bad Gateway</html"),
		"SOAP 1.1":   []byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>`),
		"no body":    []byte(`<s:Envelope xmlns:s="` + NSSOAP + `"><s:Header/></s:Envelope>`),
		"two bodies": []byte(`<s:Envelope xmlns:s="` + NSSOAP + `"><s:Body><a/><b/></s:Body></s:Envelope>`),
		"truncated":  good[:len(good)/2],
		"bad fault":  []byte(`<s:Envelope xmlns:s="` + NSSOAP + `"><s:Body><s:Fault><s:Code><s:Value>s:Nobody</s:Value></s:Code></s:Fault></s:Body></s:Envelope>`),
	} {
		if _, err := ParseEnvelope(data); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, edit := range map[string]func(*etree.Element){
		"unknown status":       func(b *etree.Element) { find(b, "./attentionLine[1]/value").CreateAttr("code", "PEUT-ETRE") },
		"STATUT_MT not a BL":   func(b *etree.Element) { find(b, "./attentionLine[2]/value").CreateAttr("value", "oui") },
		"no acknowledgement":   func(b *etree.Element) { b.RemoveChild(find(b, "./acknowledgement")) },
		"acknowledgement text": func(b *etree.Element) { find(b, "./acknowledgement").CreateAttr("typeCode", "OK") },
		"no queryAck": func(b *etree.Element) {
			find(b, "./controlActProcess").RemoveChild(find(b, "./controlActProcess/queryAck"))
		},
		"other answer": func(b *etree.Element) { b.Tag = "PRPA_IN201312UV02" },
	} {
		b, err := body(t, variant(t, td02Answer, edit))
		if err == nil {
			_, err = ParseExistence(b)
		}
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// An acknowledgement AE carries the DMP's code.
	b, _ := body(t, variant(t, td02Answer, func(b *etree.Element) {
		a := find(b, "./acknowledgement")
		a.CreateAttr("typeCode", "AE")
		d := a.CreateElement("acknowledgementDetail")
		d.CreateElement("code").CreateAttr("code", "DMPAccessDeniedByRightsService")
		d.CreateElement("text").SetText("accès refusé")
	}))
	if _, err := ParseExistence(b); !errors.Is(err, ErrAccessDenied) {
		t.Errorf("AE: %v", err)
	}
}

// TD1.3a's official answer: identity and the two oppositions.
func TestOfficialAdminAnswer(t *testing.T) {
	b, err := body(t, official(t, td13Answer))
	if err != nil {
		t.Fatal(err)
	}
	a, err := ParseAdmin(b)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(a.Observations) != "map[OPPOSITION_ACCES_URGENCE:false OPPOSITION_BRIS_DE_GLACE:false]" || a.Demographics.FirstName != "LAURENCE" || len(a.IDs) != 2 {
		t.Fatalf("%+v", a)
	}
	b, _ = body(t, variant(t, td13Answer, func(b *etree.Element) {
		for _, o := range b.FindElements(".//administrativeObservation") {
			if find(o, "./code").SelectAttrValue("code", "") == ObsBrisDeGlace {
				find(o, "./value").CreateAttr("value", "true")
			}
		}
	}))
	if a, err := ParseAdmin(b); err != nil || !a.Observations[ObsBrisDeGlace] || a.Observations[ObsEmergency] {
		t.Fatalf("%+v %v", a, err)
	}
}

// TD0.3's official answer, and a status other than DMPOk.
func TestOfficialAuthorizationAnswer(t *testing.T) {
	b, err := body(t, official(t, td03Answer))
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseAuthorization(b)
	if err != nil || r.Status != "DMPOk" || r.Context != "Autorisation déjà présente aucune action effectuée" {
		t.Fatalf("%+v %v", r, err)
	}
	b, _ = body(t, variant(t, td03Answer, func(b *etree.Element) { find(b, "./output/status").SetText("DMPAccessDeniedByRightsService") }))
	if _, err := ParseAuthorization(b); !errors.Is(err, ErrAccessDenied) {
		t.Fatalf("refused status: %v", err)
	}
	b, _ = body(t, variant(t, td03Answer, func(b *etree.Element) { b.RemoveChild(find(b, "./output")) }))
	if _, err := ParseAuthorization(b); !errors.Is(err, ErrMalformed) {
		t.Fatalf("no output: %v", err)
	}
}

// createdVariant is a TD1.1 answer built from the package's TD1.3b answer
// (the same wrapper and registration event, GestionDossierPatientPartage.wsdl):
// PRPA_IN201312UV02, or PRPA_IN201313UV02 with a refusal code.
func createdVariant(t testing.TB, refusal string) []byte {
	return variant(t, td13bAnswer, func(w *etree.Element) {
		w.Tag = "PRPA_IN201311UV02_Response"
		m := w.ChildElements()[0]
		m.Tag = "PRPA_IN201312UV02"
		find(m, "./interactionId").CreateAttr("extension", "PRPA_IN201312UV02")
		find(m, "./controlActProcess/reasonCode").CreateAttr("code", "CREA_RD")
		if refusal != "" {
			m.Tag = "PRPA_IN201313UV02"
			find(m, "./interactionId").CreateAttr("extension", "PRPA_IN201313UV02")
			a := find(m, "./acknowledgement")
			a.CreateAttr("typeCode", "AE")
			d := a.CreateElement("acknowledgementDetail")
			d.CreateAttr("typeCode", "E")
			d.CreateElement("code").CreateAttr("code", refusal)
			d.CreateElement("text").SetText("refus")
		}
	})
}

func TestCreationAnswers(t *testing.T) {
	b, err := body(t, createdVariant(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	if err := ParseCreated(b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []*Fault{ErrFound, ErrIdentityCertFailure, ErrClosed, ErrAccessDenied, {Subcode: "DMPConsentMissing"}} {
		b, _ := body(t, createdVariant(t, want.Subcode))
		if err := ParseCreated(b); !errors.Is(err, want) {
			t.Errorf("%s: %v", want.Subcode, err)
		}
	}
	// The HL7 answer unwrapped, or the wrapper around something else.
	b, _ = body(t, createdVariant(t, ""))
	if err := ParseCreated(b.ChildElements()[0]); !errors.Is(err, ErrMalformed) {
		t.Errorf("unwrapped: %v", err)
	}
	b.ChildElements()[0].Tag = "PRPA_IN201308UV02"
	if err := ParseCreated(b); !errors.Is(err, ErrMalformed) {
		t.Errorf("other message: %v", err)
	}
}

// SOAP faults in the official answer's envelope: read by namespace, their
// subcode typed.
func TestFaultAnswers(t *testing.T) {
	fault := func(code, subcode string) []byte {
		return variant(t, td03Answer, func(b *etree.Element) {
			p := b.Parent()
			p.RemoveChild(b)
			f := p.CreateElement("env:Fault")
			f.CreateAttr("xmlns:env", NSSOAP)
			c := f.CreateElement("env:Code")
			c.CreateElement("env:Value").SetText("env:" + code)
			if subcode != "" {
				v := c.CreateElement("env:Subcode").CreateElement("env:Value")
				v.CreateAttr("xmlns:x", "urn:other")
				v.SetText("x:" + subcode)
			}
			f.CreateElement("env:Reason").CreateElement("env:Text").SetText("raison")
		})
	}
	for _, c := range []struct {
		code, subcode string
		transient     bool
	}{{"Sender", "DMPFound", false}, {"Receiver", "DMPServiceUnavailable", true}, {"Receiver", "DMPClosed", false}, {"Sender", "", false}} {
		_, err := ParseEnvelope(fault(c.code, c.subcode))
		var f *Fault
		if !errors.As(err, &f) || f.Code != c.code || f.Subcode != c.subcode || f.Transient() != c.transient {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

// A fault logs its codes and identifiers, never the service's free text.
func TestFaultLogValue(t *testing.T) {
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, nil))
	err := fmt.Errorf("processing: %w", &Fault{Code: "Sender", Subcode: "DMPIdentityCertificationFailure", Reason: "DURAND LEA inconnue",
		Transaction: TD11, RequestID: "urn:uuid:1"})
	var lv slog.LogValuer
	if !errors.As(err, &lv) {
		t.Fatal("a wrapped fault is not found as a LogValuer")
	}
	log.Info("x", "error", lv)
	if strings.Contains(buf.String(), "DURAND") || !strings.Contains(buf.String(), "DMPIdentityCertificationFailure") || !strings.Contains(buf.String(), "urn:uuid:1") {
		t.Fatalf("logged %q", buf.String())
	}
}

// The official TD2.1 answer is a success; variants built from it with
// each IHE error the DMP's registry writes are that error (busy ones
// transient); a SOAP fault, also when it comes as an MTOM package, is the
// DMP's fault; what is not a RegistryResponse cannot be read.
func TestOfficialFeedAnswers(t *testing.T) {
	const td21 = "TD2.1_Alimentation_answer.xml"
	b, err := body(t, official(t, td21))
	if err != nil {
		t.Fatal(err)
	}
	if err := ParseRegistryResponse(b); err != nil {
		t.Fatalf("official success: %v", err)
	}
	for _, code := range []string{"XDSRepositoryMetadataError", "XDSRegistryMetadataError", "XDSMissingDocument", "XDSPatientIdDoesNotMatch",
		"XDSUnknownPatientId", "XDSDuplicateUniqueIdInRegistry", "XDSNonIdenticalHash", "XDSRegistryBusy"} {
		b, err := body(t, variant(t, td21, func(r *etree.Element) {
			r.CreateAttr("status", "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure")
			e := r.CreateElement(r.Space + ":RegistryErrorList").CreateElement(r.Space + ":RegistryError")
			e.CreateAttr("errorCode", code)
			e.CreateAttr("codeContext", "refusé par le registre")
			e.CreateAttr("severity", "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error")
		}))
		if err != nil {
			t.Fatal(err)
		}
		var re *RegistryError
		err = ParseRegistryResponse(b)
		if !errors.As(err, &re) || re.Code != code || re.Transient() != (code == "XDSRegistryBusy") {
			t.Errorf("%s: %v", code, err)
		}
	}
	for name, edit := range map[string]func(*etree.Element){
		"unknown status": func(r *etree.Element) { r.CreateAttr("status", "Perhaps") },
		"failure, no error": func(r *etree.Element) {
			r.CreateAttr("status", "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure")
		},
		"not RegistryResponse": func(r *etree.Element) { r.Tag = "AdhocQueryResponse" },
	} {
		b, err := body(t, variant(t, td21, edit))
		if err == nil {
			err = ParseRegistryResponse(b)
		}
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A fault in an MTOM package is read as the fault.
	fault := `<soap:Envelope xmlns:soap="` + NSSOAP + `"><soap:Body><soap:Fault><soap:Code><soap:Value>soap:Sender</soap:Value>` +
		`<soap:Subcode><soap:Value>DMPAccessDeniedByRightsService</soap:Value></soap:Subcode></soap:Code>` +
		`<soap:Reason><soap:Text xml:lang="fr">accès refusé</soap:Text></soap:Reason></soap:Fault></soap:Body></soap:Envelope>`
	pkg := "--MIMEBoundary_1\r\nContent-Type: application/xop+xml; charset=UTF-8; type=\"application/soap+xml\"\r\n" +
		"Content-Transfer-Encoding: binary\r\nContent-ID: <0.root@dmp>\r\n\r\n" + fault + "\r\n--MIMEBoundary_1--\r\n"
	plain, err := UnpackMTOM("", []byte(pkg))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseEnvelope(plain); !errors.Is(err, ErrAccessDenied) {
		t.Errorf("multipart fault: %v", err)
	}
	if _, err := UnpackMTOM("", []byte("--b\r\nContent-Type: text/xml\r\n\r\n<a><xop:Include xmlns:xop=\""+NSXOP+"\" href=\"cid:nowhere\"/></a>\r\n--b--\r\n")); !errors.Is(err, ErrMalformed) {
		t.Errorf("an include of no part: %v", err)
	}
}
