package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
)

// Support agents, on Caddy's admin endpoint (loopback callers only) — the
// one way the agent role is given or taken:
//
//	POST   /frontdoor/agents/<customer id>        {"reason": …}: make the customer an agent
//	DELETE /frontdoor/agents/<customer id>?reason=…  take it away
//	GET    /frontdoor/agents/<customer id>/trail   what the agent did (their own trail)
//
// Each change is in the customer's trail with the operator's reason.

func agentRoutes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{Pattern: "/frontdoor/agents/", Handler: caddy.AdminHandlerFunc(serveAgents)}}
}

func serveAgents(w http.ResponseWriter, r *http.Request) error {
	if err := loopbackOnly(r); err != nil {
		return err
	}
	rest := strings.TrimPrefix(r.URL.Path, "/frontdoor/agents/")
	id, sub, _ := strings.Cut(rest, "/")
	if !strings.HasPrefix(id, "u_") {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: errors.New("want /frontdoor/agents/<customer id>")}
	}
	b, err := holder(r, id)
	if err != nil {
		return err
	}
	switch {
	case sub == "trail" && r.Method == http.MethodGet:
		evs, err := b.identity.Events(r.Context(), id, identity.MaxEvents)
		if err != nil {
			return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: err}
		}
		out := []identity.Event{}
		for _, e := range evs {
			if e.Kind == identity.EventAgentActed || e.Kind == identity.EventRoleGranted || e.Kind == identity.EventRoleRemoved {
				out = append(out, e)
			}
		}
		return writeAdminJSON(w, map[string]any{"agent": id, "events": out})
	case sub != "":
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("no such path: %s", r.URL.Path)}
	case r.Method == http.MethodPost:
		var body struct {
			Reason string `json:"reason"`
		}
		dec := json.NewDecoder(io.LimitReader(r.Body, 16<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil || strings.TrimSpace(body.Reason) == "" {
			return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: errors.New(`body: {"reason": "…"} (a reason is required)`)}
		}
		return changeAgent(w, r, b, id, body.Reason, true)
	case r.Method == http.MethodDelete:
		reason := r.URL.Query().Get("reason")
		if strings.TrimSpace(reason) == "" {
			return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: errors.New("reason: required (?reason=…)")}
		}
		return changeAgent(w, r, b, id, reason, false)
	}
	return methodNotAllowed("POST, DELETE, GET …/trail")
}

func changeAgent(w http.ResponseWriter, r *http.Request, b *backend, id, reason string, grant bool) error {
	in := authflow.RoleChangeInput{CustomerID: id, Role: authflow.AgentRole, By: "operator (agents API): " + truncate(reason, maxReason),
		Client: adminClient, Agents: true}
	f := b.flows()
	var (
		out authflow.Outcome
		err error
	)
	if grant {
		out, err = f.GrantRole(r.Context(), in)
	} else {
		out, err = f.RemoveRole(r.Context(), in)
	}
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: err}
	}
	o, ok := out.(authflow.RolesChanged)
	if !ok {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: errors.New("no such customer")}
	}
	b.forgetCustomer(id)
	return writeAdminJSON(w, map[string]any{"id": id, "agent": o.Customer.HasRole(authflow.AgentRole), "changed": o.Changed})
}
