package dmpsim

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"

	"dmpkiosk/bridge/dmp"
)

// TD3.1 and TD3.3c served from the registry TD2.1 fills: FindDocuments
// answers the entries as they were sent, with what a registry adds (their
// entryUUID, status, hash, size and repository), the signature entries
// left out (the package's answer has none among its 21); a document
// masked to professionals is listed only to its author's structure (the
// DMP filters TD3.1 itself, docs/consultation.md). TD3.3c deletes an
// entry of the requesting structure's own.

// repositoryID is the DMP's repository (the package's TD3.1 answer).
const repositoryID = "1.2.250.1.213.4.1.1.1.2"

// ready answers what every registry transaction needs first: a patient
// with a DMP who authorized the establishment — in emergency (bris de
// glace) whatever the authorization, unless the patient opposed it.
func (x *txn) ready() bool {
	if !x.known || !x.rec.hasDMP {
		x.registryError("XDSUnknownPatientId", "le patient n'a pas de DMP")
		return false
	}
	if x.vihf != nil && x.vihf.get(dmp.AttrMode) == dmp.ModeReinforced {
		var n int
		if err := x.dbtx.QueryRowContext(context.Background(), `SELECT count(*) FROM blocked WHERE person = ? AND national_id = ?`,
			x.rec.person, x.vihf.nameID).Scan(&n); err == nil && n > 0 {
			x.a.fault("Sender", dmp.ErrAccessDenied.Subcode, "accès refusé par le patient à ce professionnel")
			return false
		}
	}
	if x.vihf != nil && x.vihf.get(dmp.AttrPurposeOfUse) == dmp.PurposeBrisDeGlace {
		if x.rec.oppBDG {
			x.a.fault("Sender", dmp.ErrAccessDenied.Subcode, "le patient s'est opposé à l'accès à son DMP en mode bris de glace")
			return false
		}
		return true
	}
	if x.rec.auth != dmp.AuthValid {
		x.a.fault("Sender", dmp.ErrAccessDenied.Subcode, "l'établissement n'est pas autorisé à accéder à ce DMP ("+x.rec.auth+")")
		return false
	}
	return true
}

// slotValues reads a stored query's slot: 'a' or ('a','b').
func slotValues(q *etree.Element, name string) []string {
	var out []string
	for _, s := range q.SelectElements("Slot") {
		if s.SelectAttrValue("name", "") != name {
			continue
		}
		for _, v := range s.FindElements("ValueList/Value") {
			for _, p := range strings.Split(strings.Trim(strings.TrimSpace(v.Text()), "()"), ",") {
				out = append(out, strings.Trim(strings.TrimSpace(p), "'"))
			}
		}
	}
	return out
}

// statusName is a stored entry's status as XDS names it.
var statusName = map[string]string{"Approved": dmp.StatusApproved, "Deprecated": dmp.StatusDeprecated, "Deleted": dmp.StatusDeleted}

