//go:build cgo

package cps_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"testing"

	"dmpkiosk/apdu"
	"dmpkiosk/apdu/cps"
	"dmpkiosk/apdu/pcsc"
	"dmpkiosk/hwtest"
	"dmpkiosk/hwtest/cards"
)

// The PIN and the card signature through real pcscd: a wrong PIN reports
// the tries left, the right one unlocks signing, and the signature verifies
// with crypto/x509 against the test IGC-Santé authority.
func TestSignatureThroughPCSCD(t *testing.T) {
	d := hwtest.StartPCSCD(t)
	ctx := context.Background()
	pc, err := pcsc.Establish()
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Release()
	for slot, name := range []string{"cps-medecin", "cps-bloquee"} {
		vc, err := testCA(t).CPSCard(profile(t, name))
		if err != nil {
			t.Fatal(err)
		}
		in, err := cards.Insert(ctx, hwtest.SlotAddr(slot), vc)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Remove()
		if err := d.WaitCard(ctx, slot, true); err != nil {
			t.Fatal(err)
		}
	}
	k, err := pc.Connect(ctx, hwtest.Reader(0))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	c, err := cps.Open(k, k.ATR())
	if err != nil {
		t.Fatal(err)
	}
	var ae *apdu.AuthError
	if err := c.Verify(ctx, []byte("9999")); !errors.As(err, &ae) || ae.Retries != 2 {
		t.Fatalf("wrong PIN: %v", err)
	}
	if err := c.Verify(ctx, []byte("1234")); err != nil {
		t.Fatal(err)
	}
	s, err := c.Signer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("consentement"))
	sig, err := s.Sign(nil, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := c.Certificate(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: testCA(t).Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, digest[:], sig); err != nil {
		t.Fatal(err)
	}
	if err := cert.CheckSignature(x509.SHA256WithRSA, []byte("consentement"), sig); err != nil {
		t.Fatal(err)
	}

	kb, err := pc.Connect(ctx, hwtest.Reader(1))
	if err != nil {
		t.Fatal(err)
	}
	defer kb.Close()
	blocked, err := cps.Open(kb, kb.ATR())
	if err != nil {
		t.Fatal(err)
	}
	if err := blocked.Verify(ctx, []byte("1111")); !errors.Is(err, cps.ErrBlocked) {
		t.Fatalf("blocked card: %v", err)
	}
	t.Logf("cps: PIN and card signature through pcscd verified against the test IGC-Santé CA")
}
