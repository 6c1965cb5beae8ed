// Package feed is the flow of the hospital's documents to the DMP (TD2.1),
// from the systems that write them (DPI, RIS, LIS) as ANS's profile for
// handing a CDA to a connector over HL7 v2 says (docs/reference/
// hl7v2-trans-cda, its examples in testdata): MDM^T02 (first sending),
// MDM^T10 (replacement), MDM^T04 (deletion) and ORU^R01 (OBX-11 F, C, D),
// one CDA in OBX 1 (ED, base64), the sender in PRT SB, the flags in the
// OBX of table MetaDMPMSS, over MLLP.
//
// Built so far: the intake. A message is read (Parse), its CDA opened
// (readCDA: a ClinicalDocument whose id is an OID alone, the INS in its
// recordTarget, else 903), and the document kept in the journal before the
// sender is acknowledged AA; anything else gets AE or AR with an ERR that
// says what is wrong, with the profile's codes (HL7 table 0357 in ERR-3,
// the receiver's 900–904 in ERR-5). A message sent again (same sender and
// control id) is acknowledged again and kept once.
//
// Not built yet (issue 33): the establishment's rules, the patient's
// identity and authorization, the CDA's schema and structuration-minimale
// rules, the TD2.1 request with its XAdES signature, the document outbox's
// worker and the business acknowledgement ZAM^Z01.
//
// It owns the reading of those messages and their acknowledgements. It
// must not know the kiosks' events, the GAM delivery or the admin web.
package feed