// find answers TD3.1.
func (x *txn) find(ctx context.Context) error {
	q := x.env.Body.SelectElement("AdhocQuery")
	switch {
	case q == nil || q.SelectAttrValue("id", "") != dmp.FindDocuments:
		x.registryError("XDSUnknownStoredQuery", "requête stockée non prise en charge (FindDocuments seule)")
		return nil
	case strings.Join(slotValues(q, "$XDSDocumentEntryPatientId"), "") != x.pid.CX():
		x.a.fault("Sender", "DMPInvalidVIHF", "le patient de la requête n'est pas celui du VIHF")
		return nil
	}
	statuses := slotValues(q, "$XDSDocumentEntryStatus")
	if len(statuses) == 0 {
		x.registryError("XDSStoredQueryParamNumber", "$XDSDocumentEntryStatus requis")
		return nil
	}
	if !x.ready() {
		return nil
	}
	rows, err := x.dbtx.QueryContext(ctx, `SELECT entry_uuid, status, structure, confidentiality, hash, length(cda), entry, author FROM documents
		WHERE person = ? AND signature = 0 ORDER BY submitted DESC, entry_uuid`, x.rec.person)
	if err != nil {
		return err
	}
	defer rows.Close()
	resp := etree.NewElement("query:AdhocQueryResponse")
	resp.CreateAttr("xmlns:query", dmp.NSQuery)
	resp.CreateAttr("xmlns:rim", dmp.NSRIM)
	resp.CreateAttr("status", "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success")
	list := resp.CreateElement("rim:RegistryObjectList")
	n := 0
	for rows.Next() {
		var uuid, status, structure, conf, hash, author string
		var size int64
		var raw []byte
		if err := rows.Scan(&uuid, &status, &structure, &conf, &hash, &size, &raw, &author); err != nil {
			return err
		}
		if !has(statuses, statusName[status]) || !x.sees(strings.Fields(conf), structure, author) {
			continue
		}
		eo, err := storedEntry(raw, uuid, statusName[status], hash, size)
		if err != nil {
			return err
		}
		list.AddChild(eo)
		n++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	resp.CreateAttr("startIndex", "0")
	resp.CreateAttr("totalResultCount", fmt.Sprint(n))
	x.a.outcome = fmt.Sprintf("Success (%d)", n)
	x.a.write(200, resp)
	return nil
}

// sees applies the DMP's filtering of masked documents: one masked to
// professionals is seen, in reinforced mode, only by its author in
// normal mode (never in emergency: the patient's leave is not modelled),
// and with the establishment's certificate alone by its author's
// structure (its references, to delete its own).
func (x *txn) sees(conf []string, structure, author string) bool {
	if !has(conf, dmp.ConfMaskedToPros) {
		return true
	}
	if x.vihf.get(dmp.AttrMode) == dmp.ModeReinforced {
		return x.vihf.get(dmp.AttrPurposeOfUse) == dmp.PurposeNormal && author == x.vihf.nameID
	}
	return structure == x.structure
}

// retrieve answers TD3.2: the document of an approved entry the reader
// sees, as an MTOM answer.
func (x *txn) retrieve(ctx context.Context) error {
	req := x.env.Body.SelectElement("DocumentRequest")
	var repo, uid string
	if req != nil {
		if e := req.SelectElement("RepositoryUniqueId"); e != nil {
			repo = strings.TrimSpace(e.Text())
		}
		if e := req.SelectElement("DocumentUniqueId"); e != nil {
			uid = strings.TrimSpace(e.Text())
		}
	}
	if repo != repositoryID {
		x.registryError("XDSUnknownRepositoryId", "entrepôt "+repo+" inconnu")
		return nil
	}
	if !x.ready() {
		return nil
	}
	var status, structure, conf, author string
	var cda []byte
	err := x.dbtx.QueryRowContext(ctx, `SELECT status, structure, confidentiality, author, cda FROM documents
		WHERE unique_id = ? AND person = ? AND signature = 0`, uid, x.rec.person).Scan(&status, &structure, &conf, &author, &cda)
	switch {
	case err == sql.ErrNoRows || err == nil && (status != "Approved" || !x.sees(strings.Fields(conf), structure, author)):
		// Unknown, replaced, deleted or not for this reader: the DMP
		// answers as for an id it does not have (an entryUUID sent for
		// the uniqueId gets the same).
		x.registryError("XDSDocumentUniqueIdError", "document "+uid+" introuvable")
		return nil
	case err != nil:
		return err
	}
	resp := etree.NewElement("xdsb:RetrieveDocumentSetResponse")
	resp.CreateAttr("xmlns:xdsb", dmp.NSXDS)
	rr := registryResponse("urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success")
	resp.AddChild(rr)
	d := resp.CreateElement("xdsb:DocumentResponse")
	d.CreateElement("xdsb:RepositoryUniqueId").SetText(repositoryID)
	d.CreateElement("xdsb:DocumentUniqueId").SetText(uid)
	d.CreateElement("xdsb:mimeType").SetText("text/xml")
	d.CreateElement("xdsb:Document").SetText(base64.StdEncoding.EncodeToString(cda))
	x.a.outcome = "Success"
	x.a.writeMTOM(resp)
	return nil
}

// storedEntry is an entry as TD3.1 answers it: the ExtrinsicObject TD2.1
// sent, under its entryUUID, with its status and the registry's slots.
func storedEntry(raw []byte, uuid, status, hash string, size int64) (*etree.Element, error) {
	d := etree.NewDocument()
	if err := d.ReadFromBytes(raw); err != nil || d.Root() == nil {
		return nil, fmt.Errorf("dmpsim: stored entry %s unreadable", uuid)
	}
	eo := d.Root()
	old := eo.SelectAttrValue("id", "")
	eo.CreateAttr("id", uuid)
	eo.CreateAttr("lid", uuid)
	eo.CreateAttr("status", status)
	for _, e := range eo.FindElements(".//*[@classifiedObject='" + old + "']") {
		e.CreateAttr("classifiedObject", uuid)
	}
	for _, e := range eo.FindElements(".//*[@registryObject='" + old + "']") {
		e.CreateAttr("registryObject", uuid)
	}
	// The registry's slots, before the Name (the schema's order: Slot*).
	at := 0
	for i, c := range eo.Child {
		if el, ok := c.(*etree.Element); ok && el.Tag == "Slot" {
			at = i + 1
		}
	}
	for _, s := range [][2]string{{"hash", hash}, {"repositoryUniqueId", repositoryID}, {"size", fmt.Sprint(size)}} {
		slot := etree.NewElement(prefixed(eo.Space, "Slot"))
		slot.CreateAttr("name", s[0])
		slot.CreateElement(prefixed(eo.Space, "ValueList")).CreateElement(prefixed(eo.Space, "Value")).SetText(s[1])
		eo.InsertChildAt(at, slot)
		at++
	}
	return eo, nil
}

// delete answers TD3.3c: an UpdateAvailabilityStatus association taking
// one of the structure's own approved entries to Deleted.
func (x *txn) delete(ctx context.Context) error {
	body := x.env.Body
	var pid string
	for _, ei := range body.FindElements("//RegistryPackage/ExternalIdentifier") {
		if ei.SelectAttrValue("identificationScheme", "") == "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446" {
			pid = ei.SelectAttrValue("value", "")
		}
	}
	if pid != x.pid.CX() {
		x.registryError("XDSPatientIdDoesNotMatch", "patientId du lot autre que celui du VIHF")
		return nil
	}
	var a *etree.Element
	for _, e := range body.FindElements("//Association") {
		if e.SelectAttrValue("associationType", "") == "urn:ihe:iti:2010:AssociationType:UpdateAvailabilityStatus" {
			a = e
		}
	}
	if a == nil {
		x.registryError("XDSRegistryMetadataError", "aucune association UpdateAvailabilityStatus")
		return nil
	}
	slot := func(name string) string {
		for _, s := range a.SelectElements("Slot") {
			if s.SelectAttrValue("name", "") == name {
				if v := s.FindElement("ValueList/Value"); v != nil {
					return strings.TrimSpace(v.Text())
				}
			}
		}
		return ""
	}
	if slot("NewStatus") != dmp.StatusDeleted {
		x.registryError("XDSRegistryMetadataError", "seule la suppression est prise en charge (NewStatus "+slot("NewStatus")+")")
		return nil
	}
	if !x.ready() {
		return nil
	}
	var status, structure string
	err := x.dbtx.QueryRowContext(ctx, `SELECT status, structure FROM documents WHERE entry_uuid = ? AND person = ? AND signature = 0`,
		a.SelectAttrValue("targetObject", ""), x.rec.person).Scan(&status, &structure)
	switch {
	case err == sql.ErrNoRows:
		x.registryError("XDSRegistryMetadataError", "entrée inconnue pour ce patient")
		return nil
	case err != nil:
		return err
	case structure != x.structure:
		x.a.fault("Sender", dmp.ErrAccessDenied.Subcode, "l'établissement ne peut supprimer que ses propres documents")
		return nil
	case statusName[status] != slot("OriginalStatus"):
		x.registryError("XDSRegistryMetadataError", "statut d'origine "+slot("OriginalStatus")+" : l'entrée est "+statusName[status])
		return nil
	}
	if _, err := x.dbtx.ExecContext(ctx, `UPDATE documents SET status = 'Deleted' WHERE entry_uuid = ?`, a.SelectAttrValue("targetObject", "")); err != nil {
		return err
	}
	return x.committed()
}

func prefixed(space, tag string) string {
	if space == "" {
		return tag
	}
	return space + ":" + tag
}

// listAuthorizations answers TD1.6: the professionals the patient blocked
// (INTERDITE, TOUTE); the ones authorized are not kept here (ACTIVE: none).
func (x *txn) listAuthorizations(ctx context.Context) error {
	if !x.known || !x.rec.hasDMP {
		x.a.fault("Sender", "DMPNotFound", "pas de DMP pour ce patient")
		return nil
	}
	mode := ""
	if m := x.env.Body.SelectElement("mode"); m != nil {
		mode = strings.TrimSpace(m.Text())
	}
	resp := etree.NewElement("ns1:listAuthorizationByPatientResponse")
	resp.CreateAttr("xmlns:ns1", dmp.NSHabil)
	out := resp.CreateElement("ns1:output")
	if mode == dmp.ListForbidden || mode == dmp.ListAll {
		rows, err := x.dbtx.QueryContext(ctx, `SELECT national_id FROM blocked WHERE person = ? ORDER BY national_id`, x.rec.person)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			a := out.CreateElement("ns1:listOfAuthorizationByPatient")
			a.CreateElement("ns1:nationalId").SetText(id)
			a.CreateElement("ns1:nationalIdType").SetText("1.2.250.1.71.4.2.1")
			a.CreateElement("ns1:mode").SetText(dmp.ListForbidden)
		}
		if err := rows.Err(); err != nil {
			return err
		}
	}
	out.CreateElement("ns1:status").SetText("DMPOk")
	x.a.outcome = "DMPOk"
	x.a.write(200, resp)
	return nil
}

