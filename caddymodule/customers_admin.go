package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/events"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/sms"
)

// Admin API for requests customers make by other channels (a letter, a
// support ticket), on Caddy's admin endpoint:
//
//	GET    /frontdoor/customers?email=…[&reason=…]   the customer's id
//	GET    /frontdoor/customers?phone=%2B44…[&reason=…] the same by phone number (E.164)
//	GET    /frontdoor/customers/<id>/export[?reason=…] their data (authflow.Export)
//	DELETE /frontdoor/customers/<id>?reason=…        erasure, at once
//	GET    /frontdoor/customers/<id>/roles            roles and attributes
//	PUT    /frontdoor/customers/<id>/roles/<role>     grant a role
//	DELETE /frontdoor/customers/<id>/roles/<role>     remove it
//	PUT    /frontdoor/customers/<id>/attributes       replace the attributes (body: a JSON object of strings)
//	POST   /frontdoor/invitations                     mail a link that grants a role (invite.go)
//	POST   /frontdoor/customers/import                customers from a legacy system (import_admin.go)
//	       (or a JSON body {"reason": …})
//
// Each is recorded with the operator's reason: the lookup and the export in
// the customer's audit trail, the erasure in the erasure log (the
// customer's trail goes with the account). Nothing here edits or removes
// an audit record. Loopback callers only.

func customerRoutes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		{Pattern: "/frontdoor/customers", Handler: caddy.AdminHandlerFunc(serveCustomers)},
		{Pattern: "/frontdoor/customers/", Handler: caddy.AdminHandlerFunc(serveCustomer)},
		{Pattern: "/frontdoor/invitations", Handler: caddy.AdminHandlerFunc(serveInvitations)},
		{Pattern: "/frontdoor/customers/import", Handler: caddy.AdminHandlerFunc(serveImport)},
	}
}

// maxReason bounds a recorded reason.
const maxReason = 500

// loopbackOnly refuses callers that are not on this machine, whatever
// address the admin endpoint listens on (a Unix socket has no address).
func loopbackOnly(r *http.Request) error {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if host == "" || host == "@" {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.Unmap().IsLoopback() {
		return nil
	}
	return caddy.APIError{HTTPStatus: http.StatusForbidden, Err: errors.New("customer routes answer loopback callers only")}
}

// adminClient is how an operator's action appears in a customer's trail.
var adminClient = authflow.Client{UserAgent: "admin API"}

func serveCustomers(w http.ResponseWriter, r *http.Request) error {
	if err := loopbackOnly(r); err != nil {
		return err
	}
	if r.Method != http.MethodGet {
		return methodNotAllowed("GET")
	}
	lookUp, err := customerQuery(r.URL.Query())
	if err != nil {
		return err
	}
	reason := truncate(r.URL.Query().Get("reason"), maxReason)
	type found struct {
		ID    string `json:"id"`
		Store string `json:"store"`
	}
	out := []found{}
	for _, b := range defenders() {
		c, err := lookUp(r.Context(), b.identity)
		if errors.Is(err, identity.ErrNotFound) {
			continue
		}
		if err != nil {
			return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: err}
		}
		out = append(out, found{ID: c.ID, Store: b.kind})
		now := b.clock.Now().UTC()
		ev := identity.Event{ID: events.NewID(now), At: now, Kind: identity.EventAdminLookup, UserAgent: adminClient.UserAgent, Detail: "operator: " + reason}
		if err := b.identity.AppendEvent(r.Context(), c.ID, ev); err != nil {
			return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: err}
		}
		if e, ok := events.FromTrail(c.ID, ev); ok {
			b.publish(r.Context(), e)
		}
	}
	if len(out) == 0 {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: errors.New("no customer has that address or number")}
	}
	return writeAdminJSON(w, map[string]any{"customers": out})
}

