package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"dmpkiosk/bridge/dmp/dmpsim"
	"dmpkiosk/bridge/hl7"
	"dmpkiosk/bridge/insi/insisim"
	"dmpkiosk/bridge/sih"
	"dmpkiosk/cmd/internal/cli"
	"dmpkiosk/hwtest/patients"
)

// The demo's document sender (a DPI): the documents of one demo patient
// as ANS's profile hands them to a connector (MDM^T02, MDM^T10, over
// MLLP), and a listener for the bridge's business acknowledgements
// (ZAM^Z01), each answered AA and printed.

// sender is the demo DPI: its application and facility (MSH-3, MSH-4).
const (
	senderApp      = "DPI-DEMO"
	senderFacility = "CHU-DEMO"
)

// demoDoc is one message of the demo.
type demoDoc struct {
	event, status, unit, control string
	spec                         patients.DocumentSpec
	replaces                     string // the replaced version's id (T10)
	destDMP                      bool
	cda                          []byte
}

// demoDocuments are the demo's messages for p: a lettre de liaison, a CR
// d'imagerie and its second version, and a CR de biologie its author keeps
// out of the DMP (DESTDMP N: held on the admin web).
func demoDocuments(p insisim.Person, now time.Time, root string) ([]demoDoc, error) {
	docs := []demoDoc{
		{event: "T02", status: "F", unit: "CARDIO", control: "DOC1", destDMP: true, spec: patients.DocumentSpec{TypeCode: "11490-0",
			TypeLabel: "Lettre de liaison à la sortie d'un établissement de soins", Title: "Lettre de liaison de sortie", ID: root + ".1", Time: now}},
		{event: "T02", status: "F", unit: "RADIO", control: "DOC2", destDMP: true, spec: patients.DocumentSpec{TypeCode: "18748-4",
			TypeLabel: "CR d'imagerie médicale", Title: "Compte rendu de scanner thoracique", ID: root + ".2", Time: now}},
		{event: "T10", status: "C", unit: "RADIO", control: "DOC3", destDMP: true, replaces: root + ".2", spec: patients.DocumentSpec{ID: root + ".3",
			Title: "Compte rendu de scanner thoracique, version 2"}},
		{event: "T02", status: "F", unit: "LABO", control: "DOC4", destDMP: false, spec: patients.DocumentSpec{TypeCode: "11502-2",
			TypeLabel: "CR d'examens biologiques", Title: "Bilan biologique (à relire)", ID: root + ".4", Time: now}},
	}
	for i := range docs {
		var err error
		if docs[i].event == "T10" {
			docs[i].cda, err = dmpsim.Revise(docs[i-1].cda, docs[i].spec.ID)
			docs[i].spec.TypeCode, docs[i].spec.TypeLabel = docs[i-1].spec.TypeCode, docs[i-1].spec.TypeLabel
		} else {
			docs[i].cda, err = patients.DemoCDA(p, docs[i].spec)
		}
		if err != nil {
			return nil, err
		}
	}
	return docs, nil
}

// mdm writes d as ANS's profile does (its MDM^T02 example's segments):
// the patient's INS and the demo GAM's IPP, the unit, TXA, the sender in
// PRT SB, the CDA in OBX 1, the flags.
func mdm(d demoDoc, p insisim.Person, ipp, receiver string, now time.Time) []byte {
	ts := now.Format("20060102150405")
	ins := p.INS.Number + p.INS.Key
	first := strings.Fields(p.Traits.FirstNames[0])[0]
	yn := func(b bool) string {
		if b {
			return "Y"
		}
		return "N"
	}
	seg := []string{
		"MSH|^~\\&|" + senderApp + "|" + senderFacility + "|" + receiver + "|" + senderFacility + "|" + ts + "||MDM^" + d.event + "^MDM_T02|" + d.control +
			"|P|2.6|||||FRA|UNICODE UTF-8|||2.1^CISIS_CDA_HL7_V2",
		"EVN||" + ts,
		"PID|||" + ipp + "^^^" + Domain.Namespace + "&" + Domain.UniversalID + "&ISO^PI~" + ins + "^^^ASIP-SANTE-INS-NIR&" + p.INS.OID + "&ISO^INS||" +
			p.Traits.BirthName + "^" + first + "^" + first + "^^^^L||" + strings.ReplaceAll(p.Traits.BirthDate, "-", "") + "|" + p.Traits.Sex,
		"PV1|1|I|" + d.unit,
		"TXA|1|" + d.spec.TypeCode + "|TEXT|" + ts + "||||||||" + d.spec.ID + "|" + d.replaces + "||||AU",
		"OBX|1|ED|" + d.spec.TypeCode + "^" + d.spec.TypeLabel + "^LN||^text^XML^Base64^" + base64.StdEncoding.EncodeToString(d.cda) + "||||||" + d.status + "|",
		"PRT||UC||SB^^participation|801234564895^THOMAS^ERIC^^^^^^ASIP-SANTE-PS&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS|||CHU DE DEMONSTRATION^^^^^ASIP-SANTE-ST&1.2.250.1.71.4.2.2&ISO^FINEG^^^750712184",
	}
	for i, f := range []struct {
		name, label string
		v           bool
	}{{"MASQUE_PS", "Masqué aux professionnels de Santé", false}, {"INVISIBLE_PATIENT", "Document Non Visible par le patient", false},
		{"INVISIBLE_REP_LEGAUX", "Non visible par les représentants Légaux du patient", false}, {"CONNEXION_SECRETE", "Connexion Secrete", false},
		{"DESTDMP", "Destinataire DMP", d.destDMP}} {
		seg = append(seg, fmt.Sprintf("OBX|%d|CWE|%s^%s^MetaDMPMSS||%s^^expandedYes-NoIndicator||||||F|", i+2, f.name, f.label, yn(f.v)))
	}
	return []byte(strings.Join(seg, "\r") + "\r")
}

