package journal

import "strings"

// Why the bridge refused an event: the reason a refused event is kept
// with (the head of its LastError), audited and counted under, and that
// the admin web names in French. The events flow decides them; the journal
// keeps and counts them.
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
	RejectClock        = "time-window" // ahead of the bridge's clock
	RejectTooOld       = "too-old"
	RejectReplay       = "replay"
	RejectContent      = "content"
	RejectTooLarge     = "too-large"
	RejectReused       = "id-reused"
	RejectSite         = "site"
	RejectRegime       = "regime"
	// RejectINS: the event's INS is not the one INSi gave the bridge for
	// the lookup it names (or it claims an INSi status without one).
	RejectINS         = "ins-forged"
	RejectRateLimited = "rate-limited" // counted, not answered: the kiosk sends it again
)

// ReasonOf is the reason a refused record was refused for (the head of its
// LastError).
func ReasonOf(r Record) string {
	reason, _, _ := strings.Cut(r.LastError, ":")
	return reason
}
