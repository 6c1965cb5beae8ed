package sih

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"

	"dmpkiosk/bridge/hl7"
	"dmpkiosk/firmware/event"
	"dmpkiosk/ins"
	"dmpkiosk/provisioning"
)

// Domain is an assigning authority (CX-4): namespace, universal id, its type.
type Domain struct {
	Namespace   string `toml:"namespace"`
	UniversalID string `toml:"universal_id"`
	Type        string `toml:"type"` // ISO for an OID; the GAM's own (N, M…) otherwise
}

func (d Domain) cx4() string {
	return hl7.Join(hl7.SubSep, hl7.Esc(d.Namespace), hl7.Esc(d.UniversalID), hl7.Esc(d.Type))
}

// Charsets a receiver may take (MSH-18).
const (
	UTF8   = "UNICODE UTF-8"
	Latin1 = "8859/1"
)

// Receiver is one system the bridge tells (a GAM), as the establishment
// configures it.
type Receiver struct {
	Name        string `toml:"name"`        // its id in the bridge (outbox, admin web)
	Application string `toml:"application"` // MSH-5
	Facility    string `toml:"facility"`    // MSH-6
	Address     string `toml:"address"`     // host:port of its MLLP listener
	TLS         bool   `toml:"tls"`
	Charset     string `toml:"charset"` // UTF8 (default) or Latin1
	// ZFA: the receiver takes the DMP segment in an A31 (a per-receiver
	// switch: not every GAM does).
	ZFA bool `toml:"zfa"`
	// IPP is the GAM's patient identifier domain.
	IPP Domain `toml:"ipp"`
	// PDQByINS: the GAM knows the INS domain and is queried by INS first.
	PDQByINS bool `toml:"pdq_by_ins"`
	// Match is how the patient's IPP is found: MatchPDQ (the default)
	// queries the GAM; MatchAdmissions looks among the patients the GAM
	// told of in its own messages to the bridge's MLLP listener.
	Match string `toml:"match"`
}

// How a receiver's patients are matched.
const (
	MatchPDQ        = "pdq"
	MatchAdmissions = "admissions"
)

// Sender names the bridge in the messages (MSH-3/4).
type Sender struct {
	Application string // DMPKIOSK
	Facility    string // the establishment
	Test        bool   // MSH-11 T rather than P
}

// Patient is what an A31 says of the patient: everything but the IPP
// comes from the event the bridge processed and its result.
type Patient struct {
	IPP      string
	Traits   ins.Traits
	Identity ins.Identity
	// INS is sent only for a qualified identity.
	INS      *event.INS
	INSiDate time.Time // when INSi was queried (zero: it was not)
	Document string    // passport, id-card, residence-permit
	DMP      DMPAnswers
}

// DMPAnswers are the DMP's status and the patient's answers (ZFA).
type DMPAnswers struct {
	Status       string // ACTIF, or "" when not known
	At           time.Time
	Informed     bool
	Consultation bool // the establishment's access: IC, else INC
}

// PatientOf is what an event and its outcome tell the GAM.
func PatientOf(e *event.Event, outcome string) Patient {
	p := Patient{Traits: e.Patient.Traits, Identity: e.Patient.Identity, Document: e.Patient.Document}
	if e.Patient.Identity.Shareable() && e.Patient.INS != nil {
		p.INS = e.Patient.INS
	}
	if e.Patient.INSi != nil {
		p.INSiDate = e.Patient.INSi.LookedUp
	}
	switch outcome {
	case event.OutcomeCreated, event.OutcomeExists, event.OutcomeAuthorized:
		p.DMP.Status = "ACTIF"
	}
	p.DMP.At, p.DMP.Informed, p.DMP.Consultation = e.Time, e.Consent.Informed, e.Consent.Authorization
	return p
}

// insNamespace is the namespace of an INS's OID (PID-3's CX-4).
func insNamespace(oid string) string {
	switch oid {
	case ins.OIDNIA:
		return "ASIP-SANTE-INS-NIA"
	}
	return "ASIP-SANTE-INS-NIR"
}

func ts(t time.Time) string { return t.In(provisioning.Paris).Format("20060102150405") }

func (r Receiver) charset() string {
	if r.Charset == Latin1 {
		return Latin1
	}
	return UTF8
}

