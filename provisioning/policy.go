package provisioning

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// Topics of one kiosk.
func EventsTopic(id string) string  { return "kiosk/" + id + "/events" }
func StatusTopic(id string) string  { return "kiosk/" + id + "/status" }
func ResultsTopic(id string) string { return "kiosk/" + id + "/results" }

// KioskOf is the kiosk whose topic kiosk/<id>/<kind> this is (kind:
// events, insi, dmp…), false for any other topic.
func KioskOf(topic, kind string) (string, bool) {
	parts := strings.Split(topic, "/")
	if len(parts) != 3 || parts[0] != "kiosk" || parts[2] != kind || !ValidID(parts[1]) {
		return "", false
	}
	return parts[1], true
}

// LookupTopic is where a kiosk asks the bridges for an INSi lookup (a
// request encrypted to them; the answer comes on its results topic).
func LookupTopic(id string) string { return "kiosk/" + id + "/insi" }

// BridgeLookupFilter is the shared subscription the bridges take the
// lookups on.
const BridgeLookupFilter = "$share/" + BridgeGroup + "/kiosk/+/insi"

// ConsultTopic is where a bedside tablet asks the bridges for the
// patient's DMP (a request signed by the device and the professional's
// card, encrypted to them; the answers come on its results topic).
func ConsultTopic(id string) string { return "kiosk/" + id + "/dmp" }

// BridgeConsultFilter is the shared subscription the bridges take the
// consultations on.
const BridgeConsultFilter = "$share/" + BridgeGroup + "/kiosk/+/dmp"

// BridgeStatusTopic is where a bridge says, retained, that it is up (and
// its will that it is gone); kiosks listen on BridgeStatusFilter and send
// their pending event at once when a bridge comes back.
func BridgeStatusTopic(id string) string { return "bridge/" + id + "/status" }

// BridgeStatusFilter is every bridge's status.
const BridgeStatusFilter = "bridge/+/status"

// BridgeEventsFilter is the shared subscription the bridges consume events
// on, sharing the load.
const BridgeEventsFilter = "$share/" + BridgeGroup + "/kiosk/+/events"

// BridgeGroup is the bridges' shared-subscription group. Only bridges may
// join it: a kiosk in the group would take its turn of every kiosk's
// events, which its read rights then drop.
const BridgeGroup = "bridges"

// rule is one line of the broker policy. In a pattern, %u is the client's
// own id and + any kiosk id.
type rule struct {
	role    Role
	write   bool
	pattern string
}

// policy is the one source of the broker's access rules: the embedded
// broker evaluates it (Allowed) and mosquitto's dynamic-security
// configuration is generated from it (MosquittoDynsec).
var policy = []rule{
	{RoleKiosk, true, "kiosk/%u/events"},
	{RoleKiosk, true, "kiosk/%u/status"},
	{RoleKiosk, true, "kiosk/%u/insi"},
	{RoleKiosk, true, "kiosk/%u/dmp"},
	{RoleKiosk, false, "kiosk/%u/results"},
	{RoleKiosk, false, "kiosk/%u/cmd"},
	{RoleKiosk, false, "bridge/+/status"},
	{RoleBridge, false, "kiosk/+/events"},
	{RoleBridge, false, "kiosk/+/status"},
	{RoleBridge, false, "kiosk/+/insi"},
	{RoleBridge, false, "kiosk/+/dmp"},
	{RoleBridge, true, "kiosk/+/results"},
	{RoleBridge, true, "kiosk/+/cmd"},
	{RoleBridge, true, "bridge/%u/status"},
}

// Allowed reports whether who may publish to topic (write) or subscribe to
// the filter topic (!write). A kiosk never subscribes to a shared filter; a
// bridge only in the bridges' group, judged on the filter it shares.
// Wildcards in a filter are allowed only where the policy has +.
func Allowed(who Identity, topic string, write bool) bool {
	if !write && strings.HasPrefix(topic, "$share/") {
		group, filter, ok := strings.Cut(strings.TrimPrefix(topic, "$share/"), "/")
		if !ok || who.Role != RoleBridge || group != BridgeGroup {
			return false
		}
		topic = filter
	}
	levels := strings.Split(topic, "/")
	for _, r := range policy {
		if r.role != who.Role || r.write != write {
			continue
		}
		if matches(strings.Split(strings.ReplaceAll(r.pattern, "%u", who.ID), "/"), levels, write) {
			return true
		}
	}
	return false
}

