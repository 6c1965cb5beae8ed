package pkcs15_test

import (
	"encoding/hex"
	"testing"

	"dmpkiosk/apdu/pkcs15"
)

// Whatever a card's directories hold, the parsers answer or refuse; they
// never panic nor loop.
func FuzzDirectories(f *testing.F) {
	for _, s := range []string{
		"A0063004040244 02A1063004040244 03",
		"302D3009 0C03 50494E 0302 06C0 3003 0401 02 A11B 3019 0302 0410 0A01 00 0201 04 0201 06 0201 08 8001 10 3004 0402 3F00",
		"A0063004300205 00302D300D0C04 5349474E 0302 0780 0401 01 3010 0401 45 0303 060040 0302 0000 0202 0081 A10A 3008 3002 0400 0202 0800",
		"302D020100040212340C03414243800 34C424C03020640A2163014020101020140050003020640060 32A0304020142",
	} {
		b, _ := hex.DecodeString(stripSpaces(s))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = pkcs15.ParseODF(b)
		_, _ = pkcs15.ParseTokenInfo(b)
		_, _ = pkcs15.ParseAODF(b)
		_, _ = pkcs15.ParsePrKDF(b)
		_, _ = pkcs15.ParseCDF(b)
		_, _ = pkcs15.ParseDODF(b)
	})
}

func stripSpaces(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' {
			out = append(out, s[i])
		}
	}
	return string(out)
}
