// Package sih tells the hospital's own information system what the bridge
// learnt: the patient's INS, the identity's status and how it was
// obtained, and the patient's DMP answers, to the patient administration
// system (the GAM) as an update of the patient (ADT^A31, IHE PAM France
// 2.11) over MLLP, after finding the patient's local identifier (IPP) with
// an IHE PDQ query (ITI-21, QBP^Q22 → RSP^K22). Facts and sources:
// shared/docs/sih.md.
//
// The delivery (delivery.go) is the flow around those messages: Tell
// queues one outbox entry per event and receiver in the journal; a sender
// per receiver claims its entries (the journal's one claim, under a lease,
// in order per patient), queries the IPP, writes the update once and
// resends that same message until it is acknowledged, or leaves it to be
// matched by hand or retried from the admin web. The MLLP listener keeps
// the patients the GAMs tell of for the receivers matched from their
// admissions.
//
// It must not know the events flow (which hands it an event and its
// outcome), the DMP or the admin web.
package sih
