package cps

import (
	"testing"

	"dmpkiosk/apdu/pkcs15"
)

// An algorithm the card declares without a reference of its own is said
// so (kiosk cps-info), not printed as a reference of -1.
func TestAlgorithmText(t *testing.T) {
	for _, c := range []struct {
		a    pkcs15.Algorithm
		want string
	}{
		{pkcs15.Algorithm{Mechanism: 0x40, AlgRef: 0x02}, "mechanism 0x40, card reference 0x2"},
		{pkcs15.Algorithm{Mechanism: 0x40, AlgRef: -1}, "mechanism 0x40, no card reference"},
	} {
		if got := algorithmText(c.a); got != c.want {
			t.Errorf("%+v: %q, want %q", c.a, got, c.want)
		}
	}
}
