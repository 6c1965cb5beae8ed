// Package insi is the bridge's client of the INSi teleservice, which gives
// a patient's national health identifier (INS) and its five official
// traits (facts in ../shared/docs/insi.md; schemas in
// insisim/testdata/insi-schemas).
//
//   - Both operations, rechercherInsAvecCarteVitale and
//     rechercherInsAvecTraitsIdentite, in SOAP 1.2, establishment mode:
//     mutual TLS with the establishment's INSi certificate, CN INSI-MANU
//     for a lookup a professional starts, INSI-AUTO for one the bridge
//     starts on its own (Mode); keys may sit on a PKCS#11 token. Headers:
//     ContexteBAM, ContexteLPS (the CNDA authorisation number, the
//     software's version, the installation's UUID), wsa:Action,
//     wsa:MessageID. Every request validates against the official schemas
//     in the tests.
//   - Answers are read by namespace, not prefix: CR 00/01/02 with their
//     exact labels, INSACTIF and every INSHISTO (their children in any
//     order), TIQ with ListePrenom or Prenom; NIR or NIA by the OID. A
//     matricule whose key is wrong, or traits unlike the question, make
//     the answer ErrInconsistent: never used. Faults (siram:Erreur code and
//     severity, "fatal" as well as "fatale"), HTTP 500 with or without a
//     body, time-outs: Transient, "try later", never "not found".
//   - Lookup runs the search strategy of the CNDA cases: the Vitale search
//     first when a card was read, then the traits, each first name alone,
//     then all together, stopping at the first 00; 02 asks for the birth
//     place or more first names (NeedMore). A douteuse or fictive identity
//     is never sent (ErrNotEligible).
//   - Qualify records an answer and the identity document the professional
//     checked: qualifiée only when the document is of high trust and its
//     five traits are INSi's under the identity rules' normalisation
//     (Compare says which differ).
//   - Config.Observe is told of every call (operation, mode, outcome,
//     message id — never a trait or a number): the bridge audits and
//     counts them.
//
// Card mode (a SAML assertion signed by the professional's card) is not
// implemented: the bridge uses the establishment mode.
package insi
