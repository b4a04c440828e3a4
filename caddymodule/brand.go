package caddymodule

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

// Brand says whose pages and mail these are, without a theme directory:
//
//	brand "Shop" {
//		logo /static/logo.svg   # a path on this site (the pages' CSP allows only the site's own images)
//		colour "#0b5cad"        # the accent (quoted: # starts a comment; 0b5cad works too); white text on it must stay readable
//	}
type Brand struct {
	Name   string `json:"name"`
	Logo   string `json:"logo,omitempty"`
	Colour string `json:"colour,omitempty"`
}

var colourRE = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// defaultAccent is the built-in stylesheet's accent.
const defaultAccent = "#0b5cad"

// validate checks the brand: a name, a logo on the site, and an accent
// white text can be read on (WCAG AA, 4.5:1), since buttons carry it.
func (b *Brand) validate() error {
	if b == nil {
		return nil
	}
	if strings.TrimSpace(b.Name) == "" || len(b.Name) > 60 || strings.ContainsAny(b.Name, "\r\n") {
		return fmt.Errorf("brand: the name must be 1-60 characters on one line")
	}
	if b.Logo != "" && (!strings.HasPrefix(b.Logo, "/") || strings.HasPrefix(b.Logo, "//") || strings.ContainsAny(b.Logo, "\"'<> \\")) {
		return fmt.Errorf("brand: logo %q must be a path on this site, such as /static/logo.svg", b.Logo)
	}
	if b.Colour != "" {
		if !colourRE.MatchString(b.Colour) {
			return fmt.Errorf("brand: colour %q must be #rrggbb", b.Colour)
		}
		if c := contrastWithWhite(b.Colour); c < 4.5 {
			return fmt.Errorf("brand: colour %s has a contrast of %.1f:1 with the white text of buttons; at least 4.5:1 is needed (WCAG AA)", b.Colour, c)
		}
	}
	return nil
}

// contrastWithWhite is the WCAG 2 contrast ratio of #rrggbb with white.
func contrastWithWhite(hex string) float64 {
	lin := func(s string) float64 {
		v, _ := strconv.ParseUint(s, 16, 8)
		c := float64(v) / 255
		if c <= 0.04045 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	l := 0.2126*lin(hex[1:3]) + 0.7152*lin(hex[3:5]) + 0.0722*lin(hex[5:7])
	return 1.05 / (l + 0.05)
}

func parseBrand(h httpcaddyfile.Helper) (*Brand, error) {
	b := &Brand{}
	if !h.NextArg() {
		return nil, h.Errf("frontdoor: brand needs a name, e.g. brand \"Shop\"")
	}
	b.Name = h.Val()
	if h.NextArg() {
		return nil, h.ArgErr()
	}
	for n := h.Nesting(); h.NextBlock(n); {
		switch opt := h.Val(); opt {
		case "logo":
			if !h.AllArgs(&b.Logo) {
				return nil, h.Errf("frontdoor: brand logo needs one path")
			}
		case "colour", "color":
			// In a Caddyfile an unquoted # starts a comment: the colour is
			// written "#0b5cad" (quoted) or 0b5cad.
			if !h.AllArgs(&b.Colour) {
				return nil, h.Errf(`frontdoor: brand colour needs one colour: write colour "#0b5cad" (quoted, since # starts a comment) or colour 0b5cad`)
			}
			if !strings.HasPrefix(b.Colour, "#") {
				b.Colour = "#" + b.Colour
			}
		default:
			return nil, h.Errf("frontdoor: brand: unknown option %q (logo, colour)", opt)
		}
	}
	if err := b.validate(); err != nil {
		return nil, h.Errf("frontdoor: %v", err)
	}
	return b, nil
}

// siteName is how pages and mail name the site: its brand, or its host.
func (h *Handler) siteName() string {
	if h.Brand != nil {
		return h.Brand.Name
	}
	return h.audience
}

// brandStyle lays the brand's accent over the stylesheet.
func (h *Handler) brandStyle() {
	if h.Brand == nil || h.Brand.Colour == "" {
		return
	}
	css := append(append([]byte{}, h.pages.css...), []byte("\n:root{--accent:"+strings.ToLower(h.Brand.Colour)+"}\n")...)
	h.pages.css, h.pages.cssHash = css, shortHash(css)
}
