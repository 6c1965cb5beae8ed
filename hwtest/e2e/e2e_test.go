// Package e2e drives the whole system as its users do: headless Chromium on
// the kiosk's web view (buttons, keypad, virtual card tray over real pcscd
// and vpcd), the kiosk, mosquitto, the bridge and the DMP simulator; and
// the IT team's admin pages.
package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	_ "modernc.org/sqlite"

	"dmpkiosk/bridge/dmp"
	"dmpkiosk/bridge/dmp/dmpsim"
	"dmpkiosk/bridge/insi/insisim"
	"dmpkiosk/firmware/event"
	"dmpkiosk/hwtest"
	"dmpkiosk/hwtest/gam"
	"dmpkiosk/hwtest/system"
	"dmpkiosk/ins"
)

var screens = flag.Bool("screens", false, "also write the README's screenshots to hwtest/e2e/screens")

var bins map[string]string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "dmpkiosk-e2e-")
	if err != nil {
		panic(err)
	}
	if bins, err = system.BuildTo(dir, "kiosk", "bridge", "cardsim"); err != nil {
		os.RemoveAll(dir)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// scenario is one user's path through the system.
type scenario struct {
	t      *testing.T
	name   string
	b      *system.Bridge
	k      *system.Kiosk
	ctx    context.Context // the kiosk's tab
	shot   int
	regime string
}

func start(t *testing.T, regime string, kioskConf ...string) *scenario {
	t.Helper()
	return startWith(t, system.BridgeOptions{Regime: regime}, kioskConf...)
}

// startWith starts the system with a bridge of those options (the test
// GAM's patients added).
func startWith(t *testing.T, o system.BridgeOptions, kioskConf ...string) *scenario {
	t.Helper()
	hwtest.StartPCSCD(t)
	regime := o.Regime
	s := &scenario{t: t, name: strings.TrimPrefix(t.Name(), "Test"), regime: regime}
	o.GAM = gamPatients
	s.b = system.StartBridge(t, bins["bridge"], o)
	s.k = system.StartKiosk(t, bins, s.b, "kiosk-1", regime, kioskConf...)
	// The admin web's certificate is from the test's own authority.
	ctx := hwtest.Browser(t, 1100, 820, 3*time.Minute, chromedp.Flag("ignore-certificate-errors", true))
	s.ctx = ctx
	s.do(chromedp.Navigate(s.k.Web))
	s.see("Insérez les cartes")
	return s
}

// gamPatients are the test GAM's: some of the virtual cards' people, with
// the traits INSi gives them.
var gamPatients = []gam.Patient{
	{IPP: "100001", BirthName: "DURAND", FirstName: "LEA", BirthDate: "20100504", Sex: "F"},
	{IPP: "100002", BirthName: "MARTIN", FirstName: "PAUL", BirthDate: "19750612", Sex: "M"},
	{IPP: "100003", BirthName: "DURAND", FirstName: "HELENE", BirthDate: "19820930", Sex: "F"},
}

func (s *scenario) do(actions ...chromedp.Action[chromedp.Void]) {
	s.t.Helper()
	if err := chromedp.Do(s.ctx, actions...); err != nil {
		page, _ := chromedp.Run(context.WithoutCancel(s.ctx), chromedp.Evaluate[string](`document.getElementById("text").textContent + " | tray: " + document.getElementById("traymsg").textContent`))
		s.t.Fatalf("%v\nscreen: %s\nkiosk log:\n%s\nbridge log:\n%s", err, page, s.k.Log, s.b.Log)
	}
}

// see waits until the kiosk's screen text says want.
func (s *scenario) see(want string) {
	s.t.Helper()
	s.do(chromedp.Poll[chromedp.Void](`document.getElementById("text").textContent.includes(`+strconv.Quote(want)+`)`,
		chromedp.WithPollingTimeout(30*time.Second)))
}

// screenshot saves the page as a test artifact (and, with -screens, for
// the README).
func (s *scenario) screenshot(ctx context.Context, what string) {
	s.t.Helper()
	s.save(ctx, chromedp.FullScreenshot(100), what)
}

// viewportShot is screenshot of what the window shows: a full-page capture
// leaves out the content of a sandboxed frame (another origin's).
func (s *scenario) viewportShot(ctx context.Context, what string) {
	s.t.Helper()
	chromedp.Run(ctx, chromedp.Evaluate[bool](`window.scrollTo(0, 0), true`))
	time.Sleep(200 * time.Millisecond)
	s.save(ctx, chromedp.CaptureScreenshot(), what)
}

func (s *scenario) save(ctx context.Context, shot chromedp.Action[[]byte], what string) {
	s.t.Helper()
	buf, err := chromedp.Run(ctx, shot)
	if err != nil {
		s.t.Fatal(err)
	}
	s.shot++
	dir := filepath.Join("..", "..", "artifacts", "e2e")
	os.MkdirAll(dir, 0o755)
	name := s.name + "-" + strconv.Itoa(s.shot) + "-" + what + ".png"
	if err := os.WriteFile(filepath.Join(dir, name), buf, 0o644); err != nil {
		s.t.Fatal(err)
	}
	if *screens {
		os.MkdirAll("screens", 0o755)
		os.WriteFile(filepath.Join("screens", s.name+"-"+what+".png"), buf, 0o644)
	}
}

func (s *scenario) tray(slot int, action, profile string) {
	s.t.Helper()
	sel := `[data-slot="` + strconv.Itoa(slot) + `"][data-act="` + action + `"]`
	if profile != "" {
		s.do(chromedp.WaitVisible("#tray"), chromedp.SetValue("#profile", profile))
	}
	s.do(chromedp.Click(sel))
}

func (s *scenario) press(b string) {
	s.t.Helper()
	s.do(chromedp.Click("#b-" + b))
	time.Sleep(150 * time.Millisecond) // a person's pace; each press is its own request
}

// consent: the patient informed, the establishment's access given, no
// opposition (the current regime's questions).
func (s *scenario) consent() {
	s.t.Helper()
	s.inform()
	s.answers()
}

// answers: at the first question, the patient informed, the
// establishment's access given, no opposition.
func (s *scenario) answers() {
	s.t.Helper()
	s.press("oui")
	s.see("autorise")
	s.press("oui")
	s.see("bris de glace")
	s.press("valider")
	s.see("centre 15")
	s.press("valider")
}

// inform: the patient reads the DMP information's pages in French, up to
// the first question.
func (s *scenario) inform() {
	s.t.Helper()
	s.see("Choisissez votre langue")
	s.press("valider")
	for i := 1; i <= 5; i++ {
		s.see(fmt.Sprintf("Page %d sur 5", i))
		s.press("valider")
	}
	s.see("informé")
}

// passport: the identity on screen, the professional says a document was
// checked and chooses the first offered (the passport).
func (s *scenario) passport() {
	s.t.Helper()
	s.press("oui")
	s.see("Quelle pièce")
	s.press("valider")
}

// identical: INSi's traits on screen, the professional finds them the
// document's.
func (s *scenario) identical() {
	s.t.Helper()
	s.see("Identique à la pièce d'identité")
	s.press("oui")
}

func (s *scenario) pin(code string) {
	s.t.Helper()
	for _, c := range code {
		s.do(chromedp.Click(`[data-k="` + string(c) + `"]`))
		time.Sleep(80 * time.Millisecond)
	}
}

// cards inserts a Vitale card and a professional's card and types the
// PIN, up to the screen that says next.
func (s *scenario) cards(vitale, pro, pin, next string) {
	s.t.Helper()
	s.tray(0, "insert", vitale)
	s.tray(1, "insert", pro)
	s.see("Code de la carte professionnelle")
	s.pin(pin)
	s.see(next)
}

// nothingSent checks that neither the journal nor the DMP saw anything.
func (s *scenario) nothingSent(after string) {
	s.t.Helper()
	if j := s.journal(); len(j) != 0 {
		s.t.Fatalf("journal after %s: %v", after, j)
	}
	if got := s.dmpTrace(); got != "" {
		s.t.Fatalf("DMP called after %s: %q", after, got)
	}
}

// journal reads the bridge's journal: state and outcome of each event.
func (s *scenario) journal() map[string][2]string {
	s.t.Helper()
	db, err := sql.Open("sqlite", "file:"+s.b.Journal+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		s.t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT id, state, outcome FROM events`)
	if err != nil {
		s.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][2]string{}
	for rows.Next() {
		var id, st, oc string
		rows.Scan(&id, &st, &oc)
		out[id] = [2]string{st, oc}
	}
	return out
}

// admin opens an admin page in a second tab with the password, checks it
// says want and saves it.
func (s *scenario) admin(path, what string, want ...string) {
	s.t.Helper()
	ctx, cancel := chromedp.NewContext(s.ctx)
	defer cancel()
	if err := hwtest.BasicAuth(ctx, "admin", s.b.Password); err != nil {
		s.t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(s.b.AdminURL+strings.TrimPrefix(path, "/"))); err != nil {
		s.t.Fatal(err)
	}
	for _, w := range want {
		// The page may still be loading: an evaluation in a context being
		// replaced fails, and is tried again.
		var err error
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			var ok bool
			if ok, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`document.body !== null && document.body.innerText.includes(`+strconv.Quote(w)+`)`)); err == nil && ok {
				break
			} else if err == nil {
				err = errors.New("not on the page")
			}
		}
		if err != nil {
			body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
			s.t.Fatalf("admin %s lacks %q (%v):\n%s", path, w, err, body)
		}
	}
	s.screenshot(ctx, what)
}

func (s *scenario) auditIntact() {
	s.t.Helper()
	s.admin("/audit", "admin-audit", "Chaîne d'audit intègre")
}

func (s *scenario) dmpTrace() string {
	s.t.Helper()
	tr, err := s.b.Sim.Trace(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	var out []string
	for _, a := range tr {
		out = append(out, a.Tx+":"+a.Outcome)
	}
	return strings.Join(out, " ")
}

// onlyEvent is the one event of the journal.
func (s *scenario) onlyEvent() (string, [2]string) {
	s.t.Helper()
	j := s.journal()
	if len(j) != 1 {
		s.t.Fatalf("journal holds %d events: %v", len(j), j)
	}
	for id, v := range j {
		return id, v
	}
	return "", [2]string{}
}

// kept is an event as the journal keeps it: its identity status and its
// payload, which must name an INS.
func (s *scenario) kept(id string) (string, event.Event) {
	s.t.Helper()
	var identity string
	var payload []byte
	s.b.JournalRow(s.t, `SELECT identity FROM events WHERE id = '`+id+`'`, &identity)
	s.b.JournalRow(s.t, `SELECT payload FROM events WHERE id = '`+id+`'`, &payload)
	var e event.Event
	if err := json.Unmarshal(payload, &e); err != nil || e.Patient.INS == nil {
		s.t.Fatalf("the event %s: %v", id, err)
	}
	return identity, e
}

func insOf(nir13 string) dmp.PatientID {
	n, _ := ins.ParseNIR13(nir13)
	return dmp.PatientID{Root: ins.OIDNIR, Extension: n.String()}
}

// Legacy regime at the admission desk: the doctor's CPS and the family's
// Vitale card, a child chosen, the PIN, the consent to creation: "DMP
// créé"; the simulator holds the child's DMP (known by the INS-C), the
// journal the event done, the admin pages the event and the intact chain.
func TestLegacyCreation(t *testing.T) {
	s := start(t, dmpsim.Legacy)
	s.cards("vitale-famille", "cps-medecin", "1234#", "JEAN-PIERRE")
	s.screenshot(s.ctx, "kiosk-choose")
	s.press("non")
	s.press("non")
	s.press("oui") // LÉA
	s.see("LÉA")
	s.press("non") // no identity document this time
	s.see("Aucune pièce vérifiée")
	s.press("oui") // INSi's identity retained, récupérée: the INS-C stays the DMP's identifier
	s.inform()
	s.press("oui")
	s.see("création")
	s.screenshot(s.ctx, "kiosk-consent")
	s.press("oui")
	s.see("autorise")
	s.press("oui")
	s.see("bris de glace")
	s.press("valider")
	s.see("centre 15")
	s.press("valider")
	s.see("DMP créé")
	s.screenshot(s.ctx, "kiosk-created")

	insc, _ := ins.INSC("LÉA", "100504", "1800269123045")
	d, err := s.b.Sim.Record(context.Background(), dmp.PatientID{Root: dmp.OIDINSC, Extension: insc}, "1750712184")
	if err != nil || !d.Exists || !d.Consent || d.Authorization != dmp.AuthValid || d.OppBrisGlace || d.OppUrgence {
		t.Fatalf("DMP %+v %v", d, err)
	}
	if got := s.dmpTrace(); got != "TD0.2:NF TD1.1:created TD0.3:VALIDE" {
		t.Fatalf("DMP trace %q", got)
	}
	id, st := s.onlyEvent()
	if st != [2]string{"done", "created"} {
		t.Fatalf("journal %s: %v", id, st)
	}
	s.admin("/events", "admin-events", id, "traité", "DMP créé", "D•••")
	s.admin("/", "admin-fleet", "kiosk-1", "en ligne")
	s.admin("/infocentre", "admin-infocentre", "750712184", "ACCUEIL", "DMP créés", "Activité par jour")
	s.auditIntact()
}

// Current regime: the patient's DMP exists (Mon espace santé); the
// authorization is recorded, nothing created.
func TestCurrentRegime(t *testing.T) {
	s := start(t, dmpsim.Current)
	s.cards("vitale-seul", "cpe-accueil", "4321#", "MARTIN")
	s.passport() // an identity document was checked
	s.identical()
	s.inform()
	s.press("oui")
	s.see("autorise")
	s.press("oui")
	s.see("bris de glace")
	s.press("oui") // the patient opposes it
	s.see("centre 15")
	s.press("valider")
	s.see("Autorisation enregistrée")
	s.screenshot(s.ctx, "kiosk-authorized")
	d, err := s.b.Sim.Record(context.Background(), insOf("1750675112033"), "1750712184")
	if err != nil || d.Authorization != dmp.AuthValid || d.CreatedBy != "Mon espace santé" {
		t.Fatalf("DMP %+v %v", d, err)
	}
	if got := s.dmpTrace(); got != "TD0.2:OK TD0.3:VALIDE" {
		t.Fatalf("DMP trace %q", got)
	}
	if _, st := s.onlyEvent(); st != [2]string{"done", "authorized"} {
		t.Fatalf("journal %v", st)
	}
	s.admin("/events", "admin-events", "accès de l'établissement autorisé")
	s.auditIntact()
}

// A wrong PIN: the kiosk says how many tries are left; nothing is sent;
// the right PIN then goes on.
func TestWrongPIN(t *testing.T) {
	s := start(t, dmpsim.Current)
	s.cards("vitale-seul", "cps-medecin", "9999#", "Il reste 2 essai(s)")
	s.screenshot(s.ctx, "kiosk-wrong-pin")
	s.nothingSent("a wrong PIN")
	s.pin("1234#")
	s.see("MARTIN")
	if strings.Contains(s.k.Log.String(), "9999") || strings.Contains(s.k.Log.String(), "1234") {
		t.Fatal("a PIN in the kiosk's log")
	}
	s.auditIntact()
}

// The Vitale card pulled out mid-session: the kiosk says so and sends
// nothing; the next patient starts afresh.
func TestCardPulled(t *testing.T) {
	s := start(t, dmpsim.Current)
	s.cards("vitale-seul", "cps-medecin", "1234#", "MARTIN")
	s.tray(0, "remove", "")
	s.see("Carte retirée")
	s.screenshot(s.ctx, "kiosk-card-pulled")
	time.Sleep(time.Second)
	s.nothingSent("a pulled card")
	s.tray(1, "remove", "")
	s.see("Insérez les cartes")
	s.auditIntact()
}

// The broker stops before the session ends: the event is kept in the
// kiosk's outbox and the screen says it will be sent; the broker back, it
// is delivered, processed once, and the result reaches the screen.
func TestBrokerRestart(t *testing.T) {
	s := start(t, dmpsim.Current)
	s.cards("vitale-famille", "cps-medecin", "1234#", "JEAN-PIERRE")
	s.press("non")
	s.press("oui") // HÉLÈNE, who has an INS of her own
	s.see("HÉLÈNE")
	s.passport()
	s.identical()
	s.inform()
	s.press("oui")
	s.see("autorise")
	s.press("oui")
	s.see("bris de glace")
	s.press("valider")
	s.see("centre 15")
	s.b.Mosquitto.Stop()
	s.press("valider")
	s.see("sera transmis")
	s.screenshot(s.ctx, "kiosk-queued")
	if j := s.journal(); len(j) != 0 {
		t.Fatalf("journal while the broker is down: %v", j)
	}
	s.b.Mosquitto.Start()
	s.see("Autorisation enregistrée")
	s.screenshot(s.ctx, "kiosk-delivered")
	if _, st := s.onlyEvent(); st != [2]string{"done", "authorized"} {
		t.Fatalf("journal %v", st)
	}
	if got := s.dmpTrace(); got != "TD0.2:OK TD0.3:VALIDE" {
		t.Fatalf("DMP trace %q (processed once)", got)
	}
	d, err := s.b.Sim.Record(context.Background(), insOf("2820933063112"), "1750712184")
	if err != nil || d.Authorization != dmp.AuthValid {
		t.Fatalf("DMP %+v %v", d, err)
	}
	s.auditIntact()
}

// Identity at the desk, current regime: the family card's child LÉA, whom
// INSi knows by an INS of her own (the Vitale search), a passport checked,
// INSi's traits on screen, "Identique": qualifiée, and only then the DMP
// transaction, under her INS.
func TestINSiQualifiedChild(t *testing.T) {
	s := start(t, dmpsim.Current)
	s.cards("vitale-famille", "cps-medecin", "1234#", "JEAN-PIERRE")
	s.press("non")
	s.press("non")
	s.press("oui") // LÉA
	s.see("LÉA")
	s.passport()
	s.see("Identité INSi")
	s.see("Lieu de naissance : 75056")
	s.screenshot(s.ctx, "kiosk-insi-traits")
	s.identical()
	s.consent()
	s.see("Autorisation enregistrée")
	id, st := s.onlyEvent()
	if st != [2]string{"done", "authorized"} {
		t.Fatalf("journal %s: %v", id, st)
	}
	identity, e := s.kept(id)
	if identity != "qualifiée" {
		t.Fatalf("the event's identity: %q", identity)
	}
	if calls := s.b.INSi.Calls(); calls != 1 {
		t.Errorf("%d INSi calls for one lookup", calls)
	}
	var lookups int
	s.b.JournalRow(t, `SELECT count(*) FROM lookups WHERE device = 'kiosk-1' AND outcome = 'found'`, &lookups)
	if lookups != 1 {
		t.Errorf("%d lookups kept", lookups)
	}
	// The GAM told: LÉA found by the PDQ query, her INS, a validated
	// identity (PID-32), her DMP answers.
	for deadline := time.Now().Add(20 * time.Second); s.b.GAM.Patient("100001").Updates == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the GAM was not told\n%s", s.b.Log)
		}
	}
	if p := s.b.GAM.Patient("100001"); p.INS != e.Patient.INS.Value || strings.Join(p.PID32, "~") != "VALI" || !strings.Contains(p.ZFA, "ACTIF") ||
		!strings.Contains(p.ZFA, "|IC|") || p.BirthPlace != "75056" {
		t.Fatalf("the GAM's LÉA: %+v", p)
	}
	s.admin("/sih", "admin-sih", "Messages acquittés (AA) : 1")
	s.auditIntact()
	s.b.CheckNoPII(t)
}

// INSi down at the desk: the kiosk says the identity stays provisional and
// goes on; the bridge looks the identity up itself when INSi is back
// (INSI-AUTO, after a fault it retries) and, the birth place never
// compared, makes no DMP transaction: "Identité à vérifier", listed for
// the identity staff.
func TestINSiDownThenLookedUpByTheBridge(t *testing.T) {
	s := start(t, dmpsim.Current)
	s.b.INSi.Inject(insisim.FaultUnavail, insisim.FaultUnavail, insisim.FaultUnavail)
	s.cards("vitale-seul", "cps-medecin", "1234#", "MARTIN")
	s.passport()
	s.see("identité reste provisoire")
	s.screenshot(s.ctx, "kiosk-insi-down")
	s.press("valider")
	s.consent()
	s.see("Identité à vérifier")
	id, st := s.onlyEvent()
	if st != [2]string{"done", "identity-check"} {
		t.Fatalf("journal %s: %v", id, st)
	}
	if got := s.dmpTrace(); got != "" {
		t.Fatalf("a DMP transaction for an unqualified identity: %q", got)
	}
	s.admin("/identities", "admin-identities", id, "identité à vérifier")
	s.auditIntact()
}

// A working day at the desk: the doctor signs in once; three patients
// follow, one of them interrupting their session by pulling their card,
// with no PIN between them; the screen says who is signed in; after the
// idle time the kiosk locks and the next patient asks the PIN again.
func TestSignedInOncePatientsFollow(t *testing.T) {
	s := start(t, dmpsim.Current, `lock_idle = "6s"`)
	s.cards("vitale-seul", "cps-medecin", "1234#", "MARTIN")
	patient := func() {
		s.t.Helper()
		s.passport()
		s.identical()
		s.consent()
		s.see("Autorisation enregistrée")
	}
	patient()
	for i := range 3 {
		s.tray(0, "remove", "")
		s.see("Patient suivant")
		s.see("connecté : SOPHIE LEROY")
		s.tray(0, "insert", "vitale-seul")
		s.see("MARTIN")
		if i == 1 {
			s.tray(0, "remove", "")
			s.see("Carte retirée")
			s.see("connecté : SOPHIE LEROY")
			s.tray(0, "insert", "vitale-seul")
			s.see("MARTIN")
		}
		if i == 0 {
			s.screenshot(s.ctx, "kiosk-next-patient-signed-in")
		}
		patient()
	}
	if j := s.journal(); len(j) != 4 {
		t.Fatalf("journal: %d events for four patients", len(j))
	}
	s.tray(0, "remove", "")
	s.see("Patient suivant")
	time.Sleep(7 * time.Second)
	s.tray(0, "insert", "vitale-seul")
	s.see("verrouillée")
	s.pin("1234#")
	s.see("MARTIN")
	s.auditIntact()
}

// Homonyms at INSi (CR 02): the card's NIR unknown to INSi, its traits
// those of two people; the kiosk asks the birth place, the professional
// types it, INSi finds one, whose traits are confirmed against the
// passport: the identity is qualified under INSi's INS, not the card's,
// and the access to the DMP recorded under it.
func TestINSiHomonymsNeedTheBirthPlace(t *testing.T) {
	s := start(t, dmpsim.Current)
	s.cards("vitale-homonyme", "cps-medecin", "1234#", "DE VINCI")
	s.passport()
	s.see("Plusieurs identités possibles")
	s.pin("63220")
	s.see("Code : 63220")
	s.screenshot(s.ctx, "kiosk-birth-place")
	s.press("valider")
	s.see("Identité INSi")
	s.see("Lieu de naissance : 63220")
	s.see("LEONARDO PIERO")
	s.identical()
	s.consent()
	s.see("Autorisation enregistrée") // her DMP, under INSi's INS
	id, st := s.onlyEvent()
	if st != [2]string{"done", "authorized"} {
		t.Fatalf("journal %s: %v", id, st)
	}
	identity, e := s.kept(id)
	if identity != "qualifiée" || !strings.HasPrefix(e.Patient.INS.Value, "1140263220833") || len(e.Patient.INS.Value) != 15 {
		t.Fatalf("identity %q, INS %+v", identity, e.Patient.INS)
	}
	if calls := s.b.INSi.Calls(); calls < 3 {
		t.Errorf("%d INSi calls: the Vitale search, the traits (02), the traits with the birth place", calls)
	}
	s.auditIntact()
}

// Someone INSi does not know (CR 01): the kiosk says so, and what to
// check; the identity stays provisional; the bridge's own lookup finds
// nobody either: "Identité à vérifier", no DMP transaction.
func TestINSiDoesNotKnowThePatient(t *testing.T) {
	s := start(t, dmpsim.Current)
	s.cards("vitale-inconnue", "cps-medecin", "1234#", "QUINTAL")
	s.passport()
	s.see("Identité non trouvée par l'INSi")
	s.see("Vérifiez l'orthographe des noms")
	s.screenshot(s.ctx, "kiosk-insi-not-found")
	s.press("valider")
	s.consent()
	s.see("Identité à vérifier")
	id, st := s.onlyEvent()
	if st != [2]string{"done", "identity-check"} {
		t.Fatalf("journal %s: %v", id, st)
	}
	if got := s.dmpTrace(); got != "" {
		t.Fatalf("a DMP transaction for an identity INSi does not know: %q", got)
	}
	var lookups int
	s.b.JournalRow(t, `SELECT count(*) FROM lookups WHERE device = 'kiosk-1' AND outcome = 'not-found'`, &lookups)
	if lookups != 1 {
		t.Errorf("%d not-found lookups kept", lookups)
	}
	s.auditIntact()
}
