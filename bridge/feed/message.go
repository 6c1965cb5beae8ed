package feed

import (
	"encoding/base64"
	"fmt"
	"strings"

	"dmpkiosk/bridge/hl7"
)

// Submission is what a document message says.
type Submission struct {
	// The message: its sender (MSH-3, MSH-4), control id (MSH-10),
	// version (MSH-12), type and event (MSH-9: MDM T02/T10/T04, ORU R01).
	App, Facility, Control, Version, Type, Event string
	// Receiver and ReceiverFacility are MSH-5 and MSH-6: whom the sender
	// addressed (this bridge), who answers.
	Receiver, ReceiverFacility string
	// Status is OBX-11 of the document's OBX: F (final), C (corrected,
	// a replacement), D (deleted).
	Status string
	// TypeCode is the document's type (TXA-2, else OBX-3), UniqueID its
	// id (TXA-12, else the CDA's), Replaces the replaced one's (TXA-13).
	TypeCode, UniqueID, Replaces string
	// Completion is the document's completion status (TXA-17: AU, LA…).
	Completion string
	// IPP is the patient's identifier in the establishment (PID-3, type
	// PI); INS and INSOID the INS the sender holds (PID-3, type INS);
	// Class the patient's class (PV1-2) and Unit the unit (PV1-3).
	IPP, INS, INSOID, Class, Unit string
	// Author is PRT SB's person (PRT-5: national id, names) and
	// Organization its organisation (PRT-8: name, FINESS).
	Author       Person
	Organization Organization
	// Flags are the MetaDMPMSS OBX (MASQUE_PS, INVISIBLE_PATIENT, DESTDMP…):
	// true for Y.
	Flags map[string]bool
	// CDA is OBX-5's document, decoded.
	CDA []byte
}

// Person is an XCN as PRT-5 gives it.
type Person struct{ ID, Family, Given, Authority string }

// Organization is an XON as PRT-8 gives it.
type Organization struct{ Name, IDType, ID string }

// Refusal is why a message is not taken, as its acknowledgement says it:
// AE (the message is wrong) or AR (it cannot be taken here), the HL7 code
// (table 0357, ERR-3), the receiver's application code (900–904, ERR-5)
// when one applies, where (ERR-2) and the text for the sender's team
// (ERR-8, French).
type Refusal struct {
	Ack, Code, App, Where, Text string
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("feed: %s %s %s: %s", r.Ack, r.Code, r.App, r.Text)
}

// Codes of HL7 table 0357 used here.
const (
	codeMissing     = "101"
	codeDataType    = "102"
	codeTable       = "103"
	codeMessageType = "200"
	codeEvent       = "201"
	codeVersion     = "203"
	codeApplication = "207"
)

// events are the messages taken, by type.
var events = map[string]map[string]bool{
	"MDM": {"T02": true, "T10": true, "T04": true},
	"ORU": {"R01": true},
}

// versions are the HL7 versions the profile names: 2.6 for MDM, 2.5 for
// ORU (its examples); either is read.
var versions = map[string]bool{"2.5": true, "2.6": true}

// Parse reads a document message.
func Parse(m *hl7.Message) (*Submission, error) {
	msh, _ := m.Seg("MSH", 0)
	s := &Submission{App: msh.Get(3, 1), Facility: msh.Get(4, 1), Receiver: msh.Get(5, 1), ReceiverFacility: msh.Get(6, 1),
		Control: msh.Get(10, 1), Version: msh.Get(12, 1),
		Type: msh.Get(9, 1), Event: msh.Get(9, 2), Flags: map[string]bool{}}
	switch {
	case events[s.Type] == nil:
		return nil, &Refusal{Ack: "AR", Code: codeMessageType, Where: "MSH^1^9", Text: "type de message " + s.Type + " non pris en charge (MDM ou ORU)"}
	case !events[s.Type][s.Event]:
		return nil, &Refusal{Ack: "AR", Code: codeEvent, Where: "MSH^1^9", Text: "évènement " + s.Event + " non pris en charge"}
	case !versions[s.Version]:
		return nil, &Refusal{Ack: "AR", Code: codeVersion, Where: "MSH^1^12", Text: "version HL7 " + s.Version + " non prise en charge (2.5 ou 2.6)"}
	case s.Control == "":
		return nil, &Refusal{Ack: "AE", Code: codeMissing, Where: "MSH^1^10", Text: "identifiant du message (MSH-10) absent"}
	}
	if pid, ok := m.Seg("PID", 0); ok {
		for _, rep := range hl7.Reps(pid.Field(3)) {
			switch hl7.Comp(rep, 5) {
			case "PI":
				s.IPP = hl7.Comp(rep, 1)
			case "INS":
				s.INS, s.INSOID = hl7.Comp(rep, 1), hl7.Sub(rep, 4, 2)
			}
		}
	}
	if pv1, ok := m.Seg("PV1", 0); ok {
		s.Class, s.Unit = pv1.Get(2, 1), pv1.Get(3, 1)
	}
	if txa, ok := m.Seg("TXA", 0); ok {
		s.TypeCode, s.UniqueID, s.Replaces, s.Completion = txa.Get(2, 1), txa.Get(12, 1), txa.Get(13, 1), txa.Get(17, 1)
	}
	if err := s.readOBX(m); err != nil {
		return nil, err
	}
	if err := s.readSender(m); err != nil {
		return nil, err
	}
	if s.Event == "T10" && s.Replaces == "" {
		return nil, &Refusal{Ack: "AE", Code: codeMissing, Where: "TXA^1^13", Text: "remplacement sans l'identifiant du document remplacé (TXA-13)"}
	}
	return s, nil
}

