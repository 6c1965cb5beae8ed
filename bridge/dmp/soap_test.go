package dmp

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
)

// Malformed or truncated answers are errors of their own kind (retried by
// the bridge), never a success or a panic.
func TestParseMalformed(t *testing.T) {
	good := (&Envelope{Action: "a", MessageID: "urn:uuid:1", RelatesTo: "urn:uuid:0",
		Body: ExistenceResponse("2", "1", time.Now(), PatientID{"1.2", "3"}, "", Existence{Exists: true, Authorization: AuthValid}, nil, nil)}).Build()
	b, _ := good.WriteToBytes()
	for name, data := range map[string][]byte{
		"empty":      nil,
		"not XML":    []byte("<html>502 Bad Gateway</html"),
		"SOAP 1.1":   []byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>`),
		"no body":    []byte(`<s:Envelope xmlns:s="` + NSSOAP + `"><s:Header/></s:Envelope>`),
		"two bodies": []byte(`<s:Envelope xmlns:s="` + NSSOAP + `"><s:Body><a/><b/></s:Body></s:Envelope>`),
		"truncated":  b[:len(b)/2],
		"bad fault":  []byte(`<s:Envelope xmlns:s="` + NSSOAP + `"><s:Body><s:Fault><s:Code><s:Value>s:Nobody</s:Value></s:Code></s:Fault></s:Body></s:Envelope>`),
	} {
		if _, err := ParseEnvelope(data); !errors.Is(err, ErrMalformed) || !Transient(err) {
			t.Errorf("%s: %v", name, err)
		}
	}
	env, err := ParseEnvelope(b)
	if err != nil {
		t.Fatal(err)
	}
	if e, err := ParseExistence(env.Body); err != nil || !e.Exists || e.Authorization != AuthValid {
		t.Fatalf("%+v %v", e, err)
	}
	// The body of another message, an unknown status, no query answer.
	for name, m := range map[string]*etree.Element{
		"other message":  CreatedResponse("2", "1", time.Now(), "", ""),
		"unknown status": ExistenceResponse("2", "1", time.Now(), PatientID{"1.2", "3"}, "", Existence{Authorization: "PEUT-ETRE"}, nil, nil),
	} {
		if _, err := ParseExistence(m); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	m := ExistenceResponse("2", "1", time.Now(), PatientID{"1.2", "3"}, "", Existence{Authorization: AuthNone}, nil, nil)
	m.RemoveChild(m.FindElement("./controlActProcess"))
	if _, err := ParseExistence(m); !errors.Is(err, ErrMalformed) {
		t.Errorf("no queryAck: %v", err)
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
