package caddymodule

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/botdefense"
	"github.com/frontdoorhq/frontdoor/consent"
)

// The customer takes their data (GET /account/export) and leaves (GET
// /account/delete shows the confirmation, POST with confirm=1 erases);
// both ask for a sign-in as recent as a change to how they sign in.

// exportData answers the customer's data as a JSON attachment
// (authflow.Export; docs/export-schema.json).
func (h *Handler) exportData(w http.ResponseWriter, r *http.Request) error {
	_, c := h.accountChangeFor(w, r, h.Prefix+"/account/export", false)
	if c == nil {
		return nil
	}
	x, err := h.flows.Export(r.Context(), authflow.ExportInput{CustomerID: c.ID, Client: h.client(r)})
	if err != nil {
		h.logger.Error("exporting customer data", zap.Error(err))
		return h.unavailable(w, r)
	}
	return writeExport(w, x)
}

func writeExport(w http.ResponseWriter, x *authflow.Export) error {
	hd := w.Header()
	hd.Set("Content-Type", "application/json; charset=utf-8")
	hd.Set("Content-Disposition", `attachment; filename="frontdoor-export.json"`)
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(x)
}

// erasePage is the confirmation page holding the erasure form.
func (h *Handler) erasePage(w http.ResponseWriter, r *http.Request) error {
	_, c := h.accountChangeFor(w, r, h.Prefix+"/account/delete", false)
	if c == nil {
		return nil
	}
	d := &pageData{Title: h.say(r, "erase.title"), CSRF: h.csrfFor(w, r), Email: c.Email}
	if g := time.Duration(h.app.ErasureGrace); g > 0 {
		d.Message = h.say(r, "erase.grace", "days", daysOf(g))
	} else {
		d.Message = h.say(r, "erase.now")
	}
	return h.render(w, r, http.StatusOK, "erase", d)
}

// erase deletes the signed-in customer's account (authflow.Erase), or
// schedules it when the site has a grace period.
func (h *Handler) erase(w http.ResponseWriter, r *http.Request) error {
	s, c := h.accountChange(w, r)
	if c == nil {
		return nil
	}
	if r.PostForm.Get("confirm") != "1" {
		return h.message(w, r, http.StatusBadRequest, "erase.title", "erase.unconfirmed", h.Prefix+"/account/delete", "link.go_back")
	}
	out, err := h.flows.Erase(r.Context(), authflow.EraseInput{CustomerID: s.UserID, Client: h.client(r)})
	if err != nil {
		h.logger.Error("erasing customer", zap.Error(err))
		return h.unavailable(w, r)
	}
	switch o := out.(type) {
	case authflow.Erased, authflow.NoSuchCustomer:
		clearSessionCookie(w)
		clearCookie(w, deviceCookie)
		return h.message(w, r, http.StatusOK, "erase.done.title", "erase.done", "/", "link.home_page")
	case authflow.ErasureScheduled:
		clearSessionCookie(w)
		return h.message(w, r, http.StatusOK, "erase.scheduled.title", "erase.scheduled", h.Prefix+"/login", "link.sign_in",
			"date", o.At.Format("2 January 2006"))
	}
	return h.unexpected(w, r, out)
}

// daysOf is a grace period in whole days, rounded up.
func daysOf(d time.Duration) string {
	n := (d + 24*time.Hour - 1) / (24 * time.Hour)
	return strconv.Itoa(int(n))
}

// forgetAccount removes the edge defences' counters and block of an
// address, under every site's policy in force.
func (b *backend) forgetAccount(ctx context.Context, email string) error {
	var ps []*botdefense.Policy
	livePolicies.Range(func(_, v any) bool {
		if p, ok := v.(*botdefense.Policy); ok {
			ps = append(ps, p)
		}
		return true
	})
	if len(ps) == 0 {
		p := botdefense.DefaultPolicy()
		ps = append(ps, &p)
	}
	return b.defense.ForgetAccount(ctx, ps, email)
}

// flows are the journeys the backend runs with no site: the erasures
// whose grace has ended, and the admin API's.
func (b *backend) flows() *authflow.Flows {
	return &authflow.Flows{
		Customers: b.identity, Tokens: b.identity, Sessions: b.sessions, Events: b.identity, Publish: b.publish,
		Data: b.identity, SessionList: b.sessions, ErasureKey: b.erasureKey, ForgetAccount: b.forgetAccount,
		// Grace-period and operator erasures anonymise consent records too.
		ConsentData: authflow.ConsentOf[consent.Record](b.consent),
		Clock:       b.clock.Now,
		OnWarn:      func(msg string, err error) { b.logger.Warn(msg, zap.Error(err)) },
		OnMigration: b.migrations.note,
	}
}

// eraseDue deletes the accounts whose grace period has ended.
func (b *backend) eraseDue(running context.Context) {
	ctx, cancel := context.WithTimeout(running, 30*time.Second)
	defer cancel()
	if _, err := b.flows().EraseDue(ctx, 100); err != nil && running.Err() == nil {
		b.logger.Error("erasing accounts whose grace ended", zap.Error(err))
	}
}
