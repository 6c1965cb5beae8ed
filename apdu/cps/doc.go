// Package cps reads the professional's card — CPS (health professional),
// CPF (in training), CPE (establishment staff), CDE (director) — checks its
// PIN, reads its certificates and offers its signature key as a
// crypto.Signer. It recognises CPS2ter, CPS3 (contact and contactless) and
// CPS4 by ATR; it reads CPS3 cards (IAS-ECC) and refuses CPS2ter and CPS4
// with a plain message.
//
// It takes an apdu.Transport and knows nothing of PC/SC.
//
// # Driven by the card
//
// The reader follows the card issuer's own driver (ANS Cryptolib CPS) and
// OpenSC's CPx support, both written with real cards (facts in
// ../shared/docs/cps.md), and assumes no layout:
//
//   - Files of the MF are selected by path with P1=09 and the 3F00 prefix,
//     the FCP asked for (P2=04); READ BINARY is sized from the FCP, at most
//     0xE7 bytes at a time. EF.SN.ICC (3F00/D003) gives the serial (the PAN
//     without the issuer's prefix 8025000001).
//   - EF.DIR (3F00/2F00) names the PKCS#15 application (AID E8 28 BD 08 0F
//     80 25 00 00 01 FF 00 10, contactless …FF 00 20); its ODF (5031) says
//     where the AODF, PrKDF, CDF and DODF are; the TokenInfo (5032) gives
//     the card's algorithm references.
//   - The signature key is the PrKDF's non-repudiation key (CPS_PRIV_SIG,
//     0x81 on a real CPS3); its PIN is the AODF entry its AuthID names, and
//     the PIN is sent as that entry declares it (ASCII digits, its lengths,
//     its padding character): a PIN whose format the card does not declare
//     is not sent (ErrPINUndeclared), since a wrong format counts as a wrong
//     PIN. VERIFY with no data reads the tries left.
//   - The holder and the validity come from the signature certificate the
//     CDF points at: CN the national identifier (first digit its type: 8
//     RPPS, 0 ADELI, 3 establishment staff — inferred), SN and GN the names,
//     title the profession (TRE G15). The card type is the subject's OU when
//     it names one (a choice of the virtual cards; the public part of the
//     IGC-Santé profile does not say), else inferred from the identifier's
//     type (3: CPE, else CPS), which cannot tell CPF from CPS nor CDE from
//     CPE. The speciality (R01) is not in the certificate and is left empty.
//   - The holder's PKCS#15 data objects (CPS_ID_CARD, CPS_NAME_PS,
//     CPS_INFO_PS, CPS_ACTIVITY_xx_PS…) are listed by Describe with their
//     size; their byte format is not public, and nothing is parsed from
//     them.
//   - Signature: MSE SET 00 22 41 B6 06 80 01 <algorithm> 84 01 <key>, the
//     algorithm being the TokenInfo's reference for SHA256-RSA-PKCS (0x42)
//     and the key the PrKDF's, then PSO COMPUTE DIGITAL SIGNATURE carrying
//     the hash, 00 2A 9E 9A 20 <SHA-256> 00.
//   - 3F00/D010 (EF_ACTUA, an optional update window) is not read.
//
// Everything is read once per insertion (Card caches the description and
// the certificates).
//
// # CPS4
//
// A CPS4 is an NXP ChipDoc card used on logical channel 1 with another MSE
// form. Its file layout, PKCS#15 and PIN presentation are not public beyond
// that, and a PIN sent in a wrong format uses a try: the kiosk refuses it
// (ErrCPS4, "carte CPS4 non prise en charge") rather than guess.
package cps
