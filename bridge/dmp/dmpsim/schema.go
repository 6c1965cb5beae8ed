package dmpsim

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/beevik/etree"

	"dmpkiosk/bridge/dmp"
	"dmpkiosk/bridge/internal/xsd"
)

// The official schemas of the package DMP (testdata/dmp-schemas/SOURCES.md).
//
//go:embed testdata/dmp-schemas
var schemaFS embed.FS

// typesJDV is JDV_J07, the document types (testdata/jdv/SOURCES.md).
//
//go:embed testdata/jdv/JDV_J07_XdsTypeCode_CISIS.xml
var typesJDV []byte

const schemaRoot = "testdata/dmp-schemas"

// extractionVersion changes with what extractSchemas writes beside the
// official files, so that a cached folder from another version is not used.
const extractionVersion = 3

// Schemas validates DMP messages against the official schemas with
// xmllint (Debian libxml2-utils), an implementation independent of this
// project's reading of them.
type Schemas struct {
	dir string // the schemas on disk, where xmllint reads them
}

// ErrInvalid is a message the official schemas refuse.
var ErrInvalid = xsd.ErrInvalid

var (
	schemasOnce sync.Once
	schemasDir  string
	schemasErr  error
)

// OpenSchemas writes the embedded schemas once per process into the user's
// cache (a folder named by their digest, so it is shared and never stale)
// and checks that xmllint is there.
func OpenSchemas() (*Schemas, error) {
	schemasOnce.Do(func() { schemasDir, schemasErr = extractSchemas() })
	if schemasErr != nil {
		return nil, schemasErr
	}
	if err := xsd.Available(); err != nil {
		return nil, fmt.Errorf("dmpsim: %w", err)
	}
	return &Schemas{dir: schemasDir}, nil
}

// extractSchemas writes the official files, and beside each WSDL that
// carries its own schema (the TD1.1 answer's wrapper, TD0.3's
// setAuthorization) that schema, so that its relative imports resolve.
func extractSchemas() (string, error) {
	return xsd.Cache(schemaFS, schemaRoot, "dmp-schemas", extractionVersion, func(tmp string) error {
		for _, w := range []string{"GestionDossierPatientPartage", "Habilitations", "PatientsSpecific"} {
			if err := extractWSDLSchema(filepath.Join(tmp, "annexe-wsdl-schema", "wsdl", w+".wsdl"), filepath.Join(tmp, "annexe-wsdl-schema", "wsdl", w+".xsd")); err != nil {
				return err
			}
		}
		return nil
	})
}

// extractWSDLSchema writes the xsd:schema of a WSDL's types as a schema
// document, with the namespace declarations of the WSDL it relies on.
func extractWSDLSchema(wsdl, out string) error {
	doc := etree.NewDocument()
	if err := doc.ReadFromFile(wsdl); err != nil {
		return err
	}
	root := doc.Root()
	var schema *etree.Element
	for _, t := range root.ChildElements() {
		if t.Tag == "types" {
			for _, s := range t.ChildElements() {
				if s.Tag == "schema" {
					schema = s
				}
			}
		}
	}
	if schema == nil {
		return fmt.Errorf("dmpsim: %s has no schema", wsdl)
	}
	schema = xsd.WithNamespaces(schema)
	// libxml2 reads one schema document per imported namespace: the HL7
	// messages a WSDL imports one by one are brought together by a driver
	// that includes them all, imported once.
	var includes []string
	for _, im := range schema.ChildElements() {
		if im.Tag == "import" && im.SelectAttrValue("namespace", "") == dmp.NSHL7 {
			includes = append(includes, im.SelectAttrValue("schemaLocation", ""))
			schema.RemoveChild(im)
		}
	}
	if len(includes) > 0 {
		dir := path.Dir(includes[0])
		driver := etree.NewDocument()
		d := driver.CreateElement("xs:schema")
		d.CreateAttr("xmlns:xs", "http://www.w3.org/2001/XMLSchema")
		d.CreateAttr("targetNamespace", dmp.NSHL7)
		d.CreateAttr("xmlns", dmp.NSHL7)
		d.CreateAttr("elementFormDefault", "qualified")
		for _, inc := range includes {
			if path.Dir(inc) != dir {
				return fmt.Errorf("dmpsim: %s imports HL7 schemas from two folders", wsdl)
			}
			d.CreateElement("xs:include").CreateAttr("schemaLocation", path.Base(inc))
		}
		name := strings.TrimSuffix(filepath.Base(out), ".xsd") + "-hl7.xsd"
		if err := driver.WriteToFile(filepath.Join(filepath.Dir(wsdl), filepath.FromSlash(dir), name)); err != nil {
			return err
		}
		im := etree.NewElement(schema.Space + ":import")
		im.CreateAttr("namespace", dmp.NSHL7)
		im.CreateAttr("schemaLocation", dir+"/"+name)
		schema.InsertChildAt(0, im)
	}
	x := etree.NewDocument()
	x.SetRoot(schema)
	return x.WriteToFile(out)
}

