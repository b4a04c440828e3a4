# Frontdoor — see README.md.
GO        ?= go
BIN       ?= bin/frontdoor
TESTFLAGS ?= -race -count=1 -timeout 15m

.PHONY: all build run test test-short deps bench bench-go bench-flood bench-scale bench-signin vet fmt clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/frontdoor

# The demo: the legacy backend on 127.0.0.1:9000 and the gateway on
# https://localhost:8443 with Caddyfile.example (embedded store, log mailer).
run: build
	@$(GO) build -o bin/legacy ./examples/legacy
	@bin/legacy -listen 127.0.0.1:9000 -jwks http://127.0.0.1:8081/.well-known/frontdoor/jwks.json & \
	  legacy=$$!; trap 'kill $$legacy 2>/dev/null' EXIT INT TERM; \
	  $(BIN) run --config Caddyfile.example --adapter caddyfile

# Every test, as CI runs it.
test: deps
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	FRONTDOOR_REQUIRE_BROWSER=1 FRONTDOOR_REQUIRE_REDIS=1 $(GO) test $(TESTFLAGS) ./...

# The unit tests alone: -short skips every test that starts Caddy, the
# frontdoor binary, redis-server or Chromium (under a minute).
test-short:
	$(GO) test -short ./...

# Installs what the tests need when it is missing (Debian packages).
deps:
	@scripts/deps.sh

# Frontdoor side by side with plain Caddy and oauth2-proxy, loopback only
# (issue 8): ~6 min. Knobs through the environment (DURATION, ROUNDS,
# PROFILE=1, …; see bench/peers/run.sh); BENCH=--quick for one 5 s round.
bench: deps
	bench/peers/run.sh $(BENCH)

# The in-process Go benchmarks: hot paths with allocation counts.
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# A bounded credential-stuffing flood against a real gateway on loopback
# (default limits): 50,000 sign-in attempts from 1,000 addresses while 20
# customers sign in; at most 3 minutes. Flags: FLOOD="-attempts 5000 -solve".
# Results in docs/BENCHMARKS.md.
bench-flood:
	$(GO) run ./bench/flood $(FLOOD)

# The scale benchmark (issue 8): 10k, 100k and 1M customers and sessions in
# the bbolt and Redis stores — load time, bytes per session, session lookup
# p50/p99 with the cache off, gateway start-up on the 1M-session bbolt file.
# About 10 minutes; loopback only; temporary files removed (-keep keeps
# them). Results in /tmp/frontdoor-bench/scale/. Flags: SCALE="-sizes 10000".
bench-scale:
	$(GO) run ./bench/scale $(SCALE)

# Sign-in throughput on a real gateway on loopback (issue 8): successful
# password logins/s and p99 at concurrency 1, 4, 16, 64 against the argon2id
# ideal (cores / t), the gateway's peak RSS at each, and a burst of 256
# sign-ins at once against the hashing bound; about 1.5 minutes. Flags:
# SIGNIN="-duration 5s -levels 1,64 -argon2 65536,3,1". Results in
# /tmp/frontdoor-bench/signin/<time>/.
bench-signin:
	$(GO) run ./bench/signin $(SIGNIN)

vet:
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
