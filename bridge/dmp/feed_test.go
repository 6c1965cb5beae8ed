package dmp_test

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"dmpkiosk/bridge/dmp"
	"dmpkiosk/bridge/dmp/dmpsim"
	"dmpkiosk/hwtest"
)

// TD2.1's request as it leaves the bridge: an MTOM package whose root,
// its documents put back from their parts, validates against the package
// DMP's schemas (the VIHF, in indirect mode, and the XDS body); the lot's
// signature, made by ORG SIGN on its PKCS#11 token (SoftHSM), verifies
// with xmlsec1; the CDA part is the document as received, byte for byte.
func TestFeedRequest(t *testing.T) {
	r := newRig(t, dmpsim.Current)
	cfg := r.config()
	c := dmp.NewClient(cfg)
	cda, h := golden(t)
	f := feedingOf(cda, h)
	f.Author.Specialty = dmp.Code{"G15_10/SM26", "1.2.250.1.213.1.1.4.5", "Médecin - Qualifié en Médecine Générale (SM)"}
	msgID := dmp.NewMessageID()
	pkg, ct, err := c.FeedRequest(f, finess, msgID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ct, `multipart/related; type="application/xop+xml"`) || !strings.Contains(string(pkg), "Content-ID: <part1@dmpkiosk>") ||
		!strings.Contains(string(pkg), `<xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:part1@dmpkiosk"`) {
		t.Fatalf("not an MTOM package: %s", ct)
	}
	if !strings.Contains(string(pkg), string(cda)) {
		t.Error("the CDA part is not the document as received")
	}
	schemas, err := dmpsim.OpenSchemas()
	if err != nil {
		t.Fatal(err)
	}
	plain, err := schemas.ValidateMTOM(context.Background(), ct, pkg)
	if err != nil {
		t.Fatalf("the official schemas refuse the request: %v", err)
	}
	env, err := dmp.ParseEnvelope(plain)
	if err != nil {
		t.Fatal(err)
	}
	if env.Action != dmp.ActionTD21 || env.MessageID != msgID || !strings.HasSuffix(env.To, "/repository") {
		t.Errorf("headers: %+v", env)
	}
	vd := etree.NewDocument()
	vd.SetRoot(env.Security.Copy())
	vihf, _ := vd.WriteToString()
	for _, want := range []string{">INDIRECTE<", `code="10"`, `code="SM26"`, ">1" + finess + "<", "279035121518989^^^&amp;1.2.250.1.213.1.4.10&amp;ISO^NH"} {
		if !strings.Contains(vihf, want) {
			t.Errorf("the VIHF lacks %s", want)
		}
	}
	var sig []byte
	for _, d := range env.Body.SelectElements("Document") {
		b, _ := base64.StdEncoding.DecodeString(d.Text())
		switch d.SelectAttrValue("id", "") {
		case "Document01":
			if string(b) != string(cda) {
				t.Error("the document is not the CDA as received")
			}
		case "Signature01":
			sig = b
		}
	}
	hwtest.LookPath(t, "xmlsec1", "xmlsec1")
	p := filepath.Join(t.TempDir(), "sig.xml")
	os.WriteFile(p, sig, 0o644)
	if err := dmpsim.VerifySignatureFile(context.Background(), p); err != nil {
		t.Fatalf("xmlsec1 does not verify the lot's signature made on the token: %v", err)
	}
	doc := etree.NewDocument()
	doc.ReadFromBytes(sig)
	if cert := doc.FindElement("//X509Certificate"); cert == nil || cert.Text() != base64.StdEncoding.EncodeToString(r.sign.Chain[0].Raw) {
		t.Error("the signature is not ORG SIGN's")
	}
}

