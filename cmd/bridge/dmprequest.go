package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"os"

	"dmpkiosk/bridge/dmp"
	"dmpkiosk/cmd/internal/cli"
	"dmpkiosk/firmware/event"
	"dmpkiosk/hwtest"
)

// runDMPRequest prints the complete signed SOAP request of a transaction:
// with the configured keys, or with freshly generated test credentials.
// Without --dry-run it is sent to the configured DMP and the answer printed
// after it (the traces DMP homologation asks for).
func runDMPRequest(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := cli.Flags("bridge", "dmp-request", stderr)
	dry := fs.Bool("dry-run", false, "print the request, send nothing")
	tx := fs.String("transaction", dmp.TD02, "TD0.2, TD1.3a, TD0.3 or TD1.1")
	insValue := fs.String("ins", "", "the patient's INS (or INS-C)")
	oid := fs.String("oid", "", "the OID of the INS's authority")
	path := fs.String("config", "", "the bridge's configuration (keys, DMP); none: test credentials")
	pro := fs.String("professional", "810100456789", "the acting professional's national id (RPPS)")
	finess := fs.String("finess", "750712184", "the site's geographic FINESS")
	action := fs.String("action", dmp.ActionAdd, "TD0.3: AJOUT or SUPPRESSION")
	caOut := fs.String("ca-out", "", "with test credentials: write their authority (PEM) here")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *insValue == "" || *oid == "" {
		return fmt.Errorf("%w: --ins and --oid are required", cli.ErrUsage)
	}
	if _, ok := dmp.Services[*tx]; !ok {
		return fmt.Errorf("%w: unknown transaction %q", cli.ErrUsage, *tx)
	}
	var client *dmp.Client
	if *path != "" {
		c, err := loadConfig(*path)
		if err != nil {
			return err
		}
		sign, auth, closeToken, err := c.DMP.credentials(c)
		if err != nil {
			return err
		}
		defer closeToken()
		if client, err = c.DMP.client(c, sign, auth); err != nil {
			return err
		}
	} else {
		if !*dry {
			return fmt.Errorf("%w: sending needs --config", cli.ErrUsage)
		}
		sign, err := testSignCredentials(*caOut)
		if err != nil {
			return err
		}
		client = dmp.NewClient(dmp.Config{BaseURL: "https://dmp.invalid/si-dmp-server/v2/services/", Sign: sign,
			LPS: dmp.LPS{ID: "dmpkiosk", Name: "dmpkiosk", Version: cli.Version, Homologation: "TEST"}})
	}
	who := dmp.Who{Professional: event.Professional{NationalID: *pro, NationalIDType: "RPPS", CardType: "CPS",
		Surname: "TEST", FirstName: "PROFESSIONNEL", Profession: "10"}, FINESS: *finess,
		Patient: dmp.PatientID{Root: *oid, Extension: *insValue}}
	var creation *dmp.Creation
	if *tx == dmp.TD11 {
		creation = &dmp.Creation{Patient: who.Patient, Consent: true}
	}
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
	x, err := client.Do(ctx, *tx, who, creation, *action)
	stdout.Write(append(x.Request, '\n'))
	if len(x.Response) > 0 {
		stdout.Write(append(x.Response, '\n'))
	}
	return err
}

// testSignCredentials makes a throw-away ORG SIGN key and certificate from
// a fresh test IGC-Santé authority.
func testSignCredentials(caOut string) (dmp.Credentials, error) {
	igc, err := hwtest.NewIGCSante()
	if err != nil {
		return dmp.Credentials{}, err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return dmp.Credentials{}, err
	}
	cert, err := igc.OrgCertificate(key, hwtest.OrgSign, "750712001", "ETABLISSEMENT DE TEST")
	if err != nil {
		return dmp.Credentials{}, err
	}
	if caOut != "" {
		if err := os.WriteFile(caOut, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: igc.Cert.Raw}), 0o644); err != nil {
			return dmp.Credentials{}, err
		}
	}
	return dmp.Credentials{Key: key, Chain: []*x509.Certificate{cert}}, nil
}
