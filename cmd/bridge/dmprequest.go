package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"strings"
	"time"

	"dmpkiosk/apdu/cps"
	"dmpkiosk/bridge/dmp"
	"dmpkiosk/bridge/feed"
	"dmpkiosk/bridge/server"
	"dmpkiosk/cmd/internal/cli"
	"dmpkiosk/firmware/event"
	"dmpkiosk/provisioning"
)

// runDMPRequest prints the complete signed SOAP request of one
// transaction. With --dry-run nothing is sent (throw-away keys unless
// --config gives the establishment's); otherwise the request goes to the
// DMP over mutual TLS, and the answer follows it, then on the last line the
// parsed outcome as one JSON object: what an integrator runs against the
// DMP's test environment during homologation.
func runDMPRequest(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := cli.Flags("bridge", "dmp-request", stderr)
	dry := fs.Bool("dry-run", false, "print the request, send nothing")
	tx := fs.String("transaction", dmp.TD02, "TD0.2, TD1.3a, TD0.3, TD1.1, TD1.6, TD2.1, TD3.1, TD3.2 or TD3.3c")
	cdaPath := fs.String("cda", "", "TD2.1: the CDA document to send")
	masked := fs.Bool("masque-ps", false, "TD2.1: masked to professionals (MASQUE_PS)")
	invisible := fs.Bool("invisible-patient", false, "TD2.1: invisible to the patient (INVISIBLE_PATIENT)")
	invisibleReps := fs.Bool("invisible-rep-legaux", false, "TD2.1: invisible to the legal representatives")
	replaces := fs.String("replaces", "", "TD2.1: the uniqueId of the version the CDA replaces (its entry found by TD3.1)")
	entryUUID := fs.String("entry-uuid", "", "TD3.3c: the entry to delete; TD2.1 --replaces --dry-run: the replaced entry")
	insValue := fs.String("ins", "", "the patient's INS (or INS-C)")
	oid := fs.String("oid", "", "the OID of the INS's authority")
	path := fs.String("config", "", "the bridge's configuration (keys, DMP address)")
	endpoint := fs.String("endpoint", "", "the DMP's services root (overrides the configuration's)")
	serverCA := fs.String("server-ca", "", "PEM: the DMP server's authority")
	authCert := fs.String("auth-cert", "", "PEM: the ORG AUTH_CLI certificate (chain)")
	authKey := fs.String("auth-key", "", "PEM: the ORG AUTH_CLI key")
	signCert := fs.String("sign-cert", "", "PEM: the ORG SIGN certificate (chain)")
	signKey := fs.String("sign-key", "", "PEM: the ORG SIGN key")
	pro := fs.String("professional", "810100456789", "the acting professional: his national id (RPPS), or his card's certificate (a PEM file: AIR in his name)")
	purpose := fs.String("purpose", dmp.PurposeNormal, "the access mode: normal or bris_de_glace (AIR)")
	uniqueID := fs.String("unique-id", "", "TD3.2: the document's uniqueId (TD3.1 gives it)")
	outPath := fs.String("out", "", "TD3.2: where the document goes, as the DMP sent it")
	proSurname := fs.String("surname", "LEROY", "the professional's surname")
	proFirst := fs.String("first-name", "SOPHIE", "the professional's first name")
	profession := fs.String("profession", "10", "the professional's profession code (TRE_G15; empty for a CPE)")
	finess := fs.String("finess", "750712184", "the site's geographic FINESS")
	action := fs.String("action", dmp.ActionAdd, "TD0.3: AJOUT or SUPPRESSION")
	birthName := fs.String("birth-name", "DUPONT", "TD1.1: the patient's birth name")
	firstName := fs.String("patient-first-name", "MARIE", "TD1.1: the patient's first name")
	sex := fs.String("sex", "F", "TD1.1: the patient's sex (M, F)")
	birthDate := fs.String("birth-date", "19800214", "TD1.1: the patient's birth date (YYYYMMDD)")
	caOut := fs.String("ca-out", "", "dry run with throw-away keys: write their authority (PEM) here")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *tx == dmp.TD21 && *cdaPath == "" {
		return fmt.Errorf("%w: TD2.1 needs --cda", cli.ErrUsage)
	}
	if *tx == dmp.TD33c && *entryUUID == "" {
		return fmt.Errorf("%w: TD3.3c needs --entry-uuid", cli.ErrUsage)
	}
	if *tx == dmp.TD21 && *replaces != "" && *dry && *entryUUID == "" {
		return fmt.Errorf("%w: a dry run cannot look the replaced entry up (TD3.1): give its --entry-uuid", cli.ErrUsage)
	}
	if *tx != dmp.TD21 && (*insValue == "" || *oid == "") {
		return fmt.Errorf("%w: --ins and --oid are required", cli.ErrUsage)
	}
	if _, ok := dmp.Services[*tx]; !ok {
		return fmt.Errorf("%w: unknown transaction %q", cli.ErrUsage, *tx)
	}
	files := *authCert != "" || *authKey != "" || *signCert != "" || *signKey != ""
	var cfg dmp.Config
	switch {
	case *path != "" && files:
		return fmt.Errorf("%w: --config or the key files, not both", cli.ErrUsage)
	case *path != "":
		c, err := server.LoadConfig(*path)
		if err != nil {
			return err
		}
		sign, auth, closeToken, err := c.DMP.Credentials(c)
		if err != nil {
			return err
		}
		defer closeToken()
		if cfg, err = c.DMP.ClientConfig(c, sign, auth); err != nil {
			return err
		}
	case files:
		if *authCert == "" || *authKey == "" || *signCert == "" || *signKey == "" {
			return fmt.Errorf("%w: --auth-cert, --auth-key, --sign-cert and --sign-key go together", cli.ErrUsage)
		}
		var err error
		if cfg.Sign, err = pemCredentials(*signCert, *signKey); err != nil {
			return err
		}
		if cfg.Auth, err = pemCredentials(*authCert, *authKey); err != nil {
			return err
		}
		cfg.LPS = dmp.LPS{ID: "dmpkiosk", Name: "dmpkiosk", Version: cli.Version, Homologation: "TEST"}
	case *dry:
		sign, err := throwawaySign(*caOut)
		if err != nil {
			return err
		}
		cfg = dmp.Config{BaseURL: "https://dmp.invalid/si-dmp-server/v2/services/", Sign: sign,
			LPS: dmp.LPS{ID: "dmpkiosk", Name: "dmpkiosk", Version: cli.Version, Homologation: "TEST"}}
	default:
		return fmt.Errorf("%w: sending needs --config or the key files (--auth-cert, --auth-key, --sign-cert, --sign-key)", cli.ErrUsage)
	}
	if *endpoint != "" {
		cfg.BaseURL = *endpoint
	}
	if *serverCA != "" {
		certs, err := provisioning.LoadCertificates(*serverCA)
		if err != nil {
			return err
		}
		cfg.ServerRoots = provisioning.NewPool(certs...)
	}
	if !*dry && cfg.BaseURL == "" {
		return fmt.Errorf("%w: no DMP address (--endpoint or dmp.url)", cli.ErrUsage)
	}
	client := dmp.NewClient(cfg)
	who := dmp.Who{Professional: event.Professional{NationalID: *pro, NationalIDType: "RPPS", CardType: "CPS",
		Surname: *proSurname, FirstName: *proFirst, Profession: *profession}, FINESS: *finess,
		Patient: dmp.PatientID{Root: *oid, Extension: *insValue}}
	if strings.HasSuffix(*pro, ".pem") {
		// The professional named by his card's certificate: reinforced
		// indirect mode (AIR) in his name.
		certs, err := provisioning.LoadCertificates(*pro)
		if err != nil {
			return err
		}
		h, err := cps.HolderOf(certs[0].Subject)
		if err != nil {
			return fmt.Errorf("%w: %s names no card holder: %v", cli.ErrUsage, *pro, err)
		}
		who.Professional = event.Professional{NationalID: h.NationalID, NationalIDType: h.NationalIDType, CardType: h.CardType,
			Surname: h.Surname, FirstName: h.FirstName, Profession: h.Profession}
		who.Mode = dmp.ModeReinforced
	}
	if *purpose != dmp.PurposeNormal && *purpose != dmp.PurposeBrisDeGlace {
		return fmt.Errorf("%w: --purpose normal or bris_de_glace", cli.ErrUsage)
	}
	who.Purpose = *purpose
	if *tx == dmp.TD33c {
		// The establishment deletes its own document: its certificate
		// alone (PDT-INF-526).
		who.Mode = dmp.ModeIndirect
	}
	if *tx == dmp.TD32 {
		if *uniqueID == "" || *outPath == "" && !*dry {
			return fmt.Errorf("%w: TD3.2 needs --unique-id and --out", cli.ErrUsage)
		}
		return retrieveRequest(ctx, client, who, *uniqueID, *outPath, *dry, stdout)
	}
	if *tx == dmp.TD21 {
		cda, err := os.ReadFile(*cdaPath)
		if err != nil {
			return err
		}
		fl := feedFlags{masked: *masked, invisible: *invisible, invisibleReps: *invisibleReps, replaces: *replaces, entryUUID: *entryUUID}
		return feedRequest(ctx, client, cfg, who, cda, fl, *dry, stdout)
	}
	lot := lotOf(cfg, who, time.Now())
	if *dry && (*tx == dmp.TD31 || *tx == dmp.TD33c || *tx == dmp.TD16) {
		msgID := dmp.NewMessageID()
		body := dmp.FindQuery(who.Patient)
		if *tx == dmp.TD16 {
			body = dmp.AuthorizationListBody(dmp.ListAll)
		}
		if *tx == dmp.TD33c {
			body = dmp.DeleteBody(who.Patient, *entryUUID, lot)
		}
		req, err := client.Request(*tx, who, body, msgID)
		if err != nil {
			return err
		}
		_, err = stdout.Write(append(req, '\n'))
		return err
	}
	creation := &dmp.Creation{Patient: who.Patient, Consent: true,
		Demographics: dmp.Demographics{BirthName: *birthName, FirstName: *firstName, Sex: *sex, BirthDate: *birthDate}}
	if *dry {
		msgID := dmp.NewMessageID()
		body, err := client.Body(*tx, msgID, who, creation, *action)
		if err != nil {
			return err
		}
		req, err := client.Request(*tx, who, body, msgID)
		if err != nil {
			return err
		}
		_, err = stdout.Write(append(req, '\n'))
		return err
	}
	out, x, err := send(ctx, client, *tx, who, *creation, *action, *entryUUID, lot)
	stdout.Write(append(x.Request, '\n'))
	if len(x.Response) > 0 {
		stdout.Write(append(x.Response, '\n'))
	}
	return printOutcome(stdout, out, err)
}

