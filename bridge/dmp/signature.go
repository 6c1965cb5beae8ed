package dmp

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"dmpkiosk/bridge/internal/cdabody"
)

// The signature of a TD2.1 lot (IHE DSG as the DMP takes it,
// docs/feeding.md and dmp-examples/TD2.1-SignatureXades.xml): an XML-DSig
// document whose SignedInfo, canonicalised with comments, references a
// Manifest and the XAdES (1.1.1) SignedProperties; the Manifest lists the
// lot and each document by urn:oid, the document's digest being its
// canonical form's (C14N 1.0 with comments, the whole document); a
// SignatureProperty says its purpose (1.2.840.10065.1.12.1.14, source).
// Signed with the establishment's ORG SIGN key, which may sit on a
// PKCS#11 token. Choices (inferred): SHA-256 and RSA-SHA256 as the VIHF
// (the official example, of 2019, uses SHA-1); the lot's reference in
// the Manifest digests nothing (it has no content of its own; the example
// writes a dummy value).

// Algorithms.
const (
	algC14NComments = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments"
	algSHA256       = "http://www.w3.org/2001/04/xmlenc#sha256"
	algRSASHA256    = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	algECDSASHA256  = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
	nsDSig          = "http://www.w3.org/2000/09/xmldsig#"
	nsXAdES         = "http://uri.etsi.org/01903/v1.1.1#"
	// PurposeSource is the signature's purpose: the source's signature.
	PurposeSource = "1.2.840.10065.1.12.1.14"
)

// CanonicalDocument is a whole XML document's canonical form (C14N 1.0
// with comments): the processing instructions and comments around the
// root each on their own line, the root canonicalised.
func CanonicalDocument(b []byte) ([]byte, error) {
	doc := etree.NewDocument()
	doc.ReadSettings.PreserveCData = true
	if err := doc.ReadFromBytes(b); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	seenRoot := false
	for _, t := range doc.Child {
		switch n := t.(type) {
		case *etree.Element:
			c, err := dsig.MakeC14N10WithCommentsCanonicalizer().Canonicalize(n)
			if err != nil {
				return nil, err
			}
			out.Write(c)
			seenRoot = true
		case *etree.ProcInst:
			if n.Target == "xml" {
				continue // the XML declaration is not a node
			}
			if seenRoot {
				out.WriteByte('\n')
			}
			out.WriteString("<?" + n.Target)
			if n.Inst != "" {
				out.WriteString(" " + n.Inst)
			}
			out.WriteString("?>")
			if !seenRoot {
				out.WriteByte('\n')
			}
		case *etree.Comment:
			if seenRoot {
				out.WriteByte('\n')
			}
			out.WriteString("<!--" + n.Data + "-->")
			if !seenRoot {
				out.WriteByte('\n')
			}
		}
	}
	return out.Bytes(), nil
}

// CanonicalDigest is the SHA-256 of the document's canonical form
// (CanonicalDocument). A level-1 body's plain ASCII text without
// characters the canonical form escapes (base64, megabytes of it) is not
// put through the tree: the rest is canonicalised with the body empty,
// and the text, its line ends normalised as a parser does, is hashed in
// its place — the same bytes, without two more copies of the document.
func CanonicalDigest(b []byte) ([sha256.Size]byte, error) {
	sum, _, err := canonicalDigest(b)
	return sum, err
}

// canonicalDigest is CanonicalDigest, and whether the body was hashed
// apart.
func canonicalDigest(b []byte) (_ [sha256.Size]byte, apart bool, _ error) {
	whole := func() ([sha256.Size]byte, bool, error) {
		c, err := CanonicalDocument(b)
		return sha256.Sum256(c), false, err
	}
	head, text, tail, ok := cdabody.Split(b)
	if ok && bytes.IndexFunc(text, func(r rune) bool { return r == '&' || r == '>' || r >= 0x80 }) >= 0 {
		ok = false
	}
	if !ok {
		return whole()
	}
	view := make([]byte, 0, len(head)+len(tail))
	c, err := CanonicalDocument(append(append(view, head...), tail...))
	if err != nil {
		return [sha256.Size]byte{}, false, err
	}
	// The body's empty text element in the canonical form: its start tag
	// ends where its content goes.
	body := bytes.Index(c, []byte("<nonXMLBody"))
	at := -1
	if body >= 0 {
		if i := bytes.Index(c[body:], []byte("<text")); i >= 0 {
			if j := bytes.Index(c[body+i:], []byte("></text>")); j >= 0 && bytes.IndexByte(c[body+i:body+i+j], '>') < 0 {
				at = body + i + j + 1
			}
		}
	}
	if at < 0 {
		return whole()
	}
	if bytes.IndexByte(text, '\r') >= 0 {
		text = bytes.ReplaceAll(text, []byte("\r\n"), []byte("\n"))
		text = bytes.ReplaceAll(text, []byte("\r"), []byte("\n"))
	}
	h := sha256.New()
	h.Write(c[:at])
	h.Write(text)
	h.Write(c[at:])
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum, true, nil
}

