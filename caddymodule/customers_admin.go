package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
)

// Admin API for requests customers make by other channels (a letter, a
// support ticket), on Caddy's admin endpoint:
//
//	GET    /frontdoor/customers?email=…[&reason=…]   the customer's id
//	GET    /frontdoor/customers/<id>/export[?reason=…] their data (authflow.Export)
//	DELETE /frontdoor/customers/<id>?reason=…        erasure, at once
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
	email, err := identity.NormalizeEmail(r.URL.Query().Get("email"))
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: errors.New("email: not an address")}
	}
	reason := truncate(r.URL.Query().Get("reason"), maxReason)
	type found struct {
		ID    string `json:"id"`
		Store string `json:"store"`
	}
	out := []found{}
	for _, b := range defenders() {
		c, err := b.identity.CustomerByEmail(r.Context(), email)
		if errors.Is(err, identity.ErrNotFound) {
			continue
		}
		if err != nil {
			return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: err}
		}
		out = append(out, found{ID: c.ID, Store: b.kind})
		ev := identity.Event{At: b.clock.Now().UTC(), Kind: identity.EventAdminLookup, UserAgent: adminClient.UserAgent, Detail: "operator: " + reason}
		if err := b.identity.AppendEvent(r.Context(), c.ID, ev); err != nil {
			return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: err}
		}
	}
	if len(out) == 0 {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: errors.New("no customer has that address")}
	}
	return writeAdminJSON(w, map[string]any{"customers": out})
}

// serveCustomer answers /frontdoor/customers/<id>/export and
// DELETE /frontdoor/customers/<id>; any other path or method is refused.
func serveCustomer(w http.ResponseWriter, r *http.Request) error {
	if err := loopbackOnly(r); err != nil {
		return err
	}
	rest := strings.TrimPrefix(r.URL.Path, "/frontdoor/customers/")
	id, sub, _ := strings.Cut(rest, "/")
	if id == "" || strings.Contains(sub, "/") || (sub != "" && sub != "export") {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: errors.New("no such route")}
	}
	switch {
	case sub == "export" && r.Method == http.MethodGet:
		return adminExport(w, r, id)
	case sub == "export":
		return methodNotAllowed("GET")
	case r.Method == http.MethodDelete:
		return adminErase(w, r, id)
	}
	return methodNotAllowed("DELETE")
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
	reason := r.URL.Query().Get("reason")
	if reason == "" && r.Body != nil {
		var body struct {
			Reason string `json:"reason"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&body); err != nil && !errors.Is(err, io.EOF) {
			return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf("body: %w", err)}
		}
		reason = body.Reason
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: errors.New("reason: say why the customer is erased")}
	}
	b, err := holder(r, id)
	if err != nil {
		return err
	}
	out, err := b.flows().Erase(r.Context(), authflow.EraseInput{CustomerID: id, Client: adminClient, Operator: true, Reason: truncate(reason, maxReason)})
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: err}
	}
	if _, ok := out.(authflow.NoSuchCustomer); ok {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: errors.New("no such customer")}
	}
	return writeAdminJSON(w, map[string]any{"erased": id})
}