func matches(pattern, levels []string, topicName bool) bool {
	if len(pattern) != len(levels) {
		return false
	}
	for i, p := range pattern {
		l := levels[i]
		switch {
		case p == "+" && l == "+" && !topicName:
		case p == "+" && ValidID(l):
		case p == l && l != "+" && l != "#":
		default:
			return false
		}
	}
	return true
}

// Mosquitto's own acl_file cannot refuse a subscription: it grants every
// SUBSCRIBE and filters at delivery, so a kiosk in the bridges' group would
// swallow its share of the events. Its dynamic-security plugin judges
// subscriptions (and answers "not authorized" in the SUBACK), so the
// policy is rendered for it instead. That plugin (mosquitto 2.0) does not
// substitute %u, so every kiosk gets a role of its own with its topics
// spelled out, and a client it does not know may do nothing.

// Dynsec is a dynamic-security plugin configuration (its JSON file).
type Dynsec struct {
	DefaultACLAccess map[string]bool `json:"defaultACLAccess"`
	Clients          []DynsecClient  `json:"clients"`
	Groups           []struct{}      `json:"groups"`
	Roles            []DynsecRole    `json:"roles"`
}

// DynsecClient is a client of the plugin, known by its certificate's CN.
type DynsecClient struct {
	Username string              `json:"username"`
	Roles    []map[string]string `json:"roles"`
}

// DynsecRole is a named set of ACLs.
type DynsecRole struct {
	Name string      `json:"rolename"`
	ACLs []DynsecACL `json:"acls"`
}

// DynsecACL is one rule of a role.
type DynsecACL struct {
	Type  string `json:"acltype"`
	Topic string `json:"topic"`
	Allow bool   `json:"allow"`
}

// MosquittoDynsec renders the policy as the dynamic-security plugin's
// configuration for the given kiosks and bridges. Whatever a client may
// read it may subscribe to, and nothing else: no subscription is granted
// that would never deliver.
func MosquittoDynsec(kiosks, bridges []string) ([]byte, error) {
	d := Dynsec{
		DefaultACLAccess: map[string]bool{"publishClientSend": false, "publishClientReceive": false, "subscribe": false, "unsubscribe": true},
		Groups:           []struct{}{},
	}
	// The bridges share a role for the kiosks' topics, and each has one
	// of its own for its status.
	bridge := DynsecRole{Name: "bridge"}
	for _, r := range policy {
		if r.role == RoleBridge && !strings.Contains(r.pattern, "%u") {
			bridge.ACLs = append(bridge.ACLs, dynsecACLs(r.pattern, r.write, true)...)
		}
	}
	d.Roles = append(d.Roles, bridge)
	for _, id := range slices.Sorted(slices.Values(kiosks)) {
		if !ValidID(id) {
			return nil, fmt.Errorf("%w: kiosk %q", ErrBadID, id)
		}
		d.Roles = append(d.Roles, ownRole("kiosk:"+id, RoleKiosk, id))
		d.Clients = append(d.Clients, DynsecClient{Username: id, Roles: []map[string]string{{"rolename": "kiosk:" + id}}})
	}
	for _, id := range bridges {
		if !ValidID(id) {
			return nil, fmt.Errorf("%w: bridge %q", ErrBadID, id)
		}
		if slices.Contains(kiosks, id) {
			return nil, fmt.Errorf("%w: %s is both a kiosk and a bridge", ErrIDTaken, id)
		}
		d.Roles = append(d.Roles, ownRole("bridge:"+id, RoleBridge, id))
		d.Clients = append(d.Clients, DynsecClient{Username: id, Roles: []map[string]string{{"rolename": bridge.Name}, {"rolename": "bridge:" + id}}})
	}
	return json.MarshalIndent(d, "", "\t")
}

