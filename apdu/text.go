package apdu

import (
	"bytes"
	"strings"
)

// Latin1 decodes ISO-8859-1 card text to a string, without the trailing
// spaces and NULs cards pad fields with.
func Latin1(b []byte) string {
	b = bytes.TrimRight(b, " \x00")
	var s strings.Builder
	s.Grow(len(b))
	for _, c := range b {
		s.WriteRune(rune(c))
	}
	return s.String()
}
