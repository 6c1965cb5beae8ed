// Package ins owns the patient identifiers of the French health system: the
// NIR (social security number) and its key, the historical INS-C computed
// from the carte Vitale, the INS (matricule + OID of its assigning authority)
// in its HL7 and FHIR renderings, the identity traits normalised as the
// national identity rules (RNIV) require, and the identity status model
// (provisoire, récupérée, validée, qualifiée).
//
// It knows nothing of cards or networks. Nothing here logs: the values it
// handles are patient data.
//
// Choices the public sources leave open, made here:
//   - A NIR whose first digit is 3, 4, 7 or 8 is read as a temporary number
//     (not certified by the RNIPP) and flagged; 1 and 2 are the certified
//     sexes. Any other first digit is an error.
//   - Birth months 01–12 are real; 20–42 and 50–99 are the pseudo-months of
//     an incomplete civil record, accepted and flagged; 00, 13–19 and 43–49
//     are errors. Département 20 (Corsica before 1976) is accepted, and so
//     is the order number 000, which the official INS-C sample contains.
//   - For the INS-C and the traits, letters with diacritics of Latin-1 and
//     Latin Extended-A fold to their base letter and the ligatures Æ, Œ, ß
//     expand to AE, OE, SS.
package ins
