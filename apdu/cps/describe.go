package cps

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"dmpkiosk/apdu"
	"dmpkiosk/apdu/pkcs15"
)

// Where the card is read from, as real middleware reads it: paths from the
// MF with P1=09 and the 3F00 prefix, the FCP asked for (P2=04), READ
// BINARY sized from the FCP in chunks of at most 0xE7 bytes.
var (
	pathSNICC = []byte{0x3F, 0x00, 0xD0, 0x03}
	pathDIR   = []byte{0x3F, 0x00, 0x2F, 0x00}
	// The application's PKCS#15 directories (ISO/IEC 7816-15 fixes the
	// ODF's and the TokenInfo's identifiers; the rest is found in the ODF).
	fidODF       = []byte{0x50, 0x31}
	fidTokenInfo = []byte{0x50, 0x32}
	// The issuer's prefix of the PAN in EF.SN.ICC.
	issuerPrefix = "8025000001"
)

const (
	maxRead     = 0xE7
	maxFileSize = 8 << 10
	// PKCS#11 mechanism whose algorithm reference signs the events.
	mechSHA256RSAPKCS = 0x40
)

// The PKCS#15 application's AIDs (EF.DIR names them; the contactless one
// has no signature key).
var (
	aidContact     = []byte{0xE8, 0x28, 0xBD, 0x08, 0x0F, 0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x00, 0x10}
	aidContactless = []byte{0xE8, 0x28, 0xBD, 0x08, 0x0F, 0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x00, 0x20}
)

// token is what the card declares of itself, read once per insertion.
type token struct {
	serial     string
	app        []byte
	info       *pkcs15.TokenInfo
	pins       []pkcs15.PIN
	pin        *pkcs15.PIN // the signature key's
	keys       []pkcs15.PrivateKey
	certs      []pkcs15.Certificate
	odf        pkcs15.ODF
	signKey    *pkcs15.PrivateKey
	signCert   *pkcs15.Certificate
	authCert   *pkcs15.Certificate // nil when the card has none
	signAlg    byte
	signKeyRef byte
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w : "+format, append([]any{ErrMalformed}, args...)...)
}

// selectPath selects a file by path (P1=09) and returns the size its FCP
// gives (0 if it gives none).
func (c *Card) selectPath(ctx context.Context, path []byte) (int, error) {
	fcp, err := apdu.Do(ctx, c.t, apdu.Command{Ins: apdu.InsSelect, P1: 0x09, P2: 0x04, Data: path})
	if err != nil {
		return 0, err
	}
	if v, ok, _ := apdu.Find(fcp, 0x62, 0x80); ok && len(v) >= 1 && len(v) <= 3 {
		n := 0
		for _, b := range v {
			n = n<<8 | int(b)
		}
		return n, nil
	}
	return 0, nil
}

// readFrom reads the selected EF from offset len(have), appending to
// have: up to size bytes in chunks of at most 0xE7, or to its end when the
// FCP gave no size. enough, if set, stops the read early once what was
// read suffices.
func (c *Card) readFrom(ctx context.Context, size int, have []byte, enough func([]byte) bool) ([]byte, error) {
	if size <= 0 {
		return apdu.ReadFile(ctx, c.t, 0x00, maxFileSize)
	}
	if size > maxFileSize {
		return nil, malformed("fichier de %d octets", size)
	}
	out := have
	if out == nil {
		out = make([]byte, 0, size)
	}
	for len(out) < size && (enough == nil || !enough(out)) {
		n := min(size-len(out), maxRead)
		r, err := apdu.Exchange(ctx, c.t, apdu.Command{Ins: apdu.InsReadBinary, P1: byte(len(out) >> 8), P2: byte(len(out)), Ne: n})
		if err != nil {
			return nil, err
		}
		if r.SW != apdu.SWOK && r.SW != apdu.SWEndOfFile {
			return nil, fmt.Errorf("cps: reading at offset %d: %w", len(out), r.Err())
		}
		if len(r.Data) == 0 || len(r.Data) > n {
			return nil, fmt.Errorf("%w: %d bytes for a %d-byte read", apdu.ErrResponse, len(r.Data), n)
		}
		out = append(out, r.Data...)
		if r.SW == apdu.SWEndOfFile {
			break
		}
	}
	return out, nil
}

