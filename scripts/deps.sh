#!/usr/bin/env bash
# Installs the programs Frontdoor's tests and benchmarks use, when missing.
# NEED: tests fail without them. WANT: used by tests of later milestones and
# by the benchmarks; a failed install is reported, not fatal.
set -euo pipefail

NEED=(chromium redis-server)
WANT=(wrk)
declare -A PKG=([redis-server]=redis-server [chromium]=chromium [wrk]=wrk)

missing() { for c in "$@"; do command -v "$c" >/dev/null 2>&1 || echo "$c"; done; }

command -v go >/dev/null || { echo "deps: Go is required (https://go.dev/dl/)" >&2; exit 1; }

need=$(missing "${NEED[@]}")
want=$(missing "${WANT[@]}")
[ -z "$need$want" ] && exit 0

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
