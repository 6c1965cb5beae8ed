package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	"dmpkiosk/provisioning"
)

// Enroll is the "enroll" subcommand shared by kiosk and bridge: the key is
// made where it will be used (a file, or a PKCS#11 token), and only the
// certificate request leaves the machine.
func Enroll(prog, name string) Command {
	return Command{
		Summary: "make this machine's key and a certificate request for the CA",
		Run: func(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
			fs := Flags(prog, "enroll", stderr)
			id := fs.String("id", "", "device or bridge id (a-z, 0-9, '-')")
			dir := fs.String("dir", "/etc/dmpkiosk", "where the key (unless on a token) and the request go")
			module := fs.String("pkcs11-module", "", "PKCS#11 module holding the key (e.g. a TPM or HSM)")
			token := fs.String("pkcs11-token", "", "token label")
			if err := Parse(fs, args); err != nil {
				return err
			}
			var tok *provisioning.PKCS11
			if *module != "" {
				// The PIN comes from the environment, never the command
				// line, which every user can read in the process list.
				pin, ok := os.LookupEnv("PKCS11_PIN")
				if !ok {
					return fmt.Errorf("%w: set PKCS11_PIN in the environment", ErrUsage)
				}
				tok = &provisioning.PKCS11{Module: *module, Token: *token, PIN: pin}
			}
			path, err := provisioning.Enroll(*dir, name, *id, tok)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "certificate request: %s\nsend it to the CA: provision sign --id %s --csr %s\n", path, *id, path)
			return nil
		},
	}
}
