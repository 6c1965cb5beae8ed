// Package feed is the flow of the hospital's documents to the DMP (TD2.1),
// from the systems that write them (DPI, RIS, LIS) as ANS's profile for
// handing a CDA to a connector over HL7 v2 says (docs/reference/
// hl7v2-trans-cda, its examples in testdata): MDM^T02 (first sending),
// MDM^T10 (replacement), MDM^T04 (deletion) and ORU^R01 (OBX-11 F, C, D),
// one CDA in OBX 1 (ED, base64), the sender in PRT SB, the flags in the
// OBX of table MetaDMPMSS, over MLLP.
//
// The intake (intake.go): a message is read (Parse), its CDA checked
// (CheckCDA: a ClinicalDocument whose id is an OID alone, the INS in its
// recordTarget, else 903; the CDA schema; the CI-SIS structuration-minimale
// header rules, dmp.CheckStructure, judged in its tests by ANS's
// schematron), the INS held to PID-3's (904) and, unless configured
// otherwise, to a qualified identity the establishment holds (902: a GAM's
// patient with PID-32 VALI, an INSi lookup found), and the document kept
// in the journal before the sender is acknowledged AA; anything else gets
// AE or AR with an ERR that says what is wrong, with the profile's codes
// (HL7 table 0357 in ERR-3, the receiver's 900–904 in ERR-5). A message
// sent again (same sender and control id) is acknowledged again and kept
// once.
//
// The worker (worker.go) takes the documents one at a time per patient
// through the journal's claim (a replacement after its original), and
// applies, in order, each rule with its source:
//   - the sender's DESTDMP N (the professional's opt-out, the guide's
//     "débrayage") and the establishment's rules (rules.go: types, units,
//     a marker in the title; default invisibility by type or unit — the
//     guide's examples, psychiatry, oncology before the announcement):
//     held, listed on the admin web, released or discarded by the staff;
//   - R or V confidentiality (HL7's, the author restricted the document):
//     held for a professional (inferred);
//   - a minor under a secret connection: only invisible to the legal
//     representatives (EX_2.1-1050, docs/feeding.md);
//   - both MASQUE_PS and INVISIBLE_PATIENT: refused (EX_2.1-1050);
//   - TD0.2: not authorized, the document waits and is tried again
//     ("keep it, send when authorized", inferred in feeding.md) until
//     AuthWait; INTERDIT: refused;
//   - a replacement (T10, ORU C) names the replaced entry's entryUUID,
//     which TD3.1 finds (RPLC, docs/feeding.md); the original not in the
//     DMP, it goes as a first version (inferred);
//   - a deletion (T04, ORU D) is TD3.3c on the establishment's own entry
//     (PDT-INF-526);
//   - a uniqueId the DMP already has is settled by TD3.1: the same
//     document (the registry's SHA-1) is not sent again, the sender told
//     so (EX_GEN-1060: an unchanged document is not sent twice); another
//     one is refused.
//
// Sent or refused, the business acknowledgement ZAM^Z01 is queued
// (zam.go) and sent to the sender until it answers AA.
//
// It owns the reading of those messages and their acknowledgements. It
// must not know the kiosks' events, the GAM delivery or the admin web.
package feed
