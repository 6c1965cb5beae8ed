// Package vitale reads the patient's carte Vitale: it recognises Vitale 1
// and Vitale 2 cards by their ATR and reads a Vitale 2 following the
// project's reference layout (shared/docs/domain.md): select the VITALE
// application, read the directory EF 20 01, find the CARTE and BENEFIC files
// by name, read each completely, and decode the card data and every
// beneficiary, with the INS-C computed from the insured person's NIR.
//
// It takes an apdu.Transport and knows nothing of PC/SC. The reader sits
// behind the Source interface so that the licensed SESAM-Vitale reading
// library could replace it.
//
// Choices made where the public sources are silent (the reference layout):
// the directory's 80 entries are 8 ASCII name characters, a 2-byte entry
// number and a 2-byte file identifier; CARTE holds 66 {80 start, 81 end,
// 82 serial}; BENEFIC holds one 65 template per beneficiary with 80
// surname, 81 first name, 82 birth date, 83 birth rank (one ASCII digit), 84
// quality (two ASCII digits), 93 own NIR; text is ISO-8859-1. Tags 80–84
// are mandatory in a 65 template, and 93 is mandatory for quality 00.
package vitale
