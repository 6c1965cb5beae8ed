package insisim

import (
	"context"
	"embed"
	"fmt"
	"path/filepath"
	"sync"

	"dmpkiosk/bridge/internal/xsd"
)

// The official INSi schemas (testdata/insi-schemas/SOURCES.md), with
// soap12-insi.xsd, which imports them all to validate a whole envelope.
//
//go:embed testdata/insi-schemas
var schemaFS embed.FS

var (
	schemasOnce sync.Once
	schemasDir  string
	schemasErr  error
)

// Validator checks whole INSi messages (request, answer or fault) against
// the official schemas with xmllint.
type Validator struct{ schema string }

// OpenValidator writes the schemas once per machine and checks that
// xmllint is there.
func OpenValidator() (*Validator, error) {
	schemasOnce.Do(func() { schemasDir, schemasErr = xsd.Cache(schemaFS, "testdata/insi-schemas", "insi-schemas", 1, nil) })
	if schemasErr != nil {
		return nil, schemasErr
	}
	if err := xsd.Available(); err != nil {
		return nil, fmt.Errorf("insisim: %w", err)
	}
	return &Validator{schema: filepath.Join(schemasDir, "soap12-insi.xsd")}, nil
}

// Validate checks one message.
func (v *Validator) Validate(ctx context.Context, msg []byte) error {
	return xsd.Document(ctx, v.schema, "INSi message", msg)
}
