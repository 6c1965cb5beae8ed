// Package dmp is the bridge's client of the DMP's web services: SOAP 1.2
// with WS-Addressing, the VIHF identification token signed by the
// establishment's ORG SIGN key, mutual TLS with its ORG AUTH_CLI key (both
// keys through a crypto.Signer, a PKCS#11 token in production), the
// transactions TD0.2 (existence and authorization test), TD1.1 (creation,
// legacy regime), TD0.3 (the establishment's authorization) and TD1.3a
// (administrative data), SOAP faults as typed errors, and the Processor
// that turns a verified kiosk event into those transactions.
//
// # Choices where the public sources are silent (inferred)
//
//   - The fault subcodes are read by local name; their namespace is not
//     public (the simulator writes urn:si-dmp:faults). Besides the five the
//     guides name (DMPAccessDeniedByRightsService, DMPFound,
//     DMPInvalidCertificate, DMPClosed, DMPIdentityCertificationFailure), the
//     simulator uses DMPInvalidVIHF (bad signature, missing attribute,
//     expired token, resource-id unlike the message's patient),
//     DMPInvalidRequest, DMPNotFound (TD0.3 or TD1.3a without a DMP),
//     DMPConsentMissing (TD1.1 without consent) and DMPServiceUnavailable
//     (a Receiver fault: transient). Unknown subcodes are kept; a Sender
//     fault is final, a Receiver fault is retried.
//   - A refused creation comes back as PRPA_IN201313UV02 with an AE
//     acknowledgement whose acknowledgementDetail code is the DMP's code
//     (DMPFound, DMPIdentityCertificationFailure, ...); the client turns it
//     into the same typed error as a fault.
//   - TD0.2's attentionLine elements sit at the message wrapper's level
//     (keyWordText + value); queryResponseCode NF means no DMP.
//   - Creation's observations are subjectOf2/administrativeObservation
//     (code in 1.2.250.1.213.4.1.2.3, BL value) of the patient.
//   - The reinforced mode's AuthnContextDecl carries, as text, the card type
//     and serial the professional authenticated with at the kiosk.
//   - VIHF attribute values are written without xsi:type="xs:string": a
//     prefix used only inside an attribute value is dropped by exclusive
//     C14N, and goxmldsig does not write an InclusiveNamespaces list.
//   - In the legacy regime a patient with no NIR of their own (a child on a
//     parent's card) is named by the INS-C (1.2.250.1.213.1.4.2), as the DMP
//     did then; in the current regime only an INS is accepted (the simulator
//     answers an INS-C with DMPIdentityCertificationFailure) and the event of
//     a patient without one is refused before any call (INSi first).
//   - A professional without a health profession code (a CPE, establishment
//     staff) is given the card type ("CPE") as role code.
//   - TD0.3 SUPPRESSION records the patient's refusal (status INTERDIT).
//   - The simulator tells ORG SIGN from ORG AUTH_CLI by key usage: a
//     signature certificate has nonRepudiation and no clientAuth extended
//     usage; the VIHF's signer and the TLS client must be the same legal
//     entity (the FINESS EJ before "/" in the CN).
//   - Of the DMP's TLS 1.2 suites, Go implements the ECDHE-RSA AES-GCM and
//     ChaCha20-Poly1305 ones, not AES-256-CBC-SHA384: the client offers
//     the three it has.
//   - Oppositions (bris de glace, SAMU) are sent with a creation (TD1.1); in
//     the current regime the patient sets them in Mon espace santé and the
//     bridge records only the authorization.
package dmp