func (c *Card) readPath(ctx context.Context, path []byte) ([]byte, error) {
	c.inApp = false
	size, err := c.selectPath(ctx, path)
	if err != nil {
		return nil, err
	}
	return c.readFrom(ctx, size, nil, nil)
}

func (c *Card) selectApp(ctx context.Context, tk *token) error {
	if c.inApp {
		return nil
	}
	if _, err := apdu.Do(ctx, c.t, apdu.Command{Ins: apdu.InsSelect, P1: 0x04, P2: 0x04, Data: tk.app}); err != nil {
		return fmt.Errorf("cps: selecting the application: %w", err)
	}
	c.inApp = true
	return nil
}

// openObject selects the EF a PKCS#15 path names and returns its size: a
// path from the MF as is, else a file of the application (the only one the
// kiosk reads; a path naming another application is refused).
func (c *Card) openObject(ctx context.Context, tk *token, p pkcs15.Path) (int, error) {
	switch {
	case len(p.EFID) >= 2 && p.EFID[0] == 0x3F && p.EFID[1] == 0x00:
		c.inApp = false
		return c.selectPath(ctx, p.EFID)
	case p.AID != nil && !bytes.Equal(p.AID, tk.app):
		return 0, malformed("objet hors de l'application (% X)", p.AID)
	case len(p.EFID) == 0 || len(p.EFID)%2 != 0:
		return 0, malformed("chemin d'objet % X", p.EFID)
	}
	if err := c.selectApp(ctx, tk); err != nil {
		return 0, err
	}
	return c.selectPath(ctx, p.EFID)
}

func (c *Card) readObject(ctx context.Context, tk *token, p pkcs15.Path) ([]byte, error) {
	size, err := c.openObject(ctx, tk, p)
	if err != nil {
		return nil, err
	}
	return c.readFrom(ctx, size, nil, nil)
}

// describe reads, once, what the card declares: EF.SN.ICC, EF.DIR, and the
// application's ODF, TokenInfo, AODF, PrKDF and CDF. The signature key,
// its PIN and its certificate are found there, never assumed.
func (c *Card) describe(ctx context.Context) (*token, error) {
	if c.token != nil {
		return c.token, nil
	}
	tk := &token{}
	sn, err := c.readPath(ctx, pathSNICC)
	if err != nil {
		return nil, fmt.Errorf("cps: reading the serial: %w", err)
	}
	pan, ok, err := apdu.Find(sn, 0x5A)
	if err != nil || !ok || len(pan) == 0 {
		return nil, malformed("numéro de carte absent")
	}
	serial := strings.TrimRight(fmt.Sprintf("%X", pan), "F")
	if !isDigits(serial) {
		return nil, malformed("numéro de carte mal formé")
	}
	tk.serial = strings.TrimPrefix(serial, issuerPrefix)
	dir, err := c.readPath(ctx, pathDIR)
	if err != nil {
		return nil, fmt.Errorf("cps: reading EF.DIR: %w", err)
	}
	want := aidContact
	if c.kind == CPS3Contactless {
		want = aidContactless
	}
	apps, err := apdu.ParseAll(dir)
	if err != nil {
		return nil, malformed("EF.DIR : %v", err)
	}
	for _, a := range apps {
		if aid, ok, _ := apdu.Find(a.Value, 0x4F); a.Tag == 0x61 && ok && bytes.Equal(aid, want) {
			tk.app = want
		}
	}
	if tk.app == nil {
		return nil, malformed("application CPS absente de EF.DIR")
	}
	if err := c.selectApp(ctx, tk); err != nil {
		return nil, err
	}
	odfBytes, err := c.readObject(ctx, tk, pkcs15.Path{EFID: fidODF})
	if err != nil {
		return nil, fmt.Errorf("cps: reading the ODF: %w", err)
	}
	odf, err := pkcs15.ParseODF(odfBytes)
	if err != nil {
		return nil, malformed("%v", err)
	}
	ti, err := c.readObject(ctx, tk, pkcs15.Path{EFID: fidTokenInfo})
	if err != nil {
		return nil, fmt.Errorf("cps: reading the TokenInfo: %w", err)
	}
	if tk.info, err = pkcs15.ParseTokenInfo(ti); err != nil {
		return nil, malformed("%v", err)
	}
	read := func(kind int, parse func([]byte) error) error {
		for _, p := range odf[kind] {
			b, err := c.readObject(ctx, tk, p)
			if err != nil {
				return err
			}
			if err := parse(b); err != nil {
				return malformed("%v", err)
			}
		}
		return nil
	}
	err = read(pkcs15.AODF, func(b []byte) error {
		pins, err := pkcs15.ParseAODF(b)
		tk.pins = append(tk.pins, pins...)
		return err
	})
	if err == nil {
		err = read(pkcs15.PrKDF, func(b []byte) error {
			keys, err := pkcs15.ParsePrKDF(b)
			tk.keys = append(tk.keys, keys...)
			return err
		})
	}
	if err == nil {
		err = read(pkcs15.CDF, func(b []byte) error {
			certs, err := pkcs15.ParseCDF(b)
			tk.certs = append(tk.certs, certs...)
			return err
		})
	}
	if err != nil {
		return nil, fmt.Errorf("cps: reading the card's PKCS#15: %w", err)
	}
	if err := tk.resolve(c.kind); err != nil {
		return nil, err
	}
	tk.odf = odf
	c.token = tk
	return tk, nil
}

