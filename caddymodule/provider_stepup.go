package caddymodule

import (
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

// What an authorization request asks of the customer's sign-in, and the
// provider's step-up for it (OpenID Connect Core 3.1.2.1):
//   - max_age: a sign-in at most that many seconds before the request;
//     max_age=0 and prompt=login: a sign-in after the request came;
//   - acr_values naming aal2: a second factor (the only level above the
//     default Frontdoor has; aal1 asks nothing).
// The request goes to the site's step-up page with what it asks in the
// return URL (aal, after); that page reads it there (requirementAt), and
// the request is checked again on its return — so a return URL edited by
// hand only sends the customer round again.

// askedOf returns what req asks of s: the earliest acceptable sign-in
// time (Unix seconds; 0: any), the level, and whether s falls short.
func askedOf(req identity.OAuthRequest, s *session.Session) (after int64, aal string, unmet bool) {
	if req.MaxAge != nil {
		after = req.Asked - int64(*req.MaxAge)
	}
	if slices.Contains(req.ACRValues, "aal2") {
		aal = "aal2"
	}
	unmet = (after > 0 && s.AuthTime.Unix() < after) || (aal == "aal2" && s.ACR != "aal2")
	return after, aal, unmet
}

// oauthLoginRequirement reads what the return URL of a provider step-up
// asks (see askedOf), for the step-up page.
func oauthLoginRequirement(q url.Values, now time.Time) authflow.Requirement {
	var req authflow.Requirement
	if q.Get("aal") == "aal2" {
		req.AAL = "aal2"
	}
	if after, err := strconv.ParseInt(q.Get("after"), 10, 64); err == nil && after > 0 {
		// Unmet exactly when the sign-in came before after.
		req.MaxAge = max(time.Nanosecond, now.Sub(time.Unix(after, 0)))
	}
	return req
}
