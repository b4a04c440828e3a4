package caddymodule

import (
	"context"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/sms"
)

// Text messages: the sender is a module in the namespace frontdoor.sms
// (sms_log.go, sms_dir.go, sms_http.go, or an operator's own), loaded
// by each config; the queue in front of it is one per process, like the
// mail queue, and sends with the running config's sender.

// smsQueues holds the process's one text-message queue.
var smsQueues = caddy.NewUsagePool()

// smsQueueKey names it. Keyed by the sender's configuration, a change of
// sender would destroy the old queue and drop what it had not sent.
const smsQueueKey = "sms"

// smsQueue is the pooled queue; the last config to let go closes it.
type smsQueue struct{ *sms.Queue }

func (q smsQueue) Destruct() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return q.Close(ctx)
}

// loadSMSQueue takes a hold on the process's text-message queue, creating
// it with s and logger if no config holds it yet. An existing queue keeps
// the running config's sender until this config starts.
func loadSMSQueue(s sms.Sender, logger *zap.Logger) (*smsQueue, error) {
	v, _, err := smsQueues.LoadOrNew(smsQueueKey, func() (caddy.Destructor, error) {
		return smsQueue{sms.NewQueue(s, logger, sms.QueueOptions{})}, nil
	})
	if err != nil {
		return nil, err
	}
	q, ok := v.(smsQueue)
	if !ok {
		return nil, fmt.Errorf("frontdoor: pooled text-message queue has type %T", v)
	}
	return &q, nil
}

// provisionSMS loads this config's sender and takes a hold on the queue.
func (a *App) provisionSMS(ctx caddy.Context) error {
	var s sms.Sender
	if a.SMSRaw == nil {
		// No sms line: a site that sends none must not hear a warning
		// about a sender it does not use.
		s = sms.NewQuietLogSender(ctx.Logger())
	} else {
		mod, err := ctx.LoadModule(a, "SMSRaw")
		if err != nil {
			return fmt.Errorf("frontdoor: loading the sms sender: %w", err)
		}
		var ok bool
		if s, ok = mod.(sms.Sender); !ok {
			return fmt.Errorf("frontdoor: module %T is not a text-message sender", mod)
		}
	}
	a.smsSender = s
	var err error
	if a.texts, err = loadSMSQueue(s, a.logger.Named("sms")); err != nil {
		return err
	}
	a.textsKey = smsQueueKey
	return nil
}

// sendText queues m for the running config's sender and returns at once;
// delivery, retries included, happens off the request path. The journeys
// call it with m.Code set, so no log ever holds the code. Errors:
// sms.ErrPermanent (a malformed message), sms.ErrQueueFull,
// sms.ErrQueueClosed.
func (a *App) sendText(ctx context.Context, m sms.Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("frontdoor: sms: %w", err)
	}
	if _, err := a.texts.Enqueue(m); err != nil {
		return fmt.Errorf("frontdoor: sms: %w", err)
	}
	return nil
}

// parseSMS reads `sms log`, `sms dir <path>` or `sms http <url> { … }` (or
// any other frontdoor.sms module this build has) into the app.
func parseSMS(d *caddyfile.Dispenser, app *App) error {
	if app.SMSRaw != nil {
		return d.Errf("frontdoor: sms is set twice")
	}
	if !d.NextArg() {
		return d.Errf("frontdoor: sms needs a sender: log, dir <path> or http <url> { … }")
	}
	name := d.Val()
	if _, err := caddy.GetModule("frontdoor.sms." + name); err != nil {
		return d.Errf("frontdoor: unknown sms sender %q (this build has: %s)", name, moduleNames("frontdoor.sms"))
	}
	unm, err := caddyfile.UnmarshalModule(d, "frontdoor.sms."+name)
	if err != nil {
		return err
	}
	app.SMSRaw = caddyconfig.JSONModuleObject(unm, "sender", name, nil)
	return nil
}
