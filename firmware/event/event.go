// Package event is the kiosk's create/consent event: its JSON payload, its
// two signatures (the device key, ES256, and the professional's card,
// RS256, each with its certificate chain in x5c) in the JWS general JSON
// serialization, and its encryption to the bridge (JWE, ECDH-ES+A256KW with
// A256GCM) so that neither a stolen SD card nor the broker sees an
// identity. The bridge opens and verifies what the kiosk seals.
//
// It is the wire contract between the kiosk and the bridge: the bridge
// imports it (the one edge from the bridge to the kiosk's side), and it
// depends on neither.
package event

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"

	"dmpkiosk/ins"
)

// Types of events.
// Regimes: the DMP rules an event is made under (the bridge's DMP runs
// one).
const (
	// RegimeLegacy: the DMP is created with the patient's consent.
	RegimeLegacy = "legacy"
	// RegimeCurrent: since July 2021, DMPs are opened automatically; no
	// creation.
	RegimeCurrent = "current"
)

const (
	TypeCreate  = "dmp.create"  // legacy regime: create the DMP with the patient's consent
	TypeConsent = "dmp.consent" // information, authorization and oppositions recorded
)

// Event is the payload, as architecture.md describes it.
type Event struct {
	Type         string       `json:"type"`
	ID           string       `json:"id"` // UUIDv7
	Device       string       `json:"device"`
	Site         Site         `json:"site"`
	Context      string       `json:"context"`
	Regime       string       `json:"regime"`
	Time         time.Time    `json:"time"`
	Seq          int64        `json:"seq"`
	Patient      Patient      `json:"patient"`
	Professional Professional `json:"professional"`
	Consent      Consent      `json:"consent"`
}

// Site is where the event was made.
type Site struct {
	FINESS string `json:"finess"` // geographic FINESS
	Unit   string `json:"unit"`
}

// Patient is the patient's identity as read and checked at the kiosk.
type Patient struct {
	INS      *INS         `json:"ins,omitempty"` // the NIR candidate when the card holds one
	INSC     string       `json:"ins_c"`
	Traits   ins.Traits   `json:"traits"`
	Identity ins.Identity `json:"identity"`
	Document string       `json:"document,omitempty"` // identity document checked: passport, id-card, residence-permit
	// INSi is the lookup the INS came from, when INSi gave it at the desk:
	// the bridge takes the INS only if it is the one it gave for that
	// request to this kiosk.
	INSi *INSiRef `json:"insi,omitempty"`
}

// INSiRef is an INS's origin: the lookup's id, when INSi answered, and
// the INS's history (earlier matricules).
type INSiRef struct {
	Request  string    `json:"request"`
	LookedUp time.Time `json:"looked_up"`
	History  []INS     `json:"history,omitempty"`
}

// INS is a matricule and its authority.
type INS struct {
	Value string `json:"value"`
	OID   string `json:"oid"`
}

// Professional is who acted, from the card.
type Professional struct {
	NationalID     string `json:"national_id"`
	NationalIDType string `json:"national_id_type"`
	CardType       string `json:"card_type"`
	CardSerial     string `json:"card_serial"`
	Surname        string `json:"surname"`
	FirstName      string `json:"first_name"`
	Profession     string `json:"profession,omitempty"`
	Speciality     string `json:"speciality,omitempty"`
}

// Consent is the patient's answers.
type Consent struct {
	Informed              bool  `json:"informed"`           // the information brochure was given
	Creation              *bool `json:"creation,omitempty"` // legacy regime only
	Authorization         bool  `json:"authorization"`      // of the establishment
	EmergencyOpposition   bool  `json:"emergency_opposition"`
	BrisDeGlaceOpposition bool  `json:"bris_de_glace_opposition"`
}

// Result is the bridge's answer on kiosk/<device>/results.
type Result struct {
	EventID string `json:"event_id"`
	Outcome string `json:"outcome"` // created, authorized, exists, refused, error
	Message string `json:"message"` // plain French, for the screen
}