// outcome is what a transaction's answer said, with the DMP's own codes.
type outcome struct {
	Transaction        string                `json:"transaction"`
	Exists             *bool                 `json:"exists,omitempty"`
	Authorization      string                `json:"authorization,omitempty"`
	AttendingPhysician *bool                 `json:"attending_physician,omitempty"`
	Observations       map[string]bool       `json:"observations,omitempty"`
	Created            *bool                 `json:"created,omitempty"`
	Status             string                `json:"status,omitempty"`
	Context            string                `json:"context,omitempty"`
	Fault              *faultOutcome         `json:"fault,omitempty"`
	Registry           *registryError        `json:"registry_error,omitempty"`
	UniqueID           string                `json:"unique_id,omitempty"`
	Replaces           string                `json:"replaces_entry_uuid,omitempty"`
	Entries            []entryOutcome        `json:"entries,omitempty"`
	Size               int                   `json:"size,omitempty"`
	Professionals      []professionalOutcome `json:"professionals,omitempty"`
	MimeType           string                `json:"mime_type,omitempty"`
	Error              string                `json:"error,omitempty"`
}

type faultOutcome struct {
	Code    string `json:"code"`
	Subcode string `json:"subcode,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

func ptr(b bool) *bool { return &b }

// professionalOutcome is one professional of TD1.6's answer.
type professionalOutcome struct {
	NationalID string `json:"national_id"`
	Name       string `json:"name,omitempty"`
	Mode       string `json:"mode"` // ACTIVE or INTERDITE
}

// entryOutcome is one entry of TD3.1's answer.
type entryOutcome struct {
	UniqueID        string   `json:"unique_id"`
	EntryUUID       string   `json:"entry_uuid"`
	Status          string   `json:"status"`
	Title           string   `json:"title"`
	Type            string   `json:"type"`
	Class           string   `json:"class"`
	Format          string   `json:"format"`
	Created         string   `json:"created,omitempty"`
	ServiceStart    string   `json:"service_start,omitempty"`
	ServiceStop     string   `json:"service_stop,omitempty"`
	Author          string   `json:"author,omitempty"`
	Institution     string   `json:"institution,omitempty"`
	Confidentiality []string `json:"confidentiality"`
	Hash            string   `json:"hash,omitempty"`
	Size            int64    `json:"size,omitempty"`
}

func entriesOf(l []dmp.DocumentEntry) []entryOutcome {
	out := make([]entryOutcome, 0, len(l))
	at := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	for _, e := range l {
		var conf []string
		for _, c := range e.Confidentiality {
			conf = append(conf, c.Code)
		}
		out = append(out, entryOutcome{UniqueID: e.UniqueID, EntryUUID: e.EntryUUID, Status: e.Status, Title: e.Title, Type: e.Type.Code,
			Class: e.Class.Code, Format: e.Format.Code, Created: at(e.Created), ServiceStart: at(e.ServiceStart), ServiceStop: at(e.ServiceStop),
			Author: strings.TrimSpace(e.Author.Given + " " + e.Author.Family), Institution: e.Author.Institution, Confidentiality: conf,
			Hash: e.Hash, Size: e.Size})
	}
	return out
}

// lotOf is the lot of a transaction sent from the command line: the
// acting professional as its author, on behalf of the site.
func lotOf(cfg dmp.Config, who dmp.Who, now time.Time) dmp.Lot {
	device := cfg.LPS.DeviceOID
	if device == "" {
		device = dmp.DefaultDeviceOID
	}
	lot, _ := dmp.NewLotIDs(device, now)
	p := who.Professional
	return dmp.Lot{Author: dmp.XDSAuthor{ID: p.NationalID, Family: p.Surname, Given: p.FirstName, Specialty: dmp.Code{Code: "G15_" + p.Profession,
		System: "1.2.250.1.213.1.1.4.5"}, Institution: cfg.StructureName, InstitutionID: "1" + who.FINESS},
		ContentType: dmp.Code{Code: "03", System: dmp.CSContentType, Display: "Hospitalisation"}, SourceID: device, ID: lot, Time: now}
}

// send runs one transaction and reads its answer.
func send(ctx context.Context, c *dmp.Client, tx string, who dmp.Who, cr dmp.Creation, action, entryUUID string, lot dmp.Lot) (outcome, dmp.Exchange, error) {
	out := outcome{Transaction: tx}
	var x dmp.Exchange
	var err error
	switch tx {
	case dmp.TD02:
		var e dmp.Existence
		if e, x, err = c.TestExistence(ctx, who); err == nil {
			out.Exists, out.Authorization, out.AttendingPhysician = ptr(e.Exists), e.Authorization, ptr(e.Doctor)
		}
	case dmp.TD13a:
		var a dmp.Admin
		if a, x, err = c.ReadAdmin(ctx, who); err == nil {
			out.Exists, out.Observations = ptr(true), a.Observations
		}
	case dmp.TD03:
		var r dmp.AuthorizationResult
		if r, x, err = c.SetAuthorization(ctx, who, action); err == nil {
			out.Status, out.Context = r.Status, r.Context
		}
	case dmp.TD11:
		if x, err = c.Create(ctx, who, cr); err == nil {
			out.Created = ptr(true)
		}
	case dmp.TD31:
		var l []dmp.DocumentEntry
		if l, x, err = c.FindEntries(ctx, who); err == nil {
			out.Status, out.Entries = "Success", entriesOf(l)
		}
	case dmp.TD33c:
		if x, err = c.Delete(ctx, who, entryUUID, lot); err == nil {
			out.Status = "Success"
		}
	case dmp.TD16:
		var l []dmp.ProfessionalAuthorization
		if l, x, err = c.ListAuthorizations(ctx, who, dmp.ListAll); err == nil {
			out.Status = "DMPOk"
			for _, p := range l {
				out.Professionals = append(out.Professionals, professionalOutcome{NationalID: p.NationalID, Name: strings.TrimSpace(p.FirstName + " " + p.LastName), Mode: p.Mode})
			}
		}
	}
	out.settle(err)
	return out, x, err
}

// settle records a transaction's failure: the DMP's fault, the registry's
// error, or what kept it from being sent or read.
func (out *outcome) settle(err error) {
	var f *dmp.Fault
	var re *dmp.RegistryError
	switch {
	case errors.As(err, &f):
		out.Fault = &faultOutcome{Code: f.Code, Subcode: f.Subcode, Reason: f.Reason}
	case errors.As(err, &re):
		out.Registry = &registryError{Code: re.Code, Context: re.Context}
	case err != nil:
		out.Error = err.Error()
	}
}

// pemCredentials reads a certificate chain and its key from PEM files.
func pemCredentials(certPath, keyPath string) (dmp.Credentials, error) {
	chain, err := provisioning.LoadCertificates(certPath)
	if err != nil {
		return dmp.Credentials{}, err
	}
	key, err := provisioning.LoadKeyFile(keyPath)
	if err != nil {
		return dmp.Credentials{}, err
	}
	return dmp.Credentials{Key: key, Chain: chain}, nil
}

// throwawaySign makes, with the standard library alone, a test authority
// and an ORG SIGN key and certificate under it (a signature certificate:
// non-repudiation, no client authentication), for a dry run.
func throwawaySign(caOut string) (dmp.Credentials, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return dmp.Credentials{}, err
	}
	now := time.Now()
	serial := func() *big.Int { n, _ := rand.Int(rand.Reader, big.NewInt(1<<62)); return n }
	caTmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{Country: []string{"FR"}, Organization: []string{"TEST"},
		CommonName: "AC DE TEST (dmp-request --dry-run)"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return dmp.Credentials{}, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return dmp.Credentials{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{Country: []string{"FR"}, Organization: []string{"ETABLISSEMENT DE TEST"},
		OrganizationalUnit: []string{"750712001"}, CommonName: "750712001/ETABLISSEMENT DE TEST"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return dmp.Credentials{}, err
	}
	cert, _ := x509.ParseCertificate(der)
	if caOut != "" {
		if err := os.WriteFile(caOut, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
			return dmp.Credentials{}, err
		}
	}
	return dmp.Credentials{Key: key, Chain: []*x509.Certificate{cert}}, nil
}

type registryError struct {
	Code    string `json:"code"`
	Context string `json:"context,omitempty"`
}

// feedFlags are the DMP's confidentiality asked for a document.
// A replacement names the replaced version's uniqueId; its entry is
// found by TD3.1 (given as entryUUID in a dry run).
type feedFlags struct {
	masked, invisible, invisibleReps bool
	replaces, entryUUID              string
}

// feedRequest is TD2.1 for one CDA: the dry run prints the whole MTOM
// request (its Content-Type, then the package, parts and boundaries
// included); otherwise it is sent and the registry's answer follows. A
// CDA the checks refuse is refused here too.
func feedRequest(ctx context.Context, c *dmp.Client, cfg dmp.Config, who dmp.Who, cda []byte, fl feedFlags, dry bool, stdout io.Writer) error {
	if _, err := feed.CheckCDA(ctx, cda); err != nil {
		return err
	}
	h, err := dmp.ReadCDAHeader(cda)
	if err != nil {
		return err
	}
	l := lotOf(cfg, who, time.Now())
	_, sig := dmp.NewLotIDs(l.SourceID, l.Time)
	f := dmp.Feeding{CDA: cda, Header: h, MaskedToProfessionals: fl.masked, InvisibleToPatient: fl.invisible,
		InvisibleToLegalRepresentatives: fl.invisibleReps, Author: l.Author, ContentType: l.ContentType, SourceID: l.SourceID,
		LotID: l.ID, SignatureID: sig, Time: l.Time, Replaces: fl.entryUUID}
	out := outcome{Transaction: dmp.TD21, UniqueID: h.UniqueID}
	if fl.replaces != "" && f.Replaces == "" {
		entries, x, err := c.FindEntries(ctx, dmp.Who{Professional: who.Professional, FINESS: who.FINESS,
			Patient: dmp.PatientID{Root: h.INSOID, Extension: h.INS}})
		stdout.Write(append(x.Request, '\n'))
		if len(x.Response) > 0 {
			stdout.Write(append(x.Response, '\n'))
		}
		for _, e := range entries {
			if e.UniqueID == fl.replaces {
				f.Replaces = e.EntryUUID
			}
		}
		if err == nil && f.Replaces == "" {
			err = fmt.Errorf("bridge: the replaced document %s is not among the patient's approved entries", fl.replaces)
		}
		if err != nil {
			out.settle(err)
			return printOutcome(stdout, out, err)
		}
	}
	out.Replaces = f.Replaces
	if dry {
		pkg, ct, err := c.FeedRequest(f, who.FINESS, dmp.NewMessageID())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Content-Type: %s\n\n", ct)
		_, err = stdout.Write(append(pkg, '\n'))
		return err
	}
	x, err := c.Feed(ctx, f, who.FINESS)
	stdout.Write(append(x.Request, '\n'))
	if len(x.Response) > 0 {
		stdout.Write(append(x.Response, '\n'))
	}
	if err == nil {
		out.Status = "Success"
	}
	out.settle(err)
	return printOutcome(stdout, out, err)
}

// retrieveRequest is TD3.2: the document written to out as the DMP sent
// it (never printed: it is health data), its size and type in the outcome.
func retrieveRequest(ctx context.Context, c *dmp.Client, who dmp.Who, uniqueID, out string, dry bool, stdout io.Writer) error {
	if dry {
		msgID := dmp.NewMessageID()
		req, err := c.Request(dmp.TD32, who, dmp.RetrieveBody(dmp.RepositoryDMP, uniqueID), msgID)
		if err != nil {
			return err
		}
		_, err = stdout.Write(append(req, '\n'))
		return err
	}
	d, x, err := c.Retrieve(ctx, who, "", uniqueID)
	stdout.Write(append(x.Request, '\n'))
	stdout.Write(append(x.Response, '\n'))
	o := outcome{Transaction: dmp.TD32, UniqueID: uniqueID}
	if err == nil {
		if err = os.WriteFile(out, d.Data, 0o600); err == nil {
			o.Status, o.Size, o.MimeType = "Success", len(d.Data), d.MimeType
		}
	}
	o.settle(err)
	return printOutcome(stdout, o, err)
}

// printOutcome writes the outcome as the last line, JSON.
func printOutcome(stdout io.Writer, out outcome, err error) error {
	line, jerr := json.Marshal(out)
	if jerr != nil {
		return jerr
	}
	fmt.Fprintf(stdout, "%s\n", line)
	return err
}
