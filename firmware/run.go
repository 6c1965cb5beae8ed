package firmware

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"dmpkiosk/apdu/pcsc"
	"dmpkiosk/display"
	"dmpkiosk/display/input"
	"dmpkiosk/display/web"
	"dmpkiosk/firmware/event"
	"dmpkiosk/provisioning"
)

// RunOptions are what kiosk run needs beyond the configuration.
type RunOptions struct {
	Version string
	Logger  *slog.Logger
	Tray    web.Tray // the virtual card tray of a simulation; nil on a device
	// WebReady, when set, receives the web view's address once it listens.
	WebReady chan<- string
}

// Run is the kiosk: outbox, link, card monitor, display and inputs, and the
// session, until ctx ends.
func Run(ctx context.Context, cfg *Config, opts RunOptions) error {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	creds, err := cfg.LoadCredentials()
	if err != nil {
		return err
	}
	ob, err := OpenOutbox(cfg.Path(cfg.Outbox), cfg.OutboxCapacity)
	if err != nil {
		return err
	}
	defer ob.Close()
	link := StartLink(ctx, LinkConfig{BrokerURL: cfg.Broker.URL, TLS: creds.TLS, DeviceID: cfg.DeviceID, Version: opts.Version,
		ResultWait: cfg.ResultWait.Duration, Logger: log, Readers: listReaders,
		Site: event.Site{FINESS: cfg.Site, Unit: cfg.Unit}, Regime: cfg.Regime}, ob)

	rend, err := display.NewRenderer(cfg.Display.LargeText)
	if err != nil {
		return err
	}
	devs, err := display.Open(cfg.Display)
	if err != nil {
		return err
	}
	inputs := make(chan input.Event, 16)
	panels := devs.Panels
	var page ReceiptOut
	if cfg.WebListen != "" {
		view := web.New(inputs, opts.Tray)
		panels, page = append(panels, view), view
		ln, err := net.Listen("tcp", cfg.WebListen)
		if err != nil {
			return fmt.Errorf("web view on %s: %w", cfg.WebListen, err)
		}
		srv := &http.Server{Handler: view.Handler(), ReadHeaderTimeout: 5 * time.Second}
		go func() { <-ctx.Done(); _ = srv.Close() }()
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("web view stopped", "error", err)
			}
		}()
		log.Info("web view", "url", "http://"+ln.Addr().String())
		if opts.WebReady != nil {
			opts.WebReady <- ln.Addr().String()
		}
	}
	if devs.Buttons != nil {
		go devs.Buttons.Run(ctx, inputs)
	}
	if devs.Keypad != nil {
		go func() {
			if err := devs.Keypad.Run(ctx, inputs); err != nil {
				log.Error("keypad stopped", "error", err)
			}
		}()
	}
	receipts, err := OpenReceipts(cfg.Receipt, rend, page)
	if err != nil {
		return fmt.Errorf("receipt: %w", err)
	}
	cards := make(chan pcsc.Event, 16)
	go pcsc.NewMonitor(pcsc.MonitorOptions{Readers: cfg.Readers, Logger: log}).Run(ctx, cards)

	s := &Session{Config: cfg, Creds: creds, Display: display.New(rend, panels...), Inputs: inputs, Cards: cards,
		Link: link, Outbox: ob, Buzzer: devs.Buzzer, Logger: log, Receipts: receipts, ping: make(chan chan struct{})}
	_ = provisioning.Notify("READY=1")
	go provisioning.Watchdog(ctx, s.Alive)
	err = s.Run(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func listReaders() []string {
	pc, err := pcsc.Establish()
	if err != nil {
		return nil
	}
	defer pc.Release()
	rs, _ := pc.Readers()
	return rs
}
