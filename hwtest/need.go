package hwtest

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the run is CI's, where a missing part is a failure.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing stops the test because a part of the rig is not there: a failure in
// CI, a skip elsewhere. pkg names the Debian package that provides it.
func Missing(t testing.TB, what, pkg string) {
	t.Helper()
	msg := what + " is missing: install the Debian package " + pkg + " (make deps)"
	if InCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// LookPath returns the path of an executable or stops the test via Missing.
func LookPath(t testing.TB, bin, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err != nil {
		// Debian puts daemons in sbin, which a non-root PATH may lack.
		for _, dir := range []string{"/usr/sbin/", "/sbin/"} {
			if _, serr := os.Stat(dir + bin); serr == nil {
				return dir + bin
			}
		}
		Missing(t, bin, pkg)
	}
	return p
}