// ownRole is a client's role for the policy lines of its role: those
// naming it (%u) for a bridge, every line for a kiosk (whose shared lines,
// with +, are the same for all).
func ownRole(name string, role Role, id string) DynsecRole {
	r := DynsecRole{Name: name}
	for _, l := range policy {
		if l.role == role && (role == RoleKiosk || strings.Contains(l.pattern, "%u")) {
			r.ACLs = append(r.ACLs, dynsecACLs(strings.ReplaceAll(l.pattern, "%u", id), l.write, false)...)
		}
	}
	return r
}

// dynsecACLs is one policy line as plugin ACLs: a topic written is sent; a
// topic read is received and subscribed to (a bridge's also in the
// bridges' group).
func dynsecACLs(topic string, write, bridge bool) []DynsecACL {
	if write {
		return []DynsecACL{{"publishClientSend", topic, true}}
	}
	sub := "subscribeLiteral"
	if strings.Contains(topic, "+") {
		sub = "subscribePattern"
	}
	acls := []DynsecACL{{"publishClientReceive", topic, true}, {sub, topic, true}}
	if bridge {
		acls = append(acls, DynsecACL{sub, "$share/" + BridgeGroup + "/" + topic, true})
	}
	return acls
}

// DynsecPlugin is where Debian's mosquitto package put the plugin on this
// machine, else where it puts it on amd64 (the policy may be written on
// another machine than the broker's: give the path there).
func DynsecPlugin() string {
	m, _ := filepath.Glob("/usr/lib/*/mosquitto_dynamic_security.so")
	if len(m) == 0 {
		return "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"
	}
	return m[0]
}

// EnrolledKiosks lists the kiosks the CA issued a certificate to that is
// not revoked.
func EnrolledKiosks(issued []Issued) []string { return Enrolled(issued, RoleKiosk) }

// Enrolled lists the ids of a role the CA issued a certificate to that is
// not revoked.
func Enrolled(issued []Issued, role Role) []string {
	var ids []string
	for _, is := range issued {
		if is.Role == role && is.Revoked.IsZero() && !slices.Contains(ids, is.ID) {
			ids = append(ids, is.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

// MosquittoConfig is a mosquitto listener for kiosks and bridges.
type MosquittoConfig struct {
	Bind                      string // 127.0.0.1, or the hospital network address
	Port                      int
	CAFile, CertFile, KeyFile string
	CRLFile                   string
	// The dynamic-security plugin (DynsecPlugin) and its configuration
	// (MosquittoDynsec).
	DynsecPlugin, DynsecFile string
}

// MaxPacketBytes is the brokers' largest MQTT packet: above the bridge's
// largest event (64 KiB) with room for the MQTT header and topic, so that
// a flood of huge messages is cut at the broker.
const MaxPacketBytes = 128 << 10

// String renders the configuration: TLS 1.2+, a client certificate from the
// kiosk CA required and checked against the CRL, the certificate's CN as
// user name and as client id (so that no client can take another's
// identity), no anonymous access, and the generated policy.
func (c MosquittoConfig) String() string {
	return fmt.Sprintf(`# dmpkiosk broker listener, generated by `+"`provision policy`"+`: do not edit by hand.
# A bridge acknowledges an event once it is journaled: a wider in-flight
# window than the default 20 keeps its group commits full.
max_inflight_messages 256
per_listener_settings true
listener %d %s
cafile %s
certfile %s
keyfile %s
crlfile %s
require_certificate true
use_identity_as_username true
use_username_as_clientid true
tls_version tlsv1.2
allow_anonymous false
plugin %s
plugin_opt_config_file %s
# Without it, Nagle's algorithm and delayed ACKs add some 40 ms to every
# round trip (a kiosk's result waits for it).
set_tcp_nodelay true
# Larger packets are refused (and their client disconnected).
max_packet_size %d
`, c.Port, c.Bind, c.CAFile, c.CertFile, c.KeyFile, c.CRLFile, c.DynsecPlugin, c.DynsecFile, MaxPacketBytes)
}
