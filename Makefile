# Frontdoor — see README.md.
GO        ?= go
BIN       ?= bin/frontdoor
TESTFLAGS ?= -race -count=1 -timeout 15m

.PHONY: all build run test test-short deps bench bench-go bench-flood vet fmt clean

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

vet:
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
