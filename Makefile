# Everything needs only Go and make. Tests and builds are pure Go (CGO_ENABLED=0).
GO ?= go
# The MongoDB-compatible test server, built from its own module (tools/ferretdb).
FERRETDB := .tools/ferretdb-test

.PHONY: run build check test bench bench-http ferretdb chromium

# The server on the embedded store, as built: exec makes lrs make's own child,
# so a signal to make (SIGTERM, or Ctrl-C) reaches it and it shuts down.
run: build
	exec ./bin/lrs

build:
	CGO_ENABLED=0 $(GO) build -o bin/ ./cmd/lrs ./cmd/lrsbench

# The quick loop: every test that takes no more than a few seconds
# (-short skips the ones that boot many binaries or a database).
check:
	CGO_ENABLED=0 $(GO) test -short -count=1 ./...

$(FERRETDB): tools/ferretdb/go.mod tools/ferretdb/go.sum tools/ferretdb/main.go
	cd tools/ferretdb && CGO_ENABLED=0 $(GO) build -o ../../$(FERRETDB) .

ferretdb: $(FERRETDB)

# A widely used xAPI client library (npm), driven against the booted binary.
XAPI_CLIENT := tools/xapi-client/node_modules/.package-lock.json
$(XAPI_CLIENT): tools/xapi-client/package.json tools/xapi-client/package-lock.json
	npm ci --prefix tools/xapi-client --no-audit --no-fund

# Headless Chromium for the console's browser tests (Debian's package).
chromium:
	@command -v chromium >/dev/null 2>&1 || { apt-get update && apt-get install -y --no-install-recommends chromium; }

# axe-core (npm), the accessibility engine the browser tests run in each page.
AXE := tools/axe/node_modules/.package-lock.json
$(AXE): tools/axe/package.json tools/axe/package-lock.json
	npm ci --prefix tools/axe --no-audit --no-fund

# The browser tests' screenshots of every main page (laptop and phone).
SCREENSHOTS := $(CURDIR)/.artifacts/console

# Test modules of their own (their dependencies stay out of the server's
# go.mod): the storage engine comparison and the container files check.
TOOL_MODULES := tools/enginebench tools/dockertest

# The whole suite: vet, formatting, every test on both storage engines (the
# MongoDB ones against the test server; a real xAPI client library and a
# real browser against the binary), the test modules under tools/, then a
# brief fuzz of the parser.
test: $(FERRETDB) $(XAPI_CLIENT) $(AXE) chromium
	$(GO) vet ./...
	@for m in $(TOOL_MODULES); do (cd $$m && $(GO) vet ./...) || exit 1; done
	@unformatted="$$(gofmt -l .)"; if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	@mkdir -p $(SCREENSHOTS) && echo "console screenshots: $(SCREENSHOTS)"
	LRS_TEST_REQUIRE_NODE=1 LRS_TEST_REQUIRE_BROWSER=1 LRS_TEST_SCREENSHOTS=$(SCREENSHOTS) CGO_ENABLED=0 tools/with-ferretdb $(FERRETDB) $(GO) test -count=1 -timeout 30m ./...
	@for m in $(TOOL_MODULES); do (cd $$m && CGO_ENABLED=0 $(GO) test -count=1 ./...) || exit 1; done
	CGO_ENABLED=0 $(GO) test -run '^$$' -fuzz '^FuzzParseStatements$$' -fuzztime 20s ./schema
	@echo "console screenshots: $(SCREENSHOTS)"

bench:
	$(GO) test -run '^$$' -bench . ./auth ./schema ./lrs/...

# The LRS over HTTP: boots the binary on a fresh embedded store, drives it
# with cmd/lrsbench to 100k statements (batches of 100, 8 clients) and
# prints the rate, the query percentiles and the server's CPU per statement
# (see BENCHMARKS.md). ARGS go to lrsbench, e.g. make bench-http ARGS='-n 20000'.
bench-http: build
	tools/bench-http $(ARGS)
