package ins

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"unicode/utf8"
)

// OIDINSC is the assigning authority of the historical INS-C.
const OIDINSC = "1.2.250.1.213.1.4.2"

// INSCLen is the length of an INS-C: 20 digits and a 2-digit key.
const INSCLen = 22

// Errors of INS-C input; each is a malformed field, named in French.
var (
	ErrBadUTF8   = errors.New("prénom mal encodé (UTF-8 attendu)")
	ErrBirthDate = errors.New("date de naissance : 6 chiffres AAMMJJ attendus")
	ErrNIR13     = errors.New("NIR : 13 caractères attendus (chiffres, 2A/2B)")
)

// AppendINSC appends the 22-digit INS-C computed from the beneficiary's
// first name, birth date as written on the card (AAMMJJ, lunar values kept)
// and the insured person's NIR without key (13 characters). It allocates
// nothing when dst has room for 22 more bytes.
//
// The first name is folded (diacritics removed, upper case), every
// character that is not a letter dropped, then cut or padded with spaces to
// 10 (a person without a first name, which the official vectors include,
// hashes ten spaces); the seed firstname(10)+date(6)+NIR(13) is hashed with SHA-256, the
// first 8 bytes read as a big-endian integer and written as 20 digits, and
// the key is 97 − (value mod 97).
func AppendINSC(dst []byte, firstName, birthDate6, nir13 string) ([]byte, error) {
	var seed [29]byte
	if err := insCSeed(&seed, firstName, birthDate6, nir13); err != nil {
		return dst, err
	}
	sum := sha256.Sum256(seed[:])
	v := binary.BigEndian.Uint64(sum[:8])
	key := 97 - v%97
	var out [INSCLen]byte
	for i := 19; i >= 0; i-- {
		out[i] = byte('0' + v%10)
		v /= 10
	}
	out[20], out[21] = byte('0'+key/10), byte('0'+key%10)
	return append(dst, out[:]...), nil
}

// INSC returns the INS-C as a string; see AppendINSC.
func INSC(firstName, birthDate6, nir13 string) (string, error) {
	var buf [INSCLen]byte
	b, err := AppendINSC(buf[:0], firstName, birthDate6, nir13)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func insCSeed(seed *[29]byte, firstName, birthDate6, nir13 string) error {
	n := 0
	for i := 0; i < len(firstName); {
		c := firstName[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case c >= 'A' && c <= 'Z':
			case c >= 'a' && c <= 'z':
				c -= 'a' - 'A'
			default:
				continue
			}
			if n < 10 {
				seed[n] = c
			}
			n++
			continue
		}
		r, size := utf8.DecodeRuneInString(firstName[i:])
		if r == utf8.RuneError && size == 1 {
			return ErrBadUTF8
		}
		i += size
		for _, l := range []byte(upperASCII(r)) {
			if n < 10 {
				seed[n] = l
			}
			n++
		}
	}
	for i := n; i < 10; i++ {
		seed[i] = ' '
	}
	if len(birthDate6) != 6 {
		return ErrBirthDate
	}
	for i := 0; i < 6; i++ {
		if birthDate6[i] < '0' || birthDate6[i] > '9' {
			return ErrBirthDate
		}
	}
	copy(seed[10:16], birthDate6)
	if !ShapeNIR13(nir13) {
		return ErrNIR13
	}
	copy(seed[16:], nir13)
	return nil
}