// readOBX reads the document's OBX (the first of type ED) and the flags.
func (s *Submission) readOBX(m *hl7.Message) error {
	found := false
	for i, obx := range m.All("OBX") {
		switch {
		case obx.Get(3, 3) == "MetaDMPMSS" && obx.Field(2) == "CWE":
			switch v := obx.Get(5, 1); v {
			case "Y", "N":
				s.Flags[obx.Get(3, 1)] = v == "Y"
			default:
				return &Refusal{Ack: "AE", Code: codeTable, Where: fmt.Sprintf("OBX^%d^5", i+1), Text: "indicateur " + obx.Get(3, 1) + " ni Y ni N"}
			}
		case obx.Field(2) == "ED" && obx.Get(3, 3) != "MetaDMPMSS" && !found:
			found = true
			if s.TypeCode == "" {
				s.TypeCode = obx.Get(3, 1)
			}
			s.Status = obx.Field(11)
			if enc := obx.Get(5, 4); !strings.EqualFold(enc, "Base64") {
				return &Refusal{Ack: "AE", Code: codeDataType, Where: fmt.Sprintf("OBX^%d^5", i+1), Text: "document non encodé en base64 (OBX-5.4 " + enc + ")"}
			}
			cda, err := base64.StdEncoding.DecodeString(strings.TrimSpace(obx.Get(5, 5)))
			if err != nil || len(cda) == 0 {
				return &Refusal{Ack: "AE", Code: codeDataType, Where: fmt.Sprintf("OBX^%d^5", i+1), Text: "document : base64 illisible ou vide"}
			}
			s.CDA = cda
		}
	}
	if !found {
		return &Refusal{Ack: "AE", Code: codeMissing, Where: "OBX^1", Text: "aucun document (OBX de type ED) dans le message"}
	}
	want := map[string]string{"T02": "F", "T10": "C", "T04": "D"}[s.Event]
	switch {
	case want != "" && s.Status != want && !(s.Event == "T10" && s.Status == "F"):
		return &Refusal{Ack: "AE", Code: codeTable, Where: "OBX^1^11", Text: "statut " + s.Status + " pour un " + s.Type + "^" + s.Event}
	case s.Event == "R01" && s.Status != "F" && s.Status != "C" && s.Status != "D":
		return &Refusal{Ack: "AE", Code: codeTable, Where: "OBX^1^11", Text: "statut " + s.Status + " (F, C ou D)"}
	}
	return nil
}

// readSender reads PRT SB, the professional the document is sent by.
func (s *Submission) readSender(m *hl7.Message) error {
	for _, prt := range m.All("PRT") {
		if prt.Get(4, 1) != "SB" {
			continue
		}
		p := prt.Field(5)
		comp := func(v string, n int) string { return strings.TrimSpace(hl7.Comp(v, n)) }
		s.Author = Person{ID: comp(p, 1), Family: comp(p, 2), Given: comp(p, 3), Authority: comp(p, 9)}
		o := prt.Field(8)
		s.Organization = Organization{Name: comp(o, 1), IDType: comp(o, 7), ID: comp(o, 10)}
		if s.Author.ID == "" && s.Organization.ID == "" {
			return &Refusal{Ack: "AE", Code: codeMissing, Where: "PRT^5", Text: "PRT SB sans professionnel ni organisation"}
		}
		return nil
	}
	return &Refusal{Ack: "AE", Code: codeMissing, Where: "PRT", Text: "expéditeur absent (PRT de participation SB)"}
}
