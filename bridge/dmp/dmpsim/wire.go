package dmpsim

import (
	"strings"
	"time"

	"github.com/beevik/etree"

	"dmpkiosk/bridge/dmp"
)

// The simulator's half of the DMP's wire format: reading the requests
// (already valid against the official schemas) and writing the answers in
// the shapes of the package's example answers.

// request is what the simulator reads of an HL7 v3 request.
type request struct {
	msg     *etree.Element
	id      dmp.PatientID // the wrapper's message id (root, extension)
	sender  dmp.Device
	reason  string
	queryID dmp.PatientID
}

func hl7(el *etree.Element, path ...string) *etree.Element {
	for _, p := range path {
		if el == nil {
			return nil
		}
		var next *etree.Element
		for _, c := range el.ChildElements() {
			if c.Tag == p && c.NamespaceURI() == dmp.NSHL7 {
				next = c
				break
			}
		}
		el = next
	}
	return el
}

func attr(el *etree.Element, name string) string {
	if el == nil {
		return ""
	}
	return el.SelectAttrValue(name, "")
}

func ii(el *etree.Element) dmp.PatientID {
	return dmp.PatientID{Root: attr(el, "root"), Extension: attr(el, "extension")}
}

func readRequest(m *etree.Element) request {
	r := request{msg: m, id: ii(hl7(m, "id")), reason: attr(hl7(m, "controlActProcess", "reasonCode"), "code")}
	dev := hl7(m, "sender", "device")
	r.sender = dmp.Device{OID: attr(hl7(dev, "id"), "root"), Name: strings.TrimSpace(hl7(dev, "softwareName").Text())}
	r.queryID = ii(hl7(m, "controlActProcess", "queryByParameter", "queryId"))
	return r
}

func (r request) patientElement() *etree.Element {
	return hl7(r.msg, "controlActProcess", "subject", "registrationRequest", "subject1", "patient")
}

// patient is the identifier the request is about.
func (r request) patient() (dmp.PatientID, bool) {
	var v *etree.Element
	switch r.msg.Tag {
	case "PRPA_IN201307UV02":
		v = hl7(r.msg, "controlActProcess", "queryByParameter", "parameterList", "patientIdentifier", "value")
	case "PRPA_IN201311UV02":
		v = hl7(r.patientElement(), "id")
	}
	p := ii(v)
	return p, p.Root != "" && p.Extension != ""
}

// creation reads TD1.1's patient, demographics, observations and author.
func (r request) creation() (dmp.Creation, dmp.Author, bool) {
	p, ok := r.patient()
	pat := r.patientElement()
	if !ok || pat == nil {
		return dmp.Creation{}, dmp.Author{}, false
	}
	pp := hl7(pat, "patientPerson")
	d := dmp.Demographics{BirthName: text(hl7(pp, "name", "family")), FirstName: text(hl7(pp, "name", "given")),
		Sex: attr(hl7(pp, "administrativeGenderCode"), "code"), BirthDate: attr(hl7(pp, "birthTime"), "value")}
	obs := map[string]bool{}
	for _, s := range pat.ChildElements() {
		if s.Tag == "subjectOf" {
			o := hl7(s, "administrativeObservation")
			obs[attr(hl7(o, "code"), "code")] = attr(hl7(o, "value"), "value") == "true"
		}
	}
	ae := hl7(r.msg, "controlActProcess", "subject", "registrationRequest", "author", "assignedEntity")
	a := dmp.Author{NationalID: attr(hl7(ae, "id"), "extension"), Surname: text(hl7(ae, "assignedPerson", "name", "family")),
		FirstName: text(hl7(ae, "assignedPerson", "name", "given")), StructureID: attr(hl7(ae, "representedOrganization", "id"), "extension")}
	return dmp.Creation{Patient: p, Demographics: d, Consent: obs[dmp.ObsConsent], OppBrisGlace: obs[dmp.ObsBrisDeGlace],
		OppUrgence: obs[dmp.ObsEmergency]}, a, true
}

func text(el *etree.Element) string {
	if el == nil {
		return ""
	}
	return strings.TrimSpace(el.Text())
}

// action reads a setAuthorization's action.
func action(m *etree.Element) string {
	if m.Tag != "setAuthorization" || m.NamespaceURI() != dmp.NSHabil {
		return ""
	}
	for _, c := range m.ChildElements() {
		if c.Tag == "action" {
			return text(c)
		}
	}
	return ""
}

// answerWrapper starts an answer to r: from the DMP to the request's sender.
func answerWrapper(interaction, id string, at time.Time, r request) *etree.Element {
	return dmp.Message{Interaction: interaction, ID: id, Created: at, Sender: dmp.DMP, Receiver: r.sender, Answer: true}.Wrapper()
}

func acknowledge(m *etree.Element, typ string, r request, detail, detailText string) {
	a := m.CreateElement("acknowledgement")
	a.CreateAttr("typeCode", typ)
	id := a.CreateElement("targetMessage").CreateElement("id")
	id.CreateAttr("root", r.id.Root)
	id.CreateAttr("extension", r.id.Extension)
	if detail != "" {
		d := a.CreateElement("acknowledgementDetail")
		d.CreateAttr("typeCode", "E")
		c := d.CreateElement("code")
		c.CreateAttr("code", detail)
		d.CreateElement("text").SetText(detailText)
	}
}

func attention(m *etree.Element, key, keySystem string, value func(v *etree.Element)) {
	al := m.CreateElement("attentionLine")
	kw := al.CreateElement("keyWordText")
	kw.CreateAttr("code", key)
	kw.CreateAttr("codeSystem", keySystem)
	value(al.CreateElement("value"))
}

