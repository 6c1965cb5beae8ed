package hwtest

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// StartPolkit runs the system D-Bus and polkitd when they are not running
// (a container has no init to start them), so that Debian's pcscd judges
// who may use the readers as on an installed appliance.
func StartPolkit(t testing.TB) {
	t.Helper()
	if _, err := os.Stat("/run/dbus/system_bus_socket"); err != nil {
		bus := LookPath(t, "dbus-daemon", "dbus-daemon")
		os.MkdirAll("/run/dbus", 0o755)
		os.Remove("/run/dbus/pid")
		if out, err := exec.Command(bus, "--system", "--fork").CombinedOutput(); err != nil {
			t.Fatalf("the system bus: %v %s", err, out)
		}
	}
	if exec.Command("pgrep", "-x", "polkitd").Run() != nil {
		polkitd := "/usr/lib/polkit-1/polkitd"
		if _, err := os.Stat(polkitd); err != nil {
			Missing(t, "polkitd", "polkitd")
		}
		if err := exec.Command(polkitd, "--no-debug").Start(); err != nil {
			t.Fatalf("polkitd: %v", err)
		}
		for i := 0; exec.Command("busctl", "--system", "status", "org.freedesktop.PolicyKit1").Run() != nil; i++ {
			if i == 100 {
				t.Fatal("polkitd never took its name on the system bus")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
