// Package vitale reads the patient's carte Vitale: it recognises Vitale 1
// and Vitale 2 cards by their ATR and reads a Vitale 2 the way code run on
// real cards reads it (cardpeek's vitale_2.lua, written by dumping cards;
// facts in ../shared/docs/vitale.md), driven by the card's own directory.
//
// It takes an apdu.Transport and knows nothing of PC/SC. The reader sits
// behind the Source interface so that the licensed SESAM-Vitale reading
// library, which production sites may have, can replace it (see the
// README).
//
// # Reading
//
// Select VITALE (P2=00, the FCI fetched with GET RESPONSE), read its
// directory EF 20 01 by offset with Le=00 until a short answer or any
// status other than 90 00, keeping what was read. The directory is E0 { A0
// { 82 application entries } 80 file entries }: an application entry is a
// 2-byte reference, 2 bytes, and the full AID; a file entry is an
// 8-character name (ignored: real names are not published), the reference
// of the application that holds the file, and its identifier. Each
// application is selected by its AID, then each of its files (MF_VITALE's
// EF.DIR 2F 00 and PAN file 2F 02 too, as cardpeek reads them). A file the
// directory lists but the card does not have is skipped.
//
// # What is decoded, and what is not invented
//
//   - Only attested tags are read: 65 {80 surname, 81 first name, 82 birth
//     date} (ISO-8859-1, trimmed; dates kept as written, lunar ones too),
//     65 {93 NIR}, 66 {80 start of validity}. 83 (rank), 84 (quality) and
//     66/81 (end of validity) are taken when a card writes them, never
//     required; the Vitale 2 has no end of validity.
//   - Identity and NIR sit in different files of different applications
//     (65 {80,81,82} under MF_VITALE, 65 {93} under VITALE): they are
//     matched by position, as real-card code does. The NIR list may be
//     shorter (children without a NIR of their own).
//   - A NIR matched by position is taken as the beneficiary's own only when
//     its year and month of birth are theirs (Beneficiary.OwnNIR): no source
//     says whether a child's 93 is the child's or the insured's.
//   - The insured person's NIR, for the INS-C, is the NIR of a quality 00
//     beneficiary when a card writes qualities, else the first NIR the card
//     lists (Card.InsuredNIR): no source says how the insured is marked.
//   - Which beneficiary is the patient is never guessed: with several, the
//     professional chooses on the screen.
//   - A file starting with 00 or 04 00 is not BER-TLV and is skipped; 00
//     padding is ignored; a file whose TLV breaks keeps what came before,
//     except a list of beneficiaries, which is refused (it would lose some).
//   - The serial is the PAN file's 5A digits, if it holds such an object
//     (its format is not published).
package vitale
