// Package hl7 reads and writes HL7 v2 messages in the ER7 encoding (the
// pipes and hats of HL7 v2.5) and frames them for MLLP: what the bridge
// needs to tell the hospital's information system (bridge/sih). Segments
// are separated by a carriage return; the encoding characters are the
// standard ones (|^~\&).
package hl7

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Encoding characters.
const (
	FieldSep = '|'
	CompSep  = '^'
	RepSep   = '~'
	Escape   = '\\'
	SubSep   = '&'
	SegSep   = '\r'
)

// Esc escapes a value for any position of a message (\F\ \S\ \R\ \E\ \T\).
func Esc(s string) string {
	if !strings.ContainsAny(s, "|^~\\&\r\n") {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch r {
		case FieldSep:
			b.WriteString(`\F\`)
		case CompSep:
			b.WriteString(`\S\`)
		case RepSep:
			b.WriteString(`\R\`)
		case Escape:
			b.WriteString(`\E\`)
		case SubSep:
			b.WriteString(`\T\`)
		case '\r', '\n':
			b.WriteString(`\X0D\`)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Unesc undoes Esc.
func Unesc(s string) string {
	if !strings.ContainsRune(s, Escape) {
		return s
	}
	r := strings.NewReplacer(`\F\`, "|", `\S\`, "^", `\R\`, "~", `\E\`, `\`, `\T\`, "&", `\X0D\`, "\r", `\X0A\`, "\n")
	return r.Replace(s)
}

// Join builds a composite value from already escaped parts.
func Join(sep byte, parts ...string) string {
	// Trailing empty parts are left out, as HL7 writes them.
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return strings.Join(parts, string(sep))
}

// Segment is one segment: its name and its fields, raw (still escaped).
type Segment struct {
	Name   string
	Fields []string // Fields[0] is the name; for MSH, Fields[1] is MSH-2
}

// Message is a parsed message.
type Message struct {
	Segments []Segment
}

// ErrMalformed is a message that cannot be read.
var ErrMalformed = errors.New("hl7: malformed message")

// Parse reads a message (segments separated by CR, LF or CRLF).
func Parse(b []byte) (*Message, error) {
	if bytes.IndexByte(b, '\n') >= 0 {
		// Segments ended by line feeds (files, some senders): read as
		// carriage returns. A message without (MLLP's) is not copied: a
		// document's message weighs megabytes.
		b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\r"))
		b = bytes.ReplaceAll(b, []byte("\n"), []byte("\r"))
	}
	if !bytes.HasPrefix(b, []byte(`MSH|^~\&`)) {
		return nil, fmt.Errorf("%w: no MSH with the standard encoding characters", ErrMalformed)
	}
	m := &Message{}
	for _, line := range bytes.Split(b, []byte{SegSep}) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		f := strings.Split(string(line), string(FieldSep))
		if len(f[0]) != 3 {
			return nil, fmt.Errorf("%w: segment %q", ErrMalformed, f[0])
		}
		m.Segments = append(m.Segments, Segment{Name: f[0], Fields: f})
	}
	return m, nil
}

// Seg returns the n-th segment (0-based) named name.
func (m *Message) Seg(name string, n int) (Segment, bool) {
	for _, s := range m.Segments {
		if s.Name == name {
			if n == 0 {
				return s, true
			}
			n--
		}
	}
	return Segment{}, false
}

// All returns every segment named name.
func (m *Message) All(name string) []Segment {
	var out []Segment
	for _, s := range m.Segments {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// Field is field n of the segment, raw (MSH-1 is the field separator).
func (s Segment) Field(n int) string {
	if s.Name == "MSH" {
		switch {
		case n == 1:
			return "|"
		case n >= 2 && n-1 < len(s.Fields):
			return s.Fields[n-1]
		}
		return ""
	}
	if n < len(s.Fields) {
		return s.Fields[n]
	}
	return ""
}

// Reps are a field's repetitions.
func Reps(field string) []string { return strings.Split(field, string(RepSep)) }

// Comp is component n (1-based) of a value, unescaped; its subcomponents
// are joined by &.
func Comp(value string, n int) string {
	c := strings.Split(value, string(CompSep))
	if n-1 < len(c) {
		return Unesc(c[n-1])
	}
	return ""
}

// Sub is subcomponent k (1-based) of component n (1-based), unescaped.
func Sub(value string, n, k int) string {
	c := strings.Split(value, string(CompSep))
	if n-1 >= len(c) {
		return ""
	}
	s := strings.Split(c[n-1], string(SubSep))
	if k-1 < len(s) {
		return Unesc(s[k-1])
	}
	return ""
}

// Get is a field's first repetition's component n, unescaped ("" when
// absent); Get(seg, f, 0) is the whole first repetition, unescaped.
func (s Segment) Get(field, comp int) string {
	r := Reps(s.Field(field))[0]
	if comp == 0 {
		return Unesc(r)
	}
	return Comp(r, comp)
}

// MLLP framing.
const (
	startBlock = 0x0B
	endBlock   = 0x1C
)

// WriteFrame writes one message framed for MLLP.
func WriteFrame(w io.Writer, msg []byte) error {
	buf := make([]byte, 0, len(msg)+3)
	buf = append(buf, startBlock)
	buf = append(buf, msg...)
	buf = append(buf, endBlock, '\r')
	_, err := w.Write(buf)
	return err
}

// ErrFrame is an MLLP stream that is not framed as it should.
var ErrFrame = errors.New("hl7: bad MLLP frame")

// ReadFrame reads one MLLP frame of at most max bytes.
func ReadFrame(r *bufio.Reader, max int) ([]byte, error) {
	b, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	if b != startBlock {
		return nil, fmt.Errorf("%w: 0x%02x before the start block", ErrFrame, b)
	}
	// Read in the reader's buffer-sized pieces, joined once at the end: a
	// document's message of megabytes is not grown byte by byte.
	var pieces [][]byte
	n := 0
	for {
		s, err := r.ReadSlice(endBlock)
		n += len(s)
		if n > max+1 || n > max && err != nil {
			return nil, fmt.Errorf("%w: more than %d bytes", ErrFrame, max)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			pieces = append(pieces, bytes.Clone(s))
			continue
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("%w: the stream ended inside a frame", ErrFrame)
			}
			return nil, err
		}
		out := make([]byte, 0, n-1)
		for _, p := range pieces {
			out = append(out, p...)
		}
		out = append(out, s[:len(s)-1]...)
		if c, err := r.ReadByte(); err != nil || c != '\r' {
			return nil, fmt.Errorf("%w: no CR after the end block", ErrFrame)
		}
		return out, nil
	}
}