// Heartbeat is a kiosk's retained status on kiosk/<device>/status.
type Heartbeat struct {
	Device      string    `json:"device"`
	Online      bool      `json:"online"`
	Version     string    `json:"version,omitempty"`
	Readers     []string  `json:"readers,omitempty"`
	Outbox      int       `json:"outbox"`
	Quarantined int       `json:"quarantined"`
	LastError   string    `json:"last_error,omitempty"`
	Clock       time.Time `json:"clock"`
	Site        Site      `json:"site"`             // as the kiosk is configured
	Regime      string    `json:"regime,omitempty"` // as the kiosk is configured
	// Cert is the device certificate (DER): it proves, by the CA's
	// signature, the site the kiosk was enrolled at.
	Cert []byte `json:"cert,omitempty"`
}

// BridgeStatus is a bridge's retained message on bridge/<id>/status.
type BridgeStatus struct {
	Online bool `json:"online"`
}

// Outcomes.
const (
	OutcomeCreated    = "created"
	OutcomeAuthorized = "authorized"
	OutcomeExists     = "exists"
	OutcomeRefused    = "refused"
	OutcomeError      = "error"
	// OutcomeIdentity: no DMP transaction, the identity is not qualified;
	// it is to be checked at the patient's next visit.
	OutcomeIdentity = "identity-check"
)

// Signer is a key that signs events with its certificate chain.
type Signer struct {
	Key   crypto.Signer
	Chain []*x509.Certificate
}

// Seal signs the event with the device and the card, then encrypts it to
// the bridge; it returns the JWE in compact serialization.
func Seal(e *Event, device, card Signer, bridge *ecdsa.PublicKey) (string, error) {
	payload, err := json.Marshal(e)
	if err != nil {
		return "", err
	}
	jws, err := SignBoth(payload, device, card)
	if err != nil {
		return "", err
	}
	enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.ECDH_ES_A256KW, Key: bridge},
		(&jose.EncrypterOptions{}).WithContentType("JOSE+JSON"))
	if err != nil {
		return "", err
	}
	obj, err := enc.Encrypt(jws)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

type generalJWS struct {
	Payload    string         `json:"payload"`
	Signatures []signatureObj `json:"signatures"`
}

type signatureObj struct {
	Protected string `json:"protected"`
	Signature string `json:"signature"`
}

// SignBoth signs payload with the device key (ES256) and the card (RS256),
// each signature carrying its own x5c, in one JWS general JSON
// serialization. go-jose's multi-signer shares one set of extra headers
// between signatures, so each is made alone and the two are joined.
func SignBoth(payload []byte, device, card Signer) ([]byte, error) {
	out := generalJWS{Payload: base64.RawURLEncoding.EncodeToString(payload)}
	for _, s := range []struct {
		alg jose.SignatureAlgorithm
		sig Signer
	}{{jose.ES256, device}, {jose.RS256, card}} {
		x5c := make([]string, len(s.sig.Chain))
		for i, c := range s.sig.Chain {
			x5c[i] = base64.StdEncoding.EncodeToString(c.Raw)
		}
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: s.alg, Key: cryptosigner.Opaque(s.sig.Key)},
			(&jose.SignerOptions{}).WithHeader("x5c", x5c))
		if err != nil {
			return nil, err
		}
		obj, err := signer.Sign(payload)
		if err != nil {
			return nil, fmt.Errorf("event: %s signature: %w", s.alg, err)
		}
		var one struct {
			Protected string `json:"protected"`
			Signature string `json:"signature"`
		}
		if err := json.Unmarshal([]byte(obj.FullSerialize()), &one); err != nil {
			return nil, err
		}
		out.Signatures = append(out.Signatures, signatureObj(one))
	}
	return json.Marshal(out)
}

// Errors of Open.
var (
	ErrUndecryptable = errors.New("event: cannot decrypt (not for this bridge, or altered)")
	ErrMalformed     = errors.New("event: malformed")
	ErrSignature     = errors.New("event: signature does not verify")
	ErrChain         = errors.New("event: certificate chain refused")
)

