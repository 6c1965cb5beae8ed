package provisioning

import "time"

// Duration is a duration in a TOML configuration ("30s", "10m"): the one
// type the kiosk's and the bridge's configurations both use.
type Duration struct{ time.Duration }

// UnmarshalText reads a Go duration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	d.Duration = v
	return err
}

// MarshalText writes it back.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }
