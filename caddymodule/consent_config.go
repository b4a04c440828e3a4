package caddymodule

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/frontdoorhq/frontdoor/consent"
)

// ConsentConfig holds the consent purposes customers are asked to agree
// to, on every site (the global frontdoor block's consent option).
type ConsentConfig struct {
	// Purposes in the order pages show them.
	Purposes []consent.Purpose `json:"purposes,omitempty"`
}

// parseConsent parses
//
//	consent {
//		purpose <id> {
//			title "<short line>"
//			text "<a sentence or two>"
//			link https://…
//			version <n>
//			required
//			sale_or_sharing
//		}
//	}
//
// Every error names the option and the line (d.Errf).
func parseConsent(d *caddyfile.Dispenser, prev *ConsentConfig) (*ConsentConfig, error) {
	if prev != nil {
		return nil, d.Errf("frontdoor: consent is set twice; put every purpose in one consent block")
	}
	if d.NextArg() {
		return nil, d.Errf("frontdoor: consent takes a block of purposes, not arguments")
	}
	cc := &ConsentConfig{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if d.Val() != "purpose" {
			return nil, d.Errf("frontdoor: consent: unknown option %q (want purpose <id> { … })", d.Val())
		}
		p, err := parsePurpose(d)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(cc.Purposes, func(q consent.Purpose) bool { return q.ID == p.ID }) {
			return nil, d.Errf("frontdoor: consent: purpose %s is defined twice", p.ID)
		}
		cc.Purposes = append(cc.Purposes, p)
	}
	if len(cc.Purposes) == 0 {
		return nil, d.Errf("frontdoor: consent needs at least one purpose <id> { … }")
	}
	return cc, nil
}

func parsePurpose(d *caddyfile.Dispenser) (consent.Purpose, error) {
	var p consent.Purpose
	if !d.NextArg() {
		return p, d.Errf("frontdoor: consent: purpose needs an id, e.g. purpose terms { … }")
	}
	p.ID = d.Val()
	if !consent.ValidID(p.ID) {
		return p, d.Errf("frontdoor: consent: purpose %q: the id must be 1 to %d lower-case letters, digits, '_' or '-', starting with a letter", p.ID, consent.MaxIDLen)
	}
	if d.NextArg() {
		return p, d.Errf("frontdoor: consent: purpose %s takes a block, not %q", p.ID, d.Val())
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch opt := d.Val(); opt {
		case "title", "text", "link":
			var v string
			if !d.AllArgs(&v) || v == "" {
				return p, d.Errf("frontdoor: consent: purpose %s: %s needs one value (quote it if it has spaces)", p.ID, opt)
			}
			switch opt {
			case "title":
				p.Title = v
			case "text":
				p.Text = v
			default:
				p.Link = v
			}
		case "version":
			var v string
			n, err := 0, error(nil)
			if d.AllArgs(&v) {
				n, err = strconv.Atoi(v)
			}
			if v == "" || err != nil || n < 1 {
				return p, d.Errf("frontdoor: consent: purpose %s: version needs one number, 1 or more", p.ID)
			}
			p.Version = n
		case "required", "sale_or_sharing":
			if d.NextArg() {
				return p, d.Errf("frontdoor: consent: purpose %s: %s takes no value", p.ID, opt)
			}
			if opt == "required" {
				p.Required = true
			} else {
				p.SaleOrSharing = true
			}
		default:
			return p, d.Errf("frontdoor: consent: purpose %s: unknown option %q (want title, text, link, version, required, sale_or_sharing)", p.ID, opt)
		}
	}
	if p.Version == 0 {
		p.Version = 1
	}
	if err := p.Validate(); err != nil {
		return p, d.Errf("frontdoor: %v", err)
	}
	return p, nil
}

// provisionConsent checks the purposes (a JSON config skips the
// Caddyfile's checks).
func (a *App) provisionConsent() error {
	a.purposes = nil
	if a.Consent == nil {
		return nil
	}
	ps := consent.Purposes(a.Consent.Purposes)
	if err := ps.Validate(); err != nil {
		return fmt.Errorf("frontdoor: %w", err)
	}
	a.purposes = ps
	return nil
}

// checkPurposes reports the first id that names no global purpose.
func (a *App) checkPurposes(option string, ids []string) error {
	for _, id := range ids {
		if _, ok := a.purposes.Lookup(id); !ok {
			known := slices.Sorted(maps.Keys(purposeSet(a.purposes)))
			have := "none"
			if len(known) > 0 {
				have = strings.Join(known, ", ")
			}
			return fmt.Errorf("frontdoor: %s: no purpose %q in the global frontdoor block's consent (configured: %s)", option, id, have)
		}
	}
	return nil
}

func purposeSet(ps consent.Purposes) map[string]bool {
	m := make(map[string]bool, len(ps))
	for _, p := range ps {
		m[p.ID] = true
	}
	return m
}

// parseConsentIDs reads the purpose ids of a site's or a rule's consent
// option.
func parseConsentIDs(d *caddyfile.Dispenser, what string) ([]string, error) {
	ids := d.RemainingArgs()
	if len(ids) == 0 {
		return nil, d.Errf("frontdoor: %s needs at least one purpose id", what)
	}
	for i, id := range ids {
		if !consent.ValidID(id) {
			return nil, d.Errf("frontdoor: %s: %q is not a purpose id", what, id)
		}
		if slices.Contains(ids[:i], id) {
			return nil, d.Errf("frontdoor: %s: %s is named twice", what, id)
		}
	}
	return ids, nil
}