// Opened is a decrypted, verified event with the certificates that signed
// it.
type Opened struct {
	Event      Event
	Payload    []byte
	DeviceCert *x509.Certificate
	CardCert   *x509.Certificate
}

// ChainCache remembers certificate chains already verified, until the
// certificate expires: a hospital has few kiosks and cards, and verifying
// their chains again for every event is most of a bridge's work.
// Revocation is not cached: the bridge checks it on every event.
type ChainCache struct {
	mu    sync.Mutex
	ok    map[[32]byte]time.Time       // leaf and roots → not after
	certs map[string]*x509.Certificate // x5c entry → parsed certificate
}

// maxCachedCerts bounds the parsed certificates kept (the cache starts
// afresh beyond).
const maxCachedCerts = 10000

// NewChainCache returns an empty cache.
func NewChainCache() *ChainCache {
	return &ChainCache{ok: map[[32]byte]time.Time{}, certs: map[string]*x509.Certificate{}}
}

// parse returns the certificate of an x5c entry, parsed once.
func (c *ChainCache) parse(b64 string) (*x509.Certificate, error) {
	if c != nil {
		c.mu.Lock()
		cert, ok := c.certs[b64]
		c.mu.Unlock()
		if ok {
			return cert, nil
		}
	}
	der, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil || c == nil {
		return cert, err
	}
	c.mu.Lock()
	if len(c.certs) >= maxCachedCerts {
		c.certs = map[string]*x509.Certificate{}
	}
	c.certs[b64] = cert
	c.mu.Unlock()
	return cert, nil
}

func cacheKey(leaf []byte, roots *x509.CertPool) [32]byte {
	h := sha256.New()
	h.Write(leaf)
	fmt.Fprintf(h, "%p", roots)
	var k [32]byte
	copy(k[:], h.Sum(nil))
	return k
}

// verify checks leaf's chain to roots at, once per certificate.
func (c *ChainCache) verify(chain []*x509.Certificate, roots *x509.CertPool, usage x509.ExtKeyUsage, at time.Time) error {
	leaf := chain[0]
	if at.Before(leaf.NotBefore) || at.After(leaf.NotAfter) {
		return fmt.Errorf("certificate %q not valid at %s", leaf.Subject.CommonName, at.UTC().Format(time.RFC3339))
	}
	var key [32]byte
	if c != nil {
		key = cacheKey(leaf.Raw, roots)
		c.mu.Lock()
		until, ok := c.ok[key]
		c.mu.Unlock()
		if ok && !at.After(until) {
			return nil
		}
	}
	inter := x509.NewCertPool()
	for _, cert := range chain[1:] {
		inter.AddCert(cert)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		return err
	}
	if c != nil {
		c.mu.Lock()
		c.ok[key] = leaf.NotAfter
		c.mu.Unlock()
	}
	return nil
}

