#!/usr/bin/env bash
# bench/peers — Frontdoor side by side with plain Caddy and oauth2-proxy
# (issue 8, item 1). In one run, on 127.0.0.1 only, with the same wrk
# -t/-c/-d for every setup, a discarded warm-up before each, and rounds in
# alternating order:
#
#   a        plain Caddy reverse_proxy -> upstream (the floor), served by the
#            frontdoor binary (Caddy v2.11.9 + standard modules + frontdoor)
#   a-hdrs   diagnostic: (a) with the client sending the identity headers
#            the upstream gets in b-bolt (the cost of carrying those bytes)
#   b-bolt   Frontdoor protecting the route: valid session cookie, identity
#            headers + signed assertion injected; bbolt store, session cache 2 s
#   b-redis  the same on the Redis store (a redis-server started here on a
#            free loopback port), session cache 2 s
#   b-assert b-bolt's gateway, a second site with `headers { send assertion }`:
#            the signed assertion only, no plain headers (fewer bytes)
#   c        Frontdoor's public route /pub/* (identity headers stripped only)
#   d        Caddy forward_auth -> oauth2-proxy v7.8.1 /oauth2/auth (valid
#            cookie), then reverse_proxy -> upstream
#   e        oauth2-proxy v7.8.1 alone, --upstream (valid cookie)
#
# oauth2-proxy and its cookie minter are ../shared/peerbench's, built by the
# same commands and pins into $PEERBENCH_WORK/bin (reused when present).
# peerbench's upstream is copied here (upstream/) with one addition: paths
# ending in /__echo answer with the request headers, so the gates can see
# what reaches the backend. Frontdoor's sessions are minted over HTTP by
# mint/ (register, verify from the mailer-dir .eml, sign in).
#
# Usage: bench/peers/run.sh [--quick]        build, gate, measure, report
#        bench/peers/run.sh --report DIR     re-render DIR/results.md
# Knobs (env): BENCH_WORK (/tmp/frontdoor-bench), PEERBENCH_WORK
#   (/tmp/peerbench), PEERBENCH_DIR (../shared/peerbench), DURATION (10s; in s),
#   WARMUP (3s), THREADS (2), CONNS (64), ROUNDS (2), SETTLE (2 s),
#   ROWS ("a a-hdrs b-bolt b-redis b-assert c d e"), PAIRED (1: (a) runs before
#   the first setup and again after every setup, and each setup's ratios are
#   to the mean of the (a) runs either side of it — the machine drifts by
#   10–30 % over minutes; 0: each setup once per round), SKIP_BUILD (0), PROFILE (0: 1 = after the
#   rounds, CPU and allocation profiles of a, a-hdrs, b-bolt, b-redis and d under
#   load from Caddy's admin /debug/pprof), PROFILE_SECONDS (10),
#   QUIET_MAX (10: % of the machine other processes may use before a
#   setup waits), QUIET_WAIT (180: seconds the whole run may wait for quiet).
# --quick = DURATION=5s WARMUP=1s ROUNDS=1 SETTLE=1.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
if [[ "${1:-}" == --quick ]]; then
	: "${DURATION:=5s}" "${WARMUP:=1s}" "${ROUNDS:=1}" "${SETTLE:=1}"
	shift
fi
WORK="${BENCH_WORK:-/tmp/frontdoor-bench}"
PB_WORK="${PEERBENCH_WORK:-/tmp/peerbench}"
PB_DIR="${PEERBENCH_DIR:-$REPO/../shared/peerbench}"
BIN="$WORK/bin"
PB_BIN="$PB_WORK/bin"
DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-3s}"
THREADS="${THREADS:-2}"
CONNS="${CONNS:-64}"
ROUNDS="${ROUNDS:-2}"
SETTLE="${SETTLE:-2}"
ROWS="${ROWS:-a a-hdrs b-bolt b-redis b-assert c d e}"
SKIP_BUILD="${SKIP_BUILD:-0}"
PAIRED="${PAIRED:-1}"
PROFILE="${PROFILE:-0}"
PROFILE_SECONDS="${PROFILE_SECONDS:-10}"
QUIET_MAX="${QUIET_MAX:-10}"
QUIET_WAIT="${QUIET_WAIT:-180}"
O2P_VERSION=v7.8.1
ORIGIN=https://bench.test
EMAIL=bench@example.com

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
RUN="$WORK/results/$STAMP"

