package insi

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"dmpkiosk/ins"
)

// Query is what is known of a patient when the INS is looked up: the
// traits, the card's data when a carte Vitale was read, and whether the
// local identity is marked douteuse or fictive.
type Query struct {
	Traits Traits
	Vitale *VitaleQuery
	// Doubtful or Fictitious identities are never sent to INSi.
	Doubtful, Fictitious bool
}

// Outcome is what a lookup concluded.
type Outcome struct {
	// Result is the answer that concluded (CR 00, or the last 01/02).
	Result *Result
	// NeedMore: INSi found several identities; the birth place (or more
	// first names) is needed.
	NeedMore bool
	// Calls are the calls made, in order.
	Calls []Exchange
}

// Found reports whether the lookup gave an INS.
func (o *Outcome) Found() bool { return o.Result != nil && o.Result.CR == CRFound }

// ErrNotEligible is a query INSi must not receive (an identity marked
// douteuse or fictive, traits that cannot be written for the service).
var ErrNotEligible = errors.New("insi: identity not to be sent to INSi")

// Normalize writes traits as the service wants them: names under the
// identity rules' normalisation (upper-case ASCII, hyphen, apostrophe and
// space kept), sex M or F, birth date AAAA-MM-JJ (from AAAAMMJJ too).
func Normalize(t Traits) (Traits, error) {
	var err error
	if t.BirthName, err = ins.NormalizeName(t.BirthName); err != nil || t.BirthName == "" {
		return t, fmt.Errorf("%w: birth name: %v", ErrNotEligible, err)
	}
	var names []string
	for _, f := range t.FirstNames {
		for _, w := range strings.Fields(f) {
			n, err := ins.NormalizeName(w)
			if err != nil {
				return t, fmt.Errorf("%w: first name: %v", ErrNotEligible, err)
			}
			if n != "" {
				names = append(names, n)
			}
		}
	}
	t.FirstNames = names
	if t.Sex != "M" && t.Sex != "F" {
		return t, fmt.Errorf("%w: sex %q", ErrNotEligible, t.Sex)
	}
	if len(t.BirthDate) == 8 && ins.Digits(t.BirthDate, 8) {
		t.BirthDate = t.BirthDate[:4] + "-" + t.BirthDate[4:6] + "-" + t.BirthDate[6:]
	}
	if len(t.BirthDate) != 10 || t.BirthDate[4] != '-' || t.BirthDate[7] != '-' {
		return t, fmt.Errorf("%w: birth date %q", ErrNotEligible, t.BirthDate)
	}
	if t.BirthPlace != "" && len(t.BirthPlace) != 5 {
		return t, fmt.Errorf("%w: birth place %q", ErrNotEligible, t.BirthPlace)
	}
	return t, nil
}

// Lookup runs the search strategy the CNDA cases are built on: the Vitale
// search first when a card was read; then the traits search, each first
// name alone, then all of them together, stopping at the first 00. A 02
// ends the search with NeedMore (the birth place, or more first names, is
// needed); 01 everywhere is "not found". A fault or a time-out ends it
// with the error ("try later", never "not found"); an inconsistent answer
// ends it with ErrInconsistent.
func (c *Client) Lookup(ctx context.Context, mode Mode, q Query) (*Outcome, error) {
	if q.Doubtful || q.Fictitious {
		return nil, fmt.Errorf("%w: identité douteuse ou fictive", ErrNotEligible)
	}
	// Traits that cannot be searched (a child's sex the card does not
	// give) still allow the Vitale search.
	t, terr := Normalize(q.Traits)
	if terr != nil && q.Vitale == nil {
		return nil, terr
	}
	o := &Outcome{}
	if q.Vitale != nil {
		r, x, err := c.SearchVitale(ctx, mode, *q.Vitale)
		o.Calls = append(o.Calls, x)
		if err != nil {
			return o, err
		}
		o.Result = r
		if r.CR == CRFound {
			check := t
			if terr != nil {
				withSex := q.Traits
				withSex.Sex = r.Traits.Sex
				if check, err = Normalize(withSex); err != nil {
					o.Result = nil
					return o, err
				}
			}
			if err := consistent(&Traits{BirthName: check.BirthName, Sex: check.Sex, BirthDate: check.BirthDate}, r.Traits); err != nil {
				o.Result = nil
				return o, err
			}
			return o, nil
		}
		if terr != nil {
			return o, nil // not found by the card; the traits cannot be searched
		}
	}
	tries := [][]string{}
	for _, f := range t.FirstNames {
		tries = append(tries, []string{f})
	}
	if len(t.FirstNames) != 1 {
		tries = append(tries, t.FirstNames)
	}
	for _, names := range tries {
		try := t
		try.FirstNames = names
		r, x, err := c.SearchTraits(ctx, mode, try)
		o.Calls = append(o.Calls, x)
		if err != nil {
			o.Result = nil
			return o, err
		}
		o.Result = r
		switch r.CR {
		case CRFound:
			return o, nil
		case CRSeveral:
			o.NeedMore = true
			return o, nil
		}
	}
	return o, nil
}

// TraitsQuery is the query for traits read and validated at the desk (the
// first names the card gave, or its usual one).
func TraitsQuery(t ins.Traits) Query {
	names := t.FirstNames
	if len(names) == 0 && t.FirstName != "" {
		names = []string{t.FirstName}
	}
	return Query{Traits: Traits{BirthName: t.BirthName, FirstNames: names, Sex: t.Sex, BirthDate: t.BirthDate, BirthPlace: t.BirthPlace}}
}