// dataObjects reads the DODF (Describe only: the kiosk's session does not
// need the holder's data objects, and they cost wire time).
func (c *Card) dataObjects(ctx context.Context, tk *token) ([]pkcs15.DataObject, error) {
	var out []pkcs15.DataObject
	for _, p := range tk.odf[pkcs15.DODF] {
		b, err := c.readObject(ctx, tk, p)
		if err != nil {
			return nil, fmt.Errorf("cps: reading the DODF: %w", err)
		}
		data, err := pkcs15.ParseDODF(b)
		if err != nil {
			return nil, malformed("%v", err)
		}
		out = append(out, data...)
	}
	return out, nil
}

// resolve finds the signature key (non-repudiation, CPS_PRIV_SIG), its PIN
// and its certificate, and the authentication certificate.
func (tk *token) resolve(kind Kind) error {
	for i := range tk.keys {
		k := &tk.keys[i]
		if k.Uses(pkcs15.UsageNonRepudiation) && (tk.signKey == nil || k.Label == "CPS_PRIV_SIG") {
			tk.signKey = k
		}
	}
	var authKey *pkcs15.PrivateKey
	for i := range tk.keys {
		if k := &tk.keys[i]; k != tk.signKey && k.Uses(pkcs15.UsageSign) {
			authKey = k
		}
	}
	findCert := func(k *pkcs15.PrivateKey) *pkcs15.Certificate {
		for i := range tk.certs {
			if k != nil && bytes.Equal(tk.certs[i].ID, k.ID) {
				return &tk.certs[i]
			}
		}
		return nil
	}
	tk.authCert = findCert(authKey)
	if kind == CPS3Contactless && tk.signKey == nil {
		// No signature key without contact: the authentication
		// certificate names the holder.
		tk.signCert = tk.authCert
	} else {
		tk.signCert = findCert(tk.signKey)
	}
	if tk.signCert == nil {
		return malformed("certificat du porteur absent du PKCS#15")
	}
	key := tk.signKey
	if key == nil {
		key = authKey
	}
	if key != nil {
		for i := range tk.pins {
			if p := &tk.pins[i]; key.AuthID != nil && bytes.Equal(p.ID, key.AuthID) {
				tk.pin = p
			}
		}
	}
	if tk.signKey != nil {
		if tk.signKey.Reference < 0 || tk.signKey.Reference > 0xFF {
			return malformed("référence de la clé de signature absente")
		}
		tk.signKeyRef = byte(tk.signKey.Reference)
		alg, ok := tk.info.AlgRef(mechSHA256RSAPKCS)
		if !ok || alg > 0xFF {
			return malformed("algorithme SHA256-RSA-PKCS non déclaré")
		}
		tk.signAlg = byte(alg)
	}
	return nil
}

