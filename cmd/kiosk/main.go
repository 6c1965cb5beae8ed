// Command kiosk is the card-reader appliance: it reads the patient's carte
// Vitale and the professional's CPS-family card and publishes signed
// create/consent events for the DMP.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"dmpkiosk/apdu/pcsc"
	"dmpkiosk/cmd/internal/cli"
	"dmpkiosk/display"
	"dmpkiosk/display/input"
	"dmpkiosk/firmware"
	"dmpkiosk/ins"
)

var commands = map[string]cli.Command{
	"readers":  {Summary: "list the PC/SC readers and the ATR of the card in each", Run: runReaders},
	"ins-c":    {Summary: "INS-C of each stdin line first_name;AAMMJJ;NIR13", Run: runINSC},
	"read":     {Summary: "read the cards in the slots (no PIN); --json for tools", Run: runRead},
	"cps-info": {Summary: "what a professional card declares (PIN format, keys, certificates), no PIN presented", Run: runCPSInfo},
	"selftest": {Summary: "check the card readers, the board's buses and the clock", Run: runSelftest},
	"enroll":   cli.Enroll("kiosk", "device"),
	"run":      {Summary: "run the kiosk (session, display, outbox, link to the bridge)", Run: runKiosk},
}

func main() {
	cli.Main("kiosk", "appliance DMP : carte Vitale, carte CPS, consentement", commands)
}

func runReaders(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := cli.Flags("kiosk", "readers", stderr)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	pc, readers, err := openReaders()
	if err != nil {
		return err
	}
	defer pc.Release()
	if len(readers) == 0 {
		fmt.Fprintln(stdout, "aucun lecteur de cartes")
		return nil
	}
	sts, err := pc.Status(readers)
	if err != nil {
		return err
	}
	for _, s := range sts {
		state := "vide"
		switch {
		case s.Mute:
			state = "carte muette"
		case s.Present:
			state = "ATR " + strings.ToUpper(fmt.Sprintf("%x", s.ATR))
		}
		fmt.Fprintf(stdout, "%s\t%s\n", s.Reader, state)
	}
	return nil
}

func runINSC(_ context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := cli.Flags("kiosk", "ins-c", stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: kiosk ins-c < lines\n\nEach input line first_name;AAMMJJ;NIR13 gives one output line:\nthe 22-digit INS-C, or \"error: <reason>\".")
	}
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: ins-c reads standard input and takes no argument", cli.ErrUsage)
	}
	return ins.StreamINSC(stdin, stdout)
}

// errUnread makes the exit status 1 when a present card could not be read.
var errUnread = errors.New("une carte au moins n'a pas pu être lue")

func runRead(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := cli.Flags("kiosk", "read", stderr)
	asJSON := fs.Bool("json", false, "print one JSON document (field names are a contract)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	pc, readers, err := openReaders()
	if err != nil {
		return err
	}
	defer pc.Release()
	slots, err := firmware.ReadSlots(ctx, pc, readers)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(struct {
			Slots []firmware.SlotRead `json:"slots"`
		}{slots}); err != nil {
			return err
		}
	} else {
		printSlots(stdout, slots)
	}
	for _, s := range slots {
		if s.Error != "" {
			return errUnread
		}
	}
	return nil
}

func printSlots(w io.Writer, slots []firmware.SlotRead) {
	if len(slots) == 0 {
		fmt.Fprintln(w, "aucun lecteur de cartes")
	}
	for _, s := range slots {
		fmt.Fprintf(w, "%s : %s\n", s.Reader, s.Card)
		if s.Error != "" {
			fmt.Fprintf(w, "  erreur : %s\n", s.Error)
		}
		if v := s.Vitale; v != nil {
			validity := "sans fin de validité"
			if v.ValidUntil != "" {
				validity = "jusqu'au " + v.ValidUntil
			}
			fmt.Fprintf(w, "  carte Vitale n° %s, valable du %s, %s\n", v.Serial, v.ValidFrom, validity)
			for i, b := range v.Beneficiaries {
				nir := "sans NIR"
				switch {
				case b.NIR != "" && !b.NIRValid:
					nir = "NIR " + b.NIR + " (clé invalide)"
				case b.NIR != "" && !b.OwnNIR:
					nir = "NIR " + b.NIR + " (pas le sien : année ou mois de naissance différents)"
				case b.NIR != "":
					nir = "NIR " + b.NIR
				}
				extra := ""
				if b.BirthRank > 0 {
					extra += fmt.Sprintf(", rang %d", b.BirthRank)
				}
				if b.Quality != "" {
					extra += ", qualité " + b.Quality
				}
				insc := b.INSC
				if insc == "" {
					insc = "non calculable"
				}
				fmt.Fprintf(w, "  %d. %s %s, né(e) le %s%s, %s, INS-C %s\n", i+1, b.Surname, b.FirstName, b.BirthDate, extra, nir, insc)
			}
		}
		if c := s.CPS; c != nil {
			fmt.Fprintf(w, "  %s %s %s, %s %s, profession %s, spécialité %s, carte n° %s valable jusqu'au %s\n",
				c.CardType, c.Surname, c.FirstName, c.NationalIDType, c.NationalID, c.Profession, c.Speciality, c.Serial, c.NotAfter)
		}
	}
}

// errSelftest makes the exit status 1 when a check failed.
var errSelftest = errors.New("auto-test en échec")

