package rediskey

import "testing"

func TestValidID(t *testing.T) {
	long := make([]byte, 65)
	for i := range long {
		long[i] = 'a'
	}
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"", false},
		{"abc_DEF-123", true},
		{string(long[:64]), true},
		{string(long), false},
		{"a}b", false},
		{"a{b", false},
		{"a.b", false},
		{"a:b", false},
		{"é", false},
	} {
		if got := ValidID(tc.id); got != tc.want {
			t.Errorf("ValidID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

func TestKeys(t *testing.T) {
	if got := Prefix(""); got != DefaultPrefix {
		t.Errorf(`Prefix("") = %q, want %q`, got, DefaultPrefix)
	}
	if got := Prefix("shop:"); got != "shop:" {
		t.Errorf(`Prefix("shop:") = %q`, got)
	}
	if got := UserTag("fd:", "u1"); got != "fd:{u:u1}" {
		t.Errorf("UserTag = %q, want fd:{u:u1}", got)
	}
}
