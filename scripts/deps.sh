#!/usr/bin/env bash
# Installs the programs Frontdoor's tests and benchmarks use, when missing.
# NEED: tests fail without them. WANT: used by tests of later milestones and
# by the benchmarks; a failed install is reported, not fatal.
set -euo pipefail

NEED=(chromium redis-server promtool)
WANT=(wrk)
# promtool checks the example alerting rules (examples/observability); it
# comes with Debian's prometheus, which examples/observability/run.sh runs.
declare -A PKG=([redis-server]=redis-server [chromium]=chromium [promtool]=prometheus [wrk]=wrk)

missing() { for c in "$@"; do command -v "$c" >/dev/null 2>&1 || echo "$c"; done; }

command -v go >/dev/null || { echo "deps: Go is required (https://go.dev/dl/)" >&2; exit 1; }

# axe-core, the accessibility checker the browser tests inject into every
# page (caddymodule/browser_a11y_int_test.go), from the npm registry into a
# git-ignored cache at the repository's root. Pinned: a new rule set may
# find new violations, and that should be a deliberate upgrade.
AXE_VERSION=4.10.3
AXE_DIR="$(cd "$(dirname "$0")/.." && pwd)/.cache/axe-core"
axe_core() {
	local have
	have=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$AXE_DIR/node_modules/axe-core/package.json" 2>/dev/null | head -1 || true)
	[ "$have" = "$AXE_VERSION" ] && return 0
	if ! command -v npm >/dev/null 2>&1; then
		if command -v apt-get >/dev/null 2>&1; then
			local sudo=""
			[ "$(id -u)" -ne 0 ] && sudo="sudo"
			DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq || true
			DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends npm >/dev/null
		else
			echo "deps: please install npm (for axe-core)" >&2
			exit 1
		fi
	fi
	mkdir -p "$AXE_DIR"
	npm install --silent --no-audit --no-fund --no-save --prefix "$AXE_DIR" "axe-core@$AXE_VERSION" >/dev/null
}

# oauth2-proxy, the third-party OpenID client TestProviderOAuth2Proxy
# (caddymodule/provider_o2p_int_test.go) runs as a process against the
# provider: built from the Go module proxy, at the version pinned in
# tools/oauth2-proxy/go.mod, into the same git-ignored cache; rebuilt when
# missing or of another version.
O2P_DIR="$(cd "$(dirname "$0")/.." && pwd)/tools/oauth2-proxy"
O2P_BIN="$(cd "$(dirname "$0")/.." && pwd)/.cache/bin/oauth2-proxy"
oauth2_proxy() {
	local want
	want=$(sed -n 's#^[[:space:]]*require github.com/oauth2-proxy/oauth2-proxy/v7 \(v[^ ]*\).*#\1#p' "$O2P_DIR/go.mod")
	[ -n "$want" ] || { echo "deps: no oauth2-proxy version in $O2P_DIR/go.mod" >&2; exit 1; }
	if [ -x "$O2P_BIN" ] && "$O2P_BIN" --version 2>/dev/null | grep -q "^oauth2-proxy $want "; then
		return 0
	fi
	echo "deps: building oauth2-proxy $want into $O2P_BIN" >&2
	mkdir -p "$(dirname "$O2P_BIN")"
	(cd "$O2P_DIR" && CGO_ENABLED=0 go build -o "$O2P_BIN.tmp" \
		-ldflags "-X github.com/oauth2-proxy/oauth2-proxy/v7/pkg/version.VERSION=$want" \
		github.com/oauth2-proxy/oauth2-proxy/v7)
	mv "$O2P_BIN.tmp" "$O2P_BIN"
}
oauth2_proxy

# The default IP-to-place databases (the risk signals, issue 19; the
# gateway's geoip option): ip-location-db's country MMDB and its ASN tables
# from the npm registry, the tables turned into an MMDB by cmd/asn2mmdb,
# into .cache/geo (git-ignored; ~20 MB). Pinned. Wanted, not needed: the
# tests write their own small databases, and a gateway without one skips
# the signals that need a place.
GEO_VERSION=2.3.2026061719
GEO_DIR="$(cd "$(dirname "$0")/.." && pwd)/.cache/geo"
geo_dbs() {
	[ "$(cat "$GEO_DIR/VERSION" 2>/dev/null || true)" = "$GEO_VERSION" ] && return 0
	command -v npm >/dev/null 2>&1 || { echo "deps: npm missing: no default geoip databases" >&2; return 0; }
	local tmp
	tmp=$(mktemp -d)
	if (cd "$tmp" && npm pack --silent "@ip-location-db/geo-whois-asn-country-mmdb@$GEO_VERSION" "@ip-location-db/asn@$GEO_VERSION" >/dev/null) &&
		mkdir -p "$tmp/place" "$tmp/asn" "$GEO_DIR" &&
		tar xzf "$tmp"/ip-location-db-geo-whois-asn-country-mmdb-*.tgz -C "$tmp/place" &&
		tar xzf "$tmp"/ip-location-db-asn-*.tgz -C "$tmp/asn" &&
		go run ./cmd/asn2mmdb -out "$GEO_DIR/asn.mmdb" "$tmp/asn/package/asn-ipv4.csv" "$tmp/asn/package/asn-ipv6.csv"; then
		cp "$tmp/place/package/geo-whois-asn-country.mmdb" "$GEO_DIR/place.mmdb"
		cat "$tmp/place/package/NRO_LICENSE" "$tmp/asn/package/"*LICENSE "$tmp/asn/package/MODIFICATIONS" >"$GEO_DIR/LICENSES.txt"
		echo "$GEO_VERSION" >"$GEO_DIR/VERSION"
	else
		echo "deps: could not fetch the default geoip databases (optional)" >&2
	fi
	rm -rf "$tmp"
}
(cd "$(dirname "$0")/.." && geo_dbs)

need=$(missing "${NEED[@]}")
want=$(missing "${WANT[@]}")
if [ -z "$need$want" ]; then
	axe_core
	exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
	[ -n "$need" ] && { echo "deps: please install: $need" >&2; exit 1; }
	echo "deps: optional tools missing (install them for benchmarks): $want" >&2
	exit 0
fi

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || true

install() { $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
for c in $need; do install "${PKG[$c]}"; done
for c in $want; do install "${PKG[$c]}" || echo "deps: could not install ${PKG[$c]} (optional for now)" >&2; done
axe_core
