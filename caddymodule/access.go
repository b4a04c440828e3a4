package caddymodule

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

// Who may enter: a rule's role, attribute, email_domain and expression
// options ask who the customer is, where aal, max_age and methods ask how
// well they signed in. They are read from the customer record (hot cache:
// a change reaches every node within the session cache period) and
// checked before step-up, so no one is sent to prove more only to be
// refused. A rule not met answers 403 — a page that says what is missing,
// or {"error":"forbidden","missing":"role"} — never a sign-in redirect.

// AttributeRule asks that the customer's attribute Name be one of Values.
type AttributeRule struct {
	Name   string   `json:"name"`
	Values []string `json:"values"`
}

// What a rule found missing, as the API names it.
const (
	missingRole        = "role"
	missingAttribute   = "attribute"
	missingEmailDomain = "email_domain"
	missingExpression  = "expression"
)

// accessCheck is a rule's who-may-enter part, compiled.
type accessCheck struct {
	roles   []string
	attrs   []AttributeRule
	domains []string
	expr    cel.Program
}

func (a *accessCheck) empty() bool {
	return a == nil || len(a.roles) == 0 && len(a.attrs) == 0 && len(a.domains) == 0 && a.expr == nil
}

// compileAccess compiles a rule's access options.
func compileAccess(r Rule) (*accessCheck, error) {
	a := &accessCheck{roles: r.Roles, attrs: r.Attributes}
	for _, role := range r.Roles {
		if err := identity.ValidRole(role); err != nil {
			return nil, err
		}
	}
	for _, at := range r.Attributes {
		if err := identity.ValidAttribute(at.Name, ""); err != nil || len(at.Values) == 0 {
			return nil, fmt.Errorf("attribute %q needs a name (lower-case letters, digits, _) and at least one value", at.Name)
		}
	}
	for _, d := range r.EmailDomains {
		d, err := emailDomainRule(d)
		if err != nil {
			return nil, err
		}
		a.domains = append(a.domains, d)
	}
	if r.Expression != "" {
		prg, err := compileExpression(r.Expression)
		if err != nil {
			return nil, err
		}
		a.expr = prg
	}
	if a.empty() {
		return nil, nil
	}
	return a, nil
}

// emailDomainRule normalises a rule's domain (lower case, no leading @).
func emailDomainRule(d string) (string, error) {
	n := strings.ToLower(strings.TrimPrefix(d, "@"))
	if n == "" || strings.ContainsAny(n, "@ /,") || !strings.Contains(n, ".") {
		return "", fmt.Errorf("email_domain %q is not a domain such as acme.com", d)
	}
	return n, nil
}

// celEnv declares what an expression may read: the claims of the
// customer's session and account.
var celEnv = func() *cel.Env {
	env, err := cel.NewEnv(
		cel.Variable("sub", cel.StringType),
		cel.Variable("email", cel.StringType),
		cel.Variable("email_verified", cel.BoolType),
		cel.Variable("email_domain", cel.StringType),
		cel.Variable("roles", cel.ListType(cel.StringType)),
		cel.Variable("attrs", cel.MapType(cel.StringType, cel.StringType)),
		cel.Variable("amr", cel.ListType(cel.StringType)),
		cel.Variable("acr", cel.StringType),
		cel.Variable("idp", cel.StringType),
		cel.Variable("auth_time", cel.TimestampType),
		cel.Variable("now", cel.TimestampType),
	)
	if err != nil {
		panic(err)
	}
	return env
}()

// celVariables names what an expression may read, for error messages.
const celVariables = "sub, email, email_verified, email_domain, roles, attrs, amr, acr, idp, auth_time, now"

// compileExpression compiles a CEL expression that must be a bool.
func compileExpression(src string) (cel.Program, error) {
	ast, iss := celEnv.Compile(src)
	if iss.Err() != nil {
		return nil, fmt.Errorf("expression %q: %v (it may read %s)", src, iss.Err(), celVariables)
	}
	if ast.OutputType() != cel.BoolType {
		return nil, fmt.Errorf("expression %q is a %s, not a bool", src, ast.OutputType())
	}
	prg, err := celEnv.Program(ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, fmt.Errorf("expression %q: %v", src, err)
	}
	return prg, nil
}

// celVars is one evaluation's variables, resolved on demand.
type celVars struct {
	s   *session.Session
	c   *hotCustomer
	now time.Time
}

func (v *celVars) ResolveName(name string) (any, bool) {
	switch name {
	case "sub":
		return types.String(v.s.UserID), true
	case "email":
		return types.String(v.s.Email), true
	case "email_verified":
		return types.Bool(v.s.EmailVerified), true
	case "email_domain":
		return types.String(emailDomain(v.s.Email)), true
	case "roles":
		return v.c.celRoles, true
	case "attrs":
		return v.c.celAttrs, true
	case "amr":
		return types.NewStringList(types.DefaultTypeAdapter, v.s.AMR), true
	case "acr":
		return types.String(v.s.ACR), true
	case "idp":
		return types.String(v.s.IdP), true
	case "auth_time":
		return types.Timestamp{Time: v.s.AuthTime}, true
	case "now":
		return types.Timestamp{Time: v.now}, true
	}
	return nil, false
}