// certHead is what the start of a certificate says: enough for the
// screen (who, until when) before the whole certificate is read.
type certHead struct {
	subject             pkix.Name
	notBefore, notAfter time.Time
}

// parseCertHead reads the subject and validity from the first bytes of a
// DER certificate, which come before its public key and extensions; ok is
// false while they are not all there.
func parseCertHead(b []byte) (h certHead, ok bool) {
	skipHeader := func(b []byte) ([]byte, bool) { // a SEQUENCE's tag and length
		if len(b) < 2 || b[0] != 0x30 {
			return nil, false
		}
		n := 1
		if b[1] > 0x80 {
			n += int(b[1] & 0x7F)
		}
		if n >= 5 || len(b) < 1+n {
			return nil, false
		}
		return b[1+n:], true
	}
	tbs, ok := skipHeader(b)
	if !ok {
		return h, false
	}
	if tbs, ok = skipHeader(tbs); !ok {
		return h, false
	}
	s := cryptobyte.String(tbs)
	var fields [][]byte
	for len(fields) < 5 {
		var el cryptobyte.String
		var tag cbasn1.Tag
		if !s.ReadAnyASN1Element(&el, &tag) {
			return h, false
		}
		if len(fields) == 0 && tag == cbasn1.Tag(0).ContextSpecific().Constructed() {
			continue // version
		}
		fields = append(fields, el)
	}
	// serialNumber, signature, issuer, validity, subject.
	var validity struct{ NotBefore, NotAfter time.Time }
	var rdn pkix.RDNSequence
	if rest, err := asn1.Unmarshal(fields[3], &validity); err != nil || len(rest) > 0 {
		return h, false
	}
	if rest, err := asn1.Unmarshal(fields[4], &rdn); err != nil || len(rest) > 0 {
		return h, false
	}
	h.subject.FillFromRDNSequence(&rdn)
	h.notBefore, h.notAfter = validity.NotBefore, validity.NotAfter
	return h, true
}

// certificateHead reads a certificate only as far as its subject and
// validity; what was read is kept, and certificate goes on from there.
func (c *Card) certificateHead(ctx context.Context, entry *pkcs15.Certificate) (certHead, error) {
	key := string(entry.ID)
	c.mu.Lock()
	cert := c.certs[key]
	c.mu.Unlock()
	if cert != nil {
		return certHead{subject: cert.Subject, notBefore: cert.NotBefore, notAfter: cert.NotAfter}, nil
	}
	size, err := c.openObject(ctx, c.token, entry.Path)
	var buf []byte
	if err == nil {
		buf, err = c.readFrom(ctx, size, nil, func(b []byte) bool { _, ok := parseCertHead(b); return ok })
	}
	if err != nil {
		return certHead{}, fmt.Errorf("cps: reading a certificate: %w", err)
	}
	h, ok := parseCertHead(buf)
	if !ok {
		return certHead{}, malformed("certificat illisible")
	}
	if size > 0 {
		c.partial[key] = buf
	}
	return h, nil
}

// certificate reads a whole certificate (going on from its head when that
// was read), once per insertion.
func (c *Card) certificate(ctx context.Context, entry *pkcs15.Certificate) (*x509.Certificate, error) {
	if entry == nil {
		return nil, malformed("certificat absent")
	}
	key := string(entry.ID)
	c.mu.Lock()
	cert := c.certs[key]
	c.mu.Unlock()
	if cert != nil {
		return cert, nil
	}
	size, err := c.openObject(ctx, c.token, entry.Path)
	var der []byte
	if err == nil {
		der, err = c.readFrom(ctx, size, c.partial[key], nil)
	}
	if err != nil {
		return nil, fmt.Errorf("cps: reading a certificate: %w", err)
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		return nil, malformed("certificat illisible : %v", err)
	}
	delete(c.partial, key)
	c.mu.Lock()
	c.certs[key] = cert
	c.mu.Unlock()
	return cert, nil
}

var (
	oidSurname   = asn1.ObjectIdentifier{2, 5, 4, 4}
	oidGivenName = asn1.ObjectIdentifier{2, 5, 4, 42}
	oidTitle     = asn1.ObjectIdentifier{2, 5, 4, 12}
)

