package main

import (
	"encoding/json"
	"fmt"
	"html/template"
	"strings"
	"time"
)

// shownClaims are the claims the HTML page lists, in order.
var shownClaims = []string{"sub", "email", "email_verified", "amr", "acr", "auth_time", "sid", "iss", "aud", "iat", "exp"}

// dateClaims are NumericDate claims, also shown as UTC timestamps.
var dateClaims = map[string]bool{"auth_time": true, "iat": true, "exp": true}

type kv struct{ Name, Value string }

type pageData struct {
	Path      string
	Headers   []kv
	Present   bool
	Valid     bool
	Audience  string
	Error     string
	Claims    []kv
	Anonymous bool
}

func newPageData(rep report) pageData {
	d := pageData{
		Path:      rep.Path,
		Present:   rep.Assertion.Present,
		Valid:     rep.Assertion.Valid,
		Audience:  rep.Assertion.Audience,
		Error:     rep.Assertion.Error,
		Anonymous: !rep.Assertion.Present,
	}
	for _, name := range sortedKeys(rep.Headers) {
		d.Headers = append(d.Headers, kv{name, rep.Headers[name]})
	}
	for _, name := range shownClaims {
		v, ok := rep.Assertion.Claims[name]
		if !ok {
			continue
		}
		d.Claims = append(d.Claims, kv{name, formatClaim(name, v)})
	}
	return d
}

func formatClaim(name string, v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return fmt.Sprint(x)
	case json.Number:
		if dateClaims[name] {
			if n, err := x.Int64(); err == nil {
				return x.String() + " (" + time.Unix(n, 0).UTC().Format(time.RFC3339) + ")"
			}
		}
		return x.String()
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			parts = append(parts, formatClaim("", e))
		}
		return strings.Join(parts, ", ")
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Legacy backend</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; max-width: 60rem; }
table { border-collapse: collapse; }
th, td { text-align: left; padding: .25rem .75rem; border-bottom: 1px solid #ddd; vertical-align: top; }
td { font-family: ui-monospace, monospace; word-break: break-all; }
.ok { color: #070; } .bad { color: #b00; }
</style>
</head>
<body>
<h1>Legacy backend</h1>
<p>Request path: <code>{{.Path}}</code></p>

<h2>Identity headers</h2>
{{if .Headers}}<table>
{{range .Headers}}<tr><th>{{.Name}}</th><td>{{.Value}}</td></tr>
{{end}}</table>
{{else}}<p>No identity headers.</p>
{{end}}
<h2>Assertion</h2>
{{if .Anonymous}}<p>anonymous visitor</p>
{{else if .Valid}}<p class="ok">Valid assertion for audience <code>{{.Audience}}</code>.</p>
<table>
{{range .Claims}}<tr><th>{{.Name}}</th><td>{{.Value}}</td></tr>
{{end}}</table>
{{else}}<p class="bad">Invalid assertion (expected audience <code>{{.Audience}}</code>): {{.Error}}</p>
{{end}}</body>
</html>
`))