// customerQuery reads the lookup a query asks for: by email, or by phone
// number in international form (a customer who signed up by phone may
// have no address).
func customerQuery(q url.Values) (func(context.Context, identity.Store) (*identity.Customer, error), error) {
	if raw := q.Get("phone"); raw != "" && q.Get("email") == "" {
		n, err := sms.ParseNumber(raw, "")
		if err != nil {
			return nil, caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: errors.New("phone: not a number in international form (+44…)")}
		}
		return func(ctx context.Context, s identity.Store) (*identity.Customer, error) {
			return s.CustomerByPhone(ctx, n.E164)
		}, nil
	}
	email, err := identity.NormalizeEmail(q.Get("email"))
	if err != nil {
		return nil, caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: errors.New("email: not an address (or phone: a number)")}
	}
	return func(ctx context.Context, s identity.Store) (*identity.Customer, error) {
		return s.CustomerByEmail(ctx, email)
	}, nil
}

// serveCustomer answers the routes under /frontdoor/customers/<id>: the
// export, erasure, roles and attributes; any other path or method is
// refused.
func serveCustomer(w http.ResponseWriter, r *http.Request) error {
	if err := loopbackOnly(r); err != nil {
		return err
	}
	rest := strings.TrimPrefix(r.URL.Path, "/frontdoor/customers/")
	id, sub, _ := strings.Cut(rest, "/")
	sub, role, _ := strings.Cut(sub, "/")
	notFound := caddy.APIError{HTTPStatus: http.StatusNotFound, Err: errors.New("no such route")}
	if id == "" || strings.Contains(role, "/") || (role != "" && sub != "roles") {
		return notFound
	}
	switch sub {
	case "":
		if r.Method == http.MethodDelete {
			return adminErase(w, r, id)
		}
		return methodNotAllowed("DELETE")
	case "export":
		if r.Method == http.MethodGet {
			return adminExport(w, r, id)
		}
		return methodNotAllowed("GET")
	case "roles":
		switch {
		case role == "" && r.Method == http.MethodGet:
			return adminRoles(w, r, id)
		case role == "":
			return methodNotAllowed("GET")
		case r.Method == http.MethodPut || r.Method == http.MethodDelete:
			return adminRole(w, r, id, role)
		}
		return methodNotAllowed("PUT, DELETE")
	case "attributes":
		switch r.Method {
		case http.MethodGet:
			return adminRoles(w, r, id)
		case http.MethodPut:
			return adminAttributes(w, r, id)
		}
		return methodNotAllowed("GET, PUT")
	}
	return notFound
}

// holder is the backend whose store has the customer, or a 404.
func holder(r *http.Request, id string) (*backend, error) {
	for _, b := range defenders() {
		_, err := b.identity.Customer(r.Context(), id)
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, identity.ErrNotFound) {
			return nil, caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: err}
		}
	}
	return nil, caddy.APIError{HTTPStatus: http.StatusNotFound, Err: errors.New("no such customer")}
}

func adminExport(w http.ResponseWriter, r *http.Request, id string) error {
	b, err := holder(r, id)
	if err != nil {
		return err
	}
	x, err := b.flows().Export(r.Context(), authflow.ExportInput{CustomerID: id, Client: adminClient, Operator: true,
		Reason: truncate(r.URL.Query().Get("reason"), maxReason)})
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: err}
	}
	return writeExport(w, x)
}

func adminErase(w http.ResponseWriter, r *http.Request, id string) error {
	reason, err := adminReason(r)
	if err != nil {
		return err
	}
	if reason == "" {
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: errors.New("reason: say why the customer is erased")}
	}
	b, err := holder(r, id)
	if err != nil {
		return err
	}
	out, err := b.flows().Erase(r.Context(), authflow.EraseInput{CustomerID: id, Client: adminClient, Operator: true, Reason: reason})
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: err}
	}
	if _, ok := out.(authflow.NoSuchCustomer); ok {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: errors.New("no such customer")}
	}
	return writeAdminJSON(w, map[string]any{"erased": id})
}

