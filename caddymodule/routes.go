package caddymodule

import (
	"net/http"

	"github.com/frontdoorhq/frontdoor/botdefense"
)

// The route table: every path Frontdoor answers under its prefix, with all
// the HTTP side knows of it — its handlers, the edge defence each request
// gets, and the form page a challenge is shown on. serveOwn and defend
// read nothing else, so adding a page is one entry here (see "Adding a
// journey" in doc.go). One exception: a provider site's OpenID endpoints
// (<prefix>/oauth2/… and /.well-known/openid-configuration) are routed by
// zitadel/oidc's op before this table is consulted (provider.go).

// pageHandler is one of Frontdoor's page handlers as a method expression,
// (*Handler).loginPage, so one table serves every site.
type pageHandler func(*Handler, http.ResponseWriter, *http.Request) error

// route is one entry of the route table.
type route struct {
	// path under the prefix, matched exactly (on the cleaned path).
	path string
	// get answers GET and HEAD; post answers form posts, after the form
	// is parsed, defended and its CSRF token checked. A nil handler is
	// answered 405 with an Allow header naming the others.
	get, post pageHandler
	// getDefence and postDefence are the edge defence of a GET (or HEAD)
	// and of a post; the zero defence is none.
	getDefence, postDefence defence
	// postDefenceBy, when set, chooses the defence of a post from its
	// parsed form, in place of postDefence.
	postDefenceBy func(*http.Request) defence
	// crossSite: posts come from another site (a provider's form_post
	// answer), so no CSRF token is asked; the handler checks its own
	// binding (the state, tied to this browser).
	crossSite bool
}

// defence is how the edge defences see a request.
type defence struct {
	// route is the botdefense route the request counts against; "" for
	// an undefended request.
	route string
	// challenge is the form page the request is shown again on with a
	// proof-of-work challenge; nil when the request cannot be challenged
	// (it is limited or refused instead).
	challenge *challengeForm
	// hashes says the request hashes a password: when hashing falls
	// behind, it is challenged first.
	hashes bool
	// account is what the account limits count by when the form names no
	// email: the OAuth client of a provider request.
	account string
}

// challengeForm is a form page that can show a challenge.
type challengeForm struct {
	page string
	// title is the page's title, a message id.
	title string
	// password: the form had a password, which the page does not send
	// back, so the customer is asked to type it again.
	password bool
	// ownSite: rd may only lead back to a path of this site.
	ownSite bool
	// phone: the form's field is a phone number, not an address.
	phone bool
}

var (
	loginChallenge      = &challengeForm{page: "login", title: "login.title", password: true}
	registerChallenge   = &challengeForm{page: "register", title: "register.title", password: true}
	magicChallenge      = &challengeForm{page: "magic", title: "magic.title"}
	phoneLoginChallenge = &challengeForm{page: "phone_login", title: "phone_login.title", phone: true}
	resetChallenge      = &challengeForm{page: "reset", title: "reset.title"}
	passChallenge       = &challengeForm{page: "challenge", title: "challenge.title", ownSite: true}
)

