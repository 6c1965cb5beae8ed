// Package pii finds the test patients' identifying data in text: the
// virtual Vitale cards' people and INSi's public test identities, by
// birth name, NIR (with and without its key), INS-C and birth date. Logs,
// audit trails and the journals' free-text columns must hold none of them;
// `go run ./hwtest/piiscan` runs it over files (make test's log), and
// tests run it over what they wrote.
package pii

import (
	"slices"
	"strings"
	"sync"

	"dmpkiosk/bridge/insi/insisim"
	"dmpkiosk/hwtest/cards"
	"dmpkiosk/hwtest/patients"
	"dmpkiosk/ins"
)

// minName is the shortest birth name looked for: shorter ones are too
// likely in ordinary text.
const minName = 5

var (
	once    sync.Once
	markers []string
)

// Markers are the strings looked for, longest first.
func Markers() []string {
	once.Do(func() {
		add := func(s string) {
			if s = strings.TrimSpace(s); s != "" && !slices.Contains(markers, s) {
				markers = append(markers, s)
			}
		}
		name := func(s string) {
			if len([]rune(s)) >= minName {
				add(s)
				if n, err := ins.NormalizeName(s); err == nil {
					add(n)
				}
			}
		}
		// The virtual cards' people as the DMP simulator knows them (INS,
		// INS-C), and the NIRs without their key.
		people, err := patients.DMP()
		if err != nil {
			panic(err)
		}
		for _, p := range people {
			name(p.Demographics.BirthName)
			add(p.Demographics.BirthDate)
			for _, id := range p.IDs {
				add(id.Extension)
				if len(id.Extension) == 15 {
					add(id.Extension[:13])
				}
			}
		}
		for _, p := range cards.VitaleProfiles {
			for _, v := range p.People {
				name(v.Surname)
				add(v.NIR) // the ones left out above (a wrong key on purpose)
			}
		}
		for _, p := range insisim.Public() {
			name(p.Traits.BirthName)
			if len(p.Traits.BirthDate) == 8 {
				add(p.Traits.BirthDate)
			}
			if m := p.INS.Number; m != "" {
				add(m + p.INS.Key)
			}
		}
		slices.SortFunc(markers, func(a, b string) int { return len(b) - len(a) })
	})
	return markers
}

// Find returns the markers text holds.
func Find(text string) []string {
	var hits []string
	for _, m := range Markers() {
		if strings.Contains(text, m) {
			hits = append(hits, m)
		}
	}
	return hits
}
