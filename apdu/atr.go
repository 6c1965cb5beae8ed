package apdu

import (
	"fmt"
	"strings"
)

// ATRPattern matches answers to reset written as in pcsc-tools' list: hex
// bytes separated by spaces, where an x stands for any nibble
// ("3B 75 13 00 00 4x 09 EA 90 00").
type ATRPattern struct {
	value, mask []byte
	text        string
}

// MustATRPattern parses a pattern and panics on a malformed one; patterns
// are constants of the card packages.
func MustATRPattern(s string) ATRPattern {
	p, err := ParseATRPattern(s)
	if err != nil {
		panic(err)
	}
	return p
}

// ParseATRPattern reads a pattern.
func ParseATRPattern(s string) (ATRPattern, error) {
	p := ATRPattern{text: s}
	for _, f := range strings.Fields(s) {
		if len(f) != 2 {
			return ATRPattern{}, fmt.Errorf("apdu: ATR pattern %q: %q is not a byte", s, f)
		}
		var v, m byte
		for _, c := range strings.ToUpper(f) {
			v, m = v<<4, m<<4
			switch {
			case c == 'X':
			case c >= '0' && c <= '9':
				v, m = v|byte(c-'0'), m|0xF
			case c >= 'A' && c <= 'F':
				v, m = v|byte(c-'A'+10), m|0xF
			default:
				return ATRPattern{}, fmt.Errorf("apdu: ATR pattern %q: %q is not hex", s, f)
			}
		}
		p.value, p.mask = append(p.value, v), append(p.mask, m)
	}
	if len(p.value) == 0 {
		return ATRPattern{}, fmt.Errorf("apdu: empty ATR pattern")
	}
	return p, nil
}

// Match reports whether atr has the pattern's length and bytes.
func (p ATRPattern) Match(atr []byte) bool {
	if len(atr) != len(p.value) {
		return false
	}
	for i, b := range atr {
		if b&p.mask[i] != p.value[i] {
			return false
		}
	}
	return true
}

func (p ATRPattern) String() string { return p.text }
