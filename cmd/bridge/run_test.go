package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"dmpkiosk/bridge/dmp"
	"dmpkiosk/bridge/dmp/dmpsim"
	"dmpkiosk/bridge/insi/insisim"
	"dmpkiosk/bridge/journal"
	"dmpkiosk/firmware/event"
	"dmpkiosk/hwtest"
	"dmpkiosk/hwtest/cards"
	"dmpkiosk/hwtest/system"
	"dmpkiosk/ins"
)

func buildBridge(t *testing.T) string { return buildBridgeB(t) }

func buildBridgeB(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bridge")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return bin
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// `bridge run` end to end from a verified event: real mosquitto, the
// kiosk's sealed event, the SQLite journal, the DMP simulator over mutual
// TLS with the establishment's keys on a SoftHSM token, the result back on
// the kiosk's topic, the admin pages and the audit chain. Then a refusal by
// the DMP: the event is dead with its reason and the kiosk told in plain
// French.
func TestRunCommand(t *testing.T) {
	b := system.StartBridge(t, buildBridge(t), system.BridgeOptions{Regime: dmpsim.Legacy, Backoff: 100 * time.Millisecond})
	site, m, igc, sim, dir := b.Site, b.Mosquitto, b.IGC, b.Sim, b.Dir
	get := func(path string) (int, string) { return b.Get(t, path) }
	stop := b.Stop
	stderr := b.Log

	// The kiosk: its certificate, the doctor's card, a child of the family.
	cred := site.Creds["kiosk-1"]
	kiosk := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(m.URL()).SetClientID("kiosk-1").SetTLSConfig(site.TLS(cred)))
	if tok := kiosk.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer kiosk.Disconnect(50)
	results := make(chan event.Result, 4)
	kiosk.Subscribe("kiosk/kiosk-1/results", 1, func(_ mqtt.Client, msg mqtt.Message) {
		var r event.Result
		json.Unmarshal(msg.Payload(), &r)
		results <- r
	}).Wait()
	cardKey, cardCert, err := igc.UnlockedSigner("cps-medecin")
	if err != nil {
		t.Fatal(err)
	}
	insc, _ := ins.INSC("LÉA", "100504", "1800269123045")
	yes := true
	send := func(id string, seq int64) event.Result {
		t.Helper()
		e := &event.Event{Type: event.TypeCreate, ID: id, Device: "kiosk-1", Site: event.Site{FINESS: "750712184", Unit: "ACCUEIL"},
			Context: "admission", Regime: "legacy", Time: time.Now().UTC(), Seq: seq,
			Patient: event.Patient{INSC: insc, Traits: ins.Traits{BirthName: "DURAND", FirstName: "LEA", FirstNames: []string{"LEA"}, Sex: "I", BirthDate: "20100504"}},
			Professional: event.Professional{NationalID: "810100456789", NationalIDType: "RPPS", CardType: "CPS", CardSerial: "0000104567",
				Surname: "LEROY", FirstName: "SOPHIE", Profession: "10", Speciality: "SM26"},
			Consent: event.Consent{Informed: true, Creation: &yes, Authorization: true, EmergencyOpposition: true}}
		jwe, err := event.Seal(e, event.Signer{Key: cred.PrivateKey.(crypto.Signer), Chain: []*x509.Certificate{cred.Leaf}},
			event.Signer{Key: cardKey, Chain: []*x509.Certificate{cardCert}}, &site.EncKey.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		kiosk.Publish("kiosk/kiosk-1/events", 1, false, jwe).Wait()
		select {
		case r := <-results:
			if r.EventID != id {
				t.Fatalf("result for %q, want %q", r.EventID, id)
			}
			return r
		case <-time.After(30 * time.Second):
			t.Fatalf("no result for %s\n%s", id, stderr.String())
		}
		return event.Result{}
	}
	r := send("0190f1c2-bbbb-7000-8000-000000000001", 1)
	if r.Outcome != event.OutcomeCreated || !strings.Contains(r.Message, "DMP créé") {
		t.Fatalf("result %+v", r)
	}
	d, err := sim.Record(context.Background(), dmp.PatientID{Root: dmp.OIDINSC, Extension: insc}, "1750712184")
	if err != nil || !d.Exists || !d.OppUrgence || d.Authorization != dmp.AuthValid {
		t.Fatalf("DMP %+v %v", d, err)
	}
	if code, page := get("/events"); code != http.StatusOK || !strings.Contains(page, "0190f1c2-bbbb-7000-8000-000000000001") ||
		!strings.Contains(page, "done") || strings.Contains(page, "DURAND") {
		t.Fatalf("events page %d:\n%s", code, page)
	}
	traces, _ := filepath.Glob(filepath.Join(dir, "traces", "*-request.xml"))
	if len(traces) != 3 {
		t.Fatalf("homologation traces: %v", traces)
	}

	// The DMP refuses: dead letter with the reason, the kiosk told.
	sim.Inject("DMPAccessDeniedByRightsService")
	r = send("0190f1c2-bbbb-7000-8000-000000000002", 2)
	if r.Outcome != event.OutcomeError || !strings.Contains(r.Message, "refuse") {
		t.Fatalf("refused: %+v", r)
	}
	if _, page := get("/dead"); !strings.Contains(page, "0190f1c2-bbbb-7000-8000-000000000002") || !strings.Contains(page, "DMPAccessDeniedByRightsService") {
		t.Fatalf("dead letters:\n%s", page)
	}
	// The DMP unavailable twice: retried with backoff, then done; the
	// patient's DMP exists now.
	sim.Inject("DMPServiceUnavailable", "DMPServiceUnavailable")
	r = send("0190f1c2-bbbb-7000-8000-000000000003", 3)
	if r.Outcome != event.OutcomeExists {
		t.Fatalf("after retries: %+v", r)
	}
	if _, m := get("/metrics"); !strings.Contains(m, "dmpbridge_events_dead_total 1") || !strings.Contains(m, "dmpbridge_events_failed_total 2") {
		t.Fatalf("metrics:\n%s", m)
	}
	stop()
	// The journal the configuration names, as the IT team checks it.
	out, err := exec.Command(buildBridge(t), "audit", "verify", "--config", b.ConfigPath()).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "intact") {
		t.Fatalf("%v\n%s", err, out)
	}
	if strings.Contains(stderr.String(), "DURAND") || strings.Contains(stderr.String(), insc) {
		t.Fatalf("patient data in the log:\n%s", stderr.String())
	}
	b.CheckNoPII(t)
}

