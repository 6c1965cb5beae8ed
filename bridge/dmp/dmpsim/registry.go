package dmpsim

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/beevik/etree"

	"dmpkiosk/bridge/dmp"
)

// The DMP's registry and repository for TD2.1 (XDS.b ProvideAndRegister,
// docs/feeding.md): the documents kept per patient, with the rules the
// DMP enforces before it takes a lot — the patient known with a DMP and
// the establishment authorized, the entry's patientId the CDA's INS and
// the VIHF's, a uniqueId never seen, a document not both masked to
// professionals and invisible to the patient, a signature entry whose
// XML-DSig core verifies (xmlsec1) and whose Manifest's digest is the
// CDA's canonical form's (xmllint --c14n, neither of them this project's
// code); a replacement (RPLC) deprecates the entry it names.

const registrySchema = `
CREATE TABLE IF NOT EXISTS blocked (person INTEGER NOT NULL, national_id TEXT NOT NULL, PRIMARY KEY (person, national_id));
CREATE TABLE IF NOT EXISTS documents (entry_uuid TEXT PRIMARY KEY, unique_id TEXT NOT NULL UNIQUE, person INTEGER NOT NULL,
	structure TEXT NOT NULL, type_code TEXT NOT NULL, class_code TEXT NOT NULL, title TEXT NOT NULL, confidentiality TEXT NOT NULL,
	status TEXT NOT NULL, submitted INTEGER NOT NULL, hash TEXT NOT NULL, cda BLOB NOT NULL, entry BLOB NOT NULL DEFAULT '',
	signature INTEGER NOT NULL DEFAULT 0, author TEXT NOT NULL DEFAULT '');
`

// Entry is a document the simulator's registry holds.
type Entry struct {
	EntryUUID, UniqueID, TypeCode, ClassCode, Title string
	Confidentiality                                 []string
	Status                                          string // Approved, Deprecated or Deleted
	Structure                                       string
	CDA                                             []byte
}

// Documents lists the entries kept for the patient pid, oldest first.
func (s *Sim) Documents(ctx context.Context, pid dmp.PatientID) ([]Entry, error) {
	rec, err := s.st.lookup(ctx, s.st.db, pid, "")
	if err != nil {
		return nil, err
	}
	rows, err := s.st.db.QueryContext(ctx, `SELECT entry_uuid, unique_id, type_code, class_code, title, confidentiality, status, structure, cda
		FROM documents WHERE person = ? ORDER BY submitted, entry_uuid`, rec.person)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		var conf string
		if err := rows.Scan(&e.EntryUUID, &e.UniqueID, &e.TypeCode, &e.ClassCode, &e.Title, &conf, &e.Status, &e.Structure, &e.CDA); err != nil {
			return nil, err
		}
		e.Confidentiality = strings.Fields(conf)
		out = append(out, e)
	}
	return out, rows.Err()
}

// registryError answers a lot the registry refuses.
func (x *txn) registryError(code, context string) {
	x.a.outcome = code
	r := registryResponse("urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure")
	e := r.CreateElement("rs:RegistryErrorList").CreateElement("rs:RegistryError")
	e.CreateAttr("codeContext", context)
	e.CreateAttr("errorCode", code)
	e.CreateAttr("severity", "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error")
	switch x.tx {
	case dmp.TD32:
		// TD3.2's refusal: the RegistryResponse in its answer, MTOM as
		// every TD3.2 answer.
		w := etree.NewElement("xdsb:RetrieveDocumentSetResponse")
		w.CreateAttr("xmlns:xdsb", dmp.NSXDS)
		w.AddChild(r)
		x.a.writeMTOM(w)
	case dmp.TD31:
		q := etree.NewElement("query:AdhocQueryResponse")
		q.CreateAttr("xmlns:query", dmp.NSQuery)
		q.CreateAttr("xmlns:rs", dmp.NSRS)
		q.CreateAttr("status", r.SelectAttrValue("status", ""))
		for _, c := range r.ChildElements() {
			q.AddChild(c)
		}
		l := q.CreateElement("rim:RegistryObjectList")
		l.CreateAttr("xmlns:rim", dmp.NSRIM)
		x.a.write(200, q)
	default:
		x.a.write(200, r)
	}
}

