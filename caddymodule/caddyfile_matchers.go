package caddymodule

import "strings"

// lineToken is one Caddyfile token with the line it starts on.
type lineToken struct {
	text string
	line int
}

// identityMatcher returns the line and name of the first matcher in a
// directive's tokens that reads an identity header: `header` or
// `header_regexp` on the name, or a CEL expression (`expression …`, or
// the quoted shorthand `@name "…"`) that mentions it. Matchers are found
// as Caddy defines them: the rest of a line that starts with `@name`, and
// every line of an `@name { … }` block, `not` and `not { … }` included.
// A `header` directive outside a matcher edits response headers and reads
// nothing, so it is left alone.
func identityMatcher(toks []lineToken, names map[string]bool) (int, string) {
	depth, matcherDepth := 0, -1 // matcherDepth: the depth inside an @name block
	for start := 0; start < len(toks); {
		end := start + 1
		for end < len(toks) && toks[end].line == toks[start].line {
			end++
		}
		line := toks[start:end]
		start = end
		for len(line) > 0 && line[0].text == "}" {
			depth--
			if depth < matcherDepth {
				matcherDepth = -1
			}
			line = line[1:]
		}
		if len(line) == 0 {
			continue
		}
		var matcher []lineToken
		switch {
		case matcherDepth >= 0:
			matcher = line
		case len(line[0].text) > 1 && line[0].text[0] == '@':
			matcher = line[1:]
			if len(matcher) == 1 && matcher[0].text == "{" {
				matcherDepth = depth + 1
			}
		}
		for _, tok := range line {
			switch tok.text {
			case "{":
				depth++
			case "}":
				depth--
			}
		}
		if name := matcherReads(matcher, names); name != "" {
			return line[0].line, name
		}
	}
	return 0, ""
}

// matcherReads returns the identity header one matcher line reads, or "".
func matcherReads(m []lineToken, names map[string]bool) string {
	for len(m) > 0 && m[0].text == "not" {
		m = m[1:]
	}
	if len(m) == 0 {
		return ""
	}
	args := m[1:]
	switch kind := m[0].text; kind {
	case "header", "header_regexp":
		if len(args) == 0 {
			return ""
		}
		field := args[0].text
		if kind == "header_regexp" && len(args) > 2 { // header_regexp [<name>] <field> <regexp>
			field = args[1].text
		}
		field = strings.ToLower(strings.TrimPrefix(field, "!"))
		if isIdentityName(field, names) {
			return field
		}
	case "expression":
		texts := make([]string, len(args))
		for i, a := range args {
			texts[i] = a.text
		}
		return celReads(strings.Join(texts, " "), names)
	default:
		if strings.ContainsAny(kind, "( '\"=") { // the CEL shorthand: @name "<expression>"
			return celReads(kind, names)
		}
	}
	return ""
}

func isIdentityName(n string, names map[string]bool) bool {
	return names[n] || strings.HasPrefix(n, "x-frontdoor-")
}

// celReads returns an identity header a CEL expression names — as a
// string of its own (header({'X-Frontdoor-User': …}), header_regexp(
// "Remote-User", …)) or as a placeholder name (ph(request,
// 'http.request.header.X-Forwarded-User')) — or "". A path such as
// '/remote-user' names no header and passes.
func celReads(expr string, names map[string]bool) string {
	low := strings.ToLower(expr)
	for i := 1; i < len(low); i++ {
		if q := low[i-1]; q != '\'' && q != '"' && q != '`' && !strings.HasSuffix(low[:i], "header.") {
			continue
		}
		j := i
		for j < len(low) && isNameByte(low[j]) {
			j++
		}
		if j > i && isIdentityName(low[i:j], names) {
			return low[i:j]
		}
	}
	return ""
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}