// TD2.1 against the simulator as the DMP's registry and repository: a
// patient who has not authorized the establishment: refused; authorized
// (TD0.3): the lot is taken, the document and its signature are in the
// patient's DMP with the CDA's type and the confidentiality asked; the
// same document again: XDSDuplicateUniqueIdInRegistry; the simulator's
// answers valid against the official schemas (the rig checks them).
func TestFeedTheSimulator(t *testing.T) {
	pid := dmp.PatientID{Root: "1.2.250.1.213.1.4.10", Extension: "279035121518989"}
	r := newRig(t, dmpsim.Current, dmpsim.Person{IDs: []dmp.PatientID{pid},
		Demographics: dmp.Demographics{BirthName: "PAT-TROIS", FirstName: "DOMINIQUE", Sex: "F", BirthDate: "19790328"}})
	c := dmp.NewClient(r.config())
	ctx := context.Background()
	cda, h := golden(t)
	f := feedingOf(cda, h)
	f.Author.Specialty = dmp.Code{"G15_10/SM26", "1.2.250.1.213.1.1.4.5", "Médecin - Qualifié en Médecine Générale (SM)"}
	if _, err := c.Feed(ctx, f, finess); !errors.Is(err, dmp.ErrAccessDenied) {
		t.Fatalf("a patient who has not authorized the establishment: %v", err)
	}
	e := familyEvent(t, "current", false)
	if _, _, err := c.SetAuthorization(ctx, dmp.Who{Professional: e.Professional, FINESS: finess, Patient: pid}, dmp.ActionAdd); err != nil {
		t.Fatal(err)
	}
	x, err := c.Feed(ctx, f, finess)
	if err != nil {
		t.Fatalf("TD2.1: %v\n%s", err, x.Response)
	}
	docs, err := r.sim.Documents(ctx, pid)
	if err != nil || len(docs) != 2 {
		t.Fatalf("the registry holds %d entries, %v", len(docs), err)
	}
	d := docs[0]
	if d.UniqueID == f.SignatureID {
		d = docs[1]
	}
	if d.UniqueID != h.UniqueID || d.TypeCode != "11502-2" || d.ClassCode != "10" || d.Status != "Approved" || string(d.CDA) != string(cda) ||
		strings.Join(d.Confidentiality, " ") != "N INVISIBLE_REPRESENTANTS_LEGAUX" || d.Structure != "1"+finess {
		t.Errorf("entry: %+v", d)
	}
	// The same document in a new lot.
	f.LotID, f.SignatureID = f.LotID+"1", f.SignatureID+"1"
	var re *dmp.RegistryError
	if _, err := c.Feed(ctx, f, finess); !errors.As(err, &re) || re.Code != "XDSDuplicateUniqueIdInRegistry" {
		t.Fatalf("sent twice: %v", err)
	}
}

