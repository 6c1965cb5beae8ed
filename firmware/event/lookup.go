package event

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"

	"dmpkiosk/ins"
)

// The INSi lookup at the desk: the kiosk asks the bridge, on
// kiosk/<device>/insi, for the patient's INS; the bridge asks INSi
// (INSI-MANU) and answers on kiosk/<device>/results, encrypted to the
// kiosk. Neither way does the broker see an identity.
//
// The request is signed by the device (ES256, x5c) and encrypted to the
// bridge, as events are. The answer is encrypted (ECDH-ES+A256KW, A256GCM)
// to a P-256 key the kiosk makes for that one request and sends inside
// the request: the device key may sit on a token that only signs, and a
// key used once leaves nothing to decrypt later answers with. That key
// travels only inside the encrypted request, so only the bridge can write
// an answer the kiosk can open; and the bridge checks, when the event
// comes, that its INS is the one it gave for that request.

// LookupRequest is what the kiosk asks INSi through the bridge.
type LookupRequest struct {
	ID     string     `json:"id"` // UUIDv7; the answer and the event carry it
	Device string     `json:"device"`
	Time   time.Time  `json:"time"`
	Site   Site       `json:"site"`
	Traits ins.Traits `json:"traits"` // as read and validated at the desk; the birth place when typed
	// Vitale: the card's data for INSi's Vitale search (first).
	Vitale *LookupVitale `json:"vitale,omitempty"`
	// Reply is the public key the answer is encrypted to (JWK).
	Reply *jose.JSONWebKey `json:"reply"`
}

// LookupVitale is the beneficiary as the carte Vitale gives them.
type LookupVitale struct {
	Insured    string `json:"insured"`              // the insured person's NIR, 15 characters
	Individual string `json:"individual,omitempty"` // the beneficiary's own NIR, when the card holds one
	BirthName  string `json:"birth_name"`
	BirthDate  string `json:"birth_date"` // AAAAMMJJ as on the card
	BirthRank  int    `json:"birth_rank"`
}

// Lookup outcomes.
const (
	LookupFound       = "found"       // CR 00: one identity, its INS and traits
	LookupNotFound    = "not-found"   // CR 01
	LookupSeveral     = "several"     // CR 02: the birth place is needed
	LookupUnavailable = "unavailable" // INSi did not answer, or faulted: try later; the session goes on provisional
	LookupRefused     = "refused"     // the bridge would not ask (douteuse, traits INSi cannot take)
)

// LookupAnswer is the bridge's answer, encrypted to the request's key.
type LookupAnswer struct {
	Request string `json:"request"`
	Outcome string `json:"outcome"`
	Message string `json:"message,omitempty"` // plain French, for the screen
	// For found: the active INS (Value: 15 characters, matricule and
	// key), its history, the five official traits and when INSi answered.
	INS      *INS        `json:"ins,omitempty"`
	History  []INS       `json:"history,omitempty"`
	Traits   *ins.Traits `json:"traits,omitempty"`
	LookedUp time.Time   `json:"looked_up,omitempty"`
}

// Sealed is a lookup's or a consultation's answer on
// kiosk/<device>/results: the request's id in clear (it names nobody) and
// the answer encrypted.
type Sealed struct {
	Lookup string `json:"lookup,omitempty"`
	// Consult is a consultation's request id (consult.go).
	Consult string `json:"consult,omitempty"`
	JWE     string `json:"jwe"`
}

// NewReplyKey makes the one-use key a lookup's answer is encrypted to.
func NewReplyKey() (*ecdsa.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }

// SealLookup signs the request with the device key, its reply key set
// from reply, and encrypts it to the bridge.
func SealLookup(r *LookupRequest, reply *ecdsa.PrivateKey, device Signer, bridge *ecdsa.PublicKey) (string, error) {
	r.Reply = &jose.JSONWebKey{Key: &reply.PublicKey, Algorithm: string(jose.ECDH_ES_A256KW), Use: "enc"}
	payload, err := json.Marshal(r)
	if err != nil {
		return "", err
	}
	x5c := make([]string, len(device.Chain))
	for i, c := range device.Chain {
		x5c[i] = base64.StdEncoding.EncodeToString(c.Raw)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: cryptosigner.Opaque(device.Key)},
		(&jose.SignerOptions{}).WithHeader("x5c", x5c).WithType("dmpkiosk-insi-lookup"))
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("event: signing the lookup: %w", err)
	}
	compact, err := jws.CompactSerialize()
	if err != nil {
		return "", err
	}
	return encryptTo(bridge, []byte(compact), "JWT")
}

