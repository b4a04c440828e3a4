//go:build linux

package main

import (
	"net/http"
	"regexp"
	"strconv"

	"github.com/frontdoorhq/frontdoor/bench/internal/benchkit"
)

var powRE = regexp.MustCompile(`data-pow-challenge="([^"]+)" data-pow-bits="([0-9]+)"`)

// challengeOf returns the proof-of-work challenge a page carries.
func challengeOf(p benchkit.Page) (challenge string, bits int, ok bool) {
	if p.Status != http.StatusForbidden {
		return "", 0, false
	}
	m := powRE.FindStringSubmatch(p.Body)
	if m == nil {
		return "", 0, false
	}
	bits, err := strconv.Atoi(m[2])
	if err != nil {
		return "", 0, false
	}
	return m[1], bits, true
}

// Answer classes of a sign-in post.
const (
	ans303       = "303"
	ans401       = "401"
	ans429       = "429"
	ansChallenge = "403-challenge"
	ans403       = "403-other"
	ans5xx       = "5xx"
	ansOther     = "other"
	ansError     = "error"
)

var answerOrder = []string{ans303, ans401, ans429, ansChallenge, ans403, ans5xx, ansOther, ansError}

func classify(p benchkit.Page) string {
	switch {
	case p.Status == http.StatusSeeOther:
		return ans303
	case p.Status == http.StatusUnauthorized:
		return ans401
	case p.Status == http.StatusTooManyRequests:
		return ans429
	case p.Status == http.StatusForbidden:
		if _, _, ok := challengeOf(p); ok {
			return ansChallenge
		}
		return ans403
	case p.Status >= 500:
		return ans5xx
	}
	return ansOther
}