// TD3.1, a replacement (RPLC) and TD3.3c against the simulator's
// registry, every request and answer checked against the package's
// schemas (the simulator refuses a request they refuse and checks its own
// answers): the entry TD2.1 stored is found with the registry's hash of
// the CDA, a new version deprecates it, the establishment deletes its own
// document and cannot delete it twice.
func TestSearchReplaceDelete(t *testing.T) {
	pid := dmp.PatientID{Root: "1.2.250.1.213.1.4.10", Extension: "279035121518989"}
	r := newRig(t, dmpsim.Current, dmpsim.Person{IDs: []dmp.PatientID{pid},
		Demographics: dmp.Demographics{BirthName: "PAT-TROIS", FirstName: "DOMINIQUE", Sex: "F", BirthDate: "19790328"}})
	c := dmp.NewClient(r.config())
	ctx := context.Background()
	schemas, err := dmpsim.OpenSchemas()
	if err != nil {
		t.Fatal(err)
	}
	for name, el := range map[string]*etree.Element{
		"TD3.1 request": dmp.FindQuery(pid, dmp.StatusApproved, dmp.StatusDeprecated),
		"TD3.3c request": dmp.DeleteBody(pid, "urn:uuid:fe5287a2-ae6a-11eb-8f5d-0050569e422e", dmp.Lot{SourceID: "1.2.250.1.999.1.1",
			ID: "1.2.250.1.999.1.1.3.9", Time: time.Now(), ContentType: dmp.Code{"03", dmp.CSContentType, "Hospitalisation"}}),
	} {
		if err := schemas.Validate(ctx, el); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	e := familyEvent(t, "current", false)
	who := dmp.Who{Professional: e.Professional, FINESS: finess, Patient: pid}
	if _, _, err := c.FindEntries(ctx, who); !errors.Is(err, dmp.ErrAccessDenied) {
		t.Fatalf("TD3.1 before the patient's authorization: %v", err)
	}
	if _, _, err := c.SetAuthorization(ctx, who, dmp.ActionAdd); err != nil {
		t.Fatal(err)
	}
	l, _, err := c.FindEntries(ctx, who)
	if err != nil || len(l) != 0 {
		t.Fatalf("an empty DMP: %v %v", l, err)
	}
	cda, h := golden(t)
	f := feedingOf(cda, h)
	f.Author.Specialty = dmp.Code{"G15_10/SM26", "1.2.250.1.213.1.1.4.5", "Médecin - Qualifié en Médecine Générale (SM)"}
	if _, err := c.Feed(ctx, f, finess); err != nil {
		t.Fatal(err)
	}
	l, x, err := c.FindEntries(ctx, who)
	if err != nil || len(l) != 1 {
		t.Fatalf("after TD2.1: %d entries, %v\n%s", len(l), err, x.Response)
	}
	sum := sha1.Sum(cda)
	first := l[0]
	if first.UniqueID != h.UniqueID || first.Hash != hex.EncodeToString(sum[:]) || first.Size != int64(len(cda)) || first.Type.Code != "11502-2" ||
		first.Class.Code != "10" || !strings.HasPrefix(first.EntryUUID, "urn:uuid:") || first.Status != dmp.StatusApproved ||
		!first.Has(dmp.ConfInvisibleLegalReps) || !first.Created.Equal(h.Effective) || first.Title != h.Title {
		t.Fatalf("entry: %+v", first)
	}

	// Version 2 replaces it.
	v2, err := dmpsim.Revise(cda, h.UniqueID+".2")
	if err != nil {
		t.Fatal(err)
	}
	h2, err := dmp.ReadCDAHeader(v2)
	if err != nil || h2.Version != "2" || h2.SetID != h.SetID {
		t.Fatalf("version 2: %+v %v", h2, err)
	}
	f2 := feedingOf(v2, h2)
	f2.Author, f2.LotID, f2.SignatureID, f2.Replaces = f.Author, f.LotID+".2", f.SignatureID+".2", first.EntryUUID
	if _, err := c.Feed(ctx, f2, finess); err != nil {
		t.Fatalf("replacement: %v", err)
	}
	l, _, err = c.FindEntries(ctx, who)
	if err != nil || len(l) != 1 || l[0].UniqueID != h2.UniqueID {
		t.Fatalf("after the replacement: %+v %v", l, err)
	}
	all, _, err := c.FindEntries(ctx, who, dmp.StatusApproved, dmp.StatusDeprecated)
	if err != nil || len(all) != 2 || all[1].Status != dmp.StatusDeprecated || all[1].UniqueID != h.UniqueID {
		t.Fatalf("with the deprecated: %+v %v", all, err)
	}
	// Replacing the replaced again is refused.
	f3 := f2
	f3.LotID, f3.SignatureID = f.LotID+".3", f.SignatureID+".3"
	f3.CDA, _ = dmpsim.Revise(v2, h.UniqueID+".3")
	f3.Header, _ = dmp.ReadCDAHeader(f3.CDA)
	var re *dmp.RegistryError
	if _, err := c.Feed(ctx, f3, finess); !errors.As(err, &re) || re.Code != "XDSRegistryMetadataError" {
		t.Errorf("a second replacement of the same entry: %v", err)
	}

	// TD3.3c.
	lot := dmp.Lot{Author: f.Author, ContentType: f.ContentType, SourceID: f.SourceID, ID: f.LotID + ".9", Time: time.Now()}
	if _, err := c.Delete(ctx, who, l[0].EntryUUID, lot); err != nil {
		t.Fatalf("TD3.3c: %v", err)
	}
	if l, _, err := c.FindEntries(ctx, who); err != nil || len(l) != 0 {
		t.Errorf("after TD3.3c: %+v %v", l, err)
	}
	lot.ID += "1"
	if _, err := c.Delete(ctx, who, l[0].EntryUUID, lot); !errors.As(err, &re) {
		t.Errorf("deleted twice: %v", err)
	}
	lot.ID += "1"
	if _, err := c.Delete(ctx, who, "urn:uuid:00000000-0000-4000-8000-000000000000", lot); !errors.As(err, &re) {
		t.Errorf("an unknown entry: %v", err)
	}
	if bad := r.sim.AnswerErrors(); len(bad) > 0 {
		t.Errorf("answers the schemas refuse: %v", bad)
	}
}
