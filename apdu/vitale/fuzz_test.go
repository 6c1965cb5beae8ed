package vitale

import (
	"testing"

	"dmpkiosk/apdu"
)

// Whatever a Vitale card's directory and files hold, the reader answers or
// refuses; it never panics.
func FuzzDirectoryAndRecords(f *testing.F) {
	dir := apdu.Template(0xE0, apdu.Template(0xA0, apdu.AppendTLV(nil, 0x82, append([]byte{0, 1, 0, 0}, AIDVitale...))),
		apdu.AppendTLV(nil, 0x80, []byte("FICHIER1\x00\x01\x2D\x17")))
	benef := apdu.Template(0x65, apdu.AppendTLV(nil, 0x80, []byte("DURAND")), apdu.AppendTLV(nil, 0x81, []byte("L\xc9A")),
		apdu.AppendTLV(nil, 0x82, []byte("20100504")))
	nir := apdu.Template(0x65, apdu.AppendTLV(nil, 0x93, []byte("180026912304512")))
	f.Add(dir, benef, nir)
	f.Add([]byte{0xE0, 0x00}, []byte{0x04, 0x00, 0x01}, []byte{0x66, 0x02, 0x80, 0x00})
	f.Fuzz(func(t *testing.T, dir, a, b []byte) {
		_, _ = parseDirectory(dir)
		c := &Card{}
		if err := decode([][]byte{a, b}, c); err == nil {
			computeINSC(c)
			_ = c.InsuredNIR()
		}
	})
}
