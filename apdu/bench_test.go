package apdu

import "testing"

func BenchmarkCommandEncode(b *testing.B) {
	cmd := Command{Ins: InsSelect, P1: 0x04, Data: []byte{0xD2, 0x50, 0x00, 0x00, 0x02, 0x56, 0x49, 0x54, 0x41, 0x4C, 0x45}, Ne: 256}
	var buf [32]byte
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cmd.Encode(buf[:]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseResponse(b *testing.B) {
	raw := make([]byte, 258)
	raw[256], raw[257] = 0x90, 0x00
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseResponse(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTLVFind looks a value up in a family-sized beneficiaries file:
// eight 65 templates of five objects each.
func BenchmarkTLVFind(b *testing.B) {
	var file []byte
	for i := 0; i < 8; i++ {
		file = append(file, Template(0x65,
			AppendTLV(nil, 0x80, []byte("DUPONT")), AppendTLV(nil, 0x81, []byte("MARIE-HELENE")),
			AppendTLV(nil, 0x82, []byte("20120317")), AppendTLV(nil, 0x83, []byte("1")),
			AppendTLV(nil, 0x84, []byte("06")))...)
	}
	file = append(file, Template(0x66, AppendTLV(nil, 0x93, []byte("161027575428992")))...)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, err := Find(file, 0x66, 0x93); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
