package bridge

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"os"
	"testing"
	"time"

	"dmpkiosk/bridge/hl7"
)

// The bridge wired with a documents listener takes ANS's first sending
// over MLLP and acknowledges it AA once the document is in its journal.
func TestFeedIntakeWired(t *testing.T) {
	r := newServiceRig(t)
	r.tune = func(c *ServiceConfig) { c.Feed = &FeedConfig{Listen: "127.0.0.1:0"} }
	r.stop()
	r.start(t)
	msg, err := os.ReadFile("feed/testdata/MDM_T02_INIT_N1.er7")
	if err != nil {
		t.Fatal(err)
	}
	msg = bytes.ReplaceAll(bytes.TrimRight(msg, "\n"), []byte("\n"), []byte("\r"))
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
	if err != nil || !bytes.Contains(ack, []byte("\rMSA|AA|015")) {
		t.Fatalf("%q %v", ack, err)
	}
	if d, err := r.journal.Document(context.Background(), "RIS-Y/Organisation-Y/015"); err != nil || d.INS != "279035121518989" {
		t.Fatalf("kept: %+v %v", d, err)
	}
}