func (*celVars) Parent() interpreter.Activation { return nil }

func emailDomain(email string) string {
	if i := strings.LastIndexByte(email, '@'); i >= 0 {
		return email[i+1:]
	}
	return ""
}

// missing returns what the customer lacks for the rule, "" if nothing.
// An expression that fails to evaluate counts as not met.
func (a *accessCheck) missing(s *session.Session, c *hotCustomer, now time.Time) string {
	if len(a.roles) > 0 && !slices.ContainsFunc(a.roles, c.hasRole) {
		return missingRole
	}
	for _, at := range a.attrs {
		if v, ok := c.Attributes[at.Name]; !ok || !slices.Contains(at.Values, v) {
			return missingAttribute
		}
	}
	if len(a.domains) > 0 && (!c.EmailVerified || !slices.Contains(a.domains, emailDomain(c.Email))) {
		return missingEmailDomain
	}
	if a.expr != nil && !c.verdict(a, s, now) {
		return missingExpression
	}
	return ""
}

// exprKey names one expression's verdict on one session as it stands.
type exprKey struct {
	rule     *accessCheck
	session  string
	authTime int64
}

// verdictsMax bounds the verdicts kept per customer record.
const verdictsMax = 64

// verdict evaluates the rule's expression for the session, or returns the
// verdict this customer record already holds: a record lives one cache
// period (≤ 2 s), so a verdict is as fresh as the roles it read, and an
// expression that reads now is at most that period late. A new sign-in or
// step-up (a new auth_time) is judged afresh at once. An expression that
// fails to evaluate is not met.
func (c *hotCustomer) verdict(a *accessCheck, s *session.Session, now time.Time) bool {
	k := exprKey{a, s.Key, s.AuthTime.UnixNano()}
	c.mu.RLock()
	v, ok := c.verdicts[k]
	c.mu.RUnlock()
	if ok {
		return v
	}
	out, _, err := a.expr.Eval(&celVars{s: s, c: c, now: now})
	v = err == nil && out == types.True
	c.mu.Lock()
	if c.verdicts == nil {
		c.verdicts = make(map[exprKey]bool)
	}
	if len(c.verdicts) < verdictsMax {
		c.verdicts[k] = v
	}
	c.mu.Unlock()
	return v
}

// unmetAccess returns what the first rule on the path that the customer
// does not meet finds missing.
func (h *Handler) unmetAccess(views []string, s *session.Session, c *hotCustomer) string {
	now := h.app.backend.clock.Now()
	for _, rule := range h.rules {
		if rule.access == nil || !rule.appliesTo(views) {
			continue
		}
		if m := rule.access.missing(s, c, now); m != "" {
			return m
		}
	}
	return ""
}

// forbid answers a request from a customer a rule does not admit: 403,
// with a page that says what is missing in the customer's words, or the
// JSON error.
func (h *Handler) forbid(w http.ResponseWriter, r *http.Request, missing string, s *session.Session) error {
	w.Header().Set("Cache-Control", "no-store")
	if !isNavigation(r) {
		return writeJSON(w, http.StatusForbidden, map[string]string{"error": "forbidden", "missing": missing})
	}
	logout := h.Prefix + "/logout"
	switch missing {
	case missingRole:
		return h.message(w, r, http.StatusForbidden, "forbidden.title", "forbidden.role", logout, "link.other_account", "email", s.Email)
	case missingAttribute:
		return h.message(w, r, http.StatusForbidden, "forbidden.title", "forbidden.attribute", logout, "link.other_account", "email", s.Email)
	case missingEmailDomain:
		return h.message(w, r, http.StatusForbidden, "forbidden.title", "forbidden.email_domain", logout, "link.other_account", "email", s.Email)
	}
	return h.message(w, r, http.StatusForbidden, "forbidden.title", "forbidden.expression", logout, "link.other_account", "email", s.Email)
}

// hotCustomer is a customer record with what the hot path derives from
// it, worked out once per cache fill. Read only.
type hotCustomer struct {
	*identity.Customer
	// allRoles are the roles from every source (sorted); roles is the
	// header's value, comma-separated.
	allRoles           []string
	roles              string
	celRoles, celAttrs ref.Val

	mu       sync.RWMutex
	verdicts map[exprKey]bool
}

func newHotCustomer(c *identity.Customer) *hotCustomer {
	all := c.AllRoles()
	return &hotCustomer{Customer: c, allRoles: all, roles: strings.Join(all, ","),
		celRoles: types.NewStringList(types.DefaultTypeAdapter, all),
		celAttrs: types.NewStringStringMap(types.DefaultTypeAdapter, c.Attributes)}
}

// hasRole reports whether the customer holds role from any source.
func (c *hotCustomer) hasRole(role string) bool {
	_, found := slices.BinarySearch(c.allRoles, role)
	return found
}