func msh(s Sender, r Receiver, typ, control string, at time.Time, pam bool) string {
	proc := "P"
	if s.Test {
		proc = "T"
	}
	f := []string{"MSH", `^~\&`, hl7.Esc(s.Application), hl7.Esc(s.Facility), hl7.Esc(r.Application), hl7.Esc(r.Facility), ts(at), "", typ,
		hl7.Esc(control), proc, "2.5^FRA^2.11", "", "", "", "", "FRA", r.charset(), "FR"}
	if pam {
		f = append(f, "", "2.11^IHE_FRANCE-2.11-PAM")
	}
	return strings.Join(f, "|")
}

// A31 is the update of a patient (ADT^A31^ADT_A05, PAM FR 2.11), encoded
// in the receiver's character set.
func A31(s Sender, r Receiver, control string, at time.Time, p Patient) ([]byte, error) {
	t := p.Traits
	pid3 := []string{hl7.Join(hl7.CompSep, hl7.Esc(p.IPP), "", "", r.IPP.cx4(), "PI")}
	if p.INS != nil {
		d := ""
		if !p.INSiDate.IsZero() {
			d = p.INSiDate.In(provisioning.Paris).Format("20060102")
		}
		oid := p.INS.OID
		pid3 = append(pid3, hl7.Join(hl7.CompSep, hl7.Esc(p.INS.Value), "", "", hl7.Join(hl7.SubSep, insNamespace(oid), hl7.Esc(oid), "ISO"), "INS", "", d))
	}
	names := t.FirstNames
	first := t.FirstName
	if first == "" && len(names) > 0 {
		first = names[0]
	}
	pid5 := hl7.Join(hl7.CompSep, hl7.Esc(t.BirthName), hl7.Esc(first), hl7.Esc(strings.Join(names, " ")), "", "", "", "L")
	sex := map[string]string{"M": "M", "F": "F"}[t.Sex]
	if sex == "" {
		sex = "U"
	}
	pid11 := ""
	if t.BirthPlace != "" {
		pid11 = hl7.Join(hl7.CompSep, "", "", "", "", "", "", "BDL", "", hl7.Esc(t.BirthPlace))
	}
	pid32 := []string{"PROV"}
	if st := p.Identity.Status; st == ins.Validee || st == ins.Qualifiee {
		pid32[0] = "VALI"
	}
	if p.Identity.Doubtful {
		pid32 = append(pid32, "DOUT")
	}
	if p.Identity.Fictitious {
		pid32 = append(pid32, "FICT")
	}
	pid := make([]string, 33)
	pid[0], pid[1], pid[3], pid[5], pid[7], pid[8], pid[11], pid[32] = "PID", "1", strings.Join(pid3, "~"), pid5, t.BirthDate, sex, pid11, strings.Join(pid32, "~")
	segs := []string{msh(s, r, "ADT^A31^ADT_A05", control, at, true), "EVN||" + ts(at) + "||||" + ts(p.DMP.At), strings.Join(pid, "|"), "PV1|1|N"}
	// ZFD: how the identity was collected (the card read, then INSi), when
	// INSi was queried, the document checked.
	zfd := make([]string, 9)
	zfd[0], zfd[4] = "ZFD", "N"
	if !p.INSiDate.IsZero() {
		zfd[5], zfd[6] = "CV", p.INSiDate.In(provisioning.Paris).Format("20060102")
	}
	zfd[7] = map[string]string{"passport": "PA", "id-card": "CN", "residence-permit": "CS"}[p.Document]
	segs = append(segs, strings.Join(zfd, "|"))
	if r.ZFA {
		zfa := make([]string, 13)
		zfa[0] = "ZFA"
		if p.DMP.Status != "" {
			zfa[1], zfa[2] = p.DMP.Status, ts(p.DMP.At)
		}
		zfa[9], zfa[10] = "NA", ts(p.DMP.At)
		if p.DMP.Informed {
			zfa[9] = "INO" // informed, not opposed to the feeding (the kiosk records no opposition to it)
		}
		zfa[11], zfa[12] = "INC", ts(p.DMP.At)
		if p.DMP.Consultation {
			zfa[11] = "IC"
		}
		segs = append(segs, strings.Join(zfa, "|"))
	}
	return encode(r, segs)
}

