package ins

// fold maps a letter with a diacritic (Latin-1 Supplement and Latin
// Extended-A) to its upper-case base letter(s). It is a table rather than
// Unicode decomposition so that INS-C computation allocates nothing.
var fold = map[rune]string{}

func init() {
	groups := []struct{ base, letters string }{
		{"A", "ÀÁÂÃÄÅàáâãäåĀāĂăĄą"},
		{"C", "ÇçĆćĈĉĊċČč"},
		{"D", "ĎďĐđÐð"},
		{"E", "ÈÉÊËèéêëĒēĔĕĖėĘęĚě"},
		{"G", "ĜĝĞğĠġĢģ"},
		{"H", "ĤĥĦħ"},
		{"I", "ÌÍÎÏìíîïĨĩĪīĬĭĮįİı"},
		{"J", "Ĵĵ"},
		{"K", "Ķķĸ"},
		{"L", "ĹĺĻļĽľĿŀŁł"},
		{"N", "ÑñŃńŅņŇňŉŊŋ"},
		{"O", "ÒÓÔÕÖØòóôõöøŌōŎŏŐő"},
		{"R", "ŔŕŖŗŘř"},
		{"S", "ŚśŜŝŞşŠšſ"},
		{"T", "ŢţŤťŦŧ"},
		{"U", "ÙÚÛÜùúûüŨũŪūŬŭŮůŰűŲų"},
		{"W", "Ŵŵ"},
		{"Y", "ÝýÿŶŷŸ"},
		{"Z", "ŹźŻżŽž"},
		{"AE", "Ææ"},
		{"OE", "Œœ"},
		{"SS", "ß"},
		{"TH", "Þþ"},
		{"IJ", "Ĳĳ"},
	}
	for _, g := range groups {
		for _, r := range g.letters {
			fold[r] = g.base
		}
	}
}

// upperASCII returns the upper-case ASCII letters a rune stands for, or ""
// when it is not a letter of the Latin alphabet.
func upperASCII(r rune) string {
	switch {
	case r >= 'A' && r <= 'Z':
		return asciiLetters[r-'A' : r-'A'+1]
	case r >= 'a' && r <= 'z':
		return asciiLetters[r-'a' : r-'a'+1]
	}
	return fold[r]
}

const asciiLetters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
