package sms_test

import (
	"errors"
	"testing"

	"github.com/frontdoorhq/frontdoor/sms"
)

func TestParseNumber(t *testing.T) {
	for _, c := range []struct {
		raw, region string
		e164, got   string
		code        int
	}{
		{"07400 123456", "GB", "+447400123456", "GB", 44},
		{"+44 7400 123456", "", "+447400123456", "GB", 44},
		{"0044 7400 123456", "GB", "+447400123456", "GB", 44},
		{"+44 (0)7400 123456", "FR", "+447400123456", "GB", 44},
		{"020 7946 0000", "gb", "+442079460000", "GB", 44},
		{"085 012 3456", "IE", "+353850123456", "IE", 353},
		{"+353 85 012 3456", "GB", "+353850123456", "IE", 353},
		{"06 12 34 56 78", "FR", "+33612345678", "FR", 33},
		{"+33 6 12 34 56 78", "", "+33612345678", "FR", 33},
		{"06.12.34.56.78", "FR", "+33612345678", "FR", 33},
		{"(201) 555-0123", "US", "+12015550123", "US", 1},
		{"+1 201-555-0123", "GB", "+12015550123", "US", 1},
		{"  +12015550123 ", "", "+12015550123", "US", 1},
	} {
		n, err := sms.ParseNumber(c.raw, c.region)
		if err != nil {
			t.Errorf("%q (%s): %v", c.raw, c.region, err)
			continue
		}
		if n.E164 != c.e164 || n.Region != c.got || n.CountryCode != c.code {
			t.Errorf("%q (%s): %+v, want %s %s %d", c.raw, c.region, n, c.e164, c.got, c.code)
		}
	}

	for _, c := range []struct {
		raw, region string
		want        error
	}{
		{"", "GB", sms.ErrNumberEmpty},
		{"   ", "GB", sms.ErrNumberEmpty},
		{"+44 7400 123456 7400 123456 74001", "", sms.ErrNumberTooLong},
		{"1-800-FLOWERS", "US", sms.ErrNumberLetters},
		{"+44 7400 123456 ext 12", "", sms.ErrNumberLetters},
		{"tel:+447400123456", "", sms.ErrNumberLetters},
		{"+44 7400 123456#12", "", sms.ErrNumberChars},
		{"+44\u00a07400\u00a0123456", "", sms.ErrNumberChars},
		{"+447400123456;x", "", sms.ErrNumberLetters},
		{"07400 123456", "", sms.ErrNumberRegion},
		{"+800 1234 5678", "", sms.ErrNumberRegion},
		{"+882 3456 7890", "", sms.ErrNumberInvalid},
		{"07700 900123", "GB", sms.ErrNumberInvalid},    // Ofcom's drama range: never issued
		{"0612345678", "GB", sms.ErrNumberInvalid},      // a French number read as British
		{"+44 7400 12345", "", sms.ErrNumberInvalid},    // a digit short
		{"+44 7400 1234567", "", sms.ErrNumberInvalid},  // a digit long
		{"+999 1234567", "", sms.ErrNumberInvalid},      // no such calling code
		{"555-0123", "US", sms.ErrNumberInvalid},        // local only, no area code
		{"+1 (000) 555-0123", "", sms.ErrNumberInvalid}, // no such area code
		{"++44 7400 123456", "", sms.ErrNumberChars},
		{"44+7400123456", "", sms.ErrNumberChars},
		{"+", "", sms.ErrNumberInvalid},
	} {
		_, err := sms.ParseNumber(c.raw, c.region)
		if !errors.Is(err, c.want) {
			t.Errorf("%q (%s): %v, want %v", c.raw, c.region, err, c.want)
		}
	}

	if _, err := sms.ParseNumber("07400 123456", "UK"); err == nil {
		t.Error("region UK (not ISO 3166) accepted")
	}
}

func TestNumberPrefix(t *testing.T) {
	n, err := sms.ParseNumber("+44 7400 123456", "")
	if err != nil {
		t.Fatal(err)
	}
	for digits, want := range map[int]string{0: "+", 2: "+44", 5: "+44740", 12: "+447400123456", 40: "+447400123456", -1: "+"} {
		if got := n.Prefix(digits); got != want {
			t.Errorf("Prefix(%d) = %q, want %q", digits, got, want)
		}
	}
	if n.CallingCode() != "+44" || n.String() != "+447400123456" {
		t.Errorf("%s %s", n.CallingCode(), n)
	}
}

func TestValidRegionAndDisplay(t *testing.T) {
	for r, want := range map[string]bool{"GB": true, "IE": true, "gb": false, "UK": false, "XX": false, "": false, "GBR": false} {
		if got := sms.ValidRegion(r); got != want {
			t.Errorf("ValidRegion(%q) = %v", r, got)
		}
	}
	if got := sms.Display("+447400123456"); got != "+44 7400 123456" {
		t.Errorf("Display = %q", got)
	}
}

// TestHint: a page shows the calling code and the last two digits only.
func TestHint(t *testing.T) {
	for in, want := range map[string]string{"+447400123456": "+44 ••• ••56", "+353850123456": "+353 ••• ••56", "nope": "•••", "": "•••"} {
		if got := sms.Hint(in); got != want {
			t.Errorf("Hint(%q) = %q, want %q", in, got, want)
		}
	}
}
