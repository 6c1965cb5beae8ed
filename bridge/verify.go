package bridge

import (
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"dmpkiosk/apdu/cps"
	"dmpkiosk/firmware/event"
	"dmpkiosk/provisioning"
)

// Rejection is why an event was refused. Every rejection is audited and
// counted; a rejected event is never processed.
type Rejection struct {
	Reason string // a short code: malformed, undecryptable, signature, device-chain, revoked, ...
	Detail string // for the audit trail: ids and causes, never patient data
}

func (r *Rejection) Error() string { return "event rejected (" + r.Reason + "): " + r.Detail }

// Rejection reasons.
const (
	RejectTopic        = "topic"
	RejectMalformed    = "malformed"
	RejectUndecrypt    = "undecryptable"
	RejectSignature    = "signature"
	RejectDeviceChain  = "device-chain"
	RejectRevoked      = "revoked"
	RejectDevice       = "device-mismatch"
	RejectCardChain    = "card-chain"
	RejectCardType     = "card-type"
	RejectProfessional = "professional-mismatch"
	RejectClock        = "time-window"
	RejectReplay       = "replay"
	RejectContent      = "content"
	RejectTooLarge     = "too-large"
	RejectReused       = "id-reused"
	RejectSite         = "site"
	RejectRegime       = "regime"
	RejectRateLimited  = "rate-limited" // counted, not answered: the kiosk sends it again
)

func reject(reason, format string, a ...any) error {
	return &Rejection{Reason: reason, Detail: fmt.Sprintf(format, a...)}
}

// Verifier checks an event before it may be journaled: it decrypts it,
// verifies the device's and the card's signatures and chains, that the
// device is the topic's and not revoked, that the site is the one the
// device was enrolled at and the regime the bridge's, that the
// professional named is the card's holder and may act, and that its time
// is within the window.
// Replays of ids and sequences are the journal's check, made atomically
// with the store.
type Verifier struct {
	EncKey      *ecdsa.PrivateKey
	KioskCA     *x509.CertPool
	Revocations *provisioning.Revocations
	CardCA      *x509.CertPool
	Window      time.Duration // |event time − now| allowed; 10 minutes when zero
	Now         func() time.Time
	// Chains caches verified certificate chains (revocation is checked on
	// every event all the same); nil verifies every chain every time.
	Chains *event.ChainCache
	// MaxBytes is the largest sealed event taken, checked before anything
	// is decrypted; DefaultMaxEventBytes when zero.
	MaxBytes int
	// Regime is the one the bridge's DMP runs under; current when empty.
	Regime string
}

// DefaultMaxEventBytes bounds a sealed event: one is about 10 KB (the
// payload and two certificate chains); 64 KiB leaves room for longer
// chains, and keeps a flood of large messages cheap to refuse.
const DefaultMaxEventBytes = 64 << 10

// cardTypes may create or record consent; a director's card may not (the
// establishment's certificate acts under the director's responsibility).
var cardTypes = map[string]bool{"CPS": true, "CPF": true, "CPE": true}