// OpenLookup decrypts a lookup request and verifies the device's
// signature and chain to the kiosk CA at time at; the caller checks the
// device's revocation, name and site.
func OpenLookup(jwe string, bridge *ecdsa.PrivateKey, kioskCA *x509.CertPool, at time.Time, cache *ChainCache) (*LookupRequest, *x509.Certificate, error) {
	obj, err := jose.ParseEncryptedCompact(jwe, []jose.KeyAlgorithm{jose.ECDH_ES_A256KW}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	inner, err := obj.Decrypt(bridge)
	if err != nil {
		return nil, nil, ErrUndecryptable
	}
	jws, err := jose.ParseSignedCompact(string(inner), []jose.SignatureAlgorithm{jose.ES256})
	if err != nil || len(jws.Signatures) != 1 {
		return nil, nil, fmt.Errorf("%w: a compact JWS signed by the device expected", ErrMalformed)
	}
	if typ, _ := jws.Signatures[0].Protected.ExtraHeaders["typ"].(string); typ != "dmpkiosk-insi-lookup" {
		return nil, nil, fmt.Errorf("%w: not a lookup (%q)", ErrMalformed, typ)
	}
	protected, _, _ := strings.Cut(string(inner), ".")
	chain, err := cache.x5c(protected)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrChain, err)
	}
	payload, err := jws.Verify(chain[0].PublicKey)
	if err != nil {
		return nil, nil, ErrSignature
	}
	if err := cache.verify(chain, kioskCA, x509.ExtKeyUsageClientAuth, at); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrChain, err)
	}
	var r LookupRequest
	if err := json.Unmarshal(payload, &r); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := checkReply(r.Reply); err != nil {
		return nil, nil, err
	}
	return &r, chain[0], nil
}

// SealAnswer encrypts an answer to the request's reply key.
func SealAnswer(a *LookupAnswer, reply *jose.JSONWebKey) ([]byte, error) {
	jwe, err := sealTo(reply, a)
	if err != nil {
		return nil, err
	}
	return json.Marshal(Sealed{Lookup: a.Request, JWE: jwe})
}

// OpenAnswer decrypts an answer with the request's reply key; an answer
// for another request is refused.
func OpenAnswer(s Sealed, reply *ecdsa.PrivateKey, request string) (*LookupAnswer, error) {
	var a LookupAnswer
	if err := openWith(s.JWE, reply, &a); err != nil {
		return nil, err
	}
	if a.Request != request || s.Lookup != request {
		return nil, fmt.Errorf("%w: the answer is for request %q, not %q", ErrMalformed, a.Request, request)
	}
	return &a, nil
}

// sealTo encrypts v, as JSON, to a request's reply key.
func sealTo(reply *jose.JSONWebKey, v any) (string, error) {
	pub, ok := reply.Key.(*ecdsa.PublicKey)
	if !ok {
		return "", fmt.Errorf("%w: no reply key", ErrMalformed)
	}
	payload, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return encryptTo(pub, payload, "JSON")
}

// openWith decrypts an answer with the request's reply key into v.
func openWith(jwe string, reply *ecdsa.PrivateKey, v any) error {
	obj, err := jose.ParseEncryptedCompact(jwe, []jose.KeyAlgorithm{jose.ECDH_ES_A256KW}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	payload, err := obj.Decrypt(reply)
	if err != nil {
		return ErrUndecryptable
	}
	if err := json.Unmarshal(payload, v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}

// checkReply holds a request's reply key to what an answer is encrypted
// to: a public P-256 key.
func checkReply(k *jose.JSONWebKey) error {
	if k == nil || !k.Valid() || !k.IsPublic() {
		return fmt.Errorf("%w: no reply key", ErrMalformed)
	}
	if pub, ok := k.Key.(*ecdsa.PublicKey); !ok || pub.Curve.Params().Name != "P-256" {
		return fmt.Errorf("%w: the reply key is not P-256", ErrMalformed)
	}
	return nil
}

func encryptTo(key *ecdsa.PublicKey, plaintext []byte, cty string) (string, error) {
	enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.ECDH_ES_A256KW, Key: key},
		(&jose.EncrypterOptions{}).WithContentType(jose.ContentType(cty)))
	if err != nil {
		return "", err
	}
	obj, err := enc.Encrypt(plaintext)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}