// routeTable is every path under the prefix. The static assets
// (/static/style-…, pow-…, passkey-…) are named by their hash and served
// before it.
var routeTable = []route{
	{path: "/register", get: (*Handler).registerPage, post: (*Handler).register,
		postDefence: defence{route: botdefense.RouteRegister, challenge: registerChallenge, hashes: true}},
	{path: "/verify", get: (*Handler).verify, post: (*Handler).verifyConfirm,
		getDefence: defence{route: botdefense.RouteVerify}, postDefence: defence{route: botdefense.RouteVerify}},
	{path: "/login", get: (*Handler).loginPage, post: (*Handler).login,
		postDefence: defence{route: botdefense.RouteLogin, challenge: loginChallenge, hashes: true}},
	{path: "/logout", get: (*Handler).logoutPage, post: (*Handler).logout},
	{path: "/reset", get: (*Handler).resetPage, post: (*Handler).reset,
		postDefence: defence{route: botdefense.RouteReset, challenge: resetChallenge}},
	{path: "/reset/confirm", get: (*Handler).resetConfirmPage, post: (*Handler).resetConfirm,
		postDefence: defence{route: botdefense.RouteVerify}},
	// A sign-in mail's "this wasn't me" link (risk_notme.go), defended
	// like the other mailed links.
	{path: "/not-me", get: (*Handler).notMePage, post: (*Handler).notMe,
		getDefence: defence{route: botdefense.RouteVerify}, postDefence: defence{route: botdefense.RouteVerify}},
	{path: "/magic", get: (*Handler).magicPage, post: (*Handler).magic, postDefenceBy: magicDefence},
	// Sign-in and sign-up by phone alone (phonelogin.go).
	{path: "/phone", get: (*Handler).phoneLoginPage, post: (*Handler).phoneLogin, postDefenceBy: phoneLoginDefence},
	{path: "/magic/verify", get: (*Handler).magicVerifyPage, post: (*Handler).magicVerify,
		postDefence: defence{route: botdefense.RouteCode}},
	{path: "/account", get: (*Handler).account},
	{path: "/account/signout-everywhere", post: (*Handler).signOutEverywhere},
	{path: "/account/sessions/revoke", post: (*Handler).sessionRevoke},
	{path: "/profile", get: (*Handler).profilePage, post: (*Handler).profileSave},
	{path: "/account/totp", post: (*Handler).totpBegin},
	{path: "/account/totp/confirm", post: (*Handler).totpConfirm},
	{path: "/account/totp/remove", post: (*Handler).totpRemove},
	{path: "/account/recovery", post: (*Handler).recoveryRegenerate},
	{path: "/account/devices/forget", post: (*Handler).forgetDevices},
	{path: "/account/passkey/remove", post: (*Handler).passkeyRemove},
	{path: "/account/email", get: (*Handler).emailChangePage, post: (*Handler).emailChange},
	// Following the link is defended like the other mailed links.
	{path: "/account/email/confirm", get: (*Handler).emailChangeConfirmPage, post: (*Handler).emailChangeConfirm,
		getDefence: defence{route: botdefense.RouteVerify}, postDefence: defence{route: botdefense.RouteVerify}},
	// The account's phone number (phone.go). Typing the texted code
	// counts as a code attempt; asking for one is bounded by the site's
	// country allow-list and a recent sign-in (the per-number and global
	// limits of text messages come with issue 23, item 5).
	{path: "/account/phone", get: (*Handler).phonePage, post: (*Handler).phoneRequest},
	{path: "/account/phone/confirm", post: (*Handler).phoneConfirm, postDefence: defence{route: botdefense.RouteCode}},
	{path: "/account/phone/remove", post: (*Handler).phoneRemove},
	// Texted codes as the second factor (smsfactor.go): `on=1` or `on=0`.
	{path: "/account/sms-factor", post: (*Handler).smsFactorSet},
	{path: "/account/identity/unlink", post: (*Handler).identityUnlink},
	{path: "/account/consent", post: (*Handler).accountConsent},
	{path: "/account/export", get: (*Handler).exportData},
	{path: "/account/delete", get: (*Handler).erasePage, post: (*Handler).erase},
	{path: "/account/keys", post: (*Handler).apiKeyCreate},
	{path: "/account/keys/revoke", post: (*Handler).apiKeyRevoke},
	{path: "/account/apps/revoke", post: (*Handler).appRevoke},
	// A provider site's consent page for a third-party app answers here.
	{path: "/apps/consent", post: (*Handler).appConsent},
	// An invitation's link is defended like the other mailed links.
	{path: "/invite", get: (*Handler).invitePage, post: (*Handler).inviteAccept,
		getDefence: defence{route: botdefense.RouteVerify}, postDefence: defence{route: botdefense.RouteVerify}},
	// Provider sign-in: the per-provider start and callback are added
	// for each provider the site offers (oidcRoutes).
	{path: "/oidc/link", get: (*Handler).oidcLinkPage, post: (*Handler).oidcLinkConfirm},
	{path: "/mfa", get: (*Handler).mfaPage, post: (*Handler).mfa,
		postDefence: defence{route: botdefense.RouteStepUp}},
	// Texting a second-factor code is a text like any other: the text
	// limits bound it, and the step-up defence the route.
	{path: "/mfa/sms", post: (*Handler).mfaSMS, postDefence: defence{route: botdefense.RouteStepUp}},
	{path: "/stepup", get: (*Handler).stepUpPage},
	// The support agents' console (agent_console.go): only for agents,
	// on sites with `agents on`.
	{path: "/agent", get: (*Handler).agentConsole},
	{path: "/agent/find", post: (*Handler).agentFind},
	{path: "/agent/code", post: (*Handler).agentCode},
	{path: "/agent/verify", post: (*Handler).agentVerify},
	{path: "/agent/act", post: (*Handler).agentAct},
	{path: "/agent/close", post: (*Handler).agentClose},
	{path: "/agent/view", post: (*Handler).agentViewAs},
	{path: "/account/view-code", post: (*Handler).viewCode},
	{path: "/account/factor-removal/cancel", post: (*Handler).cancelRemovalHere},
	// The cancel link of a pending factor removal, defended like the
	// other mailed links.
	{path: "/factor-removal/cancel", get: (*Handler).cancelRemovalPage, post: (*Handler).cancelRemovalLink,
		getDefence: defence{route: botdefense.RouteVerify}, postDefence: defence{route: botdefense.RouteVerify}},
	{path: "/account/support-code", post: (*Handler).supportCode},
	// The consent prompt in front of a protected route (consent.go).
	{path: "/consent", get: (*Handler).consentPrompt, post: (*Handler).consentAnswer},
	// Options for both ceremonies count as passkey attempts; finishing a
	// registration needs a session and is not defended.
	{path: "/passkey/options", post: (*Handler).passkeyOptions, postDefence: defence{route: botdefense.RoutePasskey}},
	{path: "/passkey/login", post: (*Handler).passkeyLogin, postDefence: defence{route: botdefense.RoutePasskey}},
	{path: "/passkey/register", post: (*Handler).passkeyRegister},
	// The language switcher on every page (lang.go).
	{path: "/lang", get: (*Handler).langSwitch},
	{path: "/challenge", post: (*Handler).challengeSolved,
		postDefence: defence{route: botdefense.RouteChallenge, challenge: passChallenge}},
}

