package provisioning

import (
	"time"
	// The zone database is in the binaries: a kiosk or a bridge on a
	// system without tzdata still keeps French time.
	_ "time/tzdata"
)

// Paris is the establishments' time zone (metropolitan France): where the
// receipts' dates, the HL7 messages' time stamps and the infocentre's days
// are read.
var Paris = func() *time.Location {
	l, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		panic(err) // embedded above
	}
	return l
}()