// HolderOf takes the holder from a card certificate's subject, as the
// kiosk does when it reads the card: the bridge binds an event's
// professional to it.
func HolderOf(subject pkix.Name) (Holder, error) {
	var h Holder
	err := holderFromSubject(subject, &h)
	return h, err
}

// holderFromSubject takes the holder from the certificate's subject:
// CN the national identifier (its first digit its type: 8 RPPS, 0 ADELI,
// 3 establishment staff), SN and GN the names, title the profession (TRE
// G15). The card type is the subject's OU when it names one (the virtual
// cards' choice: the public IGC-Santé profile does not say); otherwise it
// is inferred from the identifier's type (3: CPE, else CPS), which cannot
// tell a CPF from a CPS, nor a CDE from a CPE.
func holderFromSubject(subject pkix.Name, h *Holder) error {
	h.NationalID = subject.CommonName
	for _, n := range subject.Names {
		v, _ := n.Value.(string)
		switch {
		case n.Type.Equal(oidSurname):
			h.Surname = v
		case n.Type.Equal(oidGivenName):
			h.FirstName = v
		case n.Type.Equal(oidTitle):
			h.Profession = v
		}
	}
	if h.NationalID == "" || h.Surname == "" || h.FirstName == "" {
		return malformed("identité du porteur absente du certificat")
	}
	idType := h.NationalID[:1]
	switch idType {
	case "8":
		h.NationalIDType = "RPPS"
	case "0":
		h.NationalIDType = "ADELI"
	case "3":
		h.NationalIDType = "ETABLISSEMENT"
	default:
		return malformed("type d'identifiant %q inconnu", idType)
	}
	for _, ou := range subject.OrganizationalUnit {
		switch ou {
		case "CPS", "CPF", "CPE", "CDE":
			h.CardType = ou
		}
	}
	if h.CardType == "" {
		h.CardType = "CPS"
		if idType == "3" {
			h.CardType = "CPE"
		}
	}
	return nil
}

// Description is what the card declares without a PIN: what a technician
// reads first with a real card (kiosk cps-info), and what a bug report
// needs. Nothing in it is secret; the holder's data objects are listed
// with their size, their contents not parsed (their format is not public).
type Description struct {
	Kind         string            `json:"kind"`
	Serial       string            `json:"serial"`
	Label        string            `json:"label"`
	Manufacturer string            `json:"manufacturer"`
	Application  string            `json:"application"`
	PIN          PINDescription    `json:"pin"`
	Keys         []KeyDescription  `json:"keys"`
	Certificates []CertDescription `json:"certificates"`
	DataObjects  []DataDescription `json:"data_objects"`
	Algorithms   []string          `json:"algorithms"`
}

// PINDescription is the AODF's PIN entry and the card's try counter.
type PINDescription struct {
	Label        string `json:"label"`
	Reference    int    `json:"reference"`
	Type         int    `json:"type"` // 1: ASCII digits
	MinLen       int    `json:"min_length"`
	StoredLen    int    `json:"stored_length"`
	MaxLen       int    `json:"max_length"`
	NeedsPadding bool   `json:"needs_padding"`
	PadChar      byte   `json:"pad_char"`
	TriesLeft    int    `json:"tries_left"` // -1: already verified; 0 with Blocked
	Blocked      bool   `json:"blocked"`
}

// KeyDescription is a PrKDF entry.
type KeyDescription struct {
	Label          string `json:"label"`
	ID             string `json:"id"`
	Reference      int    `json:"reference"`
	Bits           int    `json:"bits"`
	NonRepudiation bool   `json:"non_repudiation"`
	Sign           bool   `json:"sign"`
	Decrypt        bool   `json:"decrypt"`
}

// CertDescription is a CDF entry and the certificate it points at.
type CertDescription struct {
	Label     string `json:"label"`
	ID        string `json:"id"`
	Subject   string `json:"subject"`
	Issuer    string `json:"issuer"`
	NotBefore string `json:"not_before"`
	NotAfter  string `json:"not_after"`
}

