# Everything needs only Go and make. Tests and builds are pure Go (CGO_ENABLED=0).
GO ?= go

.PHONY: run build test bench

run:
	$(GO) run ./cmd/lrs

build:
	CGO_ENABLED=0 $(GO) build -o bin/ ./cmd/lrs ./cmd/lrsbench

test:
	$(GO) vet ./...
	@unformatted="$$(gofmt -l .)"; if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	CGO_ENABLED=0 $(GO) test -count=1 -timeout 30m ./...
	CGO_ENABLED=0 $(GO) test -run '^$$' -fuzz '^FuzzParseStatements$$' -fuzztime 20s ./schema

bench:
	$(GO) test -run '^$$' -bench . ./auth ./lrs/...
