package apdu

import (
	"errors"
	"fmt"
)

// Tag is a BER-TLV tag of one to four bytes, stored big-endian: 0x5A,
// 0x5F20, 0x7F21, 0x9F7F01...
type Tag uint32

// Constructed reports whether the tag's object holds other objects.
func (t Tag) Constructed() bool { return t.firstByte()&0x20 != 0 }

func (t Tag) firstByte() byte {
	for t > 0xFF {
		t >>= 8
	}
	return byte(t)
}

// Len is the number of bytes the tag is written with.
func (t Tag) Len() int {
	switch {
	case t > 0xFFFFFF:
		return 4
	case t > 0xFFFF:
		return 3
	case t > 0xFF:
		return 2
	}
	return 1
}

func (t Tag) String() string { return fmt.Sprintf("%0*X", 2*t.Len(), uint32(t)) }

// TLV is one BER-TLV data object. Value aliases the parsed bytes.
type TLV struct {
	Tag   Tag
	Value []byte
}

// ErrTLV is the error every malformed BER-TLV unwraps to.
var ErrTLV = errors.New("apdu: malformed BER-TLV")

// maxDepth bounds the nesting Walk follows, so that hostile input cannot
// exhaust the stack.
const maxDepth = 16

// ParseTLV reads the first data object of b and returns it with the bytes
// after it. Tags of up to four bytes and definite lengths of up to four
// bytes are accepted; the indefinite length form is not (card data never
// uses it).
func ParseTLV(b []byte) (TLV, []byte, error) {
	if len(b) == 0 {
		return TLV{}, nil, fmt.Errorf("%w: empty", ErrTLV)
	}
	i := 0
	tag := Tag(b[0])
	i++
	if b[0]&0x1F == 0x1F {
		for {
			if i >= len(b) {
				return TLV{}, nil, fmt.Errorf("%w: tag cut short", ErrTLV)
			}
			if i >= 4 {
				return TLV{}, nil, fmt.Errorf("%w: tag longer than 4 bytes", ErrTLV)
			}
			tag = tag<<8 | Tag(b[i])
			i++
			if b[i-1]&0x80 == 0 {
				break
			}
		}
	}
	if i >= len(b) {
		return TLV{}, nil, fmt.Errorf("%w: tag %v without length", ErrTLV, tag)
	}
	l := int(b[i])
	i++
	if l > 0x7F {
		n := l & 0x7F
		if n == 0 {
			return TLV{}, nil, fmt.Errorf("%w: indefinite length in tag %v", ErrTLV, tag)
		}
		if n > 4 || i+n > len(b) {
			return TLV{}, nil, fmt.Errorf("%w: length of tag %v cut short", ErrTLV, tag)
		}
		l = 0
		for _, c := range b[i : i+n] {
			l = l<<8 | int(c)
		}
		i += n
		if l < 0 {
			return TLV{}, nil, fmt.Errorf("%w: length of tag %v overflows", ErrTLV, tag)
		}
	}
	if l > len(b)-i {
		return TLV{}, nil, fmt.Errorf("%w: tag %v claims %d bytes, %d remain", ErrTLV, tag, l, len(b)-i)
	}
	return TLV{Tag: tag, Value: b[i : i+l : i+l]}, b[i+l:], nil
}

// skipPadding drops the 00 and FF bytes ISO 7816-4 allows before, between
// and after data objects.
func skipPadding(b []byte) []byte {
	for len(b) > 0 && (b[0] == 0x00 || b[0] == 0xFF) {
		b = b[1:]
	}
	return b
}

// ParseAll reads every data object at the top level of b.
func ParseAll(b []byte) ([]TLV, error) {
	var out []TLV
	for b = skipPadding(b); len(b) > 0; b = skipPadding(b) {
		t, rest, err := ParseTLV(b)
		if err != nil {
			return out, err
		}
		out = append(out, t)
		b = rest
	}
	return out, nil
}

// Walk calls fn for every data object of b, depth first, descending into
// constructed objects; depth is 0 at the top level. A malformed object
// anywhere stops the walk with an error.
func Walk(b []byte, fn func(depth int, t TLV) error) error {
	return walk(b, 0, fn)
}

func walk(b []byte, depth int, fn func(int, TLV) error) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: nested deeper than %d", ErrTLV, maxDepth)
	}
	for b = skipPadding(b); len(b) > 0; b = skipPadding(b) {
		t, rest, err := ParseTLV(b)
		if err != nil {
			return err
		}
		if err := fn(depth, t); err != nil {
			return err
		}
		if t.Tag.Constructed() {
			if err := walk(t.Value, depth+1, fn); err != nil {
				return err
			}
		}
		b = rest
	}
	return nil
}

// Find follows a path of tags through nested templates and returns the
// value of the first object at its end; ok is false when it is absent.
func Find(b []byte, path ...Tag) (value []byte, ok bool, err error) {
	cur := b
	for depth, want := range path {
		found := false
		for cur = skipPadding(cur); len(cur) > 0; cur = skipPadding(cur) {
			t, rest, err := ParseTLV(cur)
			if err != nil {
				return nil, false, err
			}
			if t.Tag == want {
				if depth < len(path)-1 && !t.Tag.Constructed() {
					return nil, false, fmt.Errorf("%w: tag %v is not a template", ErrTLV, t.Tag)
				}
				cur, found = t.Value, true
				break
			}
			cur = rest
		}
		if !found {
			return nil, false, nil
		}
	}
	return cur, true, nil
}

// AppendTLV appends one data object, with the shortest definite length.
func AppendTLV(dst []byte, tag Tag, value []byte) []byte {
	for i := tag.Len() - 1; i >= 0; i-- {
		dst = append(dst, byte(tag>>(8*i)))
	}
	switch l := len(value); {
	case l < 0x80:
		dst = append(dst, byte(l))
	case l <= 0xFF:
		dst = append(dst, 0x81, byte(l))
	case l <= 0xFFFF:
		dst = append(dst, 0x82, byte(l>>8), byte(l))
	case l <= 0xFFFFFF:
		dst = append(dst, 0x83, byte(l>>16), byte(l>>8), byte(l))
	default:
		dst = append(dst, 0x84, byte(l>>24), byte(l>>16), byte(l>>8), byte(l))
	}
	return append(dst, value...)
}

// Template builds a constructed object from already-encoded children.
func Template(tag Tag, children ...[]byte) []byte {
	n := 0
	for _, c := range children {
		n += len(c)
	}
	inner := make([]byte, 0, n)
	for _, c := range children {
		inner = append(inner, c...)
	}
	return AppendTLV(nil, tag, inner)
}