// magicDefence: the magic page's post asks for a link (mail is sent, so it
// is limited like a sign-in and can be challenged) unless it carries a
// typed code, which counts as a code attempt.
func magicDefence(r *http.Request) defence {
	if r.PostForm.Has("code") {
		return defence{route: botdefense.RouteCode}
	}
	return defence{route: botdefense.RouteMagic, challenge: magicChallenge}
}

// ownRoutes indexes the route table by path, with the routes of the
// site's providers.
func (h *Handler) ownRoutes() map[string]route {
	m := make(map[string]route, len(routeTable)+2*len(h.providers))
	for _, rt := range routeTable {
		m[rt.path] = rt
	}
	for _, p := range h.providers {
		for _, rt := range oidcRoutes(p) {
			m[rt.path] = rt
		}
	}
	if h.SSO != nil {
		for _, rt := range ssoRoutes() {
			m[rt.path] = rt
		}
	}
	if h.Provider != nil {
		m[deviceRoute.path] = deviceRoute
	}
	return m
}

// defenceOf is the edge defence of r, a request the route answers (a
// post's form already parsed).
func (rt *route) defenceOf(r *http.Request) defence {
	switch {
	case r.Method != http.MethodPost:
		return rt.getDefence
	case rt.postDefenceBy != nil:
		return rt.postDefenceBy(r)
	}
	return rt.postDefence
}
