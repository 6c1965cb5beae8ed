// Package cps reads the professional's card — CPS (health professional),
// CPF (in training), CPE (establishment staff), CDE (director) — checks its
// PIN, reads its certificates and offers its signature key as a
// crypto.Signer. It recognises CPS2ter, CPS3 (contact and contactless) and
// CPS4 by ATR; it reads CPS3 and CPS4 cards (IAS-ECC), and reports CPS2ter
// as not supported.
//
// It takes an apdu.Transport and knows nothing of PC/SC.
//
// # Reference layout
//
// The card serial (3F00/D003, EF.SN.ICC: 5A 0A + PAN in BCD) and the
// validity (3F00/D010: EC {81 start, 82 end}, BCD YYYYMMDDhhmmss) follow the
// public ANS descriptions. The byte layout of the holder's identity is not
// public; this project fixes the one below (Layout, as data) and every
// virtual CPS card in hwtest follows it:
//
//   - Under the PKCS#15 application (AID E8 28 BD 08 0F 80 25 00 00 01 FF
//     00 10, contactless …FF 00 20), EF E0 01 (CPS_ID) holds one template
//     E1 { 80 card type "CPS"|"CPF"|"CPE"|"CDE", 81 national id type (one
//     ASCII digit: 8 RPPS, 0 ADELI, 3 establishment staff), 82 national id
//     as the VIHF names it (type digit + number), 83 surname, 84 first name
//     (ISO-8859-1), 85 profession (TRE G15 code), 86 speciality (R01 code) }.
//   - EF C0 10 holds the signature certificate, EF C0 20 the
//     authentication certificate, both DER.
//   - The PIN is reference 01: 4 to 8 ASCII digits padded with FF to 8
//     bytes.
//   - Signature: MSE SET 00 22 41 B6 06 80 01 42 84 01 10 (algorithm 42:
//     RSA PKCS#1 v1.5 over a SHA-256 DigestInfo; key 10: signature key),
//     the hash by PSO HASH 00 2A 90 A0 22 90 20 <32 bytes>, then PSO
//     COMPUTE DIGITAL SIGNATURE 00 2A 9E 9A 00.
package cps
