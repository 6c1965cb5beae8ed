package bridge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"dmpkiosk/bridge/hl7"
	"dmpkiosk/bridge/journal"
)

// The bridge wired with a documents listener takes ANS's first sending
// (carrying ANS's golden document) over MLLP: refused 902 while the
// establishment holds no qualified identity of the patient, acknowledged
// AA once her GAM told of her and the document is in its journal.
func TestFeedIntakeWired(t *testing.T) {
	r := newServiceRig(t)
	r.tune = func(c *ServiceConfig) { c.Feed = &FeedConfig{Listen: "127.0.0.1:0"} }
	r.stop()
	r.start(t)
	msg, err := os.ReadFile("feed/testdata/MDM_T02_INIT_N1.er7")
	if err != nil {
		t.Fatal(err)
	}
	cda, err := os.ReadFile("dmp/testdata/cda/DOC_NON_STRUCTURE_CDA-R2-N1.xml")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(msg), "\n"), "\n")
	for i, l := range lines {
		f := strings.Split(l, "|")
		switch {
		case f[0] == "TXA":
			f[12] = ""
		case f[0] == "OBX" && f[2] == "ED" && strings.Contains(f[5], "^Base64^"):
			f[5] = "^text^XML^Base64^" + base64.StdEncoding.EncodeToString(cda)
		}
		lines[i] = strings.Join(f, "|")
	}
	msg = []byte(strings.Join(lines, "\r"))
	send := func() []byte {
		t.Helper()
		c, err := net.Dial("tcp", r.svc.FeedAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if err := hl7.WriteFrame(c, msg); err != nil {
			t.Fatal(err)
		}
		ack, err := hl7.ReadFrame(bufio.NewReader(c), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		return ack
	}
	if ack := send(); !bytes.Contains(ack, []byte("\rMSA|AE|015")) || !bytes.Contains(ack, []byte("|902^")) {
		t.Fatalf("an unknown patient: %q", ack)
	}
	ctx := context.Background()
	if err := r.journal.SIHKnow(ctx, "gam", journal.GAMPatient{IPP: "000003", INS: "279035121518989", INSOID: "1.2.250.1.213.1.4.10"}); err != nil {
		t.Fatal(err)
	}
	if ack := send(); !bytes.Contains(ack, []byte("\rMSA|AA|015")) {
		t.Fatalf("%q", ack)
	}
	if d, err := r.journal.Document(ctx, "RIS-Y/Organisation-Y/015"); err != nil || d.INS != "279035121518989" {
		t.Fatalf("kept: %+v %v", d, err)
	}
}
