package sms

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"
)

// MaxNumberInput is the longest input ParseNumber reads: a number written
// out with spaces and an international prefix fits with room to spare.
const MaxNumberInput = 32

// Errors of ParseNumber; each is safe to show the customer's form.
var (
	ErrNumberEmpty   = errors.New("sms: no phone number given")
	ErrNumberTooLong = fmt.Errorf("sms: a phone number is at most %d characters", MaxNumberInput)
	// ErrNumberLetters refuses vanity numbers (1-800-FLOWERS) and
	// extensions: a code is texted to digits the customer typed.
	ErrNumberLetters = errors.New("sms: a phone number holds digits only, no letters")
	ErrNumberChars   = errors.New("sms: a phone number holds digits, spaces, '-', '.', '/', brackets and a leading '+' only")
	ErrNumberInvalid = errors.New("sms: not a valid phone number")
	// ErrNumberRegion: a national number with no default region, or one
	// of a calling code that is not a country's (+800, +882, …).
	ErrNumberRegion = errors.New("sms: the phone number needs its country code, e.g. +44")
)

// Number is a phone number ParseNumber accepted.
type Number struct {
	// E164 is the number in E.164 form, e.g. +447700900123.
	E164 string
	// Region is its ISO 3166-1 alpha-2 region, e.g. GB.
	Region string
	// CountryCode is its calling code, e.g. 44.
	CountryCode int
}

// ParseNumber reads a phone number as a customer types it: international
// (+44 7700 900123, 0044 …) or, when defaultRegion (ISO 3166-1 alpha-2)
// is given, national (07700 900123). It refuses input over
// MaxNumberInput characters, letters, extensions, numbers not possible
// or not valid for their region, and numbers of no country (calling codes
// of global services). The errors never repeat the input.
func ParseNumber(raw, defaultRegion string) (Number, error) {
	raw = strings.TrimSpace(raw)
	switch {
	case raw == "":
		return Number{}, ErrNumberEmpty
	case len(raw) > MaxNumberInput:
		return Number{}, ErrNumberTooLong
	case strings.ContainsFunc(raw, unicode.IsLetter):
		return Number{}, ErrNumberLetters
	case strings.ContainsFunc(raw, notNumberChar), strings.LastIndexByte(raw, '+') > 0:
		return Number{}, ErrNumberChars
	}
	region := strings.ToUpper(defaultRegion)
	if region != "" && !phonenumbers.GetSupportedRegions()[region] {
		return Number{}, fmt.Errorf("sms: default region %q is not an ISO 3166 region code", defaultRegion)
	}
	if region == "" && !strings.HasPrefix(raw, "+") {
		return Number{}, ErrNumberRegion
	}
	pn, err := phonenumbers.Parse(raw, region)
	if err != nil {
		return Number{}, ErrNumberInvalid
	}
	if pn.GetExtension() != "" || phonenumbers.IsPossibleNumberWithReason(pn) != phonenumbers.IS_POSSIBLE || !phonenumbers.IsValidNumber(pn) {
		return Number{}, ErrNumberInvalid
	}
	got := phonenumbers.GetRegionCodeForNumber(pn)
	if got == "" || got == phonenumbers.UNKNOWN_REGION || got == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY {
		return Number{}, ErrNumberRegion
	}
	n := Number{E164: phonenumbers.Format(pn, phonenumbers.E164), Region: got, CountryCode: int(pn.GetCountryCode())}
	if !validE164(n.E164) {
		return Number{}, ErrNumberInvalid
	}
	return n, nil
}

// notNumberChar reports a character no written phone number needs.
func notNumberChar(r rune) bool {
	switch {
	case r >= '0' && r <= '9':
		return false
	case strings.ContainsRune("+-./() ", r):
		return false
	}
	return true
}

// Prefix returns "+" and the first n digits of the number (all of them
// when it has fewer): the key of per-prefix limits, e.g. Prefix(5) of
// +447700900123 is +4477.
func (n Number) Prefix(digits int) string {
	d := strings.TrimPrefix(n.E164, "+")
	return "+" + d[:min(max(digits, 0), len(d))]
}

// CallingCode returns the calling code with its plus, e.g. "+44".
func (n Number) CallingCode() string { return "+" + strconv.Itoa(n.CountryCode) }

// String is the E.164 form.
func (n Number) String() string { return n.E164 }

// ValidRegion reports whether r is an ISO 3166-1 alpha-2 region code
// (upper case) that phone numbers are known for: what a site's allow-list
// and default region must be.
func ValidRegion(r string) bool {
	return len(r) == 2 && r == strings.ToUpper(r) && phonenumbers.GetSupportedRegions()[r]
}

// Display writes an E.164 number as people read it, +44 7400 123456;
// anything that does not parse is returned as it is.
func Display(e164 string) string {
	pn, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return e164
	}
	return phonenumbers.Format(pn, phonenumbers.INTERNATIONAL)
}

// Hint writes an E.164 number as a page may show it to whoever is signing
// in, who may not be its owner: the calling code and the last two digits,
// +44 ••• ••56. Anything that does not parse is "•••".
func Hint(e164 string) string {
	n, err := ParseNumber(e164, "")
	if err != nil || len(n.E164) < 4 {
		return "•••"
	}
	return n.CallingCode() + " ••• ••" + n.E164[len(n.E164)-2:]
}
