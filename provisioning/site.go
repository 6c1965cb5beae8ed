package provisioning

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"strings"
)

// KioskSite is where a kiosk is installed: the geographic FINESS of the
// establishment's site and the unit (service). The CA writes it into the
// kiosk's certificate when it is enrolled, and the bridge believes only
// that: an event claiming another site is refused. Moving a kiosk is a new
// certificate.
type KioskSite struct {
	FINESS string
	Unit   string
}

// OIDKioskSite is the certificate extension that carries a kiosk's site:
// a non-critical SEQUENCE { finess PrintableString, unit UTF8String }.
// The identifier is a UUID OID (2.25, ITU-T X.667) of the project's own,
// as no public arc names a site in a device certificate.
var OIDKioskSite = asn1.ObjectIdentifier{2, 25, 217770538, 21778692, 845402021, 722162676, 536}

type siteDER struct {
	FINESS string `asn1:"printable"`
	Unit   string `asn1:"utf8"`
}

// Check reports whether the site can be written into a certificate.
func (s KioskSite) Check() error {
	switch {
	case !finessPattern.MatchString(s.FINESS):
		return fmt.Errorf("provisioning: site %q is not a geographic FINESS (9 characters)", s.FINESS)
	case strings.TrimSpace(s.Unit) == "" || len(s.Unit) > 64:
		return fmt.Errorf("provisioning: unit %q: 1 to 64 characters", s.Unit)
	}
	return nil
}

func (s KioskSite) String() string { return s.FINESS + "/" + s.Unit }

func (s KioskSite) extension() (pkix.Extension, error) {
	der, err := asn1.Marshal(siteDER(s))
	return pkix.Extension{Id: OIDKioskSite, Value: der}, err
}

// SiteOf reads the site a kiosk's certificate names; ok is false when it
// names none or cannot be read.
func SiteOf(cert *x509.Certificate) (KioskSite, bool) {
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(OIDKioskSite) {
			continue
		}
		var d siteDER
		if rest, err := asn1.Unmarshal(ext.Value, &d); err != nil || len(rest) != 0 {
			return KioskSite{}, false
		}
		s := KioskSite(d)
		return s, s.Check() == nil
	}
	return KioskSite{}, false
}
