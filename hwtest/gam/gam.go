// Package gam is the test rig's patient administration system (GAM): an
// MLLP listener that answers PDQ queries (ITI-21) over a small patient
// base and applies patient updates (ADT^A31) under the rules a real GAM
// applies — no identifier of its domain: AR; an unknown IPP: AR; a known
// one: the update — with scripted refusals, silences, slow and broken
// answers. A message seen before (same MSH-10) is acknowledged again and
// not applied twice.
package gam

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"

	"dmpkiosk/bridge/hl7"
	"dmpkiosk/bridge/sih"
)

// Patient is one patient of the GAM and what updates set on them.
type Patient struct {
	IPP                                  string
	BirthName, FirstName, BirthDate, Sex string
	// Set by updates.
	INS, INSOID string
	PID32       []string
	BirthPlace  string
	ZFD, ZFA    string
	Updates     int
}

// Behaviour is what the GAM does with the next message.
type Behaviour string

// Behaviours a test scripts.
const (
	Normal Behaviour = ""
	AE     Behaviour = "AE"     // application error: not applied
	AR     Behaviour = "AR"     // application reject: not applied
	Silent Behaviour = "silent" // applied, never acknowledged (the connection closed)
	Slow   Behaviour = "slow"   // acknowledged after Delay
	Broken Behaviour = "broken" // answers bytes that are no MLLP frame
)

// GAM is a running peer.
type GAM struct {
	Domain sih.Domain
	Addr   string
	Delay  time.Duration

	mu       sync.Mutex
	people   map[string]*Patient
	script   []Behaviour
	seen     map[string][]byte // control id → the answer given
	received [][]byte
	l        net.Listener
}

// Start listens on a loopback port until the test ends.
func Start(t testing.TB, domain sih.Domain, people ...Patient) *GAM {
	return StartTLS(t, domain, nil, people...)
}

// StartTLS is Start over TLS when tc is set (a GAM whose EAI asks for it).
func StartTLS(t testing.TB, domain sih.Domain, tc *tls.Config, people ...Patient) *GAM {
	t.Helper()
	g, err := Listen("127.0.0.1:0", domain, tc, people...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

// Listen serves a GAM on addr (over TLS when tc is set) until Close.
func Listen(addr string, domain sih.Domain, tc *tls.Config, people ...Patient) (*GAM, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if tc != nil {
		l = tls.NewListener(l, tc)
	}
	g := &GAM{Domain: domain, Addr: l.Addr().String(), Delay: 3 * time.Second, people: map[string]*Patient{}, seen: map[string][]byte{}, l: l}
	for _, p := range people {
		g.people[p.IPP] = &p
	}
	go g.serve()
	return g, nil
}

// Close stops listening.
func (g *GAM) Close() { g.l.Close() }

// Script sets what the next messages meet, in order.
func (g *GAM) Script(b ...Behaviour) {
	g.mu.Lock()
	g.script = append(g.script, b...)
	g.mu.Unlock()
}

// Patient returns a copy of a patient.
func (g *GAM) Patient(ipp string) Patient {
	g.mu.Lock()
	defer g.mu.Unlock()
	if p := g.people[ipp]; p != nil {
		return *p
	}
	return Patient{}
}

// Received are the messages received, in order.
func (g *GAM) Received() [][]byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([][]byte(nil), g.received...)
}

func (g *GAM) serve() {
	for {
		c, err := g.l.Accept()
		if err != nil {
			return
		}
		go g.conn(c)
	}
}

func (g *GAM) conn(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		c.SetDeadline(time.Now().Add(30 * time.Second))
		msg, err := hl7.ReadFrame(r, 1<<20)
		if err != nil {
			return
		}
		g.mu.Lock()
		g.received = append(g.received, msg)
		b := Normal
		if len(g.script) > 0 {
			b, g.script = g.script[0], g.script[1:]
		}
		g.mu.Unlock()
		answer := g.handle(msg, b)
		switch b {
		case Silent:
			return
		case Broken:
			c.Write([]byte("not an MLLP frame\r\n"))
			return
		case Slow:
			time.Sleep(g.Delay)
		}
		if err := hl7.WriteFrame(c, answer); err != nil {
			return
		}
	}
}

// handle applies a message (unless scripted otherwise) and returns the
// answer.
func (g *GAM) handle(raw []byte, b Behaviour) []byte {
	latin1 := strings.Contains(string(raw), "|8859/1|")
	if latin1 {
		if d, err := charmap.ISO8859_1.NewDecoder().Bytes(raw); err == nil {
			raw = d
		}
	}
	m, err := hl7.Parse(raw)
	if err != nil {
		return ack("", "AR", "102", "Data type error", "message illisible")
	}
	msh, _ := m.Seg("MSH", 0)
	control, typ := msh.Get(10, 0), msh.Field(9)
	g.mu.Lock()
	defer g.mu.Unlock()
	if prev, ok := g.seen[control]; ok && b == Normal {
		return prev
	}
	var answer []byte
	switch {
	case b == AE:
		answer = ack(control, "AE", "207", "Application internal error", "erreur scriptée pour MARTIN PAUL né le 12/06/1975")
	case b == AR:
		answer = ack(control, "AR", "207", "Application internal error", "rejet scripté")
	case strings.HasPrefix(typ, "QBP^Q22"):
		answer = g.query(control, m)
	case strings.HasPrefix(typ, "ADT^A31"):
		answer = g.update(control, m)
	default:
		answer = ack(control, "AR", "200", "Unsupported message type", typ)
	}
	if b != AE && b != AR { // applied (however it is answered), it is remembered
		g.seen[control] = answer
	}
	if latin1 {
		if e, err := charmap.ISO8859_1.NewEncoder().Bytes(answer); err == nil {
			answer = e
		}
	}
	return answer
}

func ack(control, code, errCode, errText, detail string) []byte {
	segs := []string{"MSH|^~\\&|GAM|CHU-TEST|DMPKIOSK||" + time.Now().Format("20060102150405") + "||ACK|ACK" + hl7.Esc(control) + "|P|2.5",
		"MSA|" + code + "|" + hl7.Esc(control)}
	if code != "AA" {
		segs = append(segs, "ERR|||"+errCode+"^"+hl7.Esc(errText)+"^HL70357|E||||"+hl7.Esc(detail))
	}
	return []byte(strings.Join(segs, "\r") + "\r")
}

// query answers a PDQ query by INS or by traits.
func (g *GAM) query(control string, m *hl7.Message) []byte {
	qpd, _ := m.Seg("QPD", 0)
	want := map[string]string{}
	for _, p := range hl7.Reps(qpd.Field(3)) {
		want[hl7.Comp(p, 1)] = hl7.Comp(p, 2)
	}
	var found []*Patient
	for _, p := range g.people {
		switch {
		case want["@PID.3.1"] != "":
			if p.INS == want["@PID.3.1"] && p.INSOID == want["@PID.3.4.2"] {
				found = append(found, p)
			}
		case p.BirthName == want["@PID.5.1.1"] && p.FirstName == want["@PID.5.2"] && p.BirthDate == want["@PID.7.1"] &&
			(want["@PID.8"] == "" || p.Sex == want["@PID.8"]):
			found = append(found, p)
		}
	}
	status := "OK"
	if len(found) == 0 {
		status = "NF"
	}
	segs := []string{"MSH|^~\\&|GAM|CHU-TEST|DMPKIOSK||" + time.Now().Format("20060102150405") + "||RSP^K22^RSP_K21|RSP" + hl7.Esc(control) + "|P|2.5",
		"MSA|AA|" + hl7.Esc(control), "QAK|" + qpd.Field(2) + "|" + status, strings.Join(qpd.Fields, "|")}
	d := g.Domain
	for i, p := range found {
		segs = append(segs, fmt.Sprintf("PID|%d||%s^^^%s&%s&%s^PI||%s^%s^^^^^L||%s|%s", i+1, p.IPP, d.Namespace, d.UniversalID, d.Type,
			hl7.Esc(p.BirthName), hl7.Esc(p.FirstName), p.BirthDate, p.Sex))
	}
	return []byte(strings.Join(segs, "\r") + "\r")
}

// update applies an A31: the IPP of the GAM's domain is required and must
// be known.
func (g *GAM) update(control string, m *hl7.Message) []byte {
	pid, ok := m.Seg("PID", 0)
	if !ok {
		return ack(control, "AR", "100", "Segment sequence error", "pas de segment PID")
	}
	var p *Patient
	hasIPP := false
	var insRep string
	for _, rep := range hl7.Reps(pid.Field(3)) {
		switch hl7.Comp(rep, 5) {
		case "PI":
			if hl7.Sub(rep, 4, 1) == g.Domain.Namespace || hl7.Sub(rep, 4, 2) == g.Domain.UniversalID {
				hasIPP = true
				p = g.people[hl7.Comp(rep, 1)]
			}
		case "INS":
			insRep = rep
		}
	}
	switch {
	case !hasIPP:
		return ack(control, "AR", "100", "Segment sequence error", "E100 : aucun identifiant du domaine de l'établissement")
	case p == nil:
		return ack(control, "AR", "204", "Unknown key identifier", "E160 : IPP inconnu")
	}
	if insRep != "" {
		p.INS, p.INSOID = hl7.Comp(insRep, 1), hl7.Sub(insRep, 4, 2)
	}
	p.PID32 = hl7.Reps(pid.Field(32))
	for _, rep := range hl7.Reps(pid.Field(11)) {
		if hl7.Comp(rep, 7) == "BDL" {
			p.BirthPlace = hl7.Comp(rep, 9)
		}
	}
	if z, ok := m.Seg("ZFD", 0); ok {
		p.ZFD = strings.Join(z.Fields, "|")
	}
	if z, ok := m.Seg("ZFA", 0); ok {
		p.ZFA = strings.Join(z.Fields, "|")
	}
	p.Updates++
	return ack(control, "AA", "", "", "")
}

// Tell sends one of the GAM's own messages (an admission) to addr, as a
// GAM does to the systems it feeds, and returns the answer.
func (g *GAM) Tell(addr string, msg []byte) ([]byte, error) {
	return sih.Exchange(context.Background(), addr, nil, msg, 5*time.Second)
}
