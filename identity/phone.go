package identity

import (
	"context"
	"errors"
)

// ErrPhoneTaken: another customer has the phone number.
var ErrPhoneTaken = errors.New("identity: phone number already registered")

// ErrNeedsEmailOrPhone: SetPhone was asked to take the number of a
// customer who has no email address (one who signed up by phone alone).
// Every customer keeps one of the two, so a journey can find them and
// reach them; they add an address (ChangeEmail) before the number can go.
var ErrNeedsEmailOrPhone = errors.New("identity: a customer without an email keeps a phone number")

// PhoneStore keeps a customer's phone number and the index that makes
// it unique: a number belongs to one customer at most, so a sign-in by
// phone (a later journey) finds exactly one account.
type PhoneStore interface {
	// CustomerByPhone returns the customer with the E.164 number, or
	// ErrNotFound.
	CustomerByPhone(ctx context.Context, phone string) (*Customer, error)
	// SetPhone gives the customer the E.164 number phone (verified or
	// not), or takes theirs away when phone is "": the index moves with
	// it atomically. ErrPhoneTaken if another customer has the number,
	// ErrNeedsEmailOrPhone if phone is "" and the customer has no email,
	// ErrNotFound if the customer is gone.
	SetPhone(ctx context.Context, id, phone string, verified bool) (*Customer, error)
}

// phoneValid is the shape a stored number must have: E.164 ('+', 8 to 15
// digits, no leading zero). Parsing what a customer typed is the sms
// package's job; this only keeps garbage out of the index.
func phoneValid(p string) bool {
	if len(p) < 8 || len(p) > 16 || p[0] != '+' || p[1] == '0' {
		return false
	}
	for i := 1; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}

// ErrBadPhone is a number that is not in E.164 form.
var ErrBadPhone = errors.New("identity: phone number not in E.164 form")
