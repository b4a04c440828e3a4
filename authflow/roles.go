package authflow

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/frontdoorhq/frontdoor/identity"
)

// Roles and attributes: granted and removed by an operator (admin API),
// by an invitation, or from a provider's claims; each change is in the
// customer's audit trail with who made it.

// RoleChangeInput is one grant or removal. By says who made it for the
// trail ("operator: <reason>", "invitation", "provider google").
type RoleChangeInput struct {
	CustomerID, Role, By string
	Client               Client
	// Agents: the change comes from the admin API's agents endpoint, the
	// one way AgentRole is given or taken.
	Agents bool
}

// Outcomes of role and attribute changes.
type (
	// RolesChanged: the customer now holds what it says (Changed false:
	// nothing needed doing).
	RolesChanged struct {
		Customer *identity.Customer
		Changed  bool
	}
)

func (RolesChanged) outcome() {}

// GrantRole gives the customer a role. Invalid: the role's name; NoSuchCustomer.
func (f *Flows) GrantRole(ctx context.Context, in RoleChangeInput) (Outcome, error) {
	if err := identity.ValidRole(in.Role); err != nil {
		return Invalid{Fields: map[string]error{"role": err}}, nil
	}
	if in.Role == AgentRole && !in.Agents {
		return Invalid{Fields: map[string]error{"role": ErrAgentRole}}, nil
	}
	return f.changeRoles(ctx, in, identity.EventRoleGranted, func(c *identity.Customer) (bool, error) { return c.GrantRole(in.Role) })
}

// RemoveRole takes a role away.
func (f *Flows) RemoveRole(ctx context.Context, in RoleChangeInput) (Outcome, error) {
	if in.Role == AgentRole && !in.Agents {
		return Invalid{Fields: map[string]error{"role": ErrAgentRole}}, nil
	}
	return f.changeRoles(ctx, in, identity.EventRoleRemoved, func(c *identity.Customer) (bool, error) { return c.RemoveRole(in.Role), nil })
}

// errUnchanged stops an update that would change nothing.
var errUnchanged = errors.New("unchanged")

func (f *Flows) changeRoles(ctx context.Context, in RoleChangeInput, kind string, change func(*identity.Customer) (bool, error)) (Outcome, error) {
	var limit error
	c, err := f.Customers.UpdateCustomer(ctx, in.CustomerID, func(c *identity.Customer) error {
		changed, err := change(c)
		if err != nil {
			limit = err
			return err
		}
		if !changed {
			return errUnchanged
		}
		return nil
	})
	switch {
	case errors.Is(err, identity.ErrNotFound):
		return NoSuchCustomer{}, nil
	case limit != nil:
		return Invalid{Fields: map[string]error{"role": limit}}, nil
	case errors.Is(err, errUnchanged):
		c, err = f.Customers.Customer(ctx, in.CustomerID)
		if err != nil {
			return nil, err
		}
		return RolesChanged{Customer: c}, nil
	case err != nil:
		return nil, err
	}
	f.auditDetail(ctx, in.Client, c.ID, kind, in.Role+" by "+in.By)
	return RolesChanged{Customer: c, Changed: true}, nil
}

// SetAttributesInput replaces a customer's attributes.
type SetAttributesInput struct {
	CustomerID string
	Attributes map[string]string
	By         string
	Client     Client
}

// SetAttributes replaces the customer's attributes (an empty value
// removes one). Invalid: a name or value; NoSuchCustomer.
func (f *Flows) SetAttributes(ctx context.Context, in SetAttributesInput) (Outcome, error) {
	var check identity.Customer
	if err := check.SetAttributes(in.Attributes); err != nil {
		return Invalid{Fields: map[string]error{"attributes": err}}, nil
	}
	changed := false
	c, err := f.Customers.UpdateCustomer(ctx, in.CustomerID, func(c *identity.Customer) error {
		changed = !maps.Equal(c.Attributes, check.Attributes)
		c.Attributes = maps.Clone(check.Attributes)
		return nil
	})
	if errors.Is(err, identity.ErrNotFound) {
		return NoSuchCustomer{}, nil
	}
	if err != nil {
		return nil, err
	}
	if changed {
		// The names, never the values: those may be personal.
		f.auditDetail(ctx, in.Client, c.ID, identity.EventAttributesSet, strings.Join(slices.Sorted(maps.Keys(c.Attributes)), ", ")+" by "+in.By)
	}
	return RolesChanged{Customer: c, Changed: changed}, nil
}
