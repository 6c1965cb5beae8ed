package feed

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"dmpkiosk/bridge/hl7"
	"dmpkiosk/bridge/journal"
	"dmpkiosk/bridge/journal/journaltest"
	"dmpkiosk/hwtest"
)

// The business acknowledgement as ANS's guide writes it, read by Debian's
// python3-hl7: ZAM^Z01, OBX ACK_RECEPTION_DMP naming the message that
// carried the document, Y; N with the DMP's code in ERR-5.
func TestZAM(t *testing.T) {
	m := meta{App: "RIS-Y", Facility: "Organisation-Y", Receiver: "PFI-Y", ReceiverFacility: "Organisation-Y", Control: "015"}
	python := hwtest.LookPath(t, "/usr/bin/python3", "python3-hl7")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "y.er7"), ZAM("DMPKIOSK", m, true, "", "", time.Now()), 0o644)
	os.WriteFile(filepath.Join(dir, "n.er7"), ZAM("DMPKIOSK", m, false, "XDSDuplicateUniqueIdInRegistry", "refusé par le DMP", time.Now()), 0o644)
	script := `
import hl7, sys
y = hl7.parse(open(sys.argv[1], encoding="utf-8", newline="").read())
n = hl7.parse(open(sys.argv[2], encoding="utf-8", newline="").read())
print(y["MSH.F9.R1.C1"], y["MSH.F9.R1.C2"], y["MSH.F5"], y["MSH.F12"], y["MSH.F21.R1.C2"], y["OBX.F3.R1.C1"], y["OBX.F4"], y["OBX.F5.R1.C1"], y["OBX.F11"],
      n["OBX.F5.R1.C1"], n["ERR.F3.R1.C1"], n["ERR.F5.R1.C1"], n["ERR.F5.R1.C3"])
`
	out, err := exec.Command(python, "-c", script, filepath.Join(dir, "y.er7"), filepath.Join(dir, "n.er7")).CombinedOutput()
	if err != nil {
		t.Fatalf("python3-hl7: %v\n%s", err, out)
	}
	want := "ZAM Z01 RIS-Y 2.6 CISIS_CDA_HL7_V2 ACK_RECEPTION_DMP 015 Y F N 207 XDSDuplicateUniqueIdInRegistry DMP_ERROR_CODE"
	if got := strings.TrimSpace(string(out)); got != want {
		t.Errorf("python3-hl7 reads\n%s\nwant\n%s", got, want)
	}
}

// The acknowledgements reach their sender over MLLP, kept until it
// answers AA: a sender that refuses (AE) or is away gets it again, the
// same message, later; one with no address configured keeps it due.
func TestAcksDelivered(t *testing.T) {
	j := journaltest.OpenSQLite(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got [][]byte
	answer := "AE"
	go hl7.Serve(ctx, l, 1<<20, time.Minute, func(frame []byte) []byte {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, frame)
		return []byte("MSH|^~\\&|RIS-Y||||x||ACK^Z01^ACK|1|P|2.6\rMSA|" + answer + "|x\r")
	})
	m := meta{App: "RIS-Y", Facility: "Organisation-Y", ReceiverFacility: "Organisation-Y", Control: "015"}
	zam := ZAM("DMPKIOSK", m, true, "", "", time.Now())
	for _, a := range []journal.Ack{{ID: "d1", Sender: "RIS-Y", Message: zam, Created: time.Now()}, {ID: "d2", Sender: "LIS-Z", Message: zam, Created: time.Now()}} {
		if err := j.AckEnqueue(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	acks := &Acks{Journal: j, Senders: map[string]string{"RIS-Y": l.Addr().String()}, Backoff: time.Millisecond}
	send := func(id string) journal.Ack {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			for _, a := range mustClaim(t, j) {
				acks.Send(ctx, a)
			}
			if a, _ := j.AckGet(ctx, id); a.Attempts > 0 {
				return a
			}
		}
		t.Fatalf("%s never sent", id)
		return journal.Ack{}
	}
	if a := send("d1"); a.State != journal.AckDue || !strings.Contains(a.Error, "AE") {
		t.Fatalf("refused by the sender: %+v", a)
	}
	mu.Lock()
	answer = "AA"
	mu.Unlock()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		for _, a := range mustClaim(t, j) {
			acks.Send(ctx, a)
		}
		if a, _ := j.AckGet(ctx, "d1"); a.State == journal.AckDone {
			break
		}
	}
	if a, _ := j.AckGet(ctx, "d1"); a.State != journal.AckDone || a.Attempts < 2 {
		t.Fatalf("after AA: %+v", a)
	}
	mu.Lock()
	if len(got) < 2 || string(got[0]) != string(got[len(got)-1]) || string(got[0]) != string(zam) {
		t.Errorf("the resend is not the same message (%d sent)", len(got))
	}
	mu.Unlock()
	if a, _ := j.AckGet(ctx, "d2"); a.State != journal.AckDue || !strings.Contains(a.Error, "aucune adresse") {
		t.Errorf("no address for its sender: %+v", a)
	}
}

func mustClaim(t *testing.T, j interface {
	AckClaim(context.Context, time.Time, int) ([]journal.Ack, error)
}) []journal.Ack {
	t.Helper()
	l, err := j.AckClaim(context.Background(), time.Now().Add(time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
