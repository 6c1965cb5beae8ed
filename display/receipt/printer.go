package receipt

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"
	"time"
)

// Printer takes a receipt's ESC/POS bytes.
type Printer interface {
	Print(ctx context.Context, data []byte) error
	String() string
}

// Open is the printer a configuration names: "usb:/dev/usb/lp0" (the
// kernel's usblp device) or "tcp:host:9100" (a network printer's raw
// port).
func Open(spec string) (Printer, error) {
	kind, where, _ := strings.Cut(spec, ":")
	switch {
	case kind == "usb" && strings.HasPrefix(where, "/"):
		return usbPrinter(where), nil
	case kind == "tcp" && where != "":
		if _, _, err := net.SplitHostPort(where); err != nil {
			return nil, fmt.Errorf("imprimante %q : hôte:port attendu (%v)", spec, err)
		}
		return netPrinter(where), nil
	}
	return nil, fmt.Errorf("imprimante %q : usb:/dev/usb/lp0 ou tcp:hôte:9100", spec)
}

// ErrPrinter is every failure to print: the receipt is not printed, the
// session's outcome stands.
var ErrPrinter = errors.New("imprimante")

type usbPrinter string

func (p usbPrinter) String() string { return "usb:" + string(p) }

// Print writes to the device; a printer switched off or out of paper may
// block a write, so the context bounds it.
func (p usbPrinter) Print(ctx context.Context, data []byte) error {
	f, err := os.OpenFile(string(p), os.O_WRONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w USB absente (%s) : vérifiez son câble et qu'elle est allumée", ErrPrinter, p)
	}
	if err != nil {
		return fmt.Errorf("%w USB : %v", ErrPrinter, err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := f.Write(data)
		done <- err
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%w USB : impression interrompue (papier, capot ?) : %v", ErrPrinter, err)
	}
	return nil
}

type netPrinter string

func (p netPrinter) String() string { return "tcp:" + string(p) }

func (p netPrinter) Print(ctx context.Context, data []byte) error {
	d := net.Dialer{Timeout: 3 * time.Second}
	c, err := d.DialContext(ctx, "tcp", string(p))
	if err != nil {
		return fmt.Errorf("%w réseau injoignable (%s) : vérifiez qu'elle est allumée et branchée", ErrPrinter, string(p))
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if _, err := c.Write(data); err != nil {
		return fmt.Errorf("%w réseau : impression interrompue : %v", ErrPrinter, err)
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	return nil
}