// dmp-request --dry-run prints a request whose VIHF xmlsec1 verifies
// against the test authority, and refuses once altered.
func TestDMPRequestDryRun(t *testing.T) {
	bin := buildBridge(t)
	xmlsec := hwtest.LookPath(t, "xmlsec1", "xmlsec1")
	dir := t.TempDir()
	ca := filepath.Join(dir, "igc.pem")
	out, err := exec.Command(bin, "dmp-request", "--dry-run", "--transaction", "TD0.2", "--ins", "180026912304527",
		"--oid", ins.OIDNIR, "--ca-out", ca).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<wsa:Action soap:mustUnderstand=\"true\">urn:hl7-org:v3:PRPA_IN201307UV02</wsa:Action>",
		"INDIRECTE_RENFORCEE", "180026912304527^^^&amp;1.2.250.1.213.1.4.8&amp;ISO^NH", "TEST_EXST", "xml-exc-c14n", "rsa-sha256"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("request lacks %q:\n%s", want, out)
		}
	}
	verify := func(doc []byte) error {
		p := filepath.Join(dir, "req.xml")
		os.WriteFile(p, doc, 0o600)
		o, err := exec.Command(xmlsec, "--verify", "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
			"--trusted-pem", ca, p).CombinedOutput()
		if err != nil {
			return errors.New(string(o))
		}
		return nil
	}
	if err := verify(out); err != nil {
		t.Fatalf("xmlsec1 refuses the request: %v", err)
	}
	for _, alter := range [][2]string{{"810100456789", "810100456780"}, {"INDIRECTE_RENFORCEE", "DIRECTE"}, {"180026912304527^", "280026912304527^"}} {
		if err := verify([]byte(strings.Replace(string(out), alter[0], alter[1], 1))); err == nil {
			t.Fatalf("xmlsec1 accepts the VIHF altered (%s → %s)", alter[0], alter[1])
		}
	}
	// Another authority: refused too.
	other, _ := cards.NewIGCSante()
	writePEM(t, ca, "CERTIFICATE", other.Cert.Raw)
	if err := verify(out); err == nil {
		t.Fatal("xmlsec1 accepts a VIHF signed under another authority")
	}
}

