package botdefense

import (
	"context"
	"time"
)

// TextLimits bound the text messages a site sends: SMS pumping fraud
// (traffic pumped to premium numbers, paid per message) drains a budget one
// number, one number range or one country at a time, so each has its own
// bound, and the day has a cap for the site.
type TextLimits struct {
	// PerNumber texts to one number per NumberWindow, and PerNumberDay
	// per NumberDayWindow (default a day).
	PerNumber       int64
	NumberWindow    time.Duration
	PerNumberDay    int64
	NumberDayWindow time.Duration
	// PerPrefix texts to one number range (the E.164 number's first
	// digits, the range a fraudster rents) per PrefixWindow (default an
	// hour).
	PerPrefix    int64
	PrefixWindow time.Duration
	// PerCountry texts to one calling code per CountryWindow (default an
	// hour).
	PerCountry    int64
	CountryWindow time.Duration
	// PerDay texts per day from the site, every number together.
	PerDay int64
}

// DefaultTextLimits are the bounds when the operator sets none
// (sms_limits, sms_daily_cap).
var DefaultTextLimits = TextLimits{
	PerNumber: 3, NumberWindow: 15 * time.Minute, PerNumberDay: 10, NumberDayWindow: 24 * time.Hour,
	PerPrefix: 20, PrefixWindow: time.Hour, PerCountry: 200, CountryWindow: time.Hour, PerDay: 1000,
}

// orDefault is w, or def when w is unset.
func orDefault(w, def time.Duration) time.Duration {
	if w <= 0 {
		return def
	}
	return w
}

// PrefixDigits is how many digits of a number name its range.
const PrefixDigits = 7

// AllowText reports how long to wait before texting the number (E.164),
// given its range and calling code, from the site (0: send, and the text
// is counted). A refused text counts nowhere: hammering one number must
// not spend the day's cap that every customer shares. Counters are the
// Defender's, shared by every node on Redis; two texts racing past a
// bound's last place may both go (one over, not a flood).
func (d *Defender) AllowText(ctx context.Context, site string, l TextLimits, e164, prefix, callingCode string) (time.Duration, error) {
	now := d.now()
	bounds := []struct {
		key    string
		limit  int64
		period time.Duration
	}{
		{"sms|" + site + "|day", l.PerDay, 24 * time.Hour},
		{"sms|" + site + "|cc|" + callingCode, l.PerCountry, orDefault(l.CountryWindow, time.Hour)},
		{"sms|" + site + "|prefix|" + prefix, l.PerPrefix, orDefault(l.PrefixWindow, time.Hour)},
		{"sms|" + site + "|num|" + e164, l.PerNumber, l.NumberWindow},
		{"sms|" + site + "|numday|" + e164, l.PerNumberDay, orDefault(l.NumberDayWindow, 24*time.Hour)},
	}
	var wait time.Duration
	for _, b := range bounds {
		if b.limit <= 0 || b.period <= 0 {
			continue
		}
		n, err := d.counter.Count(ctx, b.key, b.period, now)
		if err != nil {
			return 0, err
		}
		if n >= b.limit {
			_, end := windowKey(b.key, b.period, now)
			wait = max(wait, end.Sub(now))
		}
	}
	if wait > 0 {
		return wait, nil
	}
	for _, b := range bounds {
		if b.limit <= 0 || b.period <= 0 {
			continue
		}
		if _, _, err := d.counter.Add(ctx, b.key, 1, b.period, now); err != nil {
			return 0, err
		}
	}
	return 0, nil
}
