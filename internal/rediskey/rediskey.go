package rediskey

// DefaultPrefix is the key prefix when none is configured.
const DefaultPrefix = "fd:"

// Prefix returns prefix, or DefaultPrefix when it is empty.
func Prefix(prefix string) string {
	if prefix == "" {
		return DefaultPrefix
	}
	return prefix
}

// UserTag is the start of every key of one customer: the prefix and the
// hash tag {u:<id>}. The caller checks id with ValidID first.
func UserTag(prefix, id string) string { return prefix + "{u:" + id + "}" }

// ValidID accepts the ids identity makes (and any id of 1 to 64 letters,
// digits, '_' and '-'), so an id can sit inside a hash tag and inside
// storage keys that split on '.'.
func ValidID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