func registryResponse(status string) *etree.Element {
	r := etree.NewElement("rs:RegistryResponse")
	r.CreateAttr("xmlns:rs", dmp.NSRS)
	r.CreateAttr("status", status)
	return r
}

// xdsEntry is what the registry reads of one ExtrinsicObject.
type xdsEntry struct {
	id, uniqueID, patientID, typeCode, classCode, title string
	author                                              string // the author's national id
	confidentiality                                     []string
	xml                                                 []byte // the ExtrinsicObject as sent
}

func readEntries(body *etree.Element) []xdsEntry {
	var out []xdsEntry
	for _, eo := range body.FindElements("//ExtrinsicObject") {
		e := xdsEntry{id: eo.SelectAttrValue("id", "")}
		// Kept whole, with its namespace declared on it.
		cp := eo.Copy()
		if cp.Space != "" {
			cp.CreateAttr("xmlns:"+cp.Space, eo.NamespaceURI())
		} else {
			cp.CreateAttr("xmlns", eo.NamespaceURI())
		}
		d := etree.NewDocument()
		d.SetRoot(cp)
		e.xml, _ = d.WriteToBytes()
		if n := eo.FindElement("Name/LocalizedString"); n != nil {
			e.title = n.SelectAttrValue("value", "")
		}
		for _, c := range eo.SelectElements("Classification") {
			v := c.SelectAttrValue("nodeRepresentation", "")
			switch c.SelectAttrValue("classificationScheme", "") {
			case "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d":
				for _, sl := range c.SelectElements("Slot") {
					if val := sl.FindElement("ValueList/Value"); sl.SelectAttrValue("name", "") == "authorPerson" && val != nil && e.author == "" {
						e.author, _, _ = strings.Cut(val.Text(), "^")
					}
				}
			case "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983":
				e.typeCode = v
			case "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a":
				e.classCode = v
			case "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f":
				e.confidentiality = append(e.confidentiality, v)
			}
		}
		for _, ei := range eo.SelectElements("ExternalIdentifier") {
			switch ei.SelectAttrValue("identificationScheme", "") {
			case "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab":
				e.uniqueID = ei.SelectAttrValue("value", "")
			case "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427":
				e.patientID = ei.SelectAttrValue("value", "")
			}
		}
		out = append(out, e)
	}
	return out
}