// schemaOf is the schema file, relative to the schemas' folder, of a
// message's root element.
func schemaOf(el *etree.Element) (string, error) {
	switch ns := el.NamespaceURI(); {
	case ns == dmp.NSHL7 && strings.HasPrefix(el.Tag, "PRPA_IN"):
		return path.Join("annexe-wsdl-schema/schema/HL7V3/NE2009/multicacheschemas", el.Tag+".xsd"), nil
	case ns == dmp.NSGDP:
		return "annexe-wsdl-schema/wsdl/GestionDossierPatientPartage.xsd", nil
	case ns == dmp.NSHabil:
		return "annexe-wsdl-schema/wsdl/Habilitations.xsd", nil
	case ns == dmp.NSPatients:
		return "annexe-wsdl-schema/wsdl/PatientsSpecific.xsd", nil
	case ns == dmp.NSSAML && el.Tag == "Assertion":
		return "vihf-driver.xsd", nil
	case ns == dmp.NSXDS && (el.Tag == "ProvideAndRegisterDocumentSetRequest" || el.Tag == "RetrieveDocumentSetRequest" ||
		el.Tag == "RetrieveDocumentSetResponse"):
		return "annexe-wsdl-schema/schema/IHE/XDS.b_DocumentRepository.xsd", nil
	case ns == dmp.NSQuery && (el.Tag == "AdhocQueryRequest" || el.Tag == "AdhocQueryResponse"):
		return "annexe-wsdl-schema/schema/ebRS/query.xsd", nil
	case ns == dmp.NSLCM && el.Tag == "SubmitObjectsRequest":
		return "annexe-wsdl-schema/schema/ebRS/lcm.xsd", nil
	case ns == dmp.NSRS && el.Tag == "RegistryResponse":
		return "annexe-wsdl-schema/schema/ebRS/rs.xsd", nil
	}
	return "", fmt.Errorf("%w: no official schema for {%s}%s", ErrInvalid, el.NamespaceURI(), el.Tag)
}

// Validate checks one message element (an HL7 v3 message, a TD1.1 answer
// wrapper, setAuthorization or its answer, a VIHF) against its schema.
func (s *Schemas) Validate(ctx context.Context, el *etree.Element) error {
	schema, err := schemaOf(el)
	if err != nil {
		return err
	}
	return xsd.Element(ctx, filepath.Join(s.dir, filepath.FromSlash(schema)), el)
}

// ValidateEnvelope checks a SOAP message of the DMP: its VIHF, when it has
// one, and its body, each against its official schema. A fault's body has
// no schema in the package; its structure is read by dmp.ParseEnvelope.
func (s *Schemas) ValidateEnvelope(ctx context.Context, data []byte) error {
	env, err := dmp.ParseEnvelope(data)
	var f *dmp.Fault
	if errors.As(err, &f) {
		return nil
	}
	if err != nil {
		return err
	}
	if env.Security != nil {
		if err := s.Validate(ctx, env.Security); err != nil {
			return err
		}
	}
	return s.Validate(ctx, env.Body)
}

// ValidateMTOM unpacks an MTOM package (contentType its Content-Type; a
// message that is not one is taken as it is) and checks the SOAP message
// it holds as ValidateEnvelope does; it returns the message with its
// parts put back (base64), as the schemas have it.
func (s *Schemas) ValidateMTOM(ctx context.Context, contentType string, body []byte) ([]byte, error) {
	plain, err := dmp.UnpackMTOM(contentType, body)
	if err != nil {
		return nil, err
	}
	return plain, s.ValidateEnvelope(ctx, plain)
}