log() { printf '[bench/peers %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [[ "${1:-}" == --report ]]; then
	d="$(cd "${2:?usage: run.sh --report RESULTS_DIR}" && pwd)"
	exec "$BIN/report" -dir "$d"
fi
[[ $# -eq 0 ]] || die "unknown argument $1 (usage: run.sh [--quick] | --report DIR)"

# ---------------------------------------------------------------- processes
PIDS=()
declare -A PID_OF
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start() { # start NAME CMD... — a server in the background, its PID kept
	local name="$1"; shift
	"$@" >"$RUN/logs/$name.log" 2>&1 &
	PIDS+=("$!")
	PID_OF[$name]=$!
	log "started $name (pid $!)"
}

# Free loopback TCP ports, none handed out twice.
declare -A TAKEN
free_port() {
	local p
	for _ in $(seq 1 500); do
		p=$(( 20000 + RANDOM % 30000 ))
		[[ -z "${TAKEN[$p]:-}" ]] || continue
		if [[ -z "$(ss -Htan "( sport = :$p or dport = :$p )" 2>/dev/null)" ]]; then
			TAKEN[$p]=1
			echo "$p"
			return
		fi
	done
	die "no free port"
}

wait_port() { # wait_port PORT NAME
	local i
	for i in $(seq 1 300); do
		if ! kill -0 "${PID_OF[$2]}" 2>/dev/null; then
			tail -20 "$RUN/logs/$2.log" >&2
			die "$2 exited (log: $RUN/logs/$2.log)"
		fi
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	die "$2: nothing answers on 127.0.0.1:$1"
}

code_of() { curl -s -o /dev/null --max-time 10 -w '%{http_code}' "$@"; }
expect_code() { # expect_code WANT URL [curl args...]
	local want="$1" url="$2"; shift 2
	local got; got="$(code_of "$@" "$url")"
	[[ "$got" == "$want" ]] || die "gate: $url ${*}: want HTTP $want, got $got"
	log "gate: $url${1:+ ($1 ${2%%:*})} -> $got"
}
expect_body_len() { # expect_body_len URL [curl args...]
	local url="$1"; shift
	local n; n="$(curl -s --max-time 10 "$@" "$url" | wc -c)"
	[[ "$n" == 1024 ]] || die "gate: body of $url is $n bytes, want 1024"
}
echo_has() { # echo_has ECHO_TEXT REGEX WHAT
	grep -Eq "$2" <<<"$1" || { printf '%s\n' "$1" >&2; die "gate: upstream did not receive $3"; }
	log "gate: upstream received $3"
}
echo_lacks() {
	! grep -Eq "$2" <<<"$1" || { printf '%s\n' "$1" >&2; die "gate: upstream received $3"; }
	log "gate: upstream did not receive $3"
}

# ------------------------------------------------------------------- build
build() {
	command -v go >/dev/null || die "go not found"
	mkdir -p "$BIN" "$PB_BIN" "$WORK/src"
	log "building frontdoor (Caddy + standard modules + frontdoor), upstream, mint, report"
	(cd "$REPO" && go build -o "$BIN/frontdoor" ./cmd/frontdoor &&
		go build -o "$BIN/upstream" ./bench/peers/upstream &&
		go build -o "$BIN/mint" ./bench/peers/mint &&
		go build -o "$BIN/report" ./bench/peers/report)
	if [[ -x "$PB_BIN/oauth2-proxy" && -x "$PB_BIN/mint" ]] &&
		"$PB_BIN/oauth2-proxy" --version 2>&1 | grep -q "$O2P_VERSION"; then
		log "reusing peerbench's oauth2-proxy and cookie minter in $PB_BIN"
		return
	fi
	[[ -d "$PB_DIR/mint" ]] || die "peerbench not found at $PB_DIR (set PEERBENCH_DIR)"
	# peerbench's own build commands (run.sh build()), on a copy: its mint
	# module pins oauth2-proxy and declares it as a tool, so both come from
	# one dependency graph.
	log "building peerbench's mint + oauth2-proxy $O2P_VERSION into $PB_BIN"
	rm -rf "$WORK/src/peerbench-mint"
	cp -r "$PB_DIR/mint" "$WORK/src/peerbench-mint"
	(cd "$WORK/src/peerbench-mint" && CGO_ENABLED=0 go build -o "$PB_BIN/mint" . &&
		CGO_ENABLED=0 go build -o "$PB_BIN/oauth2-proxy" \
			-ldflags "-X github.com/oauth2-proxy/oauth2-proxy/v7/pkg/version.VERSION=$O2P_VERSION" \
			github.com/oauth2-proxy/oauth2-proxy/v7)
}

# --------------------------------------------------------------- measuring
# CPU ticks (utime+stime) of a pid (peerbench's ticks_of).
ticks_of() {
	local s
	s="$(cat "/proc/$1/stat" 2>/dev/null)" || { echo 0; return; }
	s="${s##*) }"
	awk '{print $12 + $13}' <<<"$s"
}
# Reaped-children CPU ticks of this shell: wrk's CPU.
child_ticks() {
	local s; s="$(cat "/proc/$$/stat")"; s="${s##*) }"
	awk '{print $14 + $15}' <<<"$s"
}
# busy and total jiffies of the machine
sys_ticks() { awk '/^cpu /{b=$2+$3+$4+$7+$8+$9; t=b+$5+$6; print b, t}' /proc/stat; }
# CPU ticks (own + reaped children) of every process outside this benchmark.
other_ticks() {
	{ cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v ours=" $$ ${PIDS[*]} " '
		index(ours, " " $1 " ") { next }
		{ s = $0; sub(/^.*\) /, "", s); split(s, f, " "); t += f[12] + f[13] + f[14] + f[15] }
		END { print t + 0 }'
}
# % of the machine used by other processes over SECONDS
other_pct() {
	local o0 s0 o1 s1
	o0=$(other_ticks); s0=$(sys_ticks)
	sleep "$1"
	o1=$(other_ticks); s1=$(sys_ticks)
	awk -v o=$((o1 - o0)) -v t=$(( ${s1#* } - ${s0#* } )) 'BEGIN{if (o < 0) o = 0; printf "%.0f", t ? 100*o/t : 0}'
}
WAITED=0
wait_quiet() { # before a setup: wait (within QUIET_WAIT for the run) until others are quiet
	local p
	while :; do
		p=$(other_pct 1)
		(( p <= QUIET_MAX )) && return 0
		if (( WAITED >= QUIET_WAIT )); then
			log "machine busy (other processes ${p}% > ${QUIET_MAX}%), wait budget spent: measuring anyway (see 'other procs %')"
			return 0
		fi
		log "machine busy (other processes ${p}% > ${QUIET_MAX}%): waiting"
		sleep 5; WAITED=$(( WAITED + 6 ))
	done
}
upstream_stats() { curl -s --max-time 2 "http://127.0.0.1:$UP_STATS/"; }
to_ms() { awk -v v="$1" 'BEGIN{printf "%.3f", v/1000}'; }

declare -A URL HDR PROCS
# hdr_args SETUP — fill the caller's hdr array with -H for each line of HDR[SETUP].
hdr_args() {
	local h
	while IFS= read -r h; do
		[[ -n "$h" ]] && hdr+=(-H "$h")
	done <<<"${HDR[$1]:-}"
	return 0
}

measure() { # measure ROUND SETUP
	local round="$1" s="$2"
	local -a hdr=()
	hdr_args "$s"
	MEASURED[$round.$s]=$(( ${MEASURED[$round.$s]:-0} + 1 ))
	local out="$RUN/wrk/r${round}_${s}.${MEASURED[$round.$s]}.txt"
	local bound=$(( ${DURATION%s} + 60 ))

	wait_quiet
	log "round $round: $s warm-up $WARMUP"
	timeout "$bound" wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" "${hdr[@]}" "${URL[$s]}" >"$RUN/wrk/r${round}_${s}.${MEASURED[$round.$s]}.warmup.txt"
	sleep "$SETTLE"

	local -A t0
	local p
	for p in ${PROCS[$s]}; do t0[$p]=$(ticks_of "${PID_OF[$p]}"); done
	local w0 sys0 up0 o0
	o0=$(other_ticks); up0=$(upstream_stats); sys0=$(sys_ticks); w0=$(child_ticks)

	log "round $round: $s measuring $DURATION at -t$THREADS -c$CONNS"
	timeout "$bound" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$HERE/latency.lua" "${hdr[@]}" "${URL[$s]}" >"$out"

	local o1 up1 sys1 w1
	w1=$(child_ticks); sys1=$(sys_ticks); up1=$(upstream_stats); o1=$(other_ticks)
	local cpu="wrk=$(( w1 - w0 ))"
	for p in ${PROCS[$s]}; do cpu+=" $p=$(( $(ticks_of "${PID_OF[$p]}") - ${t0[$p]} ))"; done

	local rps reqs non2xx errs pct
	rps=$(awk '/^Requests\/sec:/{print $2}' "$out")
	reqs=$(awk '/requests in/{print $1}' "$out")
	non2xx=$(awk '/Non-2xx or 3xx responses:/{print $NF}' "$out"); non2xx=${non2xx:-0}
	errs=$(awk '/Socket errors:/{sub(/.*Socket errors: /,""); print}' "$out"); errs=${errs:-none}
	pct=$(grep '^PERCENTILES' "$out") || die "no percentiles in $out"
	local p50 p99 p999 mx
	p50=$(to_ms "$(sed 's/.*p50_us=\([0-9]*\).*/\1/' <<<"$pct")")
	p99=$(to_ms "$(sed 's/.*p99_us=\([0-9]*\).*/\1/' <<<"$pct")")
	p999=$(to_ms "$(sed 's/.*p999_us=\([0-9]*\).*/\1/' <<<"$pct")")
	mx=$(to_ms "$(sed 's/.*max_us=\([0-9]*\).*/\1/' <<<"$pct")")
	local newc=$(( ${up1% *} - ${up0% *} )) upr=$(( ${up1#* } - ${up0#* } ))
	local b0 tt0 b1 tt1 busy other
	read -r b0 tt0 <<<"$sys0"; read -r b1 tt1 <<<"$sys1"
	busy=$(awk -v b=$((b1 - b0)) -v t=$((tt1 - tt0)) 'BEGIN{printf "%.0f", t ? 100*b/t : 0}')
	other=$(awk -v o=$((o1 - o0)) -v t=$((tt1 - tt0)) 'BEGIN{if (o < 0) o = 0; printf "%.0f", t ? 100*o/t : 0}')
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
		"$round" "$s" "$THREADS" "$CONNS" "$DURATION" "$rps" "$p50" "$p99" "$p999" "$mx" \
		"$reqs" "$non2xx" "$errs" "$newc" "$upr" "$busy" "$other" "$cpu" "$(getconf CLK_TCK)" >>"$RUN/rows.tsv"
	log "round $round: $s -> $rps req/s, p50 $p50 ms, p99 $p99 ms, p99.9 $p999 ms, non-2xx $non2xx, errors: $errs, other procs ${other}%"
	sleep "$SETTLE"
}

# profile SETUP PROC — CPU and allocation profiles of a Caddy process while wrk
# loads its setup (after the rounds; not part of the measured figures).
profile() {
	local s="$1" p="$2" admin="${ADMIN_OF[$2]}"
	local -a hdr=()
	hdr_args "$s"
	mkdir -p "$RUN/pprof"
	log "profiling $p under $s for ${PROFILE_SECONDS}s"
	timeout $(( PROFILE_SECONDS + 30 )) wrk -t"$THREADS" -c"$CONNS" -d"$(( PROFILE_SECONDS + 2 ))s" "${hdr[@]}" "${URL[$s]}" >"$RUN/pprof/$s.wrk.txt" &
	local wrk_pid=$!
	sleep 1
	curl -s --max-time $(( PROFILE_SECONDS + 20 )) -o "$RUN/pprof/$s.cpu.pb.gz" "http://127.0.0.1:$admin/debug/pprof/profile?seconds=$PROFILE_SECONDS" &
	local cpu_pid=$!
	curl -s --max-time $(( PROFILE_SECONDS + 20 )) -o "$RUN/pprof/$s.allocs.pb.gz" "http://127.0.0.1:$admin/debug/pprof/allocs?seconds=$PROFILE_SECONDS"
	wait "$cpu_pid" "$wrk_pid" || true
	(cd "$REPO" && go tool pprof -top -nodecount=60 "$BIN/frontdoor" "$RUN/pprof/$s.cpu.pb.gz" >"$RUN/pprof/$s.cpu.top.txt" 2>&1 &&
		go tool pprof -top -cum -nodecount=60 "$BIN/frontdoor" "$RUN/pprof/$s.cpu.pb.gz" >"$RUN/pprof/$s.cpu.cum.txt" 2>&1 &&
		go tool pprof -top -sample_index=alloc_space -nodecount=40 "$BIN/frontdoor" "$RUN/pprof/$s.allocs.pb.gz" >"$RUN/pprof/$s.allocs.top.txt" 2>&1) ||
		log "pprof could not read the $s profiles (see $RUN/pprof/)"
}

write_env() {
	local mem; mem=$(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo)
	{
		echo "- host: nproc=$(nproc), memory $mem, cpu \"$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)\", kernel $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME")"
		echo "- $(go version); frontdoor binary: $("$BIN/frontdoor" version | awk '{print "Caddy", $1}') + frontdoor $(cd "$REPO" && git rev-parse --short HEAD)$(cd "$REPO" && git diff --quiet HEAD -- . ':!bench' 2>/dev/null || echo ' (with uncommitted changes)')"
		echo "- oauth2-proxy: $("$PB_BIN/oauth2-proxy" --version 2>&1 | head -1); $(redis-server --version | awk '{print $1, $2, $3}'); $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}')"
		echo "- load: wrk -t$THREADS -c$CONNS -d$DURATION --latency (p99.9 and max from a done() script), each after a discarded $WARMUP warm-up; rounds=$ROUNDS, order alternates; $SETTLE s pause around each run"
		echo "- wrk and every server share the same $(nproc) cores; GOMAXPROCS default in every Go process; loopback only; tcp_tw_reuse=$(cat /proc/sys/net/ipv4/tcp_tw_reuse)"
		echo "- (a) and (d) are Caddy from the frontdoor binary (the same build as b/c); (b)/(c) site http://127.0.0.1:PORT with origin $ORIGIN, limits off, headers frontdoor, session cache 2s; oauth2-proxy --request-logging=false, no --cookie-refresh; Caddy: no access log"
		echo "- loadavg before the first setup: $LOADAVG0; waited $WAITED s in all for other processes to go quiet (QUIET_MAX=$QUIET_MAX %)"
		echo "- command: $CMDLINE"
	} >"$RUN/env.md"
}

# -------------------------------------------------------------------- main
CMDLINE="$(for v in DURATION WARMUP THREADS CONNS ROUNDS; do printf '%s=%s ' "$v" "${!v}"; done)bench/peers/run.sh"
mkdir -p "$RUN/logs" "$RUN/wrk" "$RUN/xdg" "$RUN/bolt" "$RUN/redis"
if [[ "$SKIP_BUILD" != 1 ]]; then build; fi
for t in wrk curl ss redis-server; do command -v "$t" >/dev/null || die "$t not found (make deps / scripts/deps.sh)"; done
for b in "$BIN/frontdoor" "$BIN/upstream" "$BIN/mint" "$BIN/report" "$PB_BIN/oauth2-proxy" "$PB_BIN/mint"; do
	[[ -x "$b" ]] || die "missing $b"
done

UP=$(free_port); UP_STATS=$(free_port)
export BP_RUN="$RUN" BP_UPSTREAM="$UP"
export BP_PORT_A BP_ADMIN_A BP_PORT_FD_BOLT BP_PORT_FD_ASSERT BP_ADMIN_FD_BOLT BP_PORT_FD_REDIS BP_ADMIN_FD_REDIS BP_REDIS BP_PORT_D BP_ADMIN_D BP_O2P_AUTH
BP_PORT_A=$(free_port); BP_ADMIN_A=$(free_port)
BP_PORT_FD_BOLT=$(free_port); BP_ADMIN_FD_BOLT=$(free_port); BP_PORT_FD_ASSERT=$(free_port)
BP_PORT_FD_REDIS=$(free_port); BP_ADMIN_FD_REDIS=$(free_port)
BP_REDIS=$(free_port)
BP_PORT_D=$(free_port); BP_ADMIN_D=$(free_port); BP_O2P_AUTH=$(free_port)
O2P_ALONE=$(free_port)
declare -A ADMIN_OF=([caddy_a]=$BP_ADMIN_A [fd_bolt]=$BP_ADMIN_FD_BOLT [fd_redis]=$BP_ADMIN_FD_REDIS [caddy_d]=$BP_ADMIN_D)
for v in UP UP_STATS BP_PORT_A BP_ADMIN_A BP_PORT_FD_BOLT BP_PORT_FD_ASSERT BP_ADMIN_FD_BOLT BP_PORT_FD_REDIS BP_ADMIN_FD_REDIS BP_REDIS BP_PORT_D BP_ADMIN_D BP_O2P_AUTH O2P_ALONE; do
	echo "$v=${!v}"
done >"$RUN/ports.env"

# Caddy keeps its data and config under the run directory.
export XDG_DATA_HOME="$RUN/xdg" XDG_CONFIG_HOME="$RUN/xdg"

COOKIE_SECRET="$(head -c 32 /dev/urandom | base64 | tr -- '+/' '-_')"
O2P_COMMON=( # peerbench's flags: dummy OIDC provider never contacted, no refresh
	--provider=oidc --skip-oidc-discovery
	--oidc-issuer-url=http://127.0.0.1:1
	--login-url=http://127.0.0.1:1/authorize
	--redeem-url=http://127.0.0.1:1/token
	--oidc-jwks-url=http://127.0.0.1:1/jwks
	--client-id=peerbench --client-secret=peerbench
	--email-domain='*'
	--cookie-secret="$COOKIE_SECRET" --cookie-secure=false
	--reverse-proxy
	--request-logging=false
)

start upstream "$BIN/upstream" -addr "127.0.0.1:$UP" -stats "127.0.0.1:$UP_STATS"
start redis "$(command -v redis-server)" --bind 127.0.0.1 --port "$BP_REDIS" --save "" --appendonly no \
	--protected-mode yes --dir "$RUN/redis"
start caddy_a "$BIN/frontdoor" run --adapter caddyfile --config "$HERE/caddyfiles/a_reverse_proxy.Caddyfile"
start fd_bolt "$BIN/frontdoor" run --adapter caddyfile --config "$HERE/caddyfiles/b_frontdoor_bolt.Caddyfile"
start caddy_d "$BIN/frontdoor" run --adapter caddyfile --config "$HERE/caddyfiles/d_forward_auth.Caddyfile"
start o2p_auth "$PB_BIN/oauth2-proxy" "${O2P_COMMON[@]}" --http-address="127.0.0.1:$BP_O2P_AUTH" \
	--upstream=static://202 --set-xauthrequest
start o2p_alone "$PB_BIN/oauth2-proxy" "${O2P_COMMON[@]}" --http-address="127.0.0.1:$O2P_ALONE" \
	--upstream="http://127.0.0.1:$UP/"
wait_port "$BP_REDIS" redis
start fd_redis "$BIN/frontdoor" run --adapter caddyfile --config "$HERE/caddyfiles/b_frontdoor_redis.Caddyfile"
wait_port "$UP" upstream
wait_port "$BP_PORT_A" caddy_a
wait_port "$BP_PORT_FD_BOLT" fd_bolt
wait_port "$BP_PORT_FD_REDIS" fd_redis
wait_port "$BP_PORT_D" caddy_d
wait_port "$BP_O2P_AUTH" o2p_auth
wait_port "$O2P_ALONE" o2p_alone

URL[a]="http://127.0.0.1:$BP_PORT_A/"
URL[a-hdrs]="http://127.0.0.1:$BP_PORT_A/"
URL[b-bolt]="http://127.0.0.1:$BP_PORT_FD_BOLT/"
URL[b-redis]="http://127.0.0.1:$BP_PORT_FD_REDIS/"
URL[b-assert]="http://127.0.0.1:$BP_PORT_FD_ASSERT/"
URL[c]="http://127.0.0.1:$BP_PORT_FD_BOLT/pub/"
URL[d]="http://127.0.0.1:$BP_PORT_D/"
URL[e]="http://127.0.0.1:$O2P_ALONE/"
PROCS[a]="caddy_a upstream"
PROCS[a-hdrs]="caddy_a upstream"
PROCS[b-bolt]="fd_bolt upstream"
PROCS[b-redis]="fd_redis redis upstream"
PROCS[b-assert]="fd_bolt upstream"
PROCS[c]="fd_bolt upstream"
PROCS[d]="caddy_d o2p_auth upstream"
PROCS[e]="o2p_alone upstream"

# Sessions: a customer signs up, verifies and signs in on each store, over HTTP.
log "minting Frontdoor sessions (register, verify from the .eml, sign in)"
FD_BOLT_COOKIE="$("$BIN/mint" -base "${URL[b-bolt]}" -origin "$ORIGIN" -mail "$RUN/mail/bolt" -email "$EMAIL")"
FD_REDIS_COOKIE="$("$BIN/mint" -base "${URL[b-redis]}" -origin "$ORIGIN" -mail "$RUN/mail/redis" -email "$EMAIL")"
O2P_COOKIE="$("$PB_BIN/mint" -secret "$COOKIE_SECRET")"
HDR[b-bolt]="Cookie: $FD_BOLT_COOKIE"
HDR[b-redis]="Cookie: $FD_REDIS_COOKIE"
HDR[b-assert]="${HDR[b-bolt]}"
HDR[d]="Cookie: $O2P_COOKIE"
HDR[e]="Cookie: $O2P_COOKIE"

# ------------------------------------------------------------------- gates
FORGED=(-H "X-Frontdoor-User: forged" -H "X-Forwarded-User: forged" -H "X-Auth-Request-User: forged")
gates() {
	local s e
	expect_code 200 "${URL[a]}"; expect_body_len "${URL[a]}"
	for s in b-bolt b-redis; do
		expect_code 200 "${URL[$s]}" -H "${HDR[$s]}"
		expect_body_len "${URL[$s]}" -H "${HDR[$s]}"
		expect_code 401 "${URL[$s]}"
		expect_code 302 "${URL[$s]}" -H "Accept: text/html"
		expect_code 401 "${URL[$s]}" -H "Cookie: __Host-frontdoor=forged"
		e="$(curl -s --max-time 10 -H "${HDR[$s]}" "${FORGED[@]}" "${URL[$s]}__echo")"
		printf "%s\n" "$e" >"$RUN/echo-$s.txt"
		echo_has "$e" "^X-Frontdoor-User: [A-Za-z0-9_-]{8,}$" "X-Frontdoor-User ($s)"
		echo_has "$e" "^X-Frontdoor-Email: $EMAIL$" "X-Frontdoor-Email ($s)"
		echo_has "$e" "^X-Frontdoor-Assertion: eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$" "the signed assertion ($s)"
		echo_lacks "$e" "forged" "a forged identity header ($s)"
		echo_lacks "$e" "__Host-frontdoor" "Frontdoor's session cookie ($s)"
	done
	expect_code 200 "${URL[b-assert]}" -H "${HDR[b-assert]}"
	expect_code 401 "${URL[b-assert]}"
	e="$(curl -s --max-time 10 -H "${HDR[b-assert]}" "${FORGED[@]}" "${URL[b-assert]}__echo")"
	echo_has "$e" "^X-Frontdoor-Assertion: eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$" "the signed assertion (b-assert)"
	echo_lacks "$e" "X-Frontdoor-User" "plain identity headers under send assertion (b-assert)"
	echo_lacks "$e" "forged" "a forged identity header (b-assert)"
	expect_code 200 "${URL[c]}"; expect_body_len "${URL[c]}"
	e="$(curl -s --max-time 10 "${FORGED[@]}" "${URL[c]}__echo")"
	echo_lacks "$e" "forged" "a forged identity header (c)"
	echo_lacks "$e" "X-Frontdoor-User" "an identity without a session (c)"
	expect_code 202 "http://127.0.0.1:$BP_O2P_AUTH/oauth2/auth" -H "${HDR[d]}"
	expect_code 401 "http://127.0.0.1:$BP_O2P_AUTH/oauth2/auth"
	expect_code 200 "${URL[d]}" -H "${HDR[d]}"; expect_body_len "${URL[d]}" -H "${HDR[d]}"
	expect_code 401 "${URL[d]}"
	e="$(curl -s --max-time 10 -H "${HDR[d]}" "${URL[d]}__echo")"
	echo_has "$e" "^X-Auth-Request-User: bench$" "X-Auth-Request-User (d)"
	expect_code 200 "${URL[e]}" -H "${HDR[e]}"; expect_body_len "${URL[e]}" -H "${HDR[e]}"
	expect_code 403 "${URL[e]}"
	e="$(curl -s --max-time 10 -H "${HDR[e]}" "${URL[e]}__echo")"
	echo_has "$e" "^X-Forwarded-User: bench$" "X-Forwarded-User (e)"
}
gates
LOADAVG0="$(cut -d' ' -f1-3 /proc/loadavg)"
# (a-hdrs), a diagnostic: plain Caddy again, the client itself sending the
# identity headers the upstream received in (b-bolt) — what carrying those
# bytes through Caddy to the upstream costs, without any of Frontdoor's work.
HDR[a-hdrs]="$(grep '^X-Frontdoor-' "$RUN/echo-b-bolt.txt")"
e="$(curl -s --max-time 10 -H @<(printf '%s\n' "${HDR[a-hdrs]}") "${URL[a-hdrs]}__echo")"
echo_has "$e" "^X-Frontdoor-Assertion: eyJ" "the identity headers sent by the client (a-hdrs)"
expect_body_len "${URL[a-hdrs]}" -H @<(printf '%s\n' "${HDR[a-hdrs]}")

printf '# round\tsetup\tthreads\tconns\tduration\treq/s\tp50_ms\tp99_ms\tp99.9_ms\tmax_ms\trequests\tnon2xx\tsocket_errors\tnew_upstream_conns\tupstream_requests\tbusy_pct\tother_pct\tcpu_ticks\thz\n' >"$RUN/rows.tsv"
read -r -a ORDER <<<"$ROWS"
declare -A MEASURED=()
for r in $(seq 1 "$ROUNDS"); do
	seq_=()
	if (( r % 2 == 1 )); then seq_=("${ORDER[@]}"); else for ((i=${#ORDER[@]}-1; i>=0; i--)); do seq_+=("${ORDER[$i]}"); done; fi
	if [[ "$PAIRED" == 1 && " ${ORDER[*]} " == *" a "* ]]; then
		# (a) before the first setup and after every one: each setup is
		# compared with the (a) runs on either side of it.
		measure "$r" a
		for s in "${seq_[@]}"; do
			[[ "$s" == a ]] && continue
			[[ -n "${URL[$s]:-}" ]] || die "unknown setup $s"
			measure "$r" "$s"
			measure "$r" a
		done
		continue
	fi
	for s in "${seq_[@]}"; do
		[[ -n "${URL[$s]:-}" ]] || die "unknown setup $s"
		measure "$r" "$s"
	done
done

# The sessions are still valid after the load (no expiry or refresh surprise).
expect_code 200 "${URL[b-bolt]}" -H "${HDR[b-bolt]}"
expect_code 200 "${URL[b-redis]}" -H "${HDR[b-redis]}"
expect_code 200 "${URL[b-assert]}" -H "${HDR[b-assert]}"
expect_code 202 "http://127.0.0.1:$BP_O2P_AUTH/oauth2/auth" -H "${HDR[d]}"

write_env
if [[ "$PROFILE" == 1 ]]; then
	profile a caddy_a
	profile a-hdrs caddy_a
	profile b-bolt fd_bolt
	profile b-redis fd_redis
	profile d caddy_d
fi

"$BIN/report" -dir "$RUN"
log "results: $RUN/results.md, $RUN/rows.tsv, $RUN/summary.md"
