// Package dmp is the bridge's client of the DMP's web services: SOAP 1.2
// with WS-Addressing, the VIHF identification token signed by the
// establishment's ORG SIGN key, mutual TLS with its ORG AUTH_CLI key (both
// keys through a crypto.Signer, a PKCS#11 token in production), the
// transactions TD0.2 (existence and authorization test), TD1.1 (creation,
// legacy regime), TD0.3 (the establishment's authorization) and TD1.3a
// (administrative data), SOAP faults as typed errors, and the Processor
// that turns a verified kiosk event into those transactions.
//
// # The official dialect
//
// Requests and answers follow the package DMP (schemas and example
// messages in dmpsim/testdata/dmp-schemas and testdata/dmp-examples, each
// with its SOURCES.md). Every request this client writes validates against
// the official schemas (HL7 v3 NE2009 multicache schemas, the schema
// embedded in Habilitations.wsdl, SAML 2.0 with the HL7 datatypes for the
// VIHF), checked by xmllint in the tests, and the simulator refuses a
// request that does not (a Sender fault, as the DMP). The official example
// answers are the parser's fixtures, with variants built from them.
//
// # Where the requests still differ from the official examples, and why
//
//   - processingCode is P (production); the examples, sent to the test
//     platform, carry D: set dmp.test_environment for homologation.
//   - Message ids: root = the software's OID (dmp.lps.device_oid) + ".1.1",
//     query ids + ".2", extension a UUID: the arcs of the examples under
//     our own OID. Without a configured OID the software is named by a
//     fixed 2.25 UUID-OID (DefaultDeviceOID), not by a registered one.
//   - The xsi:nil placeholders of the examples (attentionLine, dataSource)
//     are left out: the TD1.3a example's own schema refuses them.
//   - The birth name is written family qualifier="BR" (HL7's birth name);
//     the examples' DMP-side names carry "SP". Answers are read either way:
//     the BR part when there is one, else the first family part.
//   - wsa:Action carries soap:mustUnderstand="true" (the SOAP 1.2
//     attribute); the examples write an unqualified mustUnderstand on
//     Action and ReplyTo, and put wsa:To empty. wsse:Security carries no
//     mustUnderstand, as in the examples.
//   - The VIHF has a saml2:Conditions validity window (one minute before,
//     five after issue), absent from the examples; the schema allows it and
//     it bounds a leaked token's use. NameID has no Format, as the examples.
//   - VIHF attribute values are written without xsi:type="xs:string" (the
//     examples have it): exclusive C14N would drop the xs declaration it
//     needs, and the schema types AttributeValue anyType either way.
//   - The VIHF is signed with RSA-SHA256 / SHA-256; the 2020 examples use
//     SHA-1, which current platforms refuse.
//   - TD1.1 has no example in the package. It is written after the TD1.3b
//     request (the same registrationRequest, patient, subjectOf
//     observations and author) and PRPA_IN201311UV02's schema: the patient's
//     providerOrganization (id 1.2.250.1.71.4.2.2 "1"+FINESS, the
//     establishment's name, a contactParty, required by the schema) and the
//     author (id 1.2.250.1.71.4.2.1 + the card's national id, the profession
//     code, assignedPerson family and given, representedOrganization).
//     The TD1.1 request is refused before sending when the patient's birth
//     name, first name, sex or birth date, or the professional's name, is
//     missing.
//   - The professions' code system (TRE_G15) has no code for establishment
//     staff: a CPE holder is sent with the role the establishment configures
//     as dmp.staff_role (code, code system and label its DMP homologation
//     gives); without one, the event of a CPE holder is refused before any
//     call ("Le rôle des personnels d'accueil n'est pas configuré ...").
//
// # Reading answers
//
//   - The official TD1.3b answer does not validate against its own schema
//     (its patient has no id): answers are read leniently by path, never
//     rejected for schema validity; what cannot be read at all is
//     ErrMalformed.
//   - An answer that cannot be read is retried a few times
//     (dmp.unreadable_attempts, 3), then the event goes to the dead letters
//     with "Réponse du DMP illisible"; the raw exchange is kept in the trace
//     directory (or dmp-unreadable/ when traces are off), never in the log.
//   - A TD0.3 status other than DMPOk is taken as a refusal with that code.
//
// # Choices where the public sources are silent (inferred)
//
//   - The fault subcodes are read by local name; their namespace is not
//     public (the simulator writes urn:si-dmp:faults). The package has no
//     fault example. Besides the five the guides name (DMPAccessDeniedByRightsService,
//     DMPFound, DMPInvalidCertificate, DMPClosed,
//     DMPIdentityCertificationFailure), the simulator uses DMPInvalidVIHF
//     (bad signature, missing attribute, expired token, resource-id unlike
//     the message's patient), DMPInvalidRequest (including a request its
//     schemas refuse), DMPNotFound (TD0.3 or TD1.3a without a DMP),
//     DMPConsentMissing (TD1.1 without consent) and DMPServiceUnavailable
//     (a Receiver fault: transient). Unknown subcodes are kept; a Sender
//     fault is final, a Receiver fault is retried.
//   - A refused creation comes back as PRPA_IN201313UV02 (in
//     PRPA_IN201311UV02_Response) acknowledged AE, whose
//     acknowledgementDetail code is the DMP's code (DMPFound, ...), the
//     request's registration echoed; the client turns it into the same
//     typed error as a fault.
//   - queryResponseCode NF, with no patient, means no DMP (seen only in
//     third-party code).
//   - In the legacy regime a patient with no NIR of their own (a child on a
//     parent's card) is named by the INS-C (1.2.250.1.213.1.4.2), as the DMP
//     did then; in the current regime only an INS is accepted (the simulator
//     answers an INS-C with DMPIdentityCertificationFailure) and the event of
//     a patient without one is refused before any call (INSi first).
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
