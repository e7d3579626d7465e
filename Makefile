GO ?= go

.PHONY: test build vet fmt check race bench fuzz

# The one test command (README, CI). PostgreSQL suites run when
# GATEHOUSE_TEST_POSTGRES names a server; otherwise they are skipped, and
# this says so, because `go test` hides skip reasons without -v.
test:
	@[ -n "$$GATEHOUSE_TEST_POSTGRES" ] || echo "note: GATEHOUSE_TEST_POSTGRES is not set; PostgreSQL suites are skipped (see README, Testing)"
	@command -v chromium >/dev/null 2>&1 || [ -n "$$GATEHOUSE_TEST_CHROMIUM" ] || echo "note: no chromium on PATH; browser tests are skipped (see README, Testing)"
	@[ -n "$$GATEHOUSE_TEST_AXE" ] || echo "note: GATEHOUSE_TEST_AXE is not set; the accessibility check is skipped (see README, Testing)"
	$(GO) test -count=1 -timeout 9m ./...

# The storage and HTTP packages are where concurrency lives; the race
# detector runs on them (about 3x slower, so not on every package).
race:
	$(GO) test -count=1 -race -timeout 9m ./idp/storage/... ./idp/httpserver/ ./migrations/

# The version is stamped from git when there is one (go's own VCS stamp
# is off where GOFLAGS has -buildvcs=false); 'gatehouse version' prints it.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/gatehouse ./cmd/gatehouse

vet:
	$(GO) vet ./...

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

check: fmt vet

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# The HTTP surface's fuzz target, for a bounded time (CI runs it against
# PostgreSQL, which refuses NUL and invalid UTF-8 where SQLite stores them).
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzHTTPSurface$$' -fuzztime $(FUZZTIME) -parallel 2 ./internal/e2e/
