package dmp_test

import (
	"context"
	"encoding/base64"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"dmpkiosk/bridge/dmp"
	"dmpkiosk/bridge/dmp/dmpsim"
)

// golden reads ANS's golden level-1 document and its header.
func golden(t *testing.T) ([]byte, dmp.CDAHeader) {
	t.Helper()
	b, err := os.ReadFile("testdata/cda/DOC_NON_STRUCTURE_CDA-R2-N1.xml")
	if err != nil {
		t.Fatal(err)
	}
	h, err := dmp.ReadCDAHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	return b, h
}

func feedingOf(cda []byte, h dmp.CDAHeader) dmp.Feeding {
	return dmp.Feeding{CDA: cda, Header: h, InvisibleToLegalRepresentatives: true, IPP: "1234567890121", IPPDomain: "1.2.3.4.567.8.9.10",
		Author:      dmp.XDSAuthor{ID: "801234564895", Family: "THOMAS", Given: "ERIC", Institution: "CH DE TEST", InstitutionID: "1300017985"},
		ContentType: dmp.Code{"03", dmp.CSContentType, "Hospitalisation"}, SourceID: "1.2.250.1.999.1.1", LotID: "1.2.250.1.999.1.1.3.1",
		SignatureID: "1.2.250.1.999.1.1.4.1", Time: time.Date(2026, 12, 7, 10, 30, 0, 0, time.UTC)}
}

// The header of ANS's golden document, read as mapping.md derives the
// metadata from it.
func TestCDAHeader(t *testing.T) {
	_, h := golden(t)
	if h.UniqueID != "1.3.6.1.4.1.19376.1.2.20.12345.1.1" || h.Type.Code != "11502-2" || h.INS != "279035121518989" ||
		h.INSOID != "1.2.250.1.213.1.4.10" || h.Family != "PAT-TROIS" || h.Given != "DOMINIQUE" || h.Sex != "F" || h.BirthDate != "19790328" ||
		h.MediaType != "application/pdf" || h.Language != "fr-FR" || h.Confidentiality.Code != "N" || h.Author.ID != "801234534765" ||
		h.LegalAuthenticator.ID != "807505123456" || h.FacilityType.Code == "" || h.PracticeSetting.Code == "" {
		t.Fatalf("%+v", h)
	}
	if got := h.Effective.UTC().Format(time.RFC3339); got != "2021-04-01T12:47:45Z" {
		t.Errorf("effectiveTime in UTC: %s", got)
	}
	for name, edit := range map[string]func(string) string{
		"not a CDA": func(s string) string { return `<html xmlns="http://www.w3.org/1999/xhtml"/>` },
		"id with extension": func(s string) string {
			return strings.Replace(s, `<id root="1.3.6.1.4.1.19376.1.2.20.12345.1.1"/>`, `<id root="1.3.6" extension="1"/>`, 1)
		},
		"no INS": func(s string) string { return strings.Replace(s, `root="1.2.250.1.213.1.4.10"`, `root="1.2.3"`, 1) },
		"bad effectiveTime": func(s string) string {
			return strings.Replace(s, `<effectiveTime value="20210401134745+0100"/>`, `<effectiveTime value="2021"/>`, 1)
		},
	} {
		b, _ := os.ReadFile("testdata/cda/DOC_NON_STRUCTURE_CDA-R2-N1.xml")
		if _, err := dmp.ReadCDAHeader([]byte(edit(string(b)))); err == nil {
			t.Errorf("%s: read", name)
		}
	}
}

// TD2.1's body for ANS's golden document validates against the package
// DMP's XDS.b schema, and every value of the document's entry is its
// CDA's.
func TestProvideAndRegisterValidates(t *testing.T) {
	schemas, err := dmpsim.OpenSchemas()
	if err != nil {
		t.Fatal(err)
	}
	cda, h := golden(t)
	req, err := dmp.ProvideAndRegister(feedingOf(cda, h), []byte("<Signature/>"))
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	doc.SetRoot(req)
	b, _ := doc.WriteToBytes()
	back := etree.NewDocument()
	if err := back.ReadFromBytes(b); err != nil {
		t.Fatal(err)
	}
	if err := schemas.Validate(context.Background(), back.Root()); err != nil {
		t.Fatalf("the XDS schema refuses the request: %v", err)
	}
	entry := back.FindElement("//ExtrinsicObject[@id='Document01']")
	value := func(scheme string) string {
		for _, c := range entry.SelectElements("Classification") {
			if c.SelectAttrValue("classificationScheme", "") == scheme {
				return c.SelectAttrValue("nodeRepresentation", "")
			}
		}
		return ""
	}
	uid := entry.FindElement("ExternalIdentifier[@identificationScheme='urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab']")
	pid := entry.FindElement("ExternalIdentifier[@identificationScheme='urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427']")
	if uid.SelectAttrValue("value", "") != h.UniqueID || pid.SelectAttrValue("value", "") != "279035121518989^^^&1.2.250.1.213.1.4.10&ISO^NH" ||
		value("urn:uuid:f0306f51-975f-434e-a61c-c59651d33983") != "11502-2" || value("urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a") != "10" ||
		value("urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d") != "urn:ihe:iti:xds-sd:pdf:2008" {
		t.Errorf("entry: uid %v pid %v", uid, pid)
	}
	if !strings.Contains(string(b), `nodeRepresentation="INVISIBLE_REPRESENTANTS_LEGAUX"`) || !strings.Contains(string(b), "<rim:Value>20210401124745</rim:Value>") {
		t.Error("the confidentiality asked or the creation time in UTC is missing")
	}
	d := back.FindElement("//Document[@id='Document01']")
	if got, _ := base64.StdEncoding.DecodeString(d.Text()); string(got) != string(cda) {
		t.Error("the document is not the CDA as received")
	}
	// The DMP's own rule: never both masked and invisible to the patient;
	// a type without a known class is not sent.
	f := feedingOf(cda, h)
	f.MaskedToProfessionals, f.InvisibleToPatient = true, true
	if _, err := dmp.ProvideAndRegister(f, nil); err == nil {
		t.Error("masked and invisible to the patient at once")
	}
	f = feedingOf(cda, h)
	f.Header.Type.Code = "99999-9"
	if _, err := dmp.ProvideAndRegister(f, nil); err == nil {
		t.Error("an unknown type sent")
	}
}
