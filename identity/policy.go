package identity

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"
)

// PasswordPolicy follows NIST SP 800-63B-4: a length floor, a generous
// ceiling, no composition rules, and a check against passwords known from
// breaches.
type PasswordPolicy struct {
	// MinLength in characters; 15 for a password used alone, down to 8 when
	// the operator requires a second factor.
	MinLength int
	// MaxLength in characters (at least 64).
	MaxLength int
}

// DefaultPasswordPolicy is the policy for a password used alone.
var DefaultPasswordPolicy = PasswordPolicy{MinLength: 15, MaxLength: 128}

// Limits on what an operator may configure.
const (
	MinPasswordLengthFloor = 8
	MaxPasswordLengthFloor = 64
)

// Validate checks the policy itself.
func (p PasswordPolicy) Validate() error {
	if p.MinLength < MinPasswordLengthFloor {
		return fmt.Errorf("identity: password min length %d is below %d", p.MinLength, MinPasswordLengthFloor)
	}
	if p.MaxLength < MaxPasswordLengthFloor || p.MaxLength < p.MinLength {
		return fmt.Errorf("identity: password max length %d must be at least %d and ≥ min length", p.MaxLength, MaxPasswordLengthFloor)
	}
	return nil
}

// Password policy violations. Their text is for logs and callers; the
// customer reads the words a front end gives each (caddymodule: its
// message catalogue).
var (
	ErrPasswordTooShort = errors.New("password is too short")
	ErrPasswordTooLong  = errors.New("password is too long")
	ErrPasswordBreached = errors.New("password is too common: it appears in lists of breached passwords")
	ErrPasswordInvalid  = errors.New("password contains invalid characters")
)

// Check returns nil when password is acceptable, else one of the errors
// above (wrapped with the limit where it helps the customer).
func (p PasswordPolicy) Check(password string) error {
	if !utf8.ValidString(password) {
		return ErrPasswordInvalid
	}
	// Length counts characters after normalisation, as 800-63B asks.
	n := utf8.RuneCountInString(NormalizePassword(password))
	switch {
	case n < p.MinLength:
		return fmt.Errorf("%w: use at least %d characters", ErrPasswordTooShort, p.MinLength)
	case n > p.MaxLength:
		return fmt.Errorf("%w: use at most %d characters", ErrPasswordTooLong, p.MaxLength)
	case IsBreachedPassword(NormalizePassword(password)):
		return ErrPasswordBreached
	}
	return nil
}

//go:embed breached/passwords.txt.gz
var breachedGz []byte

var breached struct {
	once sync.Once
	set  map[string]struct{}
}

// IsBreachedPassword reports whether password is on the embedded list of
// the most common breached passwords (compared case-insensitively, so
// "PASSWORD123…" is caught with "password123…").
func IsBreachedPassword(password string) bool {
	breached.once.Do(loadBreached)
	_, ok := breached.set[strings.ToLower(password)]
	return ok
}

// BreachedPasswordCount is the number of distinct entries loaded.
func BreachedPasswordCount() int {
	breached.once.Do(loadBreached)
	return len(breached.set)
}

func loadBreached() {
	zr, err := gzip.NewReader(bytes.NewReader(breachedGz))
	if err != nil {
		panic("identity: embedded breached password list: " + err.Error())
	}
	set := make(map[string]struct{}, 100_000)
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		if w := strings.TrimSpace(sc.Text()); w != "" {
			set[strings.ToLower(w)] = struct{}{}
		}
	}
	if err := sc.Err(); err != nil {
		panic("identity: embedded breached password list: " + err.Error())
	}
	breached.set = set
}