// feed answers TD2.1.
func (x *txn) feed(ctx context.Context) error {
	if !x.known || !x.rec.hasDMP {
		x.registryError("XDSUnknownPatientId", "le patient n'a pas de DMP")
		return nil
	}
	if x.rec.auth != dmp.AuthValid {
		x.a.fault("Sender", dmp.ErrAccessDenied.Subcode, "l'établissement n'est pas autorisé à alimenter ce DMP ("+x.rec.auth+")")
		return nil
	}
	body := x.env.Body
	docs := map[string][]byte{}
	for _, d := range body.SelectElements("Document") {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(d.Text()))
		if err != nil {
			x.registryError("XDSRepositoryMetadataError", "document "+d.SelectAttrValue("id", "")+" illisible")
			return nil
		}
		docs[d.SelectAttrValue("id", "")] = b
	}
	entries := readEntries(body)
	var doc, sig *xdsEntry
	for i := range entries {
		e := &entries[i]
		if e.typeCode == "E1762" {
			sig = e
		} else if doc == nil {
			doc = e
		}
	}
	if doc == nil || sig == nil || docs[doc.id] == nil || docs[sig.id] == nil {
		x.registryError("XDSMissingDocument", "un lot : un document et sa signature")
		return nil
	}
	cda := docs[doc.id]
	h, err := dmp.ReadCDAHeader(cda)
	if err != nil {
		x.registryError("XDSRepositoryMetadataError", "document CDA illisible : "+err.Error())
		return nil
	}
	cx := x.pid.CX()
	switch {
	case doc.patientID != cx || sig.patientID != cx:
		x.registryError("XDSPatientIdDoesNotMatch", "patientId autre que celui du VIHF")
		return nil
	case h.INS != x.pid.Extension || h.INSOID != x.pid.Root:
		x.registryError("XDSPatientIdDoesNotMatch", "le patient du CDA n'est pas celui du lot")
		return nil
	case doc.uniqueID != h.UniqueID:
		x.registryError("XDSRegistryMetadataError", "uniqueId autre que l'id du CDA")
		return nil
	case doc.typeCode != h.Type.Code:
		x.registryError("XDSRegistryMetadataError", "typeCode autre que le code du CDA")
		return nil
	case !x.sim.knownType(doc.typeCode):
		x.registryError("XDSRegistryMetadataError", "typeCode "+doc.typeCode+" inconnu du DMP")
		return nil
	case has(doc.confidentiality, dmp.ConfMaskedToPros) && has(doc.confidentiality, dmp.ConfInvisiblePatient):
		x.registryError("XDSRegistryMetadataError", "un document ne peut être à la fois masqué aux professionnels et invisible au patient")
		return nil
	}
	var n int
	if err := x.dbtx.QueryRowContext(ctx, `SELECT count(*) FROM documents WHERE unique_id IN (?, ?)`, doc.uniqueID, sig.uniqueID).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		x.registryError("XDSDuplicateUniqueIdInRegistry", "uniqueId déjà présent dans le registre")
		return nil
	}
	if why := checkSignature(ctx, docs[sig.id], doc.uniqueID, cda); why != "" {
		x.registryError("XDSNonIdenticalHash", why)
		return nil
	}
	for _, a := range body.FindElements("//Association") {
		if a.SelectAttrValue("associationType", "") != "urn:ihe:iti:2007:AssociationType:RPLC" {
			continue
		}
		res, err := x.dbtx.ExecContext(ctx, `UPDATE documents SET status = 'Deprecated' WHERE entry_uuid = ? AND person = ? AND status = 'Approved'`,
			a.SelectAttrValue("targetObject", ""), x.rec.person)
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 0 {
			x.registryError("XDSRegistryMetadataError", "l'entrée remplacée est inconnue ou déjà remplacée")
			return nil
		}
	}
	for _, e := range []struct {
		entry xdsEntry
		body  []byte
	}{{*doc, cda}, {*sig, docs[sig.id]}} {
		// The registry's hash is the document's SHA-1 (XDS).
		hash := sha1.Sum(e.body)
		if _, err := x.dbtx.ExecContext(ctx, `INSERT INTO documents (entry_uuid, unique_id, person, structure, type_code, class_code, title,
			confidentiality, status, submitted, hash, cda, entry, signature, author) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'Approved', ?, ?, ?, ?, ?, ?)`,
			dmp.NewMessageID(), e.entry.uniqueID, x.rec.person, x.structure, e.entry.typeCode, e.entry.classCode, e.entry.title,
			strings.Join(e.entry.confidentiality, " "), x.now.UnixNano(), fmt.Sprintf("%x", hash), e.body, e.entry.xml,
			e.entry.id == sig.id, e.entry.author); err != nil {
			return err
		}
	}
	return x.committed()
}

func has(l []string, v string) bool {
	for _, s := range l {
		if s == v {
			return true
		}
	}
	return false
}

// knownType tells a document type of JDV_J07 (the value set the
// structuration-minimale rules load, testdata/jdv), the DMP's list.
func (s *Sim) knownType(code string) bool {
	return s.types[code]
}

// checkSignature verifies a lot's signature as the DMP does, with
// implementations other than the bridge's: xmlsec1 checks its core (the
// SignedInfo's signature and the digests of the Manifest and the
// SignedProperties), xmllint canonicalises the CDA for the Manifest's
// digest of the document. "" when it holds, else why not.
func checkSignature(ctx context.Context, sig []byte, docID string, cda []byte) string {
	dir, err := os.MkdirTemp("", "dmpsim-sig")
	if err != nil {
		return "vérification impossible"
	}
	defer os.RemoveAll(dir)
	sp, cp := filepath.Join(dir, "sig.xml"), filepath.Join(dir, "cda.xml")
	if os.WriteFile(sp, sig, 0o600) != nil || os.WriteFile(cp, cda, 0o600) != nil {
		return "vérification impossible"
	}
	if err := VerifySignatureFile(ctx, sp); err != nil {
		return "signature du lot invalide : " + err.Error()
	}
	canonical, err := exec.CommandContext(ctx, "xmllint", "--c14n", cp).Output()
	if err != nil {
		return "document non canonisable"
	}
	d := etree.NewDocument()
	if err := d.ReadFromBytes(sig); err != nil {
		return "signature illisible"
	}
	ref := d.FindElement("//Manifest/Reference[@URI='urn:oid:" + docID + "']/DigestValue")
	sum := sha256.Sum256(canonical)
	if ref == nil || !bytes.Equal([]byte(strings.TrimSpace(ref.Text())), []byte(base64.StdEncoding.EncodeToString(sum[:]))) {
		return "l'empreinte du document dans le manifeste n'est pas celle du document"
	}
	return ""
}