// registered writes subject/registrationEvent/subject1/patient and the
// custodian, as the DMP answers TD0.2, TD1.3a and TD1.1; fill writes the
// patient's content.
func registered(cap *etree.Element, fill func(pat *etree.Element)) {
	re, pat := dmp.Registration(cap, "registrationEvent", "EVN", "completed")
	fill(pat)
	ae := re.CreateElement("custodian")
	ae.CreateAttr("typeCode", "CST")
	a := ae.CreateElement("assignedEntity")
	a.CreateAttr("classCode", "ASSIGNED")
	a.CreateElement("id").CreateAttr("root", dmp.OIDDMPDevice)
}

func writeIDs(pat *etree.Element, ids []dmp.PatientID) {
	for _, p := range ids {
		id := pat.CreateElement("id")
		id.CreateAttr("extension", p.Extension)
		id.CreateAttr("root", p.Root)
	}
}

// existenceAnswer is the PRPA_IN201308UV02 of TD0.2 (tx TD02) or TD1.3a.
func existenceAnswer(tx, id string, at time.Time, r request, e dmp.Existence) *etree.Element {
	m := answerWrapper("PRPA_IN201308UV02", id, at, r)
	attention(m, "AUTORISATION", dmp.CSAttention, func(v *etree.Element) {
		v.CreateAttr("code", e.Authorization)
		v.CreateAttr("codeSystem", dmp.CSAuthStatus)
		v.CreateAttr("xsi:type", "CV")
	})
	attention(m, "STATUT_MT", dmp.CSStatusMT, func(v *etree.Element) {
		v.CreateAttr("value", boolText(e.Doctor))
		v.CreateAttr("xsi:type", "BL")
	})
	acknowledge(m, "AA", r, "", "")
	cap := dmp.ControlAct(m, tx)
	code := "NF"
	if e.Exists {
		code = "OK"
		registered(cap, func(pat *etree.Element) {
			writeIDs(pat, e.IDs)
			pat.CreateElement("statusCode").CreateAttr("code", "active")
			dmp.WritePerson(pat, e.Demographics)
			for _, k := range []string{dmp.ObsBrisDeGlace, dmp.ObsEmergency} {
				if v, ok := e.Observations[k]; ok {
					dmp.WriteObservation(pat, k, v)
				}
			}
		})
	}
	qa := cap.CreateElement("queryAck")
	qid := qa.CreateElement("queryId")
	qid.CreateAttr("extension", r.queryID.Extension)
	qid.CreateAttr("root", r.queryID.Root)
	qa.CreateElement("queryResponseCode").CreateAttr("code", code)
	return m
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// createdAnswer is TD1.1's answer: PRPA_IN201311UV02_Response holding
// PRPA_IN201312UV02 (created, the patient as registered) or, with a
// refusal code, PRPA_IN201313UV02 acknowledged AE with that code.
func createdAnswer(id string, at time.Time, r request, c dmp.Creation, ids []dmp.PatientID, refusal, why string) *etree.Element {
	w := etree.NewElement("ns2:PRPA_IN201311UV02_Response")
	w.CreateAttr("xmlns", dmp.NSHL7)
	w.CreateAttr("xmlns:ns2", dmp.NSGDP)
	name, typ := "PRPA_IN201312UV02", "AA"
	if refusal != "" {
		name, typ = "PRPA_IN201313UV02", "AE"
	}
	m := answerWrapper(name, id, at, r)
	m.RemoveAttr("xmlns")
	acknowledge(m, typ, r, refusal, why)
	cap := dmp.ControlAct(m, dmp.TD11)
	if refusal != "" {
		// A refusal registers nothing: the acknowledgement says why, and
		// the request's registration is returned as it came.
		if sub := hl7(r.msg, "controlActProcess", "subject"); sub != nil {
			cap.AddChild(sub.Copy())
		}
		w.AddChild(m)
		return w
	}
	registered(cap, func(pat *etree.Element) {
		writeIDs(pat, ids)
		pat.CreateElement("statusCode").CreateAttr("code", "active")
		// As the package's TD1.3b answer: the registered person by name only.
		dmp.WritePersonName(pat, c.Demographics)
	})
	w.AddChild(m)
	return w
}

// authorizationAnswer is TD0.3's setAuthorizationResponse.
func authorizationAnswer(context string) *etree.Element {
	m := etree.NewElement("ns1:setAuthorizationResponse")
	m.CreateAttr("xmlns:ns1", dmp.NSHabil)
	out := m.CreateElement("ns1:output")
	out.CreateElement("ns1:status").SetText("DMPOk")
	out.CreateElement("ns1:context").SetText(context)
	return m
}

// faultBody is the SOAP 1.2 fault element for f.
func faultBody(f *dmp.Fault) *etree.Element {
	el := etree.NewElement("soap:Fault")
	code := el.CreateElement("soap:Code")
	code.CreateElement("soap:Value").SetText("soap:" + f.Code)
	if f.Subcode != "" {
		v := code.CreateElement("soap:Subcode").CreateElement("soap:Value")
		v.CreateAttr("xmlns:dmp", dmp.NSFault)
		v.SetText("dmp:" + f.Subcode)
	}
	t := el.CreateElement("soap:Reason").CreateElement("soap:Text")
	t.CreateAttr("xml:lang", "fr")
	t.SetText(f.Reason)
	return el
}

// inscOf is the INS-C the referential holds for a person, as the DMP
// returns it beside the INS (the package's answers list both).
func inscOf(insc string) []dmp.PatientID {
	if insc == "" {
		return nil
	}
	return []dmp.PatientID{{Root: dmp.OIDINSC, Extension: insc}}
}
