package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"dmpkiosk/bridge/feed"
	"dmpkiosk/bridge/hl7"
	"dmpkiosk/bridge/journal"
	"dmpkiosk/bridge/journal/journaltest"
	"dmpkiosk/bridge/sih"
	"dmpkiosk/hwtest/patients"
)

// The demo's documents pass every check of the bridge's intake (the CDA
// schema, the structuration-minimale rules, the INS of PID-3) and are
// acknowledged AA; the second version names the first; the document its
// author keeps out of the DMP says DESTDMP N.
func TestDemoDocumentsTaken(t *testing.T) {
	known, err := patients.INSi()
	if err != nil {
		t.Fatal(err)
	}
	p := known[0]
	docs, err := demoDocuments(p, time.Now(), "1.2.250.1.999.1.7.1")
	if err != nil {
		t.Fatal(err)
	}
	j := journaltest.OpenSQLite(t)
	in := &feed.Intake{Journal: j}
	ctx := context.Background()
	for _, d := range docs {
		if _, err := feed.CheckCDA(ctx, d.cda); err != nil {
			t.Fatalf("%s: %v", d.control, err)
		}
		ack := in.Handle(ctx, mdm(d, p, "100001", "DMPKIOSK", time.Now()))
		m, err := hl7.Parse(ack)
		if err != nil {
			t.Fatal(err)
		}
		if msa, _ := m.Seg("MSA", 0); msa.Get(1, 1) != "AA" {
			t.Fatalf("%s: %q", d.control, ack)
		}
	}
	l, err := j.DocumentList(ctx, journal.DocReceived, 10)
	if err != nil || len(l) != 4 {
		t.Fatalf("%d kept, %v", len(l), err)
	}
	v2, _ := j.Document(ctx, senderApp+"/"+senderFacility+"/DOC3")
	held, _ := j.Document(ctx, senderApp+"/"+senderFacility+"/DOC4")
	if v2.Kind != "T10" || v2.Replaces != docs[1].spec.ID || !strings.Contains(string(held.Meta), `"DESTDMP":false`) {
		t.Errorf("T10: %+v; DOC4's meta %s", v2, held.Meta)
	}
}

// The demo's structured document (ANS's lettre de liaison, for a demo
// patient) passes the intake's checks too, with its own type and title.
func TestDemoStructuredDocument(t *testing.T) {
	known, err := patients.INSi()
	if err != nil {
		t.Fatal(err)
	}
	cda, err := patients.DemoStructuredCDA(known[0], patients.DocumentSpec{TypeCode: "11490-0", TypeLabel: "Lettre de liaison à la sortie d'un établissement de soins",
		Title: "Lettre de liaison (CH voisin)", ID: "1.2.250.1.999.1.7.9", Time: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	h, err := feed.CheckCDA(context.Background(), cda)
	if err != nil {
		t.Fatal(err)
	}
	if h.ID != "1.2.250.1.999.1.7.9" || h.TypeCode != "11490-0" || h.Title != "Lettre de liaison (CH voisin)" || h.INS != known[0].INS.Number+known[0].INS.Key ||
		strings.Contains(string(cda), "279035121518989") {
		t.Errorf("%+v", h)
	}
}

// The test GAM admits the demo patients to a unit through the bridge's
// listener for the GAMs' messages: they are the unit's inpatients, their
// INS qualified.
func TestAdmitToAUnit(t *testing.T) {
	j := journaltest.OpenSQLite(t)
	d := sih.NewDelivery(sih.DeliveryConfig{Listen: "127.0.0.1:0", Receivers: []sih.Receiver{{Name: "gam", Application: "GAM", Facility: Domain.Namespace,
		Address: "127.0.0.1:1", IPP: Domain}}}, j, nil)
	addr, err := d.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go d.Run(ctx)
	var out strings.Builder
	if err := admit(ctx, []string{"--to", addr, "--unit", "CARDIO"}, nil, &out, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	l, err := j.WardList(ctx, "CARDIO")
	if err != nil || len(l) != 2 || l[0].INS == "" || l[0].Room != "12" || !strings.Contains(out.String(), ": AA") {
		t.Fatalf("%+v %v\n%s", l, err, out.String())
	}
}
