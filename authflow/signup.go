package authflow

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"

	"github.com/frontdoorhq/frontdoor/consent"
	"github.com/frontdoorhq/frontdoor/events"
	"github.com/frontdoorhq/frontdoor/identity"
)

// SignUpInput is a sign-up form: an address and a password, or no
// password for a passwordless sign-up (Method passkey-first or email).
type SignUpInput struct {
	Email    string
	Password string
	// Method is how the customer will sign in; the zero value is with the
	// password.
	Method SignUpPurpose
	// Redirect is where an email sign-up goes once its link is confirmed
	// in this browser, signed in.
	Redirect string
	// Consents are the purposes ticked (consent=<id> fields); every
	// required purpose must be among them.
	Consents []string
	// Client is where the sign-up came from, recorded with the consents.
	Client Client
}

// SignUpAccepted: the sign-up is on its way, whatever the address's state
// (the same answer for every address). The browser keeps Nonce: only there
// does the link make the password typed effective (see ConfirmEmail).
type SignUpAccepted struct {
	Email string // normalised
	Nonce string
}

func (SignUpAccepted) outcome() {}

// SignUp checks the form and hashes the password — the same work whatever
// the address — then queues the rest: looking the address up and writing
// for it differ with the address's state, and their time would tell who
// has an account (invariant 6).
//
// The queued part creates the customer of a new address; for an address
// whose account is not verified it only stores a link (that account may
// have been opened by someone who does not own the address: its password
// proves nothing, and the link the mailbox's reader confirms decides);
// the owner of a verified account is told of the attempt instead.
func (f *Flows) SignUp(ctx context.Context, in SignUpInput) (Outcome, error) {
	fields := map[string]error{}
	email, err := identity.NormalizeEmail(in.Email)
	if err != nil {
		fields["email"] = ErrEmailInvalid
	}
	if _, err := parsePurpose(string(in.Method), signUpPurposes); err != nil {
		return nil, err // the caller's mistake, not the customer's
	}
	if !in.Method.Passwordless() {
		if err := f.Policy.Check(in.Password); err != nil {
			fields["password"] = err
		}
	}
	f.checkConsents(in.Consents, fields)
	if len(fields) > 0 {
		return Invalid{Fields: fields}, nil
	}
	// Built now, while the form's time is now; stored only if a customer
	// is created (below, in the queued part).
	consents := f.signUpConsents(in.Consents, in.Client)
	v := Verification{Purpose: in.Method}
	if !in.Method.Passwordless() {
		if v.PasswordHash, err = f.Hasher.Hash(ctx, in.Password); err != nil {
			return nil, err
		}
	}
	if in.Method == PurposeEmailSignUp {
		v.Redirect = in.Redirect
	}
	nonce := NewNonce()
	v.Binding = identity.HashToken(nonce)
	queued := f.later(ctx, func(ctx context.Context) {
		c, err := f.Customers.CustomerByEmail(ctx, email)
		if err != nil && !errors.Is(err, identity.ErrNotFound) {
			f.failed("registering customer: identity store failed", err)
			return
		}
		if err := f.signUp(ctx, c, email, v, consents); err != nil {
			f.failed("registering customer", err)
		}
	})
	if !queued {
		return Busy{}, nil
	}
	return SignUpAccepted{Email: email, Nonce: nonce}, nil
}

// signUp acts on a sign-up for email whose link is to carry v; c holds
// the address, nil if no account does. The consents are recorded only for
// a customer created here: an existing account's are its owner's, never a
// sign-up form's.
func (f *Flows) signUp(ctx context.Context, c *identity.Customer, email string, v Verification, consents []consent.Record) error {
	if c == nil {
		c = &identity.Customer{ID: identity.NewID(), Email: email, CreatedAt: f.now().UTC(), PasswordHash: v.PasswordHash}
		err := f.Customers.CreateCustomer(ctx, c)
		if err == nil {
			f.publish(ctx, Client{}, c.ID, events.CustomerCreated, map[string]string{"source": "signup"})
			f.recordConsents(ctx, c.ID, consents)
			return f.SendVerification(ctx, c, v)
		}
		if !errors.Is(err, identity.ErrEmailTaken) {
			return err
		}
		// Lost a race with another sign-up for the same address: answer
		// as if that one had come first.
		c, err = f.Customers.CustomerByEmail(ctx, email)
		if errors.Is(err, identity.ErrNotFound) {
			return nil // the other sign-up failed after all; nothing to mail
		}
		if err != nil {
			return err
		}
	}
	if c.EmailVerified {
		f.Notify.AlreadyRegistered(ctx, c)
		return nil
	}
	return f.SendVerification(ctx, c, v)
}

