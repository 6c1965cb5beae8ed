package ins

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"unsafe"
)

// maxLine bounds one input line of StreamINSC; a longer line is answered
// with an error and skipped, so a malformed input cannot grow memory.
const maxLine = 64 << 10

// StreamINSC reads lines "first_name;AAMMJJ;NIR13" (UTF-8, CRLF accepted)
// and writes one line per input line, in order: the 22-digit INS-C, or
// "error: <reason>" for a malformed line. It streams: memory does not grow
// with the input, and whenever the input has nothing more buffered the
// answers so far are flushed, so a caller may send one line and wait.
func StreamINSC(r io.Reader, w io.Writer) error {
	br := bufio.NewReaderSize(r, maxLine)
	bw := bufio.NewWriterSize(w, 64<<10)
	out := make([]byte, 0, 256)
	for {
		line, err := br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			if err = skipLine(br); err != nil && err != io.EOF {
				return err
			}
			out = append(out[:0], "error: ligne trop longue\n"...)
			line = nil
		case len(line) > 0:
			out = appendINSCLine(out[:0], line)
		default:
			out = out[:0]
		}
		if _, werr := bw.Write(out); werr != nil {
			return werr
		}
		if err == io.EOF {
			return bw.Flush()
		}
		if err != nil {
			return err
		}
		if br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				return err
			}
		}
	}
}

func skipLine(br *bufio.Reader) error {
	for {
		_, err := br.ReadSlice('\n')
		if !errors.Is(err, bufio.ErrBufferFull) {
			return err
		}
	}
}

var errFields = errors.New("3 champs séparés par ';' attendus : prénom;AAMMJJ;NIR13")

// appendINSCLine answers one input line (with or without its newline).
func appendINSCLine(dst, line []byte) []byte {
	line = bytes.TrimSuffix(line, []byte{'\n'})
	line = bytes.TrimSuffix(line, []byte{'\r'})
	first, rest, ok1 := bytes.Cut(line, []byte{';'})
	date, nir, ok2 := bytes.Cut(rest, []byte{';'})
	var err error
	if !ok1 || !ok2 || bytes.IndexByte(nir, ';') >= 0 {
		err = errFields
	} else {
		var res []byte
		// The fields are viewed as strings without copying: AppendINSC
		// keeps no reference to them past the call.
		res, err = AppendINSC(dst, view(first), view(date), view(nir))
		if err == nil {
			return append(res, '\n')
		}
	}
	dst = append(dst, "error: "...)
	dst = append(dst, err.Error()...)
	return append(dst, '\n')
}

func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