// QBP is the PDQ query (ITI-21) for a patient: by INS when the GAM knows
// it, else by birth name, first name, birth date and sex; only the IPP
// domain is asked back.
func QBP(s Sender, r Receiver, control, tag string, at time.Time, p Patient, byINS bool) ([]byte, error) {
	var params []string
	if byINS && p.INS != nil {
		params = []string{"@PID.3.1^" + hl7.Esc(p.INS.Value), "@PID.3.4.2^" + hl7.Esc(p.INS.OID)}
	} else {
		t := p.Traits
		first := t.FirstName
		if first == "" && len(t.FirstNames) > 0 {
			first = t.FirstNames[0]
		}
		params = []string{"@PID.5.1.1^" + hl7.Esc(t.BirthName), "@PID.5.2^" + hl7.Esc(first), "@PID.7.1^" + hl7.Esc(t.BirthDate)}
		if t.Sex == "M" || t.Sex == "F" {
			params = append(params, "@PID.8^"+t.Sex)
		}
	}
	qpd := []string{"QPD", "IHE PDQ Query", hl7.Esc(tag), strings.Join(params, "~"), "", "", "", "", hl7.Join(hl7.CompSep, "", "", "", r.IPP.cx4())}
	segs := []string{msh(s, r, "QBP^Q22^QBP_Q21", control, at, false), strings.Join(qpd, "|"), "RCP|I|10^RD"}
	return encode(r, segs)
}

func encode(r Receiver, segs []string) ([]byte, error) {
	msg := strings.Join(segs, "\r") + "\r"
	if r.charset() == Latin1 {
		b, err := charmap.ISO8859_1.NewEncoder().String(msg)
		if err != nil {
			return nil, fmt.Errorf("sih: a character %s cannot take: %w", Latin1, err)
		}
		return []byte(b), nil
	}
	return []byte(msg), nil
}

// decode reads a receiver's answer in its character set.
func decode(r Receiver, b []byte) ([]byte, error) {
	if r.charset() == Latin1 {
		return charmap.ISO8859_1.NewDecoder().Bytes(b)
	}
	return b, nil
}

// Ack is a receiver's acknowledgement (MSA, ERR).
type Ack struct {
	Code    string // AA, AE, AR (or CA, CE, CR)
	Control string // MSA-2: the message acknowledged
	Error   string // the ERR segments' codes and their text's length (never its words), for the admin web
}

// Accepted reports whether the receiver applied the message.
func (a Ack) Accepted() bool { return a.Code == "AA" || a.Code == "CA" }

// AckFrom reads a receiver's acknowledgement in its character set.
func AckFrom(r Receiver, b []byte) (Ack, error) {
	b, err := decode(r, b)
	if err != nil {
		return Ack{}, err
	}
	return ParseAck(b)
}

// ParseAck reads an acknowledgement.
func ParseAck(b []byte) (Ack, error) {
	m, err := hl7.Parse(b)
	if err != nil {
		return Ack{}, err
	}
	msa, ok := m.Seg("MSA", 0)
	if !ok {
		return Ack{}, fmt.Errorf("%w: no MSA", hl7.ErrMalformed)
	}
	a := Ack{Code: msa.Get(1, 0), Control: msa.Get(2, 0)}
	// The receiver's words (ERR-3's text, ERR-8, MSA-3) are its own and may
	// name the patient: only the codes are kept, and how long the text was.
	var codes []string
	n := 0
	for _, e := range m.All("ERR") {
		if c := e.Get(3, 1); c != "" {
			codes = append(codes, c)
		}
		n += utf8.RuneCountInString(e.Get(3, 2)) + utf8.RuneCountInString(e.Get(8, 0))
	}
	if len(codes) == 0 && !a.Accepted() {
		n += utf8.RuneCountInString(msa.Get(3, 0))
	}
	a.Error = strings.Join(codes, " ")
	if n > 0 {
		a.Error = strings.TrimSpace(fmt.Sprintf("%s (texte de la GAM non conservé, %d caractères)", a.Error, n))
	}
	return a, nil
}

// Matches are the IPPs a PDQ answer gives (RSP^K22): one per patient found.
func Matches(r Receiver, b []byte) (Ack, []string, error) {
	b, err := decode(r, b)
	if err != nil {
		return Ack{}, nil, err
	}
	a, err := ParseAck(b)
	if err != nil || !a.Accepted() {
		return a, nil, err
	}
	m, _ := hl7.Parse(b)
	var ipps []string
	for _, pid := range m.All("PID") {
		for _, rep := range hl7.Reps(pid.Field(3)) {
			if hl7.Comp(rep, 5) == "PI" && (hl7.Sub(rep, 4, 1) == r.IPP.Namespace || hl7.Sub(rep, 4, 2) == r.IPP.UniversalID) {
				ipps = append(ipps, hl7.Comp(rep, 1))
				break
			}
		}
	}
	return a, ipps, nil
}