// Verification is what a verification link carries besides its customer.
type Verification struct {
	Purpose SignUpPurpose
	// PasswordHash is a password sign-up's password, made the account's
	// by confirming in the sign-up's browser ("" when passwordless).
	PasswordHash string
	// Binding is the hash of the nonce of the browser that signed up.
	Binding []byte
	// Redirect is where an email sign-up goes, signed in, once confirmed.
	Redirect string
}

// SendVerification stores a fresh verification link for c carrying v and
// mails it.
func (f *Flows) SendVerification(ctx context.Context, c *identity.Customer, v Verification) error {
	secret, tok := identity.NewToken(identity.VerifyEmail{PasswordHash: v.PasswordHash, Binding: v.Binding, Purpose: string(v.Purpose), Redirect: v.Redirect},
		c.ID, identity.VerifyTokenTTL, f.now())
	if err := f.Tokens.PutToken(ctx, tok); err != nil {
		return err
	}
	f.Notify.Verify(ctx, c, secret, v.Purpose == PurposePasskeySignUp)
	return nil
}

// ConfirmInput is a press of a verification link's button: the link's
// secret, the sign-up nonce the browser holds ("" for none), and — in a
// browser that is not the sign-up's — the password chosen there.
type ConfirmInput struct {
	Secret string
	Nonce  string
	// Chosen says a password was posted (Password, Repeat).
	Chosen           bool
	Password, Repeat string
}

// Outcomes of ConfirmEmail.
type (
	// EmailConfirmed: the address is verified. Bound: in the sign-up's
	// browser (its nonce is spent); PasswordChosen: with the password
	// chosen on the spot.
	EmailConfirmed struct{ Bound, PasswordChosen bool }
	// ChoosePassword: the link was confirmed in another browser; the
	// mailbox's reader must choose a password there. The link is kept.
	ChoosePassword struct{}
	// LinkExpired: no such link, or already used, or its account gone.
	LinkExpired struct{}
	// PasswordlessConfirmed: a passwordless sign-up (Purpose passkey-first
	// or email) confirmed in its own browser: sign it in (amr email) — to
	// create the passkey, or to go on to Redirect.
	PasswordlessConfirmed struct {
		Customer *identity.Customer
		Purpose  SignUpPurpose
		Redirect string
	}
	// PasswordlessConfirmedElsewhere: a passwordless sign-up's link
	// confirmed in another browser: the address is verified, nobody is
	// signed in.
	PasswordlessConfirmedElsewhere struct{ Purpose SignUpPurpose }
)

func (EmailConfirmed) outcome()                 {}
func (ChoosePassword) outcome()                 {}
func (LinkExpired) outcome()                    {}
func (PasswordlessConfirmed) outcome()          {}
func (PasswordlessConfirmedElsewhere) outcome() {}

