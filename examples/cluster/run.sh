#!/usr/bin/env bash
# Two Frontdoor nodes and a three-master Redis Cluster on one machine, behind
# a load balancer at https://localhost:8443. Ctrl-C stops everything.
# Needs redis-server and redis-cli (make deps) and Go.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d /tmp/frontdoor-cluster.XXXX)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; echo "state left in $work"; }
trap cleanup EXIT INT TERM

go build -o "$work/frontdoor" ./cmd/frontdoor
go build -o "$work/legacy" ./examples/legacy

for port in 7001 7002 7003; do
	mkdir -p "$work/redis-$port"
	redis-server --port "$port" --bind 127.0.0.1 --dir "$work/redis-$port" --cluster-enabled yes \
		--cluster-config-file nodes.conf --appendonly yes --daemonize no --logfile "$work/redis-$port/log" &
	pids+=($!)
done
until redis-cli -p 7003 ping >/dev/null 2>&1; do sleep 0.1; done
redis-cli --cluster create 127.0.0.1:7001 127.0.0.1:7002 127.0.0.1:7003 --cluster-replicas 0 --cluster-yes >/dev/null
until redis-cli -p 7001 cluster info | grep -q cluster_state:ok; do sleep 0.1; done

"$work/legacy" -listen 127.0.0.1:9000 -jwks http://127.0.0.1:9001/.well-known/frontdoor/jwks.json &
pids+=($!)
for n in 1 2; do
	NODE_PORT=900$n ADMIN_PORT=201$n MAIL_DIR="$work/mail" XDG_DATA_HOME="$work/node$n" \
		"$work/frontdoor" run --config examples/cluster/node.Caddyfile --adapter caddyfile >"$work/node$n.log" 2>&1 &
	pids+=($!)
done
XDG_DATA_HOME="$work/lb" "$work/frontdoor" run --config examples/cluster/lb.Caddyfile --adapter caddyfile >"$work/lb.log" 2>&1 &
pids+=($!)

echo "Frontdoor cluster: https://localhost:8443/  (mail in $work/mail, logs in $work)"
echo "Node health: curl -s localhost:2011/frontdoor/health ; curl -s localhost:2012/frontdoor/health"
wait