// DataDescription is a DODF entry; Size is -1 when the object needs the
// PIN.
type DataDescription struct {
	Label   string `json:"label"`
	Private bool   `json:"private"`
	Size    int    `json:"size"`
}

// Describe reads everything the card declares, presenting no PIN.
func (c *Card) Describe(ctx context.Context) (*Description, error) {
	c.op.Lock()
	defer c.op.Unlock()
	tk, err := c.describe(ctx)
	if err != nil {
		return nil, err
	}
	d := &Description{Kind: c.kind.String(), Serial: tk.serial, Label: tk.info.Label, Manufacturer: tk.info.Manufacturer,
		Application: fmt.Sprintf("%X", tk.app)}
	for _, a := range tk.info.Algorithms {
		d.Algorithms = append(d.Algorithms, algorithmText(a))
	}
	if p := tk.pin; p != nil {
		d.PIN = PINDescription{Label: p.Label, Reference: p.Reference, Type: p.Type, MinLen: p.MinLen, StoredLen: p.StoredLen,
			MaxLen: p.MaxLen, NeedsPadding: p.NeedsPadding, PadChar: p.PadChar}
		n, err := c.triesLeft(ctx, tk)
		switch {
		case errors.Is(err, ErrBlocked):
			d.PIN.Blocked = true
		case err != nil:
			return nil, err
		}
		d.PIN.TriesLeft = n
	}
	for _, k := range tk.keys {
		d.Keys = append(d.Keys, KeyDescription{Label: k.Label, ID: fmt.Sprintf("%x", k.ID), Reference: k.Reference, Bits: k.ModulusBits,
			NonRepudiation: k.Uses(pkcs15.UsageNonRepudiation), Sign: k.Uses(pkcs15.UsageSign), Decrypt: k.Uses(pkcs15.UsageDecrypt)})
	}
	for i := range tk.certs {
		e := &tk.certs[i]
		cd := CertDescription{Label: e.Label, ID: fmt.Sprintf("%x", e.ID)}
		cert, err := c.certificate(ctx, e)
		if err != nil {
			return nil, err
		}
		cd.Subject, cd.Issuer = distinguishedName(cert.Subject), distinguishedName(cert.Issuer)
		cd.NotBefore, cd.NotAfter = cert.NotBefore.UTC().Format("2006-01-02"), cert.NotAfter.UTC().Format("2006-01-02")
		d.Certificates = append(d.Certificates, cd)
	}
	data, err := c.dataObjects(ctx, tk)
	if err != nil {
		return nil, err
	}
	for _, o := range data {
		dd := DataDescription{Label: o.Label, Private: o.Private || o.AuthID != nil, Size: -1}
		if !dd.Private {
			b, err := c.readObject(ctx, tk, o.Path)
			if err != nil {
				return nil, fmt.Errorf("cps: reading %s: %w", o.Label, err)
			}
			dd.Size = len(b)
		}
		d.DataObjects = append(d.DataObjects, dd)
	}
	return d, nil
}

// distinguishedName writes a name as RFC 4514 does, with the short names
// of the attributes IGC-Santé certificates carry (SN, GN, title).
func distinguishedName(n pkix.Name) string {
	short := map[string]string{"2.5.4.3": "CN", "2.5.4.4": "SN", "2.5.4.42": "GN", "2.5.4.12": "title", "2.5.4.11": "OU",
		"2.5.4.10": "O", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.5": "serialNumber"}
	var parts []string
	for _, a := range n.Names {
		k := short[a.Type.String()]
		if k == "" {
			k = a.Type.String()
		}
		parts = append(parts, fmt.Sprintf("%s=%v", k, a.Value))
	}
	return strings.Join(parts, ", ")
}

// algorithmText says what the card declares of an algorithm: its PKCS#11
// mechanism and, when it gives one, its own reference.
func algorithmText(a pkcs15.Algorithm) string {
	if a.AlgRef < 0 {
		return fmt.Sprintf("mechanism 0x%X, no card reference", a.Mechanism)
	}
	return fmt.Sprintf("mechanism 0x%X, card reference 0x%X", a.Mechanism, a.AlgRef)
}
