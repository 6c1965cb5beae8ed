package cps_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"sync"
	"testing"

	"dmpkiosk/apdu"
	"dmpkiosk/apdu/cps"
	"dmpkiosk/hwtest"
)

var (
	caOnce sync.Once
	ca     *hwtest.IGCSante
	caErr  error
)

func testCA(t *testing.T) *hwtest.IGCSante {
	t.Helper()
	caOnce.Do(func() { ca, caErr = hwtest.NewIGCSante() })
	if caErr != nil {
		t.Fatal(caErr)
	}
	return ca
}

func profile(t *testing.T, name string) hwtest.CPSProfile {
	t.Helper()
	for _, p := range hwtest.CPSProfiles {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no profile %s", name)
	return hwtest.CPSProfile{}
}

func open(t *testing.T, name string) (*cps.Card, *hwtest.ISOCard, *hwtest.Direct) {
	t.Helper()
	vc, err := testCA(t).CPSCard(profile(t, name))
	if err != nil {
		t.Fatal(err)
	}
	vc.Reset()
	tr := &hwtest.Direct{Card: vc}
	c, err := cps.Open(tr, vc.ATR(), cps.ReferenceLayout)
	if err != nil {
		t.Fatal(err)
	}
	return c, vc, tr
}

func TestRecognize(t *testing.T) {
	cases := []struct {
		atr  []byte
		kind cps.Kind
	}{
		{hwtest.CPS3ATR, cps.CPS3},
		{hwtest.CPS2terATR, cps.CPS2ter},
		{[]byte{0x3B, 0x8F, 0x80, 0x01, 0x00, 0x31, 0xB8, 0x64, 0x04, 0xB0, 0xEC, 0xC1, 0x73, 0x94, 0x01, 0x80, 0x82, 0x90, 0x00, 0x0E}, cps.CPS3Contactless},
		{[]byte{0x3B, 0x9B, 0x18, 0x80, 0x01, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x04, 0x01, 0x00, 0x00, 0x90, 0x44}, cps.CPS4},
		{hwtest.VitaleATR, cps.NotCPS},
	}
	for _, c := range cases {
		if got := cps.Recognize(c.atr); got != c.kind {
			t.Errorf("% X: %v, want %v", c.atr, got, c.kind)
		}
	}
	if _, err := cps.Open(nil, hwtest.CPS2terATR, cps.ReferenceLayout); !errors.Is(err, cps.ErrCPS2ter) {
		t.Errorf("CPS2ter: %v", err)
	}
	if _, err := cps.Open(nil, hwtest.VitaleATR, cps.ReferenceLayout); !errors.Is(err, cps.ErrNotCPS) {
		t.Errorf("a Vitale card: %v", err)
	}
}

func TestReadEveryProfile(t *testing.T) {
	types := map[string]string{"8": "RPPS", "0": "ADELI", "3": "ETABLISSEMENT"}
	for _, p := range hwtest.CPSProfiles {
		t.Run(p.Name, func(t *testing.T) {
			c, _, tr := open(t, p.Name)
			info, err := c.ReadInfo(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			want := cps.Holder{CardType: p.CardType, NationalID: p.NationalID, NationalIDType: types[p.IDType],
				Surname: p.Surname, FirstName: p.FirstName, Profession: p.Profession, Speciality: p.Specialty}
			if info.Holder != want {
				t.Errorf("holder %+v, want %+v", info.Holder, want)
			}
			if info.Serial != "8025000001"+p.Serial || info.NotBefore != p.NotBefore || info.NotAfter != p.NotAfter {
				t.Errorf("info %+v", info)
			}
			if exp := info.Expired("20261122"); exp != (p.Name == "cps-expiree") {
				t.Errorf("expired: %v", exp)
			}
			t.Logf("%s: %d APDUs", p.Name, tr.Count)
		})
	}
}

func TestPIN(t *testing.T) {
	ctx := context.Background()
	c, vc, tr := open(t, "cps-medecin")
	if n, err := c.TriesLeft(ctx); err != nil || n != 3 {
		t.Fatalf("tries left: %d %v", n, err)
	}
	wrong := []byte("0000")
	before := tr.Count
	err := c.Verify(ctx, wrong)
	var ae *apdu.AuthError
	if !errors.As(err, &ae) || ae.Retries != 2 || !errors.Is(err, apdu.ErrWrongPIN) {
		t.Fatalf("wrong PIN: %v", err)
	}
	if tr.Count-before != 1 {
		t.Fatalf("a wrong PIN took %d APDUs: it must never be retried", tr.Count-before)
	}
	if string(wrong) != "\x00\x00\x00\x00" {
		t.Fatal("the PIN was not wiped")
	}
	if c.Verified() || vc.TriesLeft() != 2 {
		t.Fatal("state after a wrong PIN")
	}
	good := []byte("1234")
	if err := c.Verify(ctx, good); err != nil {
		t.Fatal(err)
	}
	if !c.Verified() || string(good) != "\x00\x00\x00\x00" {
		t.Fatal("state after the right PIN")
	}
	for _, bad := range []string{"12", "123456789", "12a4"} {
		if err := c.Verify(ctx, []byte(bad)); !errors.Is(err, cps.ErrPINFormat) {
			t.Errorf("PIN %q: %v", bad, err)
		}
	}

	blocked, _, _ := open(t, "cps-bloquee")
	if err := blocked.Verify(ctx, []byte("1111")); !errors.Is(err, cps.ErrBlocked) {
		t.Fatalf("blocked card: %v", err)
	}
	if _, err := blocked.TriesLeft(ctx); !errors.Is(err, cps.ErrBlocked) {
		t.Fatalf("blocked card tries: %v", err)
	}
}

func TestSignature(t *testing.T) {
	ctx := context.Background()
	c, _, tr := open(t, "cps-medecin")
	s, err := c.Signer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte(`{"type":"dmp.create"}`))
	before := tr.Count
	if _, err := s.Sign(nil, digest[:], crypto.SHA256); !errors.Is(err, cps.ErrNeedPIN) {
		t.Fatalf("signing before the PIN: %v", err)
	}
	if tr.Count != before {
		t.Fatal("the card was asked to sign before the PIN was verified")
	}
	if err := c.Verify(ctx, []byte("1234")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sign(nil, digest[:20], crypto.SHA1); !errors.Is(err, cps.ErrBadDigest) {
		t.Fatalf("SHA-1: %v", err)
	}
	sig, err := s.Sign(nil, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := c.Certificate(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	// The signature verifies with the card's certificate, and the
	// certificate chains to the test IGC-Santé authority.
	if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, digest[:], sig); err != nil {
		t.Fatalf("card signature: %v", err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: testCA(t).Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("certificate chain: %v", err)
	}
	if cert.Subject.CommonName != "810100456789" {
		t.Fatalf("certificate CN %q", cert.Subject.CommonName)
	}
	// Read once per insertion.
	before = tr.Count
	if _, err := c.Certificate(ctx, true); err != nil || tr.Count != before {
		t.Fatalf("certificate read again: %d APDUs, %v", tr.Count-before, err)
	}
	auth, err := c.Certificate(ctx, false)
	if err != nil || auth.PublicKey.(*rsa.PublicKey).Equal(cert.PublicKey) {
		t.Fatalf("authentication certificate: %v", err)
	}
	t.Logf("cps: card signature verified against the card certificate and the test IGC-Santé CA")
}

func TestContactlessDoesNotSign(t *testing.T) {
	atr := []byte{0x3B, 0x8F, 0x80, 0x01, 0x00, 0x31, 0xB8, 0x64, 0x04, 0xB0, 0xEC, 0xC1, 0x73, 0x94, 0x01, 0x80, 0x82, 0x90, 0x00, 0x0E}
	c, err := cps.Open(&hwtest.Direct{Card: hwtest.DemoCard()}, atr, cps.ReferenceLayout)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Signer(context.Background()); !errors.Is(err, cps.ErrNoSigning) {
		t.Fatalf("contactless signer: %v", err)
	}
}

func TestMalformedIdentity(t *testing.T) {
	ctx := context.Background()
	identity := func(vc *hwtest.ISOCard) *hwtest.File {
		for _, f := range vc.MF.Children {
			for _, g := range f.Children {
				if g.FID == cps.ReferenceLayout.IdentityFID {
					return g
				}
			}
		}
		t.Fatal("no identity file")
		return nil
	}
	mutations := map[string]func([]byte) []byte{
		"corrupted TLV": func(b []byte) []byte { b = append([]byte(nil), b...); b[1] += 9; return b },
		"missing tag": func(b []byte) []byte {
			tmpl, _, _ := apdu.Find(b, 0xE1)
			objs, _ := apdu.ParseAll(tmpl)
			var inner []byte
			for _, o := range objs {
				if o.Tag != 0x82 {
					inner = apdu.AppendTLV(inner, o.Tag, o.Value)
				}
			}
			return apdu.Template(0xE1, inner)
		},
		"unknown card type": func(b []byte) []byte {
			return apdu.Template(0xE1, apdu.AppendTLV(nil, 0x80, []byte("XYZ")), apdu.AppendTLV(nil, 0x81, []byte("8")),
				apdu.AppendTLV(nil, 0x82, []byte("81")), apdu.AppendTLV(nil, 0x83, []byte("A")), apdu.AppendTLV(nil, 0x84, []byte("B")))
		},
	}
	for name, mutate := range mutations {
		c, vc, _ := open(t, "cps-medecin")
		f := identity(vc)
		f.Data = mutate(f.Data)
		if info, err := c.ReadInfo(ctx); !errors.Is(err, cps.ErrMalformed) || info != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestPulledOutAtEveryAPDU(t *testing.T) {
	c, _, tr := open(t, "cpe-accueil")
	if _, err := c.ReadInfo(context.Background()); err != nil {
		t.Fatal(err)
	}
	removed := errors.New("card removed")
	for n := 0; n < tr.Count; n++ {
		vc, err := testCA(t).CPSCard(profile(t, "cpe-accueil"))
		if err != nil {
			t.Fatal(err)
		}
		vc.Reset()
		k, err := cps.Open(&hwtest.Direct{Card: vc, FailAfter: n, Err: removed}, vc.ATR(), cps.ReferenceLayout)
		if err != nil {
			t.Fatal(err)
		}
		if info, err := k.ReadInfo(context.Background()); !errors.Is(err, removed) || info != nil {
			t.Fatalf("pulled out after %d APDUs: %v %v", n, info, err)
		}
	}
}
