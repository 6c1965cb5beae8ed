// Package provisioning owns the hospital's kiosk CA, device enrollment (CSR
// checked, certificate named after the device id), configuration bundles,
// the broker access policy (mosquitto ACL and embedded broker hooks from one
// source) and revocation.
//
// It knows nothing of the card applications.
package provisioning
