package caddymodule

import (
	"slices"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/consent"
)

// The HTTP side of consent: the purposes on the sign-up form (fields
// consent=<id>, repeated; nothing ticked unless the customer ticked it).

// purposeView is one purpose's checkbox.
type purposeView struct {
	ID, Title, Text, Link string
	Required, Checked     bool
	// Field is its error's key in pageData.Errors.
	Field string
}

// purposeViews are the global purposes as checkboxes, ticked where the
// customer ticked them on the form being shown again.
func (h *Handler) purposeViews(accepted []string) []purposeView {
	out := make([]purposeView, 0, len(h.app.purposes))
	for _, p := range h.app.purposes {
		out = append(out, purposeView{
			ID: p.ID, Title: p.Title, Text: p.Text, Link: p.Link, Required: p.Required,
			Checked: slices.Contains(accepted, p.ID), Field: authflow.ConsentField(p.ID),
		})
	}
	return out
}

// consentPurposes are the purposes of the running config.
func (b *backend) consentPurposes() consent.Purposes {
	liveMu.Lock()
	defer liveMu.Unlock()
	if live == nil {
		return nil
	}
	return live.purposes
}
