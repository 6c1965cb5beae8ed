package events

import (
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"dmpkiosk/apdu/cps"
	"dmpkiosk/bridge/journal"
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
	// MaxAge is how old an event may be when it arrives (DefaultMaxAge
	// when zero): a kiosk keeps its events while it is offline. Replays
	// are stopped by the id and the device's sequence, not by the clock.
	MaxAge time.Duration
	// Skew is how far ahead of the bridge's clock an event may be
	// (DefaultSkew when zero).
	Skew time.Duration
	Now  func() time.Time
	// Chains caches verified certificate chains (revocation is checked on
	// every event all the same); nil verifies every chain every time.
	Chains *event.ChainCache
	// MaxBytes is the largest sealed event taken, checked before anything
	// is decrypted; DefaultMaxEventBytes when zero.
	MaxBytes int
	// Regime is the one the bridge's DMP runs under; current when empty.
	Regime string
}

// Freshness defaults: a kiosk offline over a long weekend still has its
// events processed; one a week old is refused (the patient has left, the
// professional would not know what the event was).
const (
	DefaultMaxAge = 7 * 24 * time.Hour
	DefaultSkew   = 5 * time.Minute
)

// DefaultMaxEventBytes bounds a sealed event: one is about 10 KB (the
// payload and two certificate chains); 64 KiB leaves room for longer
// chains, and keeps a flood of large messages cheap to refuse.
const DefaultMaxEventBytes = 64 << 10

// cardTypes may create or record consent; a director's card may not (the
// establishment's certificate acts under the director's responsibility).
var cardTypes = map[string]bool{"CPS": true, "CPF": true, "CPE": true}

// Verify checks an event received on topic. A refused event whose
// device is authenticated comes back with the rejection, so that its kiosk
// can be told; otherwise the opened event is nil.
func (v *Verifier) Verify(topic string, payload []byte) (*event.Opened, error) {
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	device, ok := deviceOf(topic)
	if !ok {
		return nil, reject(journal.RejectTopic, "topic %q is not kiosk/<device>/events", topic)
	}
	limit := v.MaxBytes
	if limit == 0 {
		limit = DefaultMaxEventBytes
	}
	if len(payload) > limit {
		return nil, reject(journal.RejectTooLarge, "from %s: %d bytes (at most %d)", device, len(payload), limit)
	}
	// The chains are checked at the time the event was signed, which is
	// then bounded below.
	o, err := event.OpenCached(string(payload), v.EncKey, v.KioskCA, v.CardCA, time.Time{}, v.Chains)
	if o == nil {
		switch {
		case errors.Is(err, event.ErrUndecryptable):
			return nil, reject(journal.RejectUndecrypt, "from %s", device)
		case errors.Is(err, event.ErrMalformed):
			return nil, reject(journal.RejectMalformed, "from %s: %v", device, err)
		case errors.Is(err, event.ErrChain):
			return nil, reject(journal.RejectDeviceChain, "from %s: %v", device, err)
		default:
			return nil, reject(journal.RejectSignature, "from %s: %v", device, err)
		}
	}
	// The device is authenticated: from here a refusal comes back with
	// the event, so that the kiosk is told.
	e := &o.Event
	// Open verified the chain to the kiosk CA for client authentication;
	// what remains is the CRL and the name.
	who, idErr := provisioning.IdentityOf(o.DeviceCert, v.Revocations)
	switch {
	case errors.Is(idErr, provisioning.ErrRevoked), errors.Is(idErr, provisioning.ErrCRLStale):
		return o, reject(journal.RejectRevoked, "device %s: %v", device, idErr)
	case idErr != nil:
		return nil, reject(journal.RejectDeviceChain, "device %s: %v", device, idErr)
	case who.Role != provisioning.RoleKiosk || who.ID != device || e.Device != device:
		// Signed by another device than the topic's: no one to tell.
		return nil, reject(journal.RejectDevice, "topic %s, certificate %s (%s), event %s", device, who.ID, who.Role, e.Device)
	}
	switch {
	case errors.Is(err, event.ErrChain):
		return o, reject(journal.RejectCardChain, "event %s from %s: %v", e.ID, device, err)
	case err != nil:
		return o, reject(journal.RejectSignature, "event %s from %s: %v", e.ID, device, err)
	}
	maxAge, skew := v.MaxAge, v.Skew
	if maxAge == 0 {
		maxAge = DefaultMaxAge
	}
	if skew == 0 {
		skew = DefaultSkew
	}
	if d := now.Sub(e.Time); d > maxAge {
		return o, reject(journal.RejectTooOld, "event %s from %s was signed %s ago (at most %s)", e.ID, device, d.Round(time.Minute), maxAge)
	} else if d < -skew {
		return o, reject(journal.RejectClock, "event %s from %s is %s ahead of the bridge's clock", e.ID, device, (-d).Round(time.Second))
	}
	// The site is the one the kiosk was enrolled at, and only that goes on.
	switch {
	case who.Site == (provisioning.KioskSite{}):
		return o, reject(journal.RejectSite, "event %s: the certificate of %s names no site", e.ID, device)
	case e.Site.FINESS != who.Site.FINESS || e.Site.Unit != who.Site.Unit:
		return o, reject(journal.RejectSite, "event %s: %s claims %s/%s, enrolled at %s", e.ID, device, e.Site.FINESS, e.Site.Unit, who.Site)
	}
	e.Site = event.Site{FINESS: who.Site.FINESS, Unit: who.Site.Unit}
	regime := v.Regime
	if regime == "" {
		regime = event.RegimeCurrent
	}
	if e.Regime != regime {
		return o, reject(journal.RejectRegime, "event %s from %s: made under the %s regime, the DMP runs under the %s one", e.ID, device, e.Regime, regime)
	}
	if e.Professional.NationalID != o.CardCert.Subject.CommonName {
		return o, reject(journal.RejectProfessional, "event %s: the card signing is %s", e.ID, o.CardCert.Subject.CommonName)
	}
	// The professional is what the card certificate says: the card type,
	// the names, the identifier's type and the profession the payload
	// claims must be the certificate's, and only the certificate's go on
	// (the speciality, which it does not state, is dropped).
	holder, err := cps.HolderOf(o.CardCert.Subject)
	if err != nil {
		return o, reject(journal.RejectProfessional, "event %s: the card certificate names no holder: %v", e.ID, err)
	}
	for _, f := range []struct{ name, claimed, cert string }{
		{"card type", e.Professional.CardType, holder.CardType}, {"surname", e.Professional.Surname, holder.Surname},
		{"first name", e.Professional.FirstName, holder.FirstName}, {"identifier type", e.Professional.NationalIDType, holder.NationalIDType},
		{"profession", e.Professional.Profession, holder.Profession},
	} {
		if f.claimed != f.cert {
			return o, reject(journal.RejectProfessional, "event %s: its %s is not the card certificate's", e.ID, f.name)
		}
	}
	e.Professional.Speciality = ""
	if !cardTypes[e.Professional.CardType] {
		return o, reject(journal.RejectCardType, "event %s: a %s card may not %s", e.ID, e.Professional.CardType, e.Type)
	}
	if err := checkContent(e); err != nil {
		return o, reject(journal.RejectContent, "event %s: %v", e.ID, err)
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

func deviceOf(topic string) (string, bool) { return provisioning.KioskOf(topic, "events") }