// Verify checks an event received on topic.
func (v *Verifier) Verify(topic string, payload []byte) (*event.Opened, error) {
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	device, ok := deviceOf(topic)
	if !ok {
		return nil, reject(RejectTopic, "topic %q is not kiosk/<device>/events", topic)
	}
	limit := v.MaxBytes
	if limit == 0 {
		limit = DefaultMaxEventBytes
	}
	if len(payload) > limit {
		return nil, reject(RejectTooLarge, "from %s: %d bytes (at most %d)", device, len(payload), limit)
	}
	o, err := event.OpenCached(string(payload), v.EncKey, v.KioskCA, v.CardCA, now, v.Chains)
	switch {
	case errors.Is(err, event.ErrUndecryptable):
		return nil, reject(RejectUndecrypt, "from %s", device)
	case errors.Is(err, event.ErrMalformed):
		return nil, reject(RejectMalformed, "from %s: %v", device, err)
	case errors.Is(err, event.ErrChain) && strings.Contains(err.Error(), "signature 0"):
		return nil, reject(RejectDeviceChain, "from %s: %v", device, err)
	case errors.Is(err, event.ErrChain):
		return nil, reject(RejectCardChain, "from %s: %v", device, err)
	case err != nil:
		return nil, reject(RejectSignature, "from %s: %v", device, err)
	}
	e := &o.Event
	// Open verified the chain to the kiosk CA for client authentication;
	// what remains is the CRL and the name.
	who, err := provisioning.IdentityOf(o.DeviceCert, v.Revocations)
	switch {
	case errors.Is(err, provisioning.ErrRevoked), errors.Is(err, provisioning.ErrCRLStale):
		return nil, reject(RejectRevoked, "device %s: %v", device, err)
	case err != nil:
		return nil, reject(RejectDeviceChain, "device %s: %v", device, err)
	case who.Role != provisioning.RoleKiosk || who.ID != device || e.Device != device:
		return nil, reject(RejectDevice, "topic %s, certificate %s (%s), event %s", device, who.ID, who.Role, e.Device)
	}
	// The site is the one the kiosk was enrolled at, and only that goes on.
	switch {
	case who.Site == (provisioning.KioskSite{}):
		return nil, reject(RejectSite, "event %s: the certificate of %s names no site", e.ID, device)
	case e.Site.FINESS != who.Site.FINESS || e.Site.Unit != who.Site.Unit:
		return nil, reject(RejectSite, "event %s: %s claims %s/%s, enrolled at %s", e.ID, device, e.Site.FINESS, e.Site.Unit, who.Site)
	}
	e.Site = event.Site{FINESS: who.Site.FINESS, Unit: who.Site.Unit}
	regime := v.Regime
	if regime == "" {
		regime = event.RegimeCurrent
	}
	if e.Regime != regime {
		return nil, reject(RejectRegime, "event %s from %s: made under the %s regime, the DMP runs under the %s one", e.ID, device, e.Regime, regime)
	}
	if e.Professional.NationalID != o.CardCert.Subject.CommonName {
		return nil, reject(RejectProfessional, "event %s: the card signing is %s", e.ID, o.CardCert.Subject.CommonName)
	}
	// The professional is what the card certificate says: the card type,
	// the names, the identifier's type and the profession the payload
	// claims must be the certificate's, and only the certificate's go on
	// (the speciality, which it does not state, is dropped).
	holder, err := cps.HolderOf(o.CardCert.Subject)
	if err != nil {
		return nil, reject(RejectProfessional, "event %s: the card certificate names no holder: %v", e.ID, err)
	}
	for _, f := range []struct{ name, claimed, cert string }{
		{"card type", e.Professional.CardType, holder.CardType}, {"surname", e.Professional.Surname, holder.Surname},
		{"first name", e.Professional.FirstName, holder.FirstName}, {"identifier type", e.Professional.NationalIDType, holder.NationalIDType},
		{"profession", e.Professional.Profession, holder.Profession},
	} {
		if f.claimed != f.cert {
			return nil, reject(RejectProfessional, "event %s: its %s is not the card certificate's", e.ID, f.name)
		}
	}
	e.Professional.Speciality = ""
	if !cardTypes[e.Professional.CardType] {
		return nil, reject(RejectCardType, "event %s: a %s card may not %s", e.ID, e.Professional.CardType, e.Type)
	}
	window := v.Window
	if window == 0 {
		window = 10 * time.Minute
	}
	if d := now.Sub(e.Time); d > window || d < -window {
		return nil, reject(RejectClock, "event %s from %s is %s away from the bridge's clock", e.ID, device, d.Round(time.Second))
	}
	if err := checkContent(e); err != nil {
		return nil, reject(RejectContent, "event %s: %v", e.ID, err)
	}
	return o, nil
}

// checkContent refuses an event whose fields cannot be acted on.
func checkContent(e *event.Event) error {
	switch {
	case e.ID == "" || e.Seq <= 0:
		return errors.New("no id or sequence")
	case e.Type != event.TypeCreate && e.Type != event.TypeConsent:
		return fmt.Errorf("type %q", e.Type)
	case e.Type == event.TypeCreate && (e.Regime != event.RegimeLegacy || e.Consent.Creation == nil || !*e.Consent.Creation):
		return errors.New("a creation needs the legacy regime and the patient's consent to it")
	case !e.Consent.Informed:
		return errors.New("the patient was not informed")
	case e.Patient.INSC == "" && e.Patient.INS == nil:
		return errors.New("no patient identifier")
	}
	return nil
}

func deviceOf(topic string) (string, bool) {
	parts := strings.Split(topic, "/")
	if len(parts) != 3 || parts[0] != "kiosk" || parts[2] != "events" || !provisioning.ValidID(parts[1]) {
		return "", false
	}
	return parts[1], true
}
