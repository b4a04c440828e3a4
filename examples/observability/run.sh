#!/usr/bin/env bash
# Prometheus and Grafana against a running Frontdoor gateway, loopback only:
#
#   examples/observability/run.sh [admin-address]
#
# admin-address is the gateway's Caddy admin endpoint, which serves
# /metrics (default localhost:2019; or set FRONTDOOR_ADMIN). Prometheus
# listens on 127.0.0.1:${PROMETHEUS_PORT:-9090} with the alerting rules of
# frontdoor-rules.yml; Grafana on 127.0.0.1:${GRAFANA_PORT:-3000} with the
# data source and the Frontdoor dashboard provisioned. Everything they
# write goes to a temporary directory removed on exit. Ctrl-C stops both.
#
# Prometheus: the Debian package `prometheus` (installed with apt-get when
# missing). Grafana is not packaged by Debian: the script uses Grafana's own
# release found in $GRAFANA_HOME (an unpacked tarball from
# https://grafana.com/grafana/download) or `grafana`/`grafana-server` on
# PATH; without one it runs Prometheus alone and says so.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
target=${1:-${FRONTDOOR_ADMIN:-localhost:2019}}
target=${target#http://}
target=${target%/}
prom_port=${PROMETHEUS_PORT:-9090}
grafana_port=${GRAFANA_PORT:-3000}
stop_wait=10 # seconds each process gets to stop before it is killed

say() { printf 'run.sh: %s\n' "$*" >&2; }

# install_prometheus installs the Debian package when prometheus or
# promtool is missing. The package's own service is not started here
# (containers deny it; on a host with systemd, it is left as installed).
install_prometheus() {
	command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 && return 0
	if ! command -v apt-get >/dev/null 2>&1; then
		say "please install Prometheus (https://prometheus.io/download/): prometheus and promtool on PATH"
		exit 1
	fi
	local sudo=""
	[ "$(id -u)" -ne 0 ] && sudo="sudo"
	say "installing the Debian package prometheus"
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null
}

# find_grafana prints the Grafana command and its home path, or nothing.
find_grafana() {
	local home=${GRAFANA_HOME:-}
	if [ -n "$home" ]; then
		if [ -x "$home/bin/grafana" ]; then
			printf '%s\n%s\n' "$home/bin/grafana server" "$home"
			return
		fi
		if [ -x "$home/bin/grafana-server" ]; then
			printf '%s\n%s\n' "$home/bin/grafana-server" "$home"
			return
		fi
		say "GRAFANA_HOME=$home has no bin/grafana or bin/grafana-server"
	fi
	local bin
	for bin in grafana grafana-server; do
		if command -v "$bin" >/dev/null 2>&1; then
			local path
			path=$(command -v "$bin")
			home=/usr/share/grafana
			[ -d "$home/conf" ] || home=$(cd "$(dirname "$path")/.." && pwd)
			if [ "$bin" = grafana ]; then
				printf '%s\n%s\n' "$path server" "$home"
			else
				printf '%s\n%s\n' "$path" "$home"
			fi
			return
		fi
	done
}

# wait_ready polls url until it answers (at most 30 s).
wait_ready() {
	local url=$1
	for _ in $(seq 1 60); do
		curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null && return 0
		sleep 0.5
	done
	return 1
}

command -v curl >/dev/null 2>&1 || { say "curl is needed"; exit 1; }
install_prometheus

work=$(mktemp -d "${TMPDIR:-/tmp}/frontdoor-observability.XXXXXX")
pids=()

# stop ends what this script started: TERM, then KILL after stop_wait
# seconds, then removes the temporary directory.
stop() {
	trap - EXIT INT TERM
	local pid
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do
		for _ in $(seq 1 $((stop_wait * 10))); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap stop EXIT
trap 'say stopping; exit 130' INT TERM

if curl -fsS --max-time 3 "http://$target/metrics" 2>/dev/null | grep -q '^frontdoor_store_up'; then
	say "gateway metrics found at http://$target/metrics"
else
	say "no Frontdoor metrics at http://$target/metrics yet (is the gateway running? its admin endpoint elsewhere?); Prometheus keeps trying"
fi

# Prometheus: the example config with the given target, and the rules.
cp "$here/frontdoor-rules.yml" "$work/frontdoor-rules.yml"
sed "s|\"localhost:2019\"|\"$target\"|" "$here/prometheus.yml" >"$work/prometheus.yml"
promtool check config "$work/prometheus.yml" >/dev/null
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prometheus" \
	--storage.tsdb.retention.time=1d --web.listen-address="127.0.0.1:$prom_port" \
	>"$work/prometheus.log" 2>&1 &
pids+=("$!")
if ! wait_ready "http://127.0.0.1:$prom_port/-/ready"; then
	say "Prometheus did not start; its log:"
	tail -n 20 "$work/prometheus.log" >&2
	exit 1
fi
say "Prometheus: http://127.0.0.1:$prom_port/ (alerts: /alerts, rules: /rules)"

# Grafana: provisioning and state in the temporary directory.
mapfile -t grafana < <(find_grafana)
if [ "${#grafana[@]}" -eq 2 ]; then
	mkdir -p "$work/grafana/provisioning/datasources" "$work/grafana/provisioning/dashboards" "$work/grafana/dashboards" "$work/grafana/data" "$work/grafana/logs" "$work/grafana/plugins"
	cp "$here/grafana/datasource.yml" "$work/grafana/provisioning/datasources/frontdoor.yml"
	cp "$here/grafana/dashboards.yml" "$work/grafana/provisioning/dashboards/frontdoor.yml"
	cp "$here/frontdoor-dashboard.json" "$work/grafana/dashboards/"
	# shellcheck disable=SC2086 # the command may be "grafana server": two words
	PROMETHEUS_URL="http://127.0.0.1:$prom_port" FRONTDOOR_DASHBOARDS="$work/grafana/dashboards" \
		GF_PATHS_PROVISIONING="$work/grafana/provisioning" GF_PATHS_DATA="$work/grafana/data" \
		GF_PATHS_LOGS="$work/grafana/logs" GF_PATHS_PLUGINS="$work/grafana/plugins" \
		GF_SERVER_HTTP_ADDR=127.0.0.1 GF_SERVER_HTTP_PORT="$grafana_port" \
		GF_AUTH_ANONYMOUS_ENABLED=true GF_AUTH_ANONYMOUS_ORG_ROLE=Viewer \
		GF_ANALYTICS_REPORTING_ENABLED=false GF_ANALYTICS_CHECK_FOR_UPDATES=false \
		GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH="$work/grafana/dashboards/frontdoor-dashboard.json" \
		${grafana[0]} --homepath "${grafana[1]}" >"$work/grafana.log" 2>&1 &
	pids+=("$!")
	if wait_ready "http://127.0.0.1:$grafana_port/api/health"; then
		say "Grafana: http://127.0.0.1:$grafana_port/d/frontdoor-gateway (viewer without sign-in; admin/admin to edit)"
	else
		say "Grafana did not start; its log:"
		tail -n 20 "$work/grafana.log" >&2
	fi
else
	say "Grafana not found: running Prometheus alone. Grafana is not packaged by Debian; unpack a release"
	say "from https://grafana.com/grafana/download (or Grafana's apt repository, https://apt.grafana.com)"
	say "and run again with GRAFANA_HOME=<its directory>, or import frontdoor-dashboard.json into your Grafana."
fi

say "Ctrl-C to stop"
# Until Ctrl-C, or until one of them exits on its own.
wait -n "${pids[@]}" || true
say "a process stopped; stopping the rest"
