package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"dmpkiosk/apdu/cps"
	"dmpkiosk/apdu/pcsc"
	"dmpkiosk/cmd/internal/cli"
	"dmpkiosk/firmware"
)

// runCPSInfo prints what a professional card declares, presenting no PIN:
// what a technician runs first with a real card, and what a bug report
// needs.
func runCPSInfo(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := cli.Flags("kiosk", "cps-info", stderr)
	reader := fs.String("reader", "", "reader name (default: the first holding a CPS-family card)")
	asJSON := fs.Bool("json", false, "print one JSON document")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	pc, readers, err := openReaders()
	if err != nil {
		return err
	}
	defer pc.Release()
	sts, err := pc.Status(readers)
	if err != nil {
		return err
	}
	var st *pcsc.ReaderStatus
	for i := range sts {
		s := &sts[i]
		if *reader == s.Reader || (*reader == "" && s.Present && cps.Recognize(s.ATR) != cps.NotCPS) {
			st = s
			break
		}
	}
	if st == nil || !st.Present {
		return errors.New("aucune carte professionnelle dans les lecteurs")
	}
	out := struct {
		Reader string           `json:"reader"`
		ATR    string           `json:"atr"`
		Card   string           `json:"card"`
		Error  string           `json:"error,omitempty"`
		CPS    *cps.Description `json:"cps,omitempty"`
	}{Reader: st.Reader, ATR: fmt.Sprintf("%X", st.ATR), Card: firmware.Classify(st.ATR)}
	k, err := pc.Connect(ctx, st.Reader)
	if err != nil {
		return err
	}
	defer k.Close()
	c, err := cps.Open(k, k.ATR())
	if err == nil {
		out.CPS, err = c.Describe(ctx)
	}
	if err != nil {
		out.Error = firmware.Message(err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		printDescription(stdout, out.Reader, out.ATR, out.Card, out.CPS)
		if out.Error != "" {
			fmt.Fprintf(stdout, "erreur : %s\n", out.Error)
		}
	}
	if out.Error != "" {
		return errUnread
	}
	return nil
}

func printDescription(w io.Writer, reader, atr, kind string, d *cps.Description) {
	fmt.Fprintf(w, "lecteur %s\nATR %s (%s)\n", reader, atr, kind)
	if d == nil {
		return
	}
	fmt.Fprintf(w, "carte n° %s, %s, fabricant %s, application %s\n", d.Serial, d.Label, d.Manufacturer, d.Application)
	p := d.PIN
	tries := fmt.Sprintf("%d essai(s) restant(s)", p.TriesLeft)
	if p.Blocked {
		tries = "bloqué"
	}
	fmt.Fprintf(w, "code porteur %q : référence 0x%02X, type %d, %d à %d chiffres, longueur stockée %d, bourrage %v (0x%02X), %s\n",
		p.Label, p.Reference, p.Type, p.MinLen, p.MaxLen, p.StoredLen, p.NeedsPadding, p.PadChar, tries)
	for _, k := range d.Keys {
		fmt.Fprintf(w, "clé %s : référence 0x%02X, RSA %d, id %s, non-répudiation %v, signature %v, déchiffrement %v\n",
			k.Label, k.Reference, k.Bits, k.ID, k.NonRepudiation, k.Sign, k.Decrypt)
	}
	for _, c := range d.Certificates {
		fmt.Fprintf(w, "certificat %q (id %s) : %s, émis par %s, du %s au %s\n", c.Label, c.ID, c.Subject, c.Issuer, c.NotBefore, c.NotAfter)
	}
	for _, o := range d.DataObjects {
		size := fmt.Sprintf("%d octets", o.Size)
		if o.Size < 0 {
			size = "lisible après le code"
		}
		fmt.Fprintf(w, "donnée %s : %s\n", o.Label, size)
	}
	for _, a := range d.Algorithms {
		fmt.Fprintf(w, "algorithme : %s\n", a)
	}
}
