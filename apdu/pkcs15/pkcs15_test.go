package pkcs15_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"dmpkiosk/apdu/pkcs15"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.NewReplacer(" ", "", "\n", "", "\t", "").Replace(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// An ODF as cards write them: choices [0] PrKDF, [4] CDF, [8] AODF, with
// a public-key directory the kiosk does not read, padded with FF.
func TestODF(t *testing.T) {
	odf, err := pkcs15.ParseODF(unhex(t, `A0 06 30 04 04 02 44 02  A1 06 30 04 04 02 44 03
		A4 06 30 04 04 02 44 04  A8 0A 30 08 04 06 3F 00 50 15 44 01  FF FF FF FF`))
	if err != nil {
		t.Fatal(err)
	}
	if len(odf) != 4 || !bytes.Equal(odf[pkcs15.PrKDF][0].EFID, []byte{0x44, 0x02}) ||
		!bytes.Equal(odf[pkcs15.AODF][0].EFID, []byte{0x3F, 0x00, 0x50, 0x15, 0x44, 0x01}) || len(odf[pkcs15.CDF]) != 1 {
		t.Fatalf("ODF %+v", odf)
	}
	for name, b := range map[string]string{
		"length past the end": "A0 10 30 04 04 02 44 02",
		"no path":             "A0 02 05 00",
	} {
		if _, err := pkcs15.ParseODF(unhex(t, b)); !errors.Is(err, pkcs15.ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// PIN entries of another issuer's PKCS#15 card: a BCD PIN, not padded,
// reference 0x10, with a path; and a padded ASCII one whose one-byte
// reference 81 is the card's 0x81 (a local PIN), not -127.
func TestAODF(t *testing.T) {
	b := unhex(t, `30 2D 30 09 0C 03 50 49 4E 03 02 06 C0 30 03 04 01 02 A1 1B 30 19 03 02 04 10 0A 01 00 02 01 04 02 01 06 02 01 08 80 01 10 30 04 04 02 3F 00 30 24 30 06 0C 04 50 49 4E 32 30 03 04 01 03 A1 15 30 13 03 02 02 34 0A 01 01 02 01 04 02 01 08 80 01 81 04 01 FF 00 00 00`)
	pins, err := pkcs15.ParseAODF(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(pins) != 2 {
		t.Fatalf("%d PINs", len(pins))
	}
	p := pins[0]
	if p.Label != "PIN" || !p.Private || !bytes.Equal(p.ID, []byte{2}) || p.Type != pkcs15.PINBCD || p.MinLen != 4 || p.StoredLen != 6 ||
		p.MaxLen != 8 || p.Reference != 0x10 || p.NeedsPadding || p.HasPadChar || p.Path == nil {
		t.Errorf("first PIN %+v", p)
	}
	q := pins[1]
	if q.Type != pkcs15.PINASCIINumeric || !q.NeedsPadding || !q.HasPadChar || q.PadChar != 0xFF || q.MaxLen != -1 || q.Reference != 0x81 {
		t.Errorf("second PIN %+v", q)
	}
	if _, err := pkcs15.ParseAODF(b[:20]); !errors.Is(err, pkcs15.ErrMalformed) {
		t.Errorf("truncated AODF: %v", err)
	}
}

// A PrKDF with an EC key entry ([0] choice, skipped) and an RSA key with
// its reference and usage.
func TestPrKDF(t *testing.T) {
	b := unhex(t, `A0 06 30 04 30 02 05 00 30 2D 30 0D 0C 04 53 49 47 4E 03 02 07 80 04 01 01 30 10 04 01 45 03 03 06 00 40 03 02 00 00 02 02 00 81 A1 0A 30 08 30 02 04 00 02 02 08 00`)
	keys, err := pkcs15.ParsePrKDF(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 {
		t.Fatalf("%d keys", len(keys))
	}
	k := keys[0]
	if k.Label != "SIGN" || !bytes.Equal(k.AuthID, []byte{1}) || !bytes.Equal(k.ID, []byte{0x45}) || k.Reference != 0x81 ||
		k.ModulusBits != 2048 || !k.Uses(pkcs15.UsageNonRepudiation) || k.Uses(pkcs15.UsageSign) {
		t.Errorf("key %+v", k)
	}
}

func TestTokenInfo(t *testing.T) {
	b := unhex(t, `30 2D 02 01 00 04 02 12 34 0C 03 41 42 43 80 03 4C 42 4C 03 02 06 40 A2 16 30 14 02 01 01 02 01 40 05 00 03 02 06 40 06 03 2A 03 04 02 01 42`)
	ti, err := pkcs15.ParseTokenInfo(b)
	if err != nil {
		t.Fatal(err)
	}
	if ti.Manufacturer != "ABC" || ti.Label != "LBL" || !bytes.Equal(ti.Serial, []byte{0x12, 0x34}) {
		t.Errorf("TokenInfo %+v", ti)
	}
	if ref, ok := ti.AlgRef(0x40); !ok || ref != 0x42 {
		t.Errorf("SHA256-RSA-PKCS reference %x %v", ref, ok)
	}
	if _, ok := ti.AlgRef(0x06); ok {
		t.Error("an undeclared mechanism has a reference")
	}
	if _, err := pkcs15.ParseTokenInfo([]byte{0x30, 0x03, 0x02, 0x01}); !errors.Is(err, pkcs15.ErrMalformed) {
		t.Errorf("truncated TokenInfo: %v", err)
	}
}
