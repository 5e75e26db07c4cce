# Everything needs only Go and make. Tests and builds are pure Go (CGO_ENABLED=0).
GO ?= go
# The MongoDB-compatible test server, built from its own module (tools/ferretdb).
FERRETDB := .tools/ferretdb-test

.PHONY: run build test bench ferretdb chromium

run:
	$(GO) run ./cmd/lrs

build:
	CGO_ENABLED=0 $(GO) build -o bin/ ./cmd/lrs ./cmd/lrsbench

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

# The whole suite: vet, formatting, every test on both storage engines (the
# MongoDB ones against the test server; a real xAPI client library and a
# real browser against the binary), then a brief fuzz of the parser.
test: $(FERRETDB) $(XAPI_CLIENT) chromium
	$(GO) vet ./...
	@unformatted="$$(gofmt -l .)"; if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	LRS_TEST_REQUIRE_NODE=1 LRS_TEST_REQUIRE_BROWSER=1 CGO_ENABLED=0 tools/with-ferretdb $(FERRETDB) $(GO) test -count=1 -timeout 30m ./...
	CGO_ENABLED=0 $(GO) test -run '^$$' -fuzz '^FuzzParseStatements$$' -fuzztime 20s ./schema

bench:
	$(GO) test -run '^$$' -bench . ./auth ./schema ./lrs/...