// Every request the dry run prints, for each transaction, is valid against
// the package DMP's official schemas (xmllint), VIHF included.
func TestDMPRequestDryRunValidates(t *testing.T) {
	bin := buildBridge(t)
	schemas, err := dmpsim.OpenSchemas()
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--transaction", "TD0.2"}, {"--transaction", "TD1.3a"}, {"--transaction", "TD1.1"},
		{"--transaction", "TD0.3", "--action", "AJOUT"}, {"--transaction", "TD0.3", "--action", "SUPPRESSION"}} {
		out, err := exec.Command(bin, append([]string{"dmp-request", "--dry-run", "--ins", "279035121518989", "--oid", ins.OIDNIR}, args...)...).Output()
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if err := schemas.ValidateEnvelope(context.Background(), out); err != nil {
			t.Errorf("%v: %v", args, err)
		}
		for _, want := range []string{`Name="Authentification_mode"`, "<softwareName>dmpkiosk</softwareName>"} {
			if (args[1] != "TD0.3" || strings.HasPrefix(want, "Name")) && !strings.Contains(string(out), want) {
				t.Errorf("%v: no %s", args, want)
			}
		}
		if args[1] == "TD1.1" {
			for _, want := range []string{"<family qualifier=\"BR\">DUPONT</family>", `<administrativeGenderCode code="F">`, `<birthTime value="19800214">`,
				"<family>LEROY</family>", `<author typeCode="AUT">`, "<providerOrganization"} {
				if !strings.Contains(string(out), want) {
					t.Errorf("TD1.1 lacks %s", want)
				}
			}
		}
	}
}

// The hospital's bridge never links the test rig, the testing package or
// the card layer (it must build and run without libpcsclite).
func TestBridgeLinksNoTestCode(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "testing" || strings.HasPrefix(dep, "dmpkiosk/hwtest") || strings.Contains(dep, "ebfe/scard") || strings.HasPrefix(dep, "dmpkiosk/bridge/dmp/dmpsim") || strings.HasPrefix(dep, "dmpkiosk/bridge/insi/insisim") {
			t.Errorf("cmd/bridge depends on %s", dep)
		}
	}
}

