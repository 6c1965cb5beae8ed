package cps

import (
	"crypto/x509/pkix"
	"testing"
)

// The head of whatever a card gives as its certificate is read or refused,
// never a panic; a subject gives a holder or an error.
func FuzzCertificateHead(f *testing.F) {
	f.Add([]byte{0x30, 0x82, 0x03, 0x00, 0x30, 0x82, 0x02, 0x80, 0xA0, 0x03, 0x02, 0x01, 0x02})
	f.Add([]byte{0x30, 0x81})
	f.Fuzz(func(t *testing.T, b []byte) {
		if h, ok := parseCertHead(b); ok {
			var holder Holder
			_ = holderFromSubject(h.subject, &holder)
		}
		var holder Holder
		_ = holderFromSubject(pkix.Name{CommonName: string(b)}, &holder)
	})
}
