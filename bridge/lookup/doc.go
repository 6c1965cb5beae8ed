// Package lookup answers the INSi lookups the kiosks ask for during a
// session: a request signed by the device and encrypted to the bridges is
// opened and checked (device = certificate = topic, not revoked, fresh),
// INSi is asked (INSI-MANU), the answer is kept in the journal under the
// request's id (a request seen again is answered from there) and sent to
// the kiosk encrypted to the key it made for that request.
//
// It must not know the events flow (which checks an event's INS against
// what is kept here through the journal), the DMP or the admin web.
package lookup
