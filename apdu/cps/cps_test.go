package cps_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"dmpkiosk/apdu"
	"dmpkiosk/apdu/cps"
	"dmpkiosk/hwtest/cards"
)

var (
	caOnce sync.Once
	ca     *cards.IGCSante
	caErr  error
)

func testCA(t *testing.T) *cards.IGCSante {
	t.Helper()
	caOnce.Do(func() { ca, caErr = cards.NewIGCSante() })
	if caErr != nil {
		t.Fatal(caErr)
	}
	return ca
}

func profile(t *testing.T, name string) cards.CPSProfile {
	t.Helper()
	for _, p := range cards.CPSProfiles {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no profile %s", name)
	return cards.CPSProfile{}
}

func open(t *testing.T, name string) (*cps.Card, *cards.ISOCard, *cards.Direct) {
	t.Helper()
	return openProfile(t, profile(t, name))
}

func openProfile(t *testing.T, p cards.CPSProfile) (*cps.Card, *cards.ISOCard, *cards.Direct) {
	t.Helper()
	vc, err := testCA(t).CPSCard(p)
	if err != nil {
		t.Fatal(err)
	}
	vc.Reset()
	tr := &cards.Direct{Card: vc}
	c, err := cps.Open(tr, vc.ATR())
	if err != nil {
		t.Fatal(err)
	}
	return c, vc, tr
}

// findFile finds a file of a virtual card, failing the test without it.
func findFile(t *testing.T, vc *cards.ISOCard, fid uint16) *cards.File {
	t.Helper()
	f := vc.Find(fid)
	if f == nil {
		t.Fatalf("no file %04X", fid)
	}
	return f
}

// recorded is a virtual card of profile p through a Recorder.
func recorded(t *testing.T, p cards.CPSProfile) (*cps.Card, *cards.Recorder) {
	t.Helper()
	vc, err := testCA(t).CPSCard(p)
	if err != nil {
		t.Fatal(err)
	}
	vc.Reset()
	rec := &cards.Recorder{Next: &cards.Direct{Card: vc}}
	c, err := cps.Open(rec, vc.ATR())
	if err != nil {
		t.Fatal(err)
	}
	return c, rec
}

func TestRecognize(t *testing.T) {
	cases := []struct {
		atr  []byte
		kind cps.Kind
	}{
		{cards.CPS3ATR, cps.CPS3},
		{cards.CPS2terATR, cps.CPS2ter},
		{[]byte{0x3B, 0x8F, 0x80, 0x01, 0x00, 0x31, 0xB8, 0x64, 0x04, 0xB0, 0xEC, 0xC1, 0x73, 0x94, 0x01, 0x80, 0x82, 0x90, 0x00, 0x0E}, cps.CPS3Contactless},
		{[]byte{0x3B, 0x9B, 0x18, 0x80, 0x01, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x04, 0x01, 0x00, 0x00, 0x90, 0x44}, cps.CPS4},
		{[]byte{0x3B, 0x9B, 0x18, 0x80, 0x01, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x00, 0x04, 0x01, 0x00, 0x90, 0x44}, cps.CPS4},
		{[]byte{0x3B, 0xDC, 0x18, 0xFF, 0x00, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x00, 0x04, 0x01, 0x00, 0x90, 0x00}, cps.CPS4},
		{cards.VitaleATR, cps.NotCPS},
	}
	for _, c := range cases {
		if got := cps.Recognize(c.atr); got != c.kind {
			t.Errorf("% X: %v, want %v", c.atr, got, c.kind)
		}
	}
	if _, err := cps.Open(nil, cards.CPS2terATR); !errors.Is(err, cps.ErrCPS2ter) {
		t.Errorf("CPS2ter: %v", err)
	}
	// CPS4 (NXP ChipDoc) is refused plainly: its file layout and PIN
	// presentation are not public, and a PIN sent in a wrong format counts
	// as a wrong PIN.
	if _, err := cps.Open(nil, cards.CPS4ATR); !errors.Is(err, cps.ErrCPS4) {
		t.Errorf("CPS4: %v", err)
	}
	if _, err := cps.Open(nil, cards.VitaleATR); !errors.Is(err, cps.ErrNotCPS) {
		t.Errorf("a Vitale card: %v", err)
	}
}

func TestReadEveryProfile(t *testing.T) {
	types := map[string]string{"8": "RPPS", "0": "ADELI", "3": "ETABLISSEMENT"}
	for _, p := range cards.CPSProfiles {
		t.Run(p.Name, func(t *testing.T) {
			c, _, tr := open(t, p.Name)
			info, err := c.ReadInfo(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			want := cps.Holder{CardType: p.CardType, NationalID: p.NationalID, NationalIDType: types[p.IDType],
				Surname: p.Surname, FirstName: p.FirstName, Profession: p.Profession}
			if info.Holder != want {
				t.Errorf("holder %+v, want %+v", info.Holder, want)
			}
			if info.Serial != p.Serial || info.NotBefore != p.NotBefore || info.NotAfter != p.NotAfter {
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
	c, err := cps.Open(&cards.Direct{Card: cards.DemoCard()}, atr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Signer(context.Background()); !errors.Is(err, cps.ErrNoSigning) {
		t.Fatalf("contactless signer: %v", err)
	}
}

// A card whose description cannot be read, or does not declare what the
// kiosk needs, is refused with ErrMalformed and no Info.
func TestMalformedDescription(t *testing.T) {
	ctx := context.Background()
	mutations := map[string]func(vc *cards.ISOCard){
		"truncated ODF": func(vc *cards.ISOCard) { f := findFile(t, vc, 0x5031); f.Data = f.Data[:5] },
		"corrupted PrKDF": func(vc *cards.ISOCard) {
			f := findFile(t, vc, 0x7002)
			f.Data = append([]byte{0x30, 0x82, 0x7F}, f.Data[3:]...)
		},
		"no application": func(vc *cards.ISOCard) {
			f := findFile(t, vc, 0x2F00)
			f.Data = apdu.Template(0x61, apdu.AppendTLV(nil, 0x4F, []byte{0xA0, 0x00}))
		},
		"certificate garbage": func(vc *cards.ISOCard) { f := findFile(t, vc, 0x8010); f.Data = []byte{0x30, 0x03, 0x02, 0x01, 0x00} },
		"no SHA-256 algorithm": func(vc *cards.ISOCard) {
			f := findFile(t, vc, 0x5032)
			f.Data = bytes.Replace(f.Data, []byte{0x02, 0x01, 0x01, 0x02, 0x01, 0x40}, []byte{0x02, 0x01, 0x01, 0x02, 0x01, 0x41}, 1)
		},
		"no signature key": func(vc *cards.ISOCard) {
			f := findFile(t, vc, 0x7002) // nonRepudiation (bit 9) becomes bit 8
			f.Data = bytes.ReplaceAll(f.Data, []byte{0x03, 0x03, 0x06, 0x00, 0x40}, []byte{0x03, 0x03, 0x07, 0x00, 0x80})
		},
		"bad serial": func(vc *cards.ISOCard) {
			f := findFile(t, vc, 0xD003)
			f.Data = apdu.AppendTLV(nil, 0x5A, []byte{0xAB})
		},
	}
	for name, mutate := range mutations {
		c, vc, _ := open(t, "cps-medecin")
		mutate(vc)
		if info, err := c.ReadInfo(ctx); !errors.Is(err, cps.ErrMalformed) || info != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Every APDU of a PIN verification and of a signature, against the forms
// of ../shared/docs/cps.md (the issuer's driver on real CPS3 cards).
func TestAPDUsOfPINAndSignature(t *testing.T) {
	ctx := context.Background()
	c, rec := recorded(t, profile(t, "cps-medecin"))
	if _, err := c.ReadInfo(ctx); err != nil {
		t.Fatal(err)
	}
	read := rec.Sent
	for _, want := range []string{
		"00 A4 09 04 04 3F 00 D0 03",                            // EF.SN.ICC by path from the MF, FCP asked
		"00 B0 00 00 0C",                                        // read as long as the FCP says
		"00 A4 09 04 04 3F 00 2F 00",                            // EF.DIR
		"00 A4 04 04 0D E8 28 BD 08 0F 80 25 00 00 01 FF 00 10", // the application
		"00 A4 09 04 02 50 31",                                  // ODF
		"00 A4 09 04 02 50 32",                                  // TokenInfo
	} {
		if !slices.Contains(read, want) {
			t.Errorf("reading the card: no %q in %q", want, read)
		}
	}
	for _, a := range read {
		if strings.HasPrefix(a, "00 B0") {
			if le := a[len(a)-2:]; le > "E7" || le == "00" {
				t.Errorf("READ BINARY beyond 0xE7 bytes: %s", a)
			}
		}
		if strings.HasPrefix(a, "00 A4 08") || strings.HasSuffix(a[:11], "0C") {
			t.Errorf("select without the FCP or not by path: %s", a)
		}
	}
	rec.Sent = nil
	if err := c.Verify(ctx, []byte("1234")); err != nil {
		t.Fatal(err)
	}
	if want := []string{"00 20 00 01 08 31 32 33 34 FF FF FF FF"}; !slices.Equal(rec.Sent, want) {
		t.Errorf("VERIFY: %q, want %q", rec.Sent, want)
	}
	s, err := c.Signer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("consentement"))
	rec.Sent = nil
	if _, err := s.Sign(nil, digest[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"00 22 41 B6 06 80 01 42 84 01 81",
		fmt.Sprintf("00 2A 9E 9A 20 % X 00", digest[:]),
		"00 C0 00 00 00", // the signature fetched (T=0)
	}
	if !slices.Equal(rec.Sent, want) {
		t.Errorf("signature APDUs:\n%q\nwant\n%q", rec.Sent, want)
	}
}

// The key reference, the PIN's length and padding come from the card's
// PKCS#15, not from constants: a card declaring others is served with
// them.
func TestDrivenByTheCardsDescription(t *testing.T) {
	ctx := context.Background()
	p := profile(t, "cps-medecin")
	p.Name, p.SignKeyRef, p.PINStoredLen, p.PINPad = "cps-autre-format", 0x84, 12, 0x00
	c, rec := recorded(t, p)
	rec.Sent = nil
	if err := c.Verify(ctx, []byte("1234")); err != nil {
		t.Fatal(err)
	}
	if v := rec.Sent[len(rec.Sent)-1]; v != "00 20 00 01 0C 31 32 33 34 00 00 00 00 00 00 00 00" {
		t.Errorf("VERIFY %s", v)
	}
	s, err := c.Signer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("x"))
	rec.Sent = nil
	sig, err := s.Sign(nil, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Sent[0] != "00 22 41 B6 06 80 01 42 84 01 84" {
		t.Errorf("MSE %s", rec.Sent[0])
	}
	cert, _ := c.Certificate(ctx, true)
	if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, digest[:], sig); err != nil {
		t.Fatal(err)
	}

	// Unpadded, exactly 4 digits stored: 5 digits are refused before any
	// APDU, 4 are sent as they are.
	p.Name, p.PINStoredLen, p.PINPad = "cps-sans-bourrage", 4, 0
	c, _, tr := openProfile(t, p)
	if _, err := c.ReadInfo(ctx); err != nil {
		t.Fatal(err)
	}
	before := tr.Count
	if err := c.Verify(ctx, []byte("12345")); !errors.Is(err, cps.ErrPINFormat) || tr.Count != before {
		t.Fatalf("5 digits for a 4-digit PIN: %v (%d APDUs)", err, tr.Count-before)
	}
	if err := c.Verify(ctx, []byte("1234")); err != nil {
		t.Fatal(err)
	}
}

// A PIN whose presentation the card does not declare in a way the kiosk
// knows is never sent: three wrong formats would block the card.
func TestUndeclaredPINFormatIsNotSent(t *testing.T) {
	ctx := context.Background()
	for name, mutate := range map[string]func([]byte) []byte{
		"UTF-8 PIN": func(b []byte) []byte { return bytes.Replace(b, []byte{0x0A, 0x01, 0x01}, []byte{0x0A, 0x01, 0x02}, 1) },
		"padding without a pad character": func(b []byte) []byte {
			return bytes.Replace(b, []byte{0x04, 0x01, 0xFF}, nil, 1)
		},
	} {
		c, vc, tr := open(t, "cps-medecin")
		f := findFile(t, vc, 0x7001)
		f.Data = mutate(f.Data)
		// The lengths inside the AODF entry changed: rewrite them.
		f.Data = refit(t, f.Data)
		if _, err := c.ReadInfo(ctx); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		before := tr.Count
		if err := c.Verify(ctx, []byte("1234")); !errors.Is(err, cps.ErrPINUndeclared) || tr.Count != before {
			t.Errorf("%s: %v after %d APDUs", name, err, tr.Count-before)
		}
		if vc.TriesLeft() != 3 {
			t.Errorf("%s: a try was used", name)
		}
	}
}

// refit re-encodes the lengths of a DER tree whose leaves changed size.
func refit(t *testing.T, b []byte) []byte {
	t.Helper()
	var out []byte
	for len(b) > 0 {
		tag := b[0]
		n, hdr := int(b[1]), 2
		if b[1] == 0x81 {
			n, hdr = int(b[2]), 3
		} else if b[1] == 0x82 {
			n, hdr = int(b[2])<<8|int(b[3]), 4
		}
		end := min(hdr+n, len(b))
		val := b[hdr:end]
		if tag&0x20 != 0 {
			val = refit(t, val)
		}
		out = apdu.AppendTLV(out, apdu.Tag(tag), val)
		b = b[end:]
	}
	return out
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
		k, err := cps.Open(&cards.Direct{Card: vc, FailAfter: n, Err: removed}, vc.ATR())
		if err != nil {
			t.Fatal(err)
		}
		if info, err := k.ReadInfo(context.Background()); !errors.Is(err, removed) || info != nil {
			t.Fatalf("pulled out after %d APDUs: %v %v", n, info, err)
		}
	}
}
