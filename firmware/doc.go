// Package firmware is the kiosk itself: the session state machine for the
// admission desk, the bedside tablet and the consultation exit; the inputs;
// the create/consent events and their two signatures (device key and the
// professional's card); the durable outbox; the MQTT link to the bridge; the
// results shown on screen; health reports and configuration.
//
// It uses apdu/*, ins and display, and declares the interfaces it needs of
// them. It knows nothing of SOAP or of the DMP's rules beyond the consent
// questions it asks.
package firmware