// SignLot writes the signature document of a lot whose uniqueId is
// lotID and whose one document, cda, has the uniqueId docID.
func SignLot(signer Credentials, lotID, docID string, cda []byte, at time.Time) ([]byte, error) {
	if signer.Key == nil || len(signer.Chain) == 0 {
		return nil, fmt.Errorf("dmp: signing the lot: no ORG SIGN key")
	}
	sum, err := CanonicalDigest(cda)
	if err != nil {
		return nil, fmt.Errorf("dmp: signing the lot: the CDA: %w", err)
	}
	id := make([]byte, 16)
	rand.Read(id)
	sigID := "sig-" + hex.EncodeToString(id)
	sigAlg := algRSASHA256
	if _, ok := signer.Key.Public().(*ecdsa.PublicKey); ok {
		sigAlg = algECDSASHA256
	}

	doc := etree.NewDocument()
	sig := doc.CreateElement("Signature")
	sig.CreateAttr("xmlns", nsDSig)
	sig.CreateAttr("Id", sigID)
	si := sig.CreateElement("SignedInfo")
	si.CreateElement("CanonicalizationMethod").CreateAttr("Algorithm", algC14NComments)
	si.CreateElement("SignatureMethod").CreateAttr("Algorithm", sigAlg)
	refManifest := reference(si, "#IHEManifest", "http://www.w3.org/2000/09/xmldsig#Manifest")
	refProps := reference(si, "#SignedProperties", nsXAdES+"SignedProperties")
	sv := sig.CreateElement("SignatureValue")
	sig.CreateElement("KeyInfo").CreateElement("X509Data").CreateElement("X509Certificate").
		SetText(base64.StdEncoding.EncodeToString(signer.Chain[0].Raw))

	manifest := sig.CreateElement("Object").CreateElement("Manifest")
	manifest.CreateAttr("Id", "IHEManifest")
	empty := sha256.Sum256(nil)
	r := reference(manifest, "urn:oid:"+lotID, "")
	r.SelectElement("DigestValue").SetText(base64.StdEncoding.EncodeToString(empty[:]))
	r = reference(manifest, "urn:oid:"+docID, "")
	tr := etree.NewElement("Transforms")
	tr.CreateElement("Transform").CreateAttr("Algorithm", algC14NComments)
	r.InsertChildAt(0, tr)
	r.SelectElement("DigestValue").SetText(base64.StdEncoding.EncodeToString(sum[:]))

	prop := sig.CreateElement("Object").CreateElement("SignatureProperties").CreateElement("SignatureProperty")
	prop.CreateAttr("Id", "purposeOfSignature")
	prop.CreateAttr("Target", "#"+sigID)
	prop.SetText(PurposeSource)

	qp := sig.CreateElement("Object").CreateElement("xad:QualifyingProperties")
	qp.CreateAttr("xmlns:xad", nsXAdES)
	qp.CreateAttr("Target", "#"+sigID)
	sp := qp.CreateElement("xad:SignedProperties")
	sp.CreateAttr("Id", "SignedProperties")
	ssp := sp.CreateElement("xad:SignedSignatureProperties")
	ssp.CreateElement("xad:SigningTime").SetText(at.UTC().Format("2006-01-02T15:04:05Z"))
	for _, c := range signer.Chain {
		cert := ssp.FindElement("xad:SigningCertificate")
		if cert == nil {
			cert = ssp.CreateElement("xad:SigningCertificate")
		}
		ce := cert.CreateElement("xad:Cert")
		cd := ce.CreateElement("xad:CertDigest")
		cd.CreateElement("DigestMethod").CreateAttr("Algorithm", algSHA256)
		d := sha256.Sum256(c.Raw)
		cd.CreateElement("DigestValue").SetText(base64.StdEncoding.EncodeToString(d[:]))
		is := ce.CreateElement("xad:IssuerSerial")
		is.CreateElement("X509IssuerName").SetText(c.Issuer.String())
		is.CreateElement("X509SerialNumber").SetText(new(big.Int).Set(c.SerialNumber).String())
	}
	ssp.CreateElement("xad:SignaturePolicyIdentifier").CreateElement("xad:SignaturePolicyImplied")

	// The digests of what SignedInfo references, then its signature.
	canon := dsig.MakeC14N10WithCommentsCanonicalizer()
	for _, ref := range []struct {
		el  *etree.Element
		ref *etree.Element
	}{{manifest, refManifest}, {sp, refProps}} {
		c, err := canon.Canonicalize(ref.el)
		if err != nil {
			return nil, err
		}
		d := sha256.Sum256(c)
		ref.ref.SelectElement("DigestValue").SetText(base64.StdEncoding.EncodeToString(d[:]))
	}
	c, err := canon.Canonicalize(si)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256(c)
	value, err := signer.Key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("dmp: signing the lot: %w", err)
	}
	if pub, ok := signer.Key.Public().(*ecdsa.PublicKey); ok {
		// XML-DSig writes ECDSA as r || s, each the key's size.
		if value, err = rawECDSA(value, (pub.Curve.Params().BitSize+7)/8); err != nil {
			return nil, err
		}
	} else if _, ok := signer.Key.Public().(*rsa.PublicKey); !ok {
		return nil, fmt.Errorf("dmp: signing the lot: a %T key", signer.Key.Public())
	}
	sv.SetText(base64.StdEncoding.EncodeToString(value))
	return doc.WriteToBytes()
}

// reference adds a Reference to uri (of type typ when set) with its
// digest method; its DigestValue is filled in after.
func reference(parent *etree.Element, uri, typ string) *etree.Element {
	r := parent.CreateElement("Reference")
	if typ != "" {
		r.CreateAttr("Type", typ)
	}
	r.CreateAttr("URI", uri)
	r.CreateElement("DigestMethod").CreateAttr("Algorithm", algSHA256)
	r.CreateElement("DigestValue")
	return r
}

// rawECDSA turns an ASN.1 ECDSA signature into XML-DSig's r || s.
func rawECDSA(der []byte, size int) ([]byte, error) {
	var sig struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &sig); err != nil {
		return nil, fmt.Errorf("dmp: signing the lot: %w", err)
	}
	out := make([]byte, 2*size)
	sig.R.FillBytes(out[:size])
	sig.S.FillBytes(out[size:])
	return out, nil
}