// x5c reads the certificate chain of a signature's protected header.
func (c *ChainCache) x5c(protected string) ([]*x509.Certificate, error) {
	raw, err := base64.RawURLEncoding.DecodeString(protected)
	if err != nil {
		return nil, err
	}
	var h struct {
		X5C []string `json:"x5c"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, err
	}
	if len(h.X5C) == 0 {
		return nil, errors.New("no x5c")
	}
	var chain []*x509.Certificate
	for _, s := range h.X5C {
		cert, err := c.parse(s)
		if err != nil {
			return nil, err
		}
		chain = append(chain, cert)
	}
	return chain, nil
}

// Open decrypts an event with the bridge's key and verifies both
// signatures and their chains: the device's to the kiosk CA (client
// authentication), the card's to the professional cards' authority, at the
// given time — or, when at is zero, at the time the event says it was
// signed (the caller then bounds that time: an offline kiosk's event is
// judged by the certificates valid when it was made). Revocation, the
// device name and replay are the bridge's checks.
//
// Once the device's signature and chain hold, an error comes back with the
// opened event (its CardCert nil): the device is authenticated, so the
// bridge can tell the kiosk why its event is refused.
func Open(jwe string, bridge *ecdsa.PrivateKey, kioskCA, cardCA *x509.CertPool, at time.Time) (*Opened, error) {
	return OpenCached(jwe, bridge, kioskCA, cardCA, at, nil)
}

// OpenCached is Open with a cache of verified chains (nil for none).
func OpenCached(jwe string, bridge *ecdsa.PrivateKey, kioskCA, cardCA *x509.CertPool, at time.Time, cache *ChainCache) (*Opened, error) {
	o := &Opened{}
	payload, device, card, err := openBoth(jwe, bridge, kioskCA, cardCA, at, cache, func(payload []byte) (time.Time, error) {
		if err := json.Unmarshal(payload, &o.Event); err != nil {
			return time.Time{}, err
		}
		return o.Event.Time, nil
	})
	if device == nil {
		return nil, err
	}
	o.Payload, o.DeviceCert, o.CardCert = payload, device, card
	return o, err
}

// openBoth decrypts a JWE sealed by the kiosk and verifies its two
// signatures and their chains (the device's to kioskCA, the card's to
// cardCA) at at, or when at is zero at the time read (from the payload,
// once the device's signature holds). Past the device's signature, an
// error comes back with the device's certificate (the kiosk can be told
// why), the card's nil.
func openBoth(jwe string, bridge *ecdsa.PrivateKey, kioskCA, cardCA *x509.CertPool, at time.Time, cache *ChainCache,
	read func(payload []byte) (time.Time, error)) (payload []byte, device, card *x509.Certificate, err error) {
	obj, err := jose.ParseEncryptedCompact(jwe, []jose.KeyAlgorithm{jose.ECDH_ES_A256KW}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	jwsBytes, err := obj.Decrypt(bridge)
	if err != nil {
		return nil, nil, nil, ErrUndecryptable
	}
	jws, err := jose.ParseSignedJSON(string(jwsBytes), []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(jws.Signatures) != 2 {
		return nil, nil, nil, fmt.Errorf("%w: %d signatures, want the device's and the card's", ErrSignature, len(jws.Signatures))
	}
	var g generalJWS
	if err := json.Unmarshal(jwsBytes, &g); err != nil || len(g.Signatures) != 2 {
		return nil, nil, nil, fmt.Errorf("%w: general JSON serialization expected", ErrMalformed)
	}
	for i, want := range []jose.SignatureAlgorithm{jose.ES256, jose.RS256} {
		sig := jws.Signatures[i]
		if sig.Protected.Algorithm != string(want) {
			return payload, device, nil, fmt.Errorf("%w: signature %d uses %s", ErrSignature, i, sig.Protected.Algorithm)
		}
		chain, err := cache.x5c(g.Signatures[i].Protected)
		if err != nil {
			return payload, device, nil, fmt.Errorf("%w: signature %d: %v", ErrChain, i, err)
		}
		leaf := chain[0]
		// The certificate in a signature's header must verify that very
		// signature, not the other one.
		idx, _, p, err := jws.VerifyMulti(leaf.PublicKey)
		if err != nil || idx != i {
			return payload, device, nil, fmt.Errorf("%w: signature %d", ErrSignature, i)
		}
		roots, usage := kioskCA, x509.ExtKeyUsageClientAuth
		if i == 0 {
			when, err := read(p)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
			}
			payload = p
			if at.IsZero() {
				at = when
			}
		} else {
			roots, usage = cardCA, x509.ExtKeyUsageAny
		}
		if err := cache.verify(chain, roots, usage, at); err != nil {
			return payload, device, nil, fmt.Errorf("%w: signature %d: %v", ErrChain, i, err)
		}
		if i == 0 {
			device = leaf
		} else {
			card = leaf
		}
	}
	return payload, device, card, nil
}