// dmp-request sends one transaction for real over mutual TLS (to the DMP
// simulator, with explicit PEM files) and ends with the parsed outcome as
// JSON; a refusal exits non-zero with the DMP's own code.
func TestDMPRequestSend(t *testing.T) {
	bin := buildBridge(t)
	dir := t.TempDir()
	igc, err := cards.NewIGCSante()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []struct {
		name string
		use  string
	}{{"sign", cards.OrgSign}, {"auth", cards.OrgAuthCli}} {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := igc.OrgCertificate(key, k.use, "750712001", "CHU TEST")
		if err != nil {
			t.Fatal(err)
		}
		der, _ := x509.MarshalPKCS8PrivateKey(key)
		writePEM(t, filepath.Join(dir, k.name+".key"), "PRIVATE KEY", der)
		writePEM(t, filepath.Join(dir, k.name+".pem"), "CERTIFICATE", cert.Raw)
	}
	pid := dmp.PatientID{Root: ins.OIDNIR, Extension: "279035121518989"}
	sim, err := dmpsim.New(dmpsim.Options{DB: filepath.Join(dir, "dmp.db"), Regime: dmpsim.Legacy, OrgRoots: igc.Pool(), CheckAnswers: true,
		People: []dmpsim.Person{{IDs: []dmp.PatientID{pid, {Root: "1.2.250.1.213.1.4.10", Extension: pid.Extension}},
			Demographics: dmp.Demographics{BirthName: "PAT-TROIS", FirstName: "DOMINIQUE", Sex: "F", BirthDate: "19790328"}}}})
	if err != nil {
		t.Fatal(err)
	}
	srvCA := hwtest.NewCA(t, "DMP server CA")
	writePEM(t, filepath.Join(dir, "server-ca.pem"), "CERTIFICATE", srvCA.Cert.Raw)
	l, err := tls.Listen("tcp", "127.0.0.1:0", sim.TLSConfig(srvCA.ServerRSA(t, "localhost").TLS()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { sim.Serve(ctx, l); close(served) }()
	t.Cleanup(func() {
		cancel()
		<-served
		for _, e := range sim.AnswerErrors() {
			t.Errorf("simulator answer refused by the schemas: %s", e)
		}
		sim.Close()
	})
	_, port, _ := net.SplitHostPort(l.Addr().String())
	run := func(args ...string) (map[string]any, string, error) {
		cmd := exec.Command(bin, append([]string{"dmp-request", "--endpoint", "https://localhost:" + port + dmpsim.Path,
			"--server-ca", filepath.Join(dir, "server-ca.pem"), "--auth-cert", filepath.Join(dir, "auth.pem"), "--auth-key", filepath.Join(dir, "auth.key"),
			"--sign-cert", filepath.Join(dir, "sign.pem"), "--sign-key", filepath.Join(dir, "sign.key"), "--ins", pid.Extension, "--oid", pid.Root,
			"--birth-name", "PAT-TROIS", "--patient-first-name", "DOMINIQUE", "--sex", "F", "--birth-date", "19790328"}, args...)...)
		out, err := cmd.Output()
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		var o map[string]any
		if jerr := json.Unmarshal([]byte(lines[len(lines)-1]), &o); jerr != nil {
			t.Fatalf("%v: last line is not JSON: %v\n%s", args, jerr, out)
		}
		return o, string(out), err
	}
	check := func(args []string, want string, wantErr bool) {
		t.Helper()
		o, out, err := run(args...)
		b, _ := json.Marshal(o)
		if string(b) != want || (err != nil) != wantErr {
			t.Fatalf("%v: %s (exit %v), want %s\n%s", args, b, err, want, out)
		}
		if !strings.Contains(out, "<soap:Envelope") || strings.Count(out, "</soap:Envelope>") != 2 {
			t.Fatalf("%v: the request and the answer are not both printed:\n%s", args, out)
		}
	}
	check([]string{"--transaction", "TD0.2"}, `{"attending_physician":false,"authorization":"NON_EXISTE","exists":false,"transaction":"TD0.2"}`, false)
	check([]string{"--transaction", "TD1.1"}, `{"created":true,"transaction":"TD1.1"}`, false)
	check([]string{"--transaction", "TD1.1"}, `{"fault":{"code":"Sender","reason":"le patient a déjà un DMP","subcode":"DMPFound"},"transaction":"TD1.1"}`, true)
	check([]string{"--transaction", "TD0.3", "--action", "AJOUT"}, `{"context":"Autorisation ajoutée","status":"DMPOk","transaction":"TD0.3"}`, false)
	check([]string{"--transaction", "TD0.2"}, `{"attending_physician":false,"authorization":"VALIDE","exists":true,"transaction":"TD0.2"}`, false)
	check([]string{"--transaction", "TD1.3a"}, `{"exists":true,"observations":{"OPPOSITION_ACCES_URGENCE":false,"OPPOSITION_BRIS_DE_GLACE":false},"transaction":"TD1.3a"}`, false)

	// Feeding, finding, replacing and deleting the golden document of
	// the same person under her test NIR (the CDA's).
	golden := filepath.Join("..", "..", "bridge", "dmp", "testdata", "cda", "DOC_NON_STRUCTURE_CDA-R2-N1.xml")
	test := []string{"--ins", pid.Extension, "--oid", "1.2.250.1.213.1.4.10"}
	const goldenID = "1.3.6.1.4.1.19376.1.2.20.12345.1.1"
	if o, out, err := run("--transaction", "TD2.1", "--cda", golden); err != nil || o["status"] != "Success" || o["unique_id"] != goldenID {
		t.Fatalf("TD2.1: %v %v\n%s", o, err, out)
	}
	found := func() []any {
		t.Helper()
		o, out, err := run(append(test, "--transaction", "TD3.1")...)
		l, _ := o["entries"].([]any)
		if err != nil || o["status"] != "Success" {
			t.Fatalf("TD3.1: %v %v\n%s", o, err, out)
		}
		return l
	}
	entries := found()
	if len(entries) != 1 {
		t.Fatalf("TD3.1: %d entries", len(entries))
	}
	first := entries[0].(map[string]any)
	if first["unique_id"] != goldenID || first["type"] != "11502-2" || first["class"] != "10" || first["format"] != "urn:ihe:iti:xds-sd:pdf:2008" ||
		first["created"] != "2021-04-01T12:47:45Z" || first["status"] != dmp.StatusApproved {
		t.Fatalf("TD3.1's entry: %v", first)
	}
	cda, _ := os.ReadFile(golden)
	v2, err := dmpsim.Revise(cda, goldenID+".2")
	if err != nil {
		t.Fatal(err)
	}
	v2Path := filepath.Join(dir, "v2.xml")
	os.WriteFile(v2Path, v2, 0o644)
	o, out, err := run("--transaction", "TD2.1", "--cda", v2Path, "--replaces", goldenID)
	if err != nil || o["status"] != "Success" || o["replaces_entry_uuid"] != first["entry_uuid"] || strings.Count(out, "</soap:Envelope>") != 4 {
		t.Fatalf("TD2.1 --replaces: %v %v\n%s", o, err, out)
	}
	if o, _, err := run("--transaction", "TD2.1", "--cda", v2Path, "--replaces", goldenID); err == nil || o["error"] == nil {
		t.Fatalf("replacing a version no longer approved: %v", o)
	}
	entries = found()
	if len(entries) != 1 || entries[0].(map[string]any)["unique_id"] != goldenID+".2" {
		t.Fatalf("after the replacement: %v", entries)
	}
	v2Entry := entries[0].(map[string]any)["entry_uuid"].(string)

	// Reading in AIR, the professional named by his card's certificate.
	cardPEM := func(profile string) string {
		_, c, err := igc.UnlockedSigner(profile)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, profile+".pem")
		writePEM(t, p, "CERTIFICATE", c.Raw)
		return p
	}
	doctor, cpe := cardPEM("cps-medecin"), cardPEM("cpe-accueil")
	if o, out, err := run(append(test, "--transaction", "TD3.1", "--professional", doctor)...); err != nil || len(o["entries"].([]any)) != 1 ||
		!strings.Contains(out, ">INDIRECTE_RENFORCEE<") {
		t.Fatalf("TD3.1 in AIR: %v %v", o, err)
	}
	if o, _, err := run(append(test, "--transaction", "TD1.6", "--professional", doctor)...); err != nil || o["status"] != "DMPOk" {
		t.Fatalf("TD1.6 in AIR: %v %v", o, err)
	}
	read := filepath.Join(dir, "read.xml")
	o, out, err = run(append(test, "--transaction", "TD3.2", "--professional", doctor, "--purpose", "bris_de_glace", "--unique-id", goldenID+".2", "--out", read)...)
	if got, _ := os.ReadFile(read); err != nil || o["status"] != "Success" || string(got) != string(v2) || strings.Contains(out, "ClinicalDocument") ||
		!strings.Contains(out, `code="bris_de_glace"`) {
		t.Fatalf("TD3.2: %v %v", o, err)
	}
	// A CPE: no VIHF without the establishment's staff role, and the DMP
	// would refuse him TD3.2 anyway (bridge/dmp's tests).
	if o, _, err := run(append(test, "--transaction", "TD3.2", "--professional", cpe, "--unique-id", goldenID+".2", "--out", read)...); err == nil ||
		o["fault"] == nil && o["error"] == nil {
		t.Fatalf("TD3.2 by a CPE: %v", o)
	}
	check(append(test, "--transaction", "TD3.3c", "--entry-uuid", v2Entry), `{"status":"Success","transaction":"TD3.3c"}`, false)
	if len(found()) != 0 {
		t.Fatal("TD3.3c did not delete")
	}
	if o, _, err := run(append(test, "--transaction", "TD3.3c", "--entry-uuid", v2Entry)...); err == nil || o["registry_error"] == nil {
		t.Fatalf("deleted twice: %v %v", o, err)
	}
}

// bridge insi-request: the dry run validates against the official INSi
// schemas; sent for real to the simulator over mutual TLS with an
// INSI-MANU certificate, it prints the request, the answer and the outcome.
func TestINSIRequest(t *testing.T) {
	bin := buildBridge(t)
	v, err := insisim.OpenValidator()
	if err != nil {
		t.Fatal(err)
	}
	traits := []string{"--birth-name", "D'ARTAGNAN DE L'HERAULT", "--first-names", "PIERRE-ALAIN", "--sex", "M", "--birth-date", "2001-06-17"}
	out, err := exec.Command(bin, append([]string{"insi-request", "--dry-run", "--idam", "TESTSGIE0000"}, traits...)...).Output()
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Validate(context.Background(), out); err != nil || !strings.Contains(string(out), "<ins:NomNaissance>D'ARTAGNAN DE L'HERAULT</ins:NomNaissance>") {
		t.Fatalf("dry run: %v\n%s", err, out)
	}

	dir := t.TempDir()
	ca := hwtest.NewCA(t, "TEST AC IGC-SANTE ELEMENTAIRE ORGANISATIONS")
	ca.Client(t, "INSI-MANU").WriteFiles(t, filepath.Join(dir, "insi.pem"), filepath.Join(dir, "insi.key"))
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", ca.Cert.Raw)
	sim := insisim.New(insisim.Options{IDAMs: []string{"TESTSGIE0000"}, Latency: func() time.Duration { return 0 }, Check: v.Validate})
	srv := httptest.NewUnstartedServer(sim)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool(), Certificates: []tls.Certificate{ca.Server(t, "insi").TLS()}}
	srv.StartTLS()
	defer srv.Close()
	send := func(idam string, args ...string) (string, string, error) {
		out, err := exec.Command(bin, append([]string{"insi-request", "--endpoint", srv.URL + "/lps", "--server-ca", filepath.Join(dir, "ca.pem"),
			"--cert", filepath.Join(dir, "insi.pem"), "--key", filepath.Join(dir, "insi.key"), "--idam", idam}, args...)...).Output()
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		return lines[len(lines)-1], string(out), err
	}
	last, all, err := send("TESTSGIE0000", traits...)
	want := `{"operation":"rechercherInsAvecTraitsIdentite","cr":"00","ins":{"value":"1010663220754","key":"60","oid":"1.2.250.1.213.1.4.8"},` +
		`"traits":{"birth_name":"D'ARTAGNAN DE L'HERAULT","first_names":"PIERRE-ALAIN GUNTHER","sex":"M","birth_date":"2001-06-17","birth_place":"63220"}}`
	if err != nil || last != want || strings.Count(all, "</soap:Envelope>") != 2 {
		t.Fatalf("sent: %v\n%s\nwant %s", err, all, want)
	}
	last, _, err = send("INCONNU", traits...)
	if err == nil || last != `{"operation":"rechercherInsAvecTraitsIdentite","fault":{"code":"desir_550","subcode":"siram_100","severity":"erreur","reason":"L'accès par ce progiciel au service n'est pas autorisé."}}` {
		t.Fatalf("unknown IDAM: %v %s", err, last)
	}
	// With the bridge's configuration: its [insi] keys, the installation's
	// UUID made once and kept, the call audited in its journal.
	toml := `id = "bridge-1"
broker = "ssl://localhost:1"
kiosk_ca = "x"
crl = "x"
cert = "x"
key = "x"
enc_key = "x"
card_ca = ["x"]
[journal]
path = "journal.db"
[dmp]
url = "https://dmp.invalid/"
sign_cert = "x"
auth_cert = "x"
sign_key = "x"
auth_key = "x"
[insi]
url = "` + srv.URL + `/lps"
server_ca = "ca.pem"
manu_cert = "insi.pem"
manu_key = "insi.key"
auto_cert = "insi.pem"
auto_key = "insi.key"
idam = "TESTSGIE0000"
`
	if err := os.WriteFile(filepath.Join(dir, "bridge.toml"), []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	var instances []string
	for range 2 {
		out, err := exec.Command(bin, append([]string{"insi-request", "--config", filepath.Join(dir, "bridge.toml")}, traits...)...).Output()
		if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), want) {
			t.Fatalf("with --config: %v\n%s", err, out)
		}
		m := regexp.MustCompile(`<ctxlps:Instance>([^<]+)</ctxlps:Instance>`).FindSubmatch(out)
		if m == nil {
			t.Fatal("no installation UUID in the request")
		}
		instances = append(instances, string(m[1]))
	}
	if instances[0] != instances[1] {
		t.Errorf("the installation UUID changed: %v", instances)
	}
	j, err := journal.OpenSQLite(filepath.Join(dir, "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if n, broken, err := j.VerifyAudit(context.Background()); err != nil || broken != 0 || n != 2 {
		t.Errorf("the INSi calls in the audit trail: %d links, broken %d, %v", n, broken, err)
	}
	for _, e := range sim.AnswerErrors() {
		t.Errorf("simulator answer refused by the schemas: %v", e)
	}
}

