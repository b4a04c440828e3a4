// Package clock is the one time source of a running gateway. The app
// makes one Clock per backend and hands its Now to everything that judges
// an expiry or a window — sessions, the assertion key ring, the cookie
// codec's cache, the journeys (tokens, codes, TOTP steps), the edge
// defences (limits, blocks, challenges) and the mail Date header — so a
// test that moves it moves every expiry together, while requests run.
//
// It must not be used for measuring how long something took (use
// time.Since on the wall clock), nor for timers and tickers.
package clock
