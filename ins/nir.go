package ins

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNIR is the error every NIR parsing failure unwraps to.
var ErrNIR = errors.New("NIR invalide")

// NIRError says which part of a NIR is wrong. Its message is French and
// names the field, never the number itself.
type NIRError struct {
	Field  string // "longueur", "sexe", "mois", "département", "ordre", "clé", ...
	Reason string
}

func (e *NIRError) Error() string { return "NIR invalide (" + e.Field + ") : " + e.Reason }

// Unwrap makes every NIRError match ErrNIR.
func (e *NIRError) Unwrap() error { return ErrNIR }

// NIRFlag marks a NIR that is well formed but not an ordinary certified one.
type NIRFlag uint8

const (
	// FlagTemporary: a temporary number (first digit 3, 4, 7 or 8) assigned
	// pending registration; it is not a certified NIR.
	FlagTemporary NIRFlag = 1 << iota
	// FlagPseudoMonth: the birth month is a pseudo-month (20–42, 50–99) of
	// an incomplete civil record.
	FlagPseudoMonth
	// FlagBornAbroad: département 99; the commune field is a country code.
	FlagBornAbroad
)

// NIR is a parsed social security number (or NIA, same format): 13
// characters and a 2-digit key.
type NIR struct {
	body  [13]byte // digits, or 2A/2B at positions 5–6
	key   uint8    // 1..97
	Flags NIRFlag
}

// ParseNIR reads a NIR of 15 characters (13 + key). Spaces are ignored, so
// "1 61 02 75 754 289 92" is read as written on a card. The key must match.
func ParseNIR(s string) (NIR, error) {
	s = strings.ReplaceAll(s, " ", "")
	if len(s) != 15 {
		return NIR{}, &NIRError{"longueur", fmt.Sprintf("%d caractères au lieu de 15 (13 + clé)", len(s))}
	}
	n, err := ParseNIR13(s[:13])
	if err != nil {
		return NIR{}, err
	}
	k, ok := twoDigits(s[13], s[14])
	if !ok {
		return NIR{}, &NIRError{"clé", "la clé doit être de 2 chiffres"}
	}
	if want := n.computeKey(); k != int(want) {
		return NIR{}, &NIRError{"clé", "la clé ne correspond pas au numéro"}
	}
	return n, nil
}

// ParseNIR13 reads the 13 characters of a NIR without its key and validates
// every field; the key is computed.
func ParseNIR13(s string) (NIR, error) {
	var n NIR
	if len(s) != 13 {
		return n, &NIRError{"longueur", fmt.Sprintf("%d caractères au lieu de 13", len(s))}
	}
	if !ShapeNIR13(s) {
		return n, &NIRError{"caractères", "seuls des chiffres (et 2A/2B pour la Corse) sont permis"}
	}
	copy(n.body[:], s)
	switch s[0] {
	case '1', '2':
	case '3', '4', '7', '8':
		n.Flags |= FlagTemporary
	default:
		return n, &NIRError{"sexe", "le premier chiffre doit être 1, 2 (ou 3, 4, 7, 8 pour un numéro provisoire)"}
	}
	month, _ := twoDigits(s[3], s[4])
	switch {
	case month >= 1 && month <= 12:
	case month >= 20 && month <= 42, month >= 50:
		n.Flags |= FlagPseudoMonth
	default:
		return n, &NIRError{"mois", "mois de naissance impossible"}
	}
	switch dep := s[5:7]; {
	case dep == "00":
		return n, &NIRError{"département", "département 00 impossible"}
	case dep == "97" || dep == "98":
		// Overseas: a 3-digit département (971…988) and a 2-digit commune.
		if s[7] == '0' || s[7] == '9' {
			return n, &NIRError{"département", "département d'outre-mer impossible"}
		}
	case dep == "99":
		n.Flags |= FlagBornAbroad
	}
	n.key = n.computeKey()
	return n, nil
}

// ShapeNIR13 reports whether s has the shape of a NIR without key: 13
// characters, all digits except 2A or 2B as the département.
func ShapeNIR13(s string) bool {
	if len(s) != 13 {
		return false
	}
	for i := 0; i < 13; i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			continue
		}
		if i == 6 && s[5] == '2' && (c == 'A' || c == 'B') {
			continue
		}
		return false
	}
	return true
}

// NIRKey computes the key of a 13-character NIR: 97 − (N mod 97), where a
// Corsican département 2A counts as 19 and 2B as 18.
func NIRKey(nir13 string) (int, error) {
	if !ShapeNIR13(nir13) {
		return 0, &NIRError{"caractères", "13 caractères attendus : chiffres, ou 2A/2B"}
	}
	var b [13]byte
	copy(b[:], nir13)
	return int(keyOf(&b)), nil
}

func (n *NIR) computeKey() uint8 { return keyOf(&n.body) }

func keyOf(b *[13]byte) uint8 {
	var v uint64
	for i, c := range b {
		d := uint64(c - '0')
		if i == 6 && (c == 'A' || c == 'B') {
			// 2A → 19, 2B → 18: the tens digit (position 5) is 2 and
			// becomes 1; the units digit becomes 9 or 8.
			v = v - 1 // 2 → 1 in the previous (tens) position
			if c == 'A' {
				d = 9
			} else {
				d = 8
			}
		}
		v = v*10 + d
	}
	return uint8(97 - v%97)
}

// String is the 15-character form (13 + key) without spaces.
func (n NIR) String() string {
	var b [15]byte
	copy(b[:], n.body[:])
	b[13], b[14] = '0'+n.key/10, '0'+n.key%10
	return string(b[:])
}

// Body is the 13 characters without the key.
func (n NIR) Body() string { return string(n.body[:]) }

// Key is the 2-digit control key.
func (n NIR) Key() int { return int(n.key) }

// IsZero reports whether n is the zero NIR (nothing parsed).
func (n NIR) IsZero() bool { return n.key == 0 }

// Certified reports whether the NIR may be the certified matricule of an
// INS: not a temporary number.
func (n NIR) Certified() bool { return n.Flags&FlagTemporary == 0 }

// Sex is "M" or "F" as the first digit says.
func (n NIR) Sex() string {
	if (n.body[0]-'0')%2 == 1 {
		return "M"
	}
	return "F"
}

func twoDigits(a, b byte) (int, bool) {
	if a < '0' || a > '9' || b < '0' || b > '9' {
		return 0, false
	}
	return int(a-'0')*10 + int(b-'0'), true
}

// BornIn reports whether the NIR can be that of a person born on birthDate
// (AAAAMMJJ, lunar dates allowed): its year of birth is the date's, and so
// is its month when both are real months (a pseudo-month or an unknown
// month, 00, proves nothing).
func (n NIR) BornIn(birthDate string) bool {
	if len(birthDate) != 8 {
		return false
	}
	yy, ok := twoDigits(birthDate[2], birthDate[3])
	if !ok {
		return false
	}
	if nyy, _ := twoDigits(n.body[1], n.body[2]); nyy != yy {
		return false
	}
	mm, ok := twoDigits(birthDate[4], birthDate[5])
	nmm, _ := twoDigits(n.body[3], n.body[4])
	if ok && mm >= 1 && mm <= 12 && nmm >= 1 && nmm <= 12 {
		return mm == nmm
	}
	return true
}