// dmp-request --transaction TD2.1 --dry-run prints the whole MTOM request
// (its Content-Type, the package with its boundaries and parts), which,
// unpacked, the package DMP's schemas take; a CDA the checks refuse is
// refused here too (non-zero exit, nothing printed).
func TestDMPRequestFeedDryRun(t *testing.T) {
	bin := buildBridge(t)
	cda := filepath.Join("..", "..", "bridge", "dmp", "testdata", "cda", "DOC_NON_STRUCTURE_CDA-R2-N1.xml")
	out, err := exec.Command(bin, "dmp-request", "--dry-run", "--transaction", "TD2.1", "--cda", cda, "--invisible-patient").Output()
	if err != nil {
		t.Fatal(err)
	}
	head, pkg, ok := strings.Cut(string(out), "\n\n")
	ct := strings.TrimPrefix(head, "Content-Type: ")
	if !ok || !strings.HasPrefix(ct, "multipart/related") || strings.Count(pkg, "Content-ID: <") != 3 {
		t.Fatalf("not an MTOM request:\n%.800s", out)
	}
	schemas, err := dmpsim.OpenSchemas()
	if err != nil {
		t.Fatal(err)
	}
	plain, err := schemas.ValidateMTOM(context.Background(), ct, []byte(strings.TrimSuffix(pkg, "\n")))
	if err != nil {
		t.Fatalf("the official schemas refuse it: %v", err)
	}
	if !strings.Contains(string(plain), `nodeRepresentation="INVISIBLE_PATIENT"`) || !strings.Contains(string(plain), ">INDIRECTE<") {
		t.Error("the flag or the indirect mode is missing")
	}
	bad := filepath.Join(t.TempDir(), "bad.xml")
	os.WriteFile(bad, []byte(`<ClinicalDocument xmlns="urn:hl7-org:v3"><id root="1.2.3" extension="4"/></ClinicalDocument>`), 0o644)
	if out, err := exec.Command(bin, "dmp-request", "--dry-run", "--transaction", "TD2.1", "--cda", bad).Output(); err == nil || len(out) != 0 {
		t.Fatalf("a refused CDA: %v\n%s", err, out)
	}
	// A CDA the structuration-minimale rules refuse, the rules named.
	golden, _ := os.ReadFile(cda)
	os.WriteFile(bad, []byte(strings.Replace(string(golden), `<setId root="1.3.6.1.4.1.19376.1.2.20.12345.1"/>`, "", 1)), 0o644)
	cmd := exec.Command(bin, "dmp-request", "--dry-run", "--transaction", "TD2.1", "--cda", bad)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if out, err := cmd.Output(); err == nil || len(out) != 0 || !strings.Contains(stderr.String(), "SM-SETID") {
		t.Fatalf("a CDA without setId: %v\n%s\n%s", err, out, stderr.String())
	}
}
