package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"dmpkiosk/bridge/insi"
	"dmpkiosk/bridge/server"
	"dmpkiosk/cmd/internal/cli"
	"dmpkiosk/provisioning"
)

// runINSIRequest prints one INSi request for given traits (or carte Vitale
// data). With --dry-run nothing is sent; otherwise it goes to INSi over
// mutual TLS with the establishment's INSi certificate, and the answer
// follows it, then on the last line the outcome as one JSON object.
func runINSIRequest(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := cli.Flags("bridge", "insi-request", stderr)
	dry := fs.Bool("dry-run", false, "print the request, send nothing")
	birthName := fs.String("birth-name", "", "birth name")
	firstNames := fs.String("first-names", "", "birth first names, space separated")
	sex := fs.String("sex", "", "M or F")
	birthDate := fs.String("birth-date", "", "birth date, YYYY-MM-DD (or YYYYMMDD)")
	birthPlace := fs.String("birth-place", "", "INSEE code of the birth place (5 characters), optional")
	ownNIR := fs.String("vitale-nir", "", "carte Vitale search: the beneficiary's own NIR (15 characters), optional")
	insuredNIR := fs.String("insured-nir", "", "carte Vitale search: the insured person's NIR (15 characters)")
	rank := fs.Int("rank", 1, "carte Vitale search: the birth rank")
	auto := fs.Bool("auto", false, "a lookup the bridge starts on its own (INSI-AUTO); default: started by a professional (INSI-MANU)")
	endpoint := fs.String("endpoint", "", "INSi's address, e.g. https://qualiflps-services-ps-tlsm.ameli.fr/lps")
	serverCA := fs.String("server-ca", "", "PEM: INSi's server authority")
	certPath := fs.String("cert", "", "PEM: the establishment's INSi certificate (CN INSI-MANU or INSI-AUTO)")
	keyPath := fs.String("key", "", "PEM: its key")
	idam := fs.String("idam", "", "the software's CNDA authorisation number")
	instance := fs.String("instance", "", "the installation's UUID (a new one when empty)")
	path := fs.String("config", "", "the bridge's configuration: its [insi] section, and its journal, where the call is audited")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	t, err := insi.Normalize(insi.Traits{BirthName: *birthName, FirstNames: strings.Fields(*firstNames), Sex: *sex,
		BirthDate: *birthDate, BirthPlace: *birthPlace})
	if err != nil {
		return fmt.Errorf("%w: %v", cli.ErrUsage, err)
	}
	cfg := insi.Config{Endpoint: *endpoint, IDAM: *idam, Version: cli.Version, Instance: *instance}
	if cfg.Instance == "" {
		cfg.Instance = insi.NewUUID()
	}
	switch {
	case *path != "" && (*certPath != "" || *keyPath != ""):
		return fmt.Errorf("%w: --config or --cert and --key, not both", cli.ErrUsage)
	case *path != "":
		c, err := server.LoadConfig(*path)
		if err != nil {
			return err
		}
		if c.INSi.URL == "" {
			return fmt.Errorf("%s: no [insi] section", *path)
		}
		fromFile, release, err := c.INSiClientConfig()
		if err != nil {
			return err
		}
		defer release()
		j, closeJournal, err := c.OpenJournal(ctx)
		if err != nil {
			return err
		}
		defer closeJournal()
		var calls insi.Calls
		fromFile.Observe = calls.Observer(j.Audit, nil)
		if *endpoint != "" {
			fromFile.Endpoint = *endpoint
		}
		if *idam != "" {
			fromFile.IDAM = *idam
		}
		cfg = fromFile
	case *certPath != "" || *keyPath != "":
		chain, err := provisioning.LoadCertificates(*certPath)
		if err != nil {
			return err
		}
		key, err := provisioning.LoadKeyFile(*keyPath)
		if err != nil {
			return err
		}
		cfg.Manu = insi.Credentials{Key: key, Chain: chain}
		cfg.Auto = cfg.Manu
	}
	if *serverCA != "" {
		certs, err := provisioning.LoadCertificates(*serverCA)
		if err != nil {
			return err
		}
		cfg.ServerRoots = provisioning.NewPool(certs...)
	}
	if !*dry && (cfg.Endpoint == "" || cfg.Manu.Key == nil) {
		return fmt.Errorf("%w: sending needs --endpoint, --cert and --key", cli.ErrUsage)
	}
	mode := insi.Manu
	if *auto {
		mode = insi.Auto
	}
	op, body := insi.OpTraits, insi.TraitsBody(t)
	var vq *insi.VitaleQuery
	if *insuredNIR != "" {
		vq = &insi.VitaleQuery{Insured: matricule(*insuredNIR), BirthName: t.BirthName,
			BirthDate: strings.ReplaceAll(t.BirthDate, "-", ""), BirthRank: *rank}
		if *ownNIR != "" {
			m := matricule(*ownNIR)
			vq.Individual = &m
		}
		op, body = insi.OpVitale, insi.VitaleBody(*vq)
	}
	client := insi.NewClient(cfg)
	if *dry {
		req, err := client.Request(mode, op, body, insi.NewUUID())
		if err != nil {
			return err
		}
		_, err = stdout.Write(append(req, '\n'))
		return err
	}
	var r *insi.Result
	var x insi.Exchange
	if vq != nil {
		r, x, err = client.SearchVitale(ctx, mode, *vq)
	} else {
		r, x, err = client.SearchTraits(ctx, mode, t)
	}
	stdout.Write(append(x.Request, '\n'))
	if len(x.Response) > 0 {
		stdout.Write(append(x.Response, '\n'))
	}
	line, jerr := json.Marshal(insiOutcome(op, r, err))
	if jerr != nil {
		return jerr
	}
	fmt.Fprintf(stdout, "%s\n", line)
	return err
}

func matricule(nir string) insi.Matricule {
	nir = strings.ReplaceAll(nir, " ", "")
	if len(nir) != 15 {
		return insi.Matricule{Number: nir}
	}
	return insi.Matricule{Number: nir[:13], Key: nir[13:]}
}

type insiTraitsOut struct {
	BirthName  string `json:"birth_name"`
	FirstNames string `json:"first_names"`
	Sex        string `json:"sex"`
	BirthDate  string `json:"birth_date"`
	BirthPlace string `json:"birth_place"`
}

type insiOut struct {
	Operation string         `json:"operation"`
	CR        string         `json:"cr,omitempty"`
	INS       *insi.INS      `json:"ins,omitempty"`
	History   []insi.INS     `json:"history,omitempty"`
	Traits    *insiTraitsOut `json:"traits,omitempty"`
	Fault     *insi.Fault    `json:"fault,omitempty"`
	Error     string         `json:"error,omitempty"`
}

func insiOutcome(op string, r *insi.Result, err error) insiOut {
	out := insiOut{Operation: op}
	var f *insi.Fault
	switch {
	case errors.As(err, &f):
		out.Fault = f
	case err != nil:
		out.Error = err.Error()
	case r != nil:
		out.CR, out.INS, out.History = r.CR, r.INS, r.History
		if t := r.Traits; t != nil {
			out.Traits = &insiTraitsOut{BirthName: t.BirthName, FirstNames: strings.Join(t.FirstNames, " "), Sex: t.Sex,
				BirthDate: t.BirthDate, BirthPlace: t.BirthPlace}
		}
	}
	return out
}
