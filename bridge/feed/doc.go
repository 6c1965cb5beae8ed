// Package feed is the flow of the hospital's documents to the DMP (TD2.1),
// from the systems that write them (DPI, RIS, LIS) as ANS's profile for
// handing a CDA to a connector over HL7 v2 says (docs/reference/
// hl7v2-trans-cda, its examples in testdata): MDM^T02 (first sending),
// MDM^T10 (replacement), MDM^T04 (deletion) and ORU^R01 (OBX-11 F, C, D),
// one CDA in OBX 1 (ED, base64), the sender in PRT SB, the flags in the
// OBX of table MetaDMPMSS, over MLLP.
//
// The intake (intake.go): a message is read (Parse), its CDA opened
// (readCDA: a ClinicalDocument whose id is an OID alone, the INS in its
// recordTarget, else 903; the INS of PID-3, when the message gives one, the
// same, else 904), and the document kept in the journal before the sender
// is acknowledged AA; anything else gets AE or AR with an ERR that says
// what is wrong, with the profile's codes (HL7 table 0357 in ERR-3, the
// receiver's 900–904 in ERR-5). A message sent again (same sender and
// control id) is acknowledged again and kept once.
//
// The worker (worker.go) takes the documents one at a time per patient
// through the journal's claim: the sender's DESTDMP N and the
// establishment's rules (rules.go) first, then the DMP's own (sources:
// docs/feeding.md — a document both MASQUE_PS and INVISIBLE_PATIENT is
// refused, EX_2.1-1050; DESTDMP N is the professional's opt-out, the
// guide's "débrayage"), then TD0.2 (not authorized: the document waits,
// "keep it, send when authorized", inferred in feeding.md; INTERDIT:
// refused), then TD2.1 (bridge/dmp). Sent or refused, the business
// acknowledgement ZAM^Z01 is queued (zam.go) and sent to the sender until
// it answers AA.
//
// A held document released by the staff (the admin web) goes whatever
// the sender's flag and the rules said.
//
// Not built yet (issue 33): replacements and deletions (held meanwhile),
// the structuration-minimale checks.
//
// It owns the reading of those messages and their acknowledgements. It
// must not know the kiosks' events, the GAM delivery or the admin web.
package feed
