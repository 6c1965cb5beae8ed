package pcsc

import (
	"bytes"
	"testing"
)

func TestPINVerifyStructure(t *testing.T) {
	apdu := []byte{0x00, 0x20, 0x00, 0x01, 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}
	got := PINVerify{APDU: apdu, ASCII: true, BlockSize: 8, MinDigits: 4, MaxDigits: 8, TimeoutSecs: 30, LangID: 0x040C}.Structure()
	// PC/SC part 10 v2.02.09 §2.5.2, field by field.
	want := []byte{
		0x1E, 0x1E, // bTimerOut, bTimerOut2: 30 s
		0x82,       // bmFormatString: byte units, PIN at offset 0, left justified, ASCII
		0x08,       // bmPINBlockString: no length field, 8-byte block
		0x00,       // bmPINLengthFormat
		0x08, 0x04, // wPINMaxExtraDigit 0x0408: 4 to 8 digits
		0x02,       // bEntryValidationCondition: validation key
		0x01,       // bNumberMessage
		0x0C, 0x04, // wLangId 0x040C: French
		0x00,             // bMsgIndex
		0x00, 0x00, 0x00, // bTeoPrologue
		0x0D, 0x00, 0x00, 0x00, // ulDataLength: 13
	}
	want = append(want, apdu...)
	if !bytes.Equal(got, want) {
		t.Fatalf("structure\n% X\nwant\n% X", got, want)
	}
}

func TestParseFeatures(t *testing.T) {
	f, err := parseFeatures([]byte{0x06, 0x04, 0x42, 0x33, 0x00, 0x06, 0x12, 0x04, 0x42, 0x33, 0x00, 0x12})
	if err != nil || f[FeatureVerifyPINDirect] != 0x42330006 || f[0x12] != 0x42330012 {
		t.Fatalf("%v %v", f, err)
	}
	for _, bad := range [][]byte{{0x06}, {0x06, 0x02, 0x00, 0x01}, {0x06, 0x04, 0x42, 0x33, 0x00}} {
		if _, err := parseFeatures(bad); err == nil {
			t.Errorf("% X accepted", bad)
		}
	}
	if f, err := parseFeatures(nil); err != nil || len(f) != 0 {
		t.Errorf("no features: %v %v", f, err)
	}
}
