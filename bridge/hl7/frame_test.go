package hl7

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
	"testing"
)

// MLLP frames read whole, across the reader's buffer, up to the limit and
// not a byte more; a frame broken off or badly ended is an error.
func TestReadFrame(t *testing.T) {
	frame := func(body string) string { return "\x0b" + body + "\x1c\r" }
	big := strings.Repeat("OBX|1|ED|x||^text^XML^Base64^"+strings.Repeat("QUJD", 50)+"\r", 2000) // ~430 kB, many buffers
	r := bufio.NewReaderSize(strings.NewReader(frame("MSH|a")+frame(big)+frame("MSH|b")), 16)
	for _, want := range []string{"MSH|a", big, "MSH|b"} {
		got, err := ReadFrame(r, len(big))
		if err != nil || string(got) != want {
			t.Fatalf("frame of %d bytes: got %d bytes, %v", len(want), len(got), err)
		}
	}
	for name, c := range map[string]struct {
		in  string
		max int
	}{
		"over the limit":         {frame("MSH|abc"), 6},
		"over, across buffers":   {frame(big), len(big) - 1},
		"no start block":         {"MSH|a\x1c\r", 100},
		"the stream ends inside": {"\x0bMSH|a", 100},
		"no CR after the end":    {"\x0bMSH|a\x1cX", 100},
	} {
		if _, err := ReadFrame(bufio.NewReaderSize(strings.NewReader(c.in), 16), c.max); !errors.Is(err, ErrFrame) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Exactly at the limit is taken.
	if got, err := ReadFrame(bufio.NewReader(bytes.NewReader([]byte(frame("MSH|abc")))), 7); err != nil || string(got) != "MSH|abc" {
		t.Errorf("at the limit: %q %v", got, err)
	}
}