// patientList answers TD0.4: the DMPs the requesting structure is
// authorized on, with the date of their last document (and the
// authorization's), those of the date type asked since the start date.
func (x *txn) patientList(ctx context.Context) error {
	text := func(tag string) string {
		if e := x.env.Body.SelectElement(tag); e != nil {
			return strings.TrimSpace(e.Text())
		}
		return ""
	}
	since, err := time.ParseInLocation("20060102150405", text("startDate"), time.UTC)
	dateType := text("dateType")
	if err != nil || dateType != dmp.SinceLastDocument && dateType != dmp.SinceLastAuthorization {
		x.a.fault("Sender", "DMPInvalidRequest", "startDate (AAAAMMJJhhmmss) et dateType (LASTDOC, LASTAUTORIZATION) requis")
		return nil
	}
	rows, err := x.dbtx.QueryContext(ctx, `SELECT p.person, p.birth_name, p.first_name, p.birth_date, a.updated,
		(SELECT max(submitted) FROM documents d WHERE d.person = p.person AND d.signature = 0) FROM persons p
		JOIN authorizations a ON a.person = p.person AND a.structure = ? AND a.status = ? ORDER BY p.person`, x.structure, dmp.AuthValid)
	if err != nil {
		return err
	}
	type row struct {
		person             int64
		name, first, birth string
		authorized         int64
		lastAdd            sql.NullInt64
	}
	var list []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.person, &r.name, &r.first, &r.birth, &r.authorized, &r.lastAdd); err != nil {
			rows.Close()
			return err
		}
		list = append(list, r)
	}
	rows.Close()
	resp := etree.NewElement("ns1:patientListResponse")
	resp.CreateAttr("xmlns:ns1", dmp.NSPatients)
	out := resp.CreateElement("ns1:output")
	n := 0
	for _, r := range list {
		authorized, added := time.UnixMilli(r.authorized), time.Unix(0, r.lastAdd.Int64)
		switch {
		case dateType == dmp.SinceLastDocument && (!r.lastAdd.Valid || added.Before(since)):
			continue
		case dateType == dmp.SinceLastAuthorization && authorized.Before(since):
			continue
		}
		d := out.CreateElement("ns1:patientlistData")
		ids, err := x.dbtx.QueryContext(ctx, `SELECT root, extension FROM identifiers WHERE person = ? ORDER BY root`, r.person)
		if err != nil {
			return err
		}
		for ids.Next() {
			var root, ext string
			if err := ids.Scan(&root, &ext); err != nil {
				ids.Close()
				return err
			}
			pi := d.CreateElement("ns1:patientIdentifier")
			pi.CreateElement("ns1:nationalId").SetText(ext)
			pi.CreateElement("ns1:nationalIdType").SetText(root)
		}
		ids.Close()
		d.CreateElement("ns1:lastName").SetText(r.name)
		d.CreateElement("ns1:firstName").SetText(r.first)
		d.CreateElement("ns1:dateOfBirth").SetText(r.birth)
		d.CreateElement("ns1:MT").SetText("false")
		d.CreateElement("ns1:message").SetText("false")
		d.CreateElement("ns1:lastUpdateDate").SetText(authorized.UTC().Format("20060102150405"))
		if r.lastAdd.Valid {
			d.CreateElement("ns1:lastAddDate").SetText(added.UTC().Format("20060102150405"))
		}
		n++
	}
	out.CreateElement("ns1:status").SetText("DMPOk")
	x.a.outcome = fmt.Sprintf("DMPOk (%d)", n)
	x.a.write(200, resp)
	return nil
}