// VerifySignatureFile checks the XML-DSig core of a lot's signature
// document at path with xmlsec1 (the SignedInfo's signature and the
// digests of the Manifest and the XAdES SignedProperties; the Manifest's
// urn:oid references are not followed): nil when it holds, else xmlsec1's
// last word.
func VerifySignatureFile(ctx context.Context, path string) error {
	out, err := exec.CommandContext(ctx, "xmlsec1", "--verify", "--insecure", "--ignore-manifests", "--id-attr:Id", "Manifest",
		"--id-attr:Id", "http://uri.etsi.org/01903/v1.1.1#:SignedProperties", path).CombinedOutput()
	if err != nil {
		return errors.New(strings.TrimSpace(lastLine(out)))
	}
	return nil
}

func lastLine(b []byte) string {
	l := strings.Split(strings.TrimSpace(string(b)), "\n")
	return l[len(l)-1]
}

var errNoTypes = errors.New("dmpsim: the document types (JDV_J07) could not be read")

// readTypes reads the codes of JDV_J07 (an SVS value set).
func readTypes(b []byte) (map[string]bool, error) {
	d := etree.NewDocument()
	if err := d.ReadFromBytes(b); err != nil {
		return nil, fmt.Errorf("%w: %v", errNoTypes, err)
	}
	out := map[string]bool{}
	for _, c := range d.FindElements("//Concept") {
		out[c.SelectAttrValue("code", "")] = true
	}
	if len(out) == 0 {
		return nil, errNoTypes
	}
	return out, nil
}

// Preload puts a document in the patient pid's DMP as if structure had
// fed it (for the demonstration: documents the patient's DMP holds from
// elsewhere), its entry the one TD2.1 would carry; a document already
// there is left. It skips TD2.1's checks, not the CDA's reading.
func (s *Sim) Preload(ctx context.Context, pid dmp.PatientID, structure string, cda []byte) error {
	h, err := dmp.ReadCDAHeader(cda)
	if err != nil {
		return err
	}
	rec, err := s.st.lookup(ctx, s.st.db, pid, structure)
	if err != nil {
		return err
	}
	f := dmp.Feeding{CDA: cda, Header: h, Author: dmp.XDSAuthor{ID: h.Author.ID, Family: h.Author.Family, Given: h.Author.Given,
		Specialty: h.AuthorSpecialty, Institution: h.AuthorOrganization, InstitutionID: structure},
		ContentType: dmp.Code{Code: "03", System: dmp.CSContentType, Display: "Hospitalisation"}, SourceID: "1.2.250.1.999.9",
		LotID: h.UniqueID + ".99", SignatureID: h.UniqueID + ".98", Time: h.Effective}
	body, err := dmp.ProvideAndRegister(f, []byte("<preloaded/>"))
	if err != nil {
		return err
	}
	var doc *xdsEntry
	entries := readEntries(body)
	for i := range entries {
		if entries[i].uniqueID == h.UniqueID {
			doc = &entries[i]
		}
	}
	if doc == nil {
		return errors.New("dmpsim: no entry for the preloaded document")
	}
	hash := sha1.Sum(cda)
	_, err = s.st.db.ExecContext(ctx, `INSERT INTO documents (entry_uuid, unique_id, person, structure, type_code, class_code, title,
		confidentiality, status, submitted, hash, cda, entry, signature, author) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'Approved', ?, ?, ?, ?, 0, ?)
		ON CONFLICT (unique_id) DO NOTHING`,
		dmp.NewMessageID(), doc.uniqueID, rec.person, structure, doc.typeCode, doc.classCode, doc.title, strings.Join(doc.confidentiality, " "),
		h.Effective.UnixNano(), fmt.Sprintf("%x", hash), cda, doc.xml, doc.author)
	return err
}

// committed commits the transaction's changes to the registry and
// answers an XDS Success.
func (x *txn) committed() error {
	if err := x.dbtx.Commit(); err != nil {
		return err
	}
	x.a.outcome = "Success"
	x.a.write(200, registryResponse("urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"))
	return nil
}
