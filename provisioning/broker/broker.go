// Package broker is the embedded MQTT broker of the default installation
// (github.com/mochi-mqtt/server/v2): TLS with a client certificate from the
// kiosk CA required, the certificate checked against the CRL, the client id
// required to equal the certificate's name, and the provisioning policy as
// its ACL. It enforces what the generated mosquitto configuration enforces.
package broker

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"dmpkiosk/provisioning"
)

// Options configure a Broker.
type Options struct {
	Addr        string          // host:port; port 0 picks a free one
	Roots       *x509.CertPool  // the kiosk CA
	Server      tls.Certificate // the broker's own certificate
	Revocations *provisioning.Revocations
	Logger      *slog.Logger
}

// Broker is a running embedded broker.
type Broker struct {
	srv  *mqtt.Server
	addr string
	auth *authHook
}

// Start listens and serves until Close.
func Start(opts Options) (*Broker, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = provisioning.MaxPacketBytes
	srv := mqtt.New(&mqtt.Options{InlineClient: false, Logger: opts.Logger, Capabilities: caps})
	auth := &authHook{roots: opts.Roots, rev: opts.Revocations, log: opts.Logger, ids: map[*mqtt.Client]provisioning.Identity{}}
	if err := srv.AddHook(auth, nil); err != nil {
		return nil, err
	}
	tlsConf := &tls.Config{
		Certificates: []tls.Certificate{opts.Server},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    opts.Roots,
		MinVersion:   tls.VersionTLS12,
		// Revoked certificates are refused in the handshake, before any
		// MQTT packet is read.
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := provisioning.VerifyClient(cs.PeerCertificates, opts.Roots, opts.Revocations)
			return err
		},
	}
	if err := srv.AddListener(listeners.NewTCP(listeners.Config{ID: "tls", Address: addr, TLSConfig: tlsConf})); err != nil {
		return nil, err
	}
	if err := srv.Serve(); err != nil {
		return nil, err
	}
	return &Broker{srv: srv, addr: addr, auth: auth}, nil
}

// Addr is the address the broker listens on.
func (b *Broker) Addr() string { return b.addr }

// URL is the broker's address for an MQTT client.
func (b *Broker) URL() string { return "ssl://" + b.addr }

// Close stops the broker.
func (b *Broker) Close() error { return b.srv.Close() }

// Reload rereads the CRL and disconnects the clients it now revokes: a
// stolen kiosk is shut out in one step.
func (b *Broker) Reload() error {
	if b.auth.rev == nil {
		return nil
	}
	if _, err := b.auth.rev.Reload(); err != nil {
		return err
	}
	for _, cl := range b.srv.Clients.GetAll() {
		cert := peerCert(cl)
		if cert == nil || b.auth.rev.Check(cert) != nil {
			b.auth.log.Warn("broker: disconnecting a revoked client", "client", cl.ID)
			cl.Stop(errRevoked)
		}
	}
	return nil
}

var errRevoked = errors.New("certificate revoked")

// authHook authenticates clients by certificate and applies the policy.
type authHook struct {
	mqtt.HookBase
	roots *x509.CertPool
	rev   *provisioning.Revocations
	log   *slog.Logger

	// Keyed by connection, not client id: when a client takes its session
	// over, the old connection's disconnect must not erase the new one.
	mu  sync.RWMutex
	ids map[*mqtt.Client]provisioning.Identity
}

func (h *authHook) ID() string { return "dmpkiosk-cert-auth" }

func (h *authHook) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck || b == mqtt.OnDisconnect
}

func peerCert(cl *mqtt.Client) *x509.Certificate {
	tc, ok := cl.Net.Conn.(*tls.Conn)
	if !ok {
		return nil
	}
	cs := tc.ConnectionState()
	if len(cs.PeerCertificates) == 0 {
		return nil
	}
	return cs.PeerCertificates[0]
}

func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	tc, ok := cl.Net.Conn.(*tls.Conn)
	if !ok {
		return false
	}
	who, err := provisioning.VerifyClient(tc.ConnectionState().PeerCertificates, h.roots, h.rev)
	if err != nil {
		h.log.Warn("broker: refused a client certificate", "error", err)
		return false
	}
	// The client id must be the certificate's name, so that no client can
	// take over another's session.
	if pk.Connect.ClientIdentifier != who.ID {
		h.log.Warn("broker: client id differs from its certificate", "certificate", who.ID)
		return false
	}
	h.mu.Lock()
	h.ids[cl] = who
	h.mu.Unlock()
	return true
}

func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	h.mu.RLock()
	who, ok := h.ids[cl]
	h.mu.RUnlock()
	if !ok {
		return false
	}
	allowed := provisioning.Allowed(who, topic, write)
	if !allowed {
		h.log.Warn("broker: denied by policy", "client", who.ID, "write", write)
	}
	return allowed
}

func (h *authHook) OnDisconnect(cl *mqtt.Client, _ error, _ bool) {
	h.mu.Lock()
	delete(h.ids, cl)
	h.mu.Unlock()
}

// String names the broker in logs.
func (b *Broker) String() string { return fmt.Sprintf("embedded broker at %s", b.addr) }
