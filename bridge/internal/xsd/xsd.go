// Package xsd validates messages against official XML schemas with xmllint
// (Debian libxml2-utils), an implementation independent of this project's
// reading of the schemas. The schemas travel embedded in the simulators;
// Cache writes them once per machine where xmllint reads them.
package xsd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/beevik/etree"
)

// ErrInvalid is a message its schema refuses.
var ErrInvalid = errors.New("not valid against the official schemas")

// Cache writes the files under root of fsys into the user's cache, in a
// folder named by name and the files' digest (so it is shared and never
// stale), runs post in it before it is published, and returns it. version
// changes when what post writes changes.
func Cache(fsys fs.FS, root, name string, version int, post func(dir string) error) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "extraction %d\n", version)
	var files []string
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		files = append(files, p)
		fmt.Fprintf(h, "%s %d\n", p, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", err
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "dmpkiosk", name+"-"+hex.EncodeToString(h.Sum(nil))[:16])
	if _, err := os.Stat(filepath.Join(dir, "complete")); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".extract-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	for _, p := range files {
		b, _ := fs.ReadFile(fsys, p)
		out := filepath.Join(tmp, filepath.FromSlash(strings.TrimPrefix(p, root+"/")))
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(out, b, 0o644); err != nil {
			return "", err
		}
	}
	if post != nil {
		if err := post(tmp); err != nil {
			return "", err
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, "complete"), nil, 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another process extracted the same schemas meanwhile.
		if _, serr := os.Stat(filepath.Join(dir, "complete")); serr == nil {
			return dir, nil
		}
		return "", err
	}
	return dir, nil
}

// Available reports whether xmllint can be run.
func Available() error {
	if _, err := exec.LookPath("xmllint"); err != nil {
		return fmt.Errorf("xmllint (Debian libxml2-utils) is needed to validate against the official schemas: %w", err)
	}
	return nil
}

// WithNamespaces copies el with every namespace declaration in scope, so
// that it stands alone as a document.
func WithNamespaces(el *etree.Element) *etree.Element {
	c := el.Copy()
	for p := el.Parent(); p != nil; p = p.Parent() {
		for _, a := range p.Attr {
			if a.Space != "xmlns" && (a.Space != "" || a.Key != "xmlns") {
				continue
			}
			if c.SelectAttr(a.FullKey()) == nil {
				c.CreateAttr(a.FullKey(), a.Value)
			}
		}
	}
	return c
}

// Element validates one element, standing alone, against schema.
func Element(ctx context.Context, schema string, el *etree.Element) error {
	doc := etree.NewDocument()
	doc.SetRoot(WithNamespaces(el))
	data, err := doc.WriteToBytes()
	if err != nil {
		return err
	}
	return Document(ctx, schema, el.Tag, data)
}

// Document validates a document against schema; what names it in errors.
func Document(ctx context.Context, schema, what string, data []byte) error {
	if _, err := os.Stat(schema); err != nil {
		return fmt.Errorf("%w: no official schema for %s", ErrInvalid, what)
	}
	// --huge: a CDA carrying a PDF of 20 MB holds a text node of 27 MB,
	// beyond libxml2's default limit (10 MB).
	cmd := exec.CommandContext(ctx, "xmllint", "--noout", "--nonet", "--huge", "--schema", schema, "-")
	cmd.Stdin = bytes.NewReader(data)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return fmt.Errorf("running xmllint: %w", err)
		}
		return fmt.Errorf("%w: %s: %s", ErrInvalid, what, lintErrors(stderr.String()))
	}
	return nil
}

// lintErrors keeps xmllint's errors (the first few): its lines about the
// document ("-:LINE: …"), not the schema's own warnings, not the
// document's text a parser error quotes after its line, not the final
// "fails to validate".
func lintErrors(out string) string {
	var keep []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(l, "-:") || strings.Contains(l, "Schemas parser warning") {
			continue
		}
		keep = append(keep, strings.TrimPrefix(l, "-:"))
		if len(keep) == 5 {
			keep = append(keep, "…")
			break
		}
	}
	return strings.Join(keep, "; ")
}