// adminReason is the operator's reason for a change: the query's reason,
// else a JSON body's.
func adminReason(r *http.Request) (string, error) {
	reason := r.URL.Query().Get("reason")
	if reason == "" && r.Body != nil {
		var body struct {
			Reason string `json:"reason"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&body); err != nil && !errors.Is(err, io.EOF) {
			return "", caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf("body: %w", err)}
		}
		reason = body.Reason
	}
	return truncate(strings.TrimSpace(reason), maxReason), nil
}

// operatorBy is how an operator's change is told in the trail.
func operatorBy(reason string) string {
	if reason == "" {
		return "operator"
	}
	return "operator: " + reason
}

// rolesView is what the admin API says of a customer's roles and
// attributes.
func rolesView(c *identity.Customer) map[string]any {
	roles, attrs := c.Roles, c.Attributes
	if roles == nil {
		roles = []string{}
	}
	if attrs == nil {
		attrs = map[string]string{}
	}
	fromProviders := map[string][]string{}
	for _, li := range c.Identities {
		if len(li.Roles) > 0 {
			fromProviders[li.Provider] = append(fromProviders[li.Provider], li.Roles...)
		}
	}
	// roles: the operator's and invitations' (what PUT and DELETE change);
	// provider_roles: what each linked provider's claims gave at its last
	// sign-in; all_roles: what rules and backends see.
	return map[string]any{"id": c.ID, "roles": roles, "provider_roles": fromProviders, "all_roles": c.AllRoles(), "attributes": attrs}
}

func adminRoles(w http.ResponseWriter, r *http.Request, id string) error {
	b, err := holder(r, id)
	if err != nil {
		return err
	}
	c, err := b.identity.Customer(r.Context(), id)
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: err}
	}
	return writeAdminJSON(w, rolesView(c))
}

// adminRole grants (PUT) or removes (DELETE) a role, in the customer's
// trail with the operator's reason; this node forgets what it cached of
// the customer, the others within their cache period (2 s).
func adminRole(w http.ResponseWriter, r *http.Request, id, role string) error {
	reason, err := adminReason(r)
	if err != nil {
		return err
	}
	b, err := holder(r, id)
	if err != nil {
		return err
	}
	in := authflow.RoleChangeInput{CustomerID: id, Role: role, By: operatorBy(reason), Client: adminClient}
	var out authflow.Outcome
	if r.Method == http.MethodPut {
		out, err = b.flows().GrantRole(r.Context(), in)
	} else {
		out, err = b.flows().RemoveRole(r.Context(), in)
	}
	return b.answerRoles(w, id, out, err)
}

// adminAttributes replaces the customer's attributes with the body's
// JSON object of strings (an empty value removes one).
func adminAttributes(w http.ResponseWriter, r *http.Request, id string) error {
	var attrs map[string]string
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	if err := dec.Decode(&attrs); err != nil || dec.More() {
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: errors.New(`body: a JSON object of attribute name to text, such as {"plan":"premium","org":"acme"}`)}
	}
	b, err := holder(r, id)
	if err != nil {
		return err
	}
	out, err := b.flows().SetAttributes(r.Context(), authflow.SetAttributesInput{CustomerID: id, Attributes: attrs,
		By: operatorBy(truncate(r.URL.Query().Get("reason"), maxReason)), Client: adminClient})
	return b.answerRoles(w, id, out, err)
}

func (b *backend) answerRoles(w http.ResponseWriter, id string, out authflow.Outcome, err error) error {
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: err}
	}
	switch o := out.(type) {
	case authflow.NoSuchCustomer:
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: errors.New("no such customer")}
	case authflow.Invalid:
		for _, e := range o.Fields {
			return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: e}
		}
	case authflow.RolesChanged:
		b.forgetCustomer(id)
		return writeAdminJSON(w, rolesView(o.Customer))
	}
	return caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: fmt.Errorf("unexpected outcome %T", out)}
}
