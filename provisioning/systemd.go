package provisioning

import (
	"context"
	"net"
	"os"
	"strconv"
	"time"
)

// Notify sends a state to systemd (sd_notify) when the service runs under
// it (NOTIFY_SOCKET is set); it does nothing elsewhere.
func Notify(state string) error {
	sock := os.Getenv("NOTIFY_SOCKET")
	if sock == "" {
		return nil
	}
	if sock[0] == '@' {
		sock = "\x00" + sock[1:] // abstract socket
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte(state))
	return err
}

// Watchdog tells systemd the service is alive at half the interval it asks
// for (WATCHDOG_USEC), while alive reports true, until ctx ends. A kiosk
// whose session loop is stuck stops answering and is restarted.
func Watchdog(ctx context.Context, alive func() bool) {
	usec, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || usec <= 0 {
		return
	}
	t := time.NewTicker(time.Duration(usec) * time.Microsecond / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if alive() {
				_ = Notify("WATCHDOG=1")
			}
		}
	}
}
