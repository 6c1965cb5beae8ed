package feed

import (
	"context"
	"embed"
	"errors"
	"path/filepath"
	"strings"
	"sync"

	"github.com/beevik/etree"

	"dmpkiosk/bridge/internal/cdabody"
	"dmpkiosk/bridge/internal/xsd"
)

// schemaFS is the CDA schema (cdaschema/SOURCES.md).
//
//go:embed cdaschema
var schemaFS embed.FS

var (
	schemaOnce sync.Once
	schemaPath string
	schemaErr  error
)

// checkSchema validates a CDA against the CDA schema with xmllint
// (libxml2-utils), the schema written once to the cache.
func checkSchema(ctx context.Context, b []byte) error {
	schemaOnce.Do(func() {
		dir, err := xsd.Cache(schemaFS, "cdaschema", "cda-schema", 1, nil)
		schemaPath, schemaErr = filepath.Join(dir, "CDA_extended.xsd"), err
	})
	if schemaErr != nil {
		return schemaErr
	}
	if err := xsd.Document(ctx, schemaPath, "ClinicalDocument", b); err != nil {
		if !errors.Is(err, xsd.ErrInvalid) {
			return err
		}
		return &Refusal{Ack: "AE", Code: codeApplication, Where: "OBX^1^5",
			Text: "document non conforme au schéma CDA : " + strings.TrimPrefix(err.Error(), xsd.ErrInvalid.Error()+": ")}
	}
	return nil
}

// nsCDA is HL7 v3's namespace, the CDA's.
const nsCDA = "urn:hl7-org:v3"

// insOIDs are the roots of an INS in a CDA's recordTarget: the NIR, the
// NIA, and their test forms (CI-SIS structuration minimale).
var insOIDs = map[string]bool{
	"1.2.250.1.213.1.4.8": true, "1.2.250.1.213.1.4.9": true,
	"1.2.250.1.213.1.4.10": true, "1.2.250.1.213.1.4.11": true,
}

// header is what the intake reads of a CDA's header.
type header struct {
	ID, TypeCode, Title string
	INS, INSOID         string
}

// readCDA opens a CDA document and reads its header: a ClinicalDocument
// in HL7 v3's namespace, whose id is an OID in @root alone (the DMP
// refuses root and extension), with the patient's INS among its
// recordTarget's ids (903 when it is not there). Nothing in it is
// changed.
func readCDA(b []byte) (header, error) {
	doc := etree.NewDocument()
	doc.ReadSettings.Permissive = false
	if err := doc.ReadFromBytes(cdabody.View(b)); err != nil {
		return header{}, &Refusal{Ack: "AE", Code: codeApplication, Where: "OBX^1^5", Text: "document illisible : ce n'est pas du XML"}
	}
	root := doc.Root()
	if root == nil || root.Tag != "ClinicalDocument" || root.NamespaceURI() != nsCDA {
		return header{}, &Refusal{Ack: "AE", Code: codeApplication, Where: "OBX^1^5", Text: "le document n'est pas un CDA (ClinicalDocument HL7 v3)"}
	}
	child := func(e *etree.Element, tag string) *etree.Element {
		for _, c := range e.ChildElements() {
			if c.Tag == tag && c.NamespaceURI() == nsCDA {
				return c
			}
		}
		return nil
	}
	var h header
	id := child(root, "id")
	if id == nil || id.SelectAttrValue("root", "") == "" || id.SelectAttr("extension") != nil {
		return header{}, &Refusal{Ack: "AE", Code: codeApplication, Where: "OBX^1^5",
			Text: "identifiant du document (id) absent, ou avec une extension : le DMP attend un OID seul dans @root"}
	}
	h.ID = id.SelectAttrValue("root", "")
	if c := child(root, "code"); c != nil {
		h.TypeCode = c.SelectAttrValue("code", "")
	}
	if t := child(root, "title"); t != nil {
		h.Title = t.Text()
	}
	if rt := child(root, "recordTarget"); rt != nil {
		if pr := child(rt, "patientRole"); pr != nil {
			for _, c := range pr.ChildElements() {
				if c.Tag == "id" && c.NamespaceURI() == nsCDA && insOIDs[c.SelectAttrValue("root", "")] && h.INS == "" {
					h.INS, h.INSOID = c.SelectAttrValue("extension", ""), c.SelectAttrValue("root", "")
				}
			}
		}
	}
	if h.INS == "" {
		return header{}, &Refusal{Ack: "AE", Code: codeApplication, App: "903", Where: "OBX^1^5", Text: "INS non présent dans le document"}
	}
	return h, nil
}