// documents sends the demo's documents to the bridge and prints the
// acknowledgements and business acknowledgements it gets.
func documents(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := cli.Flags("gamsim", "documents", stderr)
	to := fs.String("to", "127.0.0.1:9448", "the bridge's document listener (MLLP)")
	acks := fs.String("acks", "127.0.0.1:9449", "where the bridge's business acknowledgements (ZAM^Z01) are taken")
	nir := fs.String("nir", "1800269123045", "the demo patient: the NIR of a virtual Vitale card's person INSi knows")
	root := fs.String("root", "1.2.250.1.999.1.7.20261207", "the demo documents' ids are under this OID")
	wait := fs.Duration("wait", 30*time.Second, "how long to try the bridge before giving up")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	known, err := patients.INSi()
	if err != nil {
		return err
	}
	var p *insisim.Person
	ipp := ""
	for i := range known {
		if known[i].INS.Number == *nir {
			p, ipp = &known[i], fmt.Sprintf("%06d", 100001+i)
		}
	}
	if p == nil {
		return fmt.Errorf("gamsim: no demo patient of NIR %s", *nir)
	}
	l, err := net.Listen("tcp", *acks)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go hl7.Serve(ctx, l, 1<<20, time.Minute, func(frame []byte) []byte {
		m, err := hl7.Parse(frame)
		if err != nil {
			return nil
		}
		msh, _ := m.Seg("MSH", 0)
		obx, _ := m.Seg("OBX", 0)
		e, _ := m.Seg("ERR", 0)
		fmt.Fprintf(stdout, "gamsim: accusé métier du document %s : %s %s\n", obx.Get(4, 1), obx.Get(5, 1), e.Get(5, 2))
		return []byte("MSH|^~\\&|" + senderApp + "|" + senderFacility + "|" + msh.Get(3, 1) + "|" + msh.Get(4, 1) + "|" +
			time.Now().Format("20060102150405") + "||ACK^Z01^ACK|A" + msh.Get(10, 1) + "|P|2.6\rMSA|AA|" + msh.Get(10, 1) + "\r")
	})
	now := time.Now()
	docs, err := demoDocuments(*p, now, *root)
	if err != nil {
		return err
	}
	for _, d := range docs {
		var ack []byte
		deadline := time.Now().Add(*wait)
		for {
			ack, err = sih.Exchange(ctx, *to, nil, mdm(d, *p, ipp, "DMPKIOSK", now), 10*time.Second)
			if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
				break
			}
			time.Sleep(time.Second)
		}
		if err != nil {
			return fmt.Errorf("gamsim: sending %s: %w", d.control, err)
		}
		m, err := hl7.Parse(ack)
		if err != nil {
			return fmt.Errorf("gamsim: acknowledgement of %s unreadable: %w", d.control, err)
		}
		msa, _ := m.Seg("MSA", 0)
		e, _ := m.Seg("ERR", 0)
		fmt.Fprintf(stdout, "gamsim: MDM^%s %s (%s) : %s %s\n", d.event, d.control, d.spec.Title, msa.Get(1, 1), e.Get(8, 1))
	}
	<-ctx.Done()
	return nil
}
