package sih

import (
	"context"
	"net"
	"strings"
	"time"

	"golang.org/x/text/encoding/charmap"

	"dmpkiosk/bridge/hl7"
	"dmpkiosk/bridge/journal"
)

// Handler applies a message a GAM sends and says how it went: "AA", or
// "AE"/"AR" with the error's code (HL7 table 0357) and text.
type Handler func(m *hl7.Message) (code, errCode, errText string)

// Serve answers the messages sent on l (MLLP, original acknowledgement
// mode) until ctx ends.
func Serve(ctx context.Context, l net.Listener, h Handler) {
	hl7.Serve(ctx, l, maxAnswer, 5*time.Minute, func(raw []byte) []byte {
		latin1 := strings.Contains(string(raw), "|"+Latin1+"|")
		if latin1 {
			if d, err := charmap.ISO8859_1.NewDecoder().Bytes(raw); err == nil {
				raw = d
			}
		}
		var code, errCode, errText, control string
		m, err := hl7.Parse(raw)
		if err != nil {
			code, errCode, errText = "AR", "102", "message illisible"
		} else {
			msh, _ := m.Seg("MSH", 0)
			control = msh.Get(10, 0)
			code, errCode, errText = h(m)
		}
		segs := []string{`MSH|^~\&|DMPKIOSK||||` + time.Now().Format("20060102150405") + "||ACK|A" + hl7.Esc(control) + "|P|2.5",
			"MSA|" + code + "|" + hl7.Esc(control)}
		if code != "AA" {
			segs = append(segs, "ERR|||"+errCode+"^^HL70357|E||||"+hl7.Esc(errText))
		}
		ack := []byte(strings.Join(segs, "\r") + "\r")
		if latin1 {
			if e, err := charmap.ISO8859_1.NewEncoder().Bytes(ack); err == nil {
				ack = e
			}
		}
		return ack
	})
}

// Admitted is a patient as a GAM's own message gives them: its IPP, the
// INS when it has one, the traits a match is made on.
type Admitted = journal.GAMPatient

// AdmittedOf reads a GAM's ADT message's PID for receiver r's domain;
// false when it holds no IPP of that domain.
func AdmittedOf(r Receiver, m *hl7.Message) (Admitted, bool) {
	pid, ok := m.Seg("PID", 0)
	if !ok {
		return Admitted{}, false
	}
	var a Admitted
	for _, rep := range hl7.Reps(pid.Field(3)) {
		switch hl7.Comp(rep, 5) {
		case "PI":
			if hl7.Sub(rep, 4, 1) == r.IPP.Namespace || r.IPP.UniversalID != "" && hl7.Sub(rep, 4, 2) == r.IPP.UniversalID {
				a.IPP = hl7.Comp(rep, 1)
			}
		case "INS":
			a.INS, a.INSOID = hl7.Comp(rep, 1), hl7.Sub(rep, 4, 2)
		}
	}
	// An INS is kept only when the GAM says the identity is qualified
	// (PID-32 VALI, ANS's PAM France).
	qualified := false
	for _, s := range hl7.Reps(pid.Field(32)) {
		qualified = qualified || hl7.Comp(s, 1) == "VALI"
	}
	if !qualified {
		a.INS, a.INSOID = "", ""
	}
	a.BirthName, a.FirstName, a.BirthDate, a.Sex = pid.Get(5, 1), pid.Get(5, 2), pid.Get(7, 1), pid.Get(8, 0)
	return a, a.IPP != ""
}
