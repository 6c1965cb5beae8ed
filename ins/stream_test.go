package ins

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
	"time"
)

func TestStreamINSC(t *testing.T) {
	in := strings.Join([]string{
		"PHILIPPE;610217;1610275754289",
		"Jean-François;610217;1610275754289\r",
		"JEANFRANCOIS;610217;1610275754289",
		";610217;1610275754289",
		"PHILIPPE;6102;1610275754289",
		"PHILIPPE;610217;16102757542",
		"PHILIPPE;610217",
		"PHILIPPE;610217;1610275754289;extra",
		"",
		"PHIL\xffIPPE;610217;1610275754289",
		"PHILIPPE;610217;1610275754289", // last line without a newline
	}, "\n")
	var out bytes.Buffer
	if err := StreamINSC(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	jf, _ := INSC("JEANFRANCOIS", "610217", "1610275754289")
	empty, _ := INSC("", "610217", "1610275754289")
	want := []string{
		"0833910461279517589858", jf, jf, empty,
		"error: " + ErrBirthDate.Error(), "error: " + ErrNIR13.Error(),
		"error: " + errFields.Error(), "error: " + errFields.Error(), "error: " + errFields.Error(),
		"error: " + ErrBadUTF8.Error(), "0833910461279517589858",
	}
	if len(lines) != len(want) {
		t.Fatalf("%d output lines for %d input lines:\n%s", len(lines), len(want), out.String())
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d: %q, want %q", i+1, lines[i], want[i])
		}
	}
}

func TestStreamINSCLongLine(t *testing.T) {
	in := strings.Repeat("A", 3*maxLine) + ";610217;1610275754289\nPHILIPPE;610217;1610275754289\n"
	var out bytes.Buffer
	if err := StreamINSC(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "error: ligne trop longue\n0833910461279517589858\n" {
		t.Fatalf("output %q", got)
	}
}

// A caller that writes one line and waits must get its answer without
// closing its end: the stream flushes when the input has nothing buffered.
func TestStreamINSCAnswersEachLine(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- StreamINSC(inR, outW); outW.Close() }()
	answers := bufio.NewReader(outR)
	for i := 0; i < 3; i++ {
		if _, err := io.WriteString(inW, "PHILIPPE;610217;1610275754289\n"); err != nil {
			t.Fatal(err)
		}
		got := make(chan string, 1)
		go func() { l, _ := answers.ReadString('\n'); got <- l }()
		select {
		case l := <-got:
			if l != "0833910461279517589858\n" {
				t.Fatalf("answer %q", l)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no answer before the input was closed: the stream buffers its output")
		}
	}
	inW.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