// ConfirmEmail uses up a verification link and verifies the address.
//
// In the browser that signed up the sign-up's password becomes the
// account's, or — passwordless — the browser is signed in (to create its
// passkey, or by email alone). Anywhere else the reader of the mailbox is
// not the person who typed that password, who may be a stranger who signed
// up first with the address: the password is discarded and the reader
// chooses one, and a passwordless link only verifies the address, signing
// no one in — so a link sent to a victim cannot put them into the sender's
// account.
// Links still in the mailbox once the address is verified only confirm
// again: a verified account's password never changes through one.
func (f *Flows) ConfirmEmail(ctx context.Context, in ConfirmInput) (Outcome, error) {
	if in.Chosen {
		if fields := f.CheckNewPassword(in.Password, in.Repeat); len(fields) > 0 {
			return Invalid{Fields: fields}, nil
		}
	}
	tok, err := f.Tokens.ConsumeToken(ctx, identity.TokenVerifyEmail, identity.HashToken(in.Secret), f.now())
	if errors.Is(err, identity.ErrNotFound) {
		return LinkExpired{}, nil
	}
	if err != nil {
		return nil, err
	}
	link, err := identity.PayloadOf[identity.VerifyEmail](tok)
	if err != nil {
		return nil, err
	}
	purpose, err := parsePurpose(link.Purpose, signUpPurposes)
	if err != nil {
		f.warn("refusing a verification link", err)
		return LinkExpired{}, nil
	}
	bound := in.Nonce != "" && len(link.Binding) > 0 && subtle.ConstantTimeCompare(identity.HashToken(in.Nonce), link.Binding) == 1
	passwordless := purpose.Passwordless()
	passwordHash := link.PasswordHash
	switch {
	case bound:
	case passwordless:
		passwordHash = ""
	default:
		c, err := f.Customers.Customer(ctx, tok.CustomerID)
		if errors.Is(err, identity.ErrNotFound) {
			return LinkExpired{}, nil
		}
		if err != nil {
			f.putBack(ctx, tok)
			return nil, err
		}
		if c.EmailVerified {
			return EmailConfirmed{}, nil
		}
		if !in.Chosen {
			f.putBack(ctx, tok) // kept until a password is chosen
			return ChoosePassword{}, nil
		}
		if passwordHash, err = f.Hasher.Hash(ctx, in.Password); err != nil {
			f.putBack(ctx, tok)
			return nil, err
		}
	}
	wasUnproven := false
	now := f.now().UTC()
	c, err := f.Customers.UpdateCustomer(ctx, tok.CustomerID, func(c *identity.Customer) error {
		wasUnproven = !c.EmailVerified
		if !c.EmailVerified {
			c.PasswordHash = passwordHash
		}
		c.EmailVerified = true
		if passwordless && bound {
			c.LastLoginAt = now // signed in below
		}
		return nil
	})
	if errors.Is(err, identity.ErrNotFound) {
		return LinkExpired{}, nil
	}
	if err != nil {
		return nil, err
	}
	if wasUnproven {
		f.publish(ctx, Client{}, c.ID, events.EmailVerified, map[string]string{"via": "link"})
		if err := f.dropUnprovenIdentities(ctx, c, Client{}); err != nil {
			return nil, err
		}
	}
	switch {
	case passwordless && bound:
		return PasswordlessConfirmed{Customer: c, Purpose: purpose, Redirect: link.Redirect}, nil
	case passwordless:
		return PasswordlessConfirmedElsewhere{Purpose: purpose}, nil
	}
	return EmailConfirmed{Bound: bound, PasswordChosen: in.Chosen && !bound}, nil
}

// CheckNewPassword checks a new password against the policy and its
// repetition; field name → reason, empty when both are fine.
func (f *Flows) CheckNewPassword(password, repeat string) map[string]error {
	fields := map[string]error{}
	if err := f.Policy.Check(password); err != nil {
		fields["password"] = err
	}
	if identity.NormalizePassword(password) != identity.NormalizePassword(repeat) {
		fields["password_confirm"] = ErrPasswordMismatch
	}
	return fields
}

// putBack stores again a token consumed by a step that then did not use
// it. Best effort, on its own deadline: the request's may have passed.
func (f *Flows) putBack(ctx context.Context, tok *identity.Token) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), putBackTimeout)
	defer cancel()
	if err := f.Tokens.PutToken(ctx, tok); err != nil {
		f.failed("restoring a one-time token after a failure", err)
	}
}

// NewNonce returns 256 random bits in the format of a token secret: what
// a browser keeps in a cookie to bind a link, code or wait to itself.
func NewNonce() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
