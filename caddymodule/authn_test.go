package caddymodule

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestKnownAuthenticators(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"session", `{"authenticator":"session"}`, ""},
		{"unknown", `{"authenticator":"apikey"}`, `authenticators[0]: unknown authenticator "apikey" (this build has: session)`},
		{"no name", `{}`, `authenticators[0] names no module`},
		{"not an object", `"session"`, `authenticators[0]: json`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := knownAuthenticators([]json.RawMessage{json.RawMessage(tc.raw)})
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