// runSelftest reports what the appliance has. The display pattern, buttons,
// broker and certificate checks come with the kiosk session.
func runSelftest(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := cli.Flags("kiosk", "selftest", stderr)
	slots := fs.Int("readers", 2, "number of card slots the appliance must have")
	path := fs.String("config", "", "configuration file: also check the certificate, the broker and the display")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	ok := true
	check := func(pass bool, what, detail string) {
		mark := "OK "
		if !pass {
			mark, ok = "ÉCHEC", false
		}
		fmt.Fprintf(stdout, "%-5s %-22s %s\n", mark, what, detail)
	}
	pc, readers, err := openReaders()
	switch {
	case err != nil:
		check(false, "lecteurs de cartes", firmware.Message(err))
	default:
		pc.Release()
		check(len(readers) >= *slots, "lecteurs de cartes", fmt.Sprintf("%d trouvé(s), %d attendu(s) : %s", len(readers), *slots, strings.Join(readers, ", ")))
	}
	hw, err := firmware.ProbeHardware()
	if err != nil {
		check(false, "carte électronique", err.Error())
	} else {
		check(len(hw.Failed) == 0, "pilotes de la carte", fmt.Sprintf("%d chargé(s) %v, échecs %v", len(hw.Drivers), hw.Drivers, hw.Failed))
		check(true, "bus I²C / SPI / GPIO", fmt.Sprintf("I²C %v, SPI %v, %d broche(s) GPIO", hw.I2C, hw.SPI, hw.GPIOPins))
	}
	now := time.Now()
	// A clock before the build year means no RTC and no NTP yet: event time
	// stamps and certificate checks would be wrong.
	check(now.Year() >= 2025, "horloge", now.UTC().Format(time.RFC3339))
	if *path != "" {
		selftestConfig(*path, now, check)
	}
	if !ok {
		return errSelftest
	}
	return nil
}

// openReaders reaches pcscd and lists its readers.
func openReaders() (*pcsc.Context, []string, error) {
	pc, err := pcsc.Establish()
	if err != nil {
		return nil, nil, fmt.Errorf("lecteurs de cartes indisponibles (pcscd arrêté ?): %w", err)
	}
	readers, err := pc.Readers()
	if err != nil {
		pc.Release()
		return nil, nil, err
	}
	return pc, readers, nil
}

func runKiosk(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := cli.Flags("kiosk", "run", stderr)
	path := fs.String("config", "/etc/dmpkiosk/kiosk.toml", "configuration file")
	traySim := fs.String("tray-cardsim", "", "simulation: the cardsim binary that puts virtual cards in the slots")
	trayPKI := fs.String("tray-pki", "demo/igc-sante", "simulation: cardsim's test IGC-Santé directory")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	cfg, err := firmware.LoadConfig(*path)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	opts := firmware.RunOptions{Version: cli.Version, Logger: log}
	if *traySim != "" {
		tray := &cardsimTray{bin: *traySim, pki: *trayPKI}
		defer tray.close(ctx)
		opts.Tray = tray
	}
	fmt.Fprintf(stdout, "kiosk %s: %s (%s, %s)\n", cfg.DeviceID, cfg.Site, cfg.Context, cfg.Regime)
	return firmware.Run(ctx, cfg, opts)
}

// selftestConfig checks what the configuration names: the device
// certificate, the broker, the display.
func selftestConfig(path string, now time.Time, check func(bool, string, string)) {
	cfg, err := firmware.LoadConfig(path)
	if err != nil {
		check(false, "configuration", err.Error())
		return
	}
	check(true, "configuration", fmt.Sprintf("%s, %s, %s, régime %s", cfg.DeviceID, cfg.Site, cfg.Context, cfg.Regime))
	creds, err := cfg.LoadCredentials()
	if err != nil {
		check(false, "certificat de la borne", err.Error())
		return
	}
	cert := creds.Device.Chain[0]
	days := int(cert.NotAfter.Sub(now).Hours() / 24)
	check(now.After(cert.NotBefore) && days >= 30, "certificat de la borne",
		fmt.Sprintf("valable jusqu'au %s (%d jours)", cert.NotAfter.Format("02/01/2006"), days))
	if err := cfg.CheckBroker(creds, 5*time.Second); err != nil {
		check(false, "serveur MQTT", fmt.Sprintf("%s : %v", cfg.Broker.URL, err))
	} else {
		check(true, "serveur MQTT", cfg.Broker.URL+" accepte la borne")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if has, err := firmware.PrintTest(ctx, cfg.Receipt, cfg.DeviceID, now); has {
		if err != nil {
			check(false, "imprimante des reçus", err.Error())
		} else {
			check(true, "imprimante des reçus", "ticket de test imprimé sur "+cfg.Receipt.Printer+" : vérifiez les accents et la coupe")
		}
	}
	if cfg.Display.Display == "web" {
		check(true, "écran", "vue web sur "+cfg.WebListen)
		return
	}
	devs, err := display.Open(cfg.Display)
	if err != nil {
		check(false, "écran et boutons", err.Error())
		return
	}
	r, err := display.NewRenderer(cfg.Display.LargeText)
	if err == nil {
		err = display.New(r, devs.Panels...).Show(display.SelfTest(display.Status{}))
	}
	check(err == nil, "écran", "mire affichée : vérifiez les quatre coins et les couleurs")
	if devs.Buzzer != nil {
		check(devs.Buzzer.Play(input.BeepSuccess) == nil, "buzzer", "un bip doit retentir")
	}
}
