# Every command here is also written down in the README.
.PHONY: help test lint run build bench

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

test: ## run all tests with the race detector
	go test -race -count=1 -timeout 30m ./...

lint: ## gofmt, go vet, staticcheck, and openapi.yaml under Ajv 8 (needs node and npm)
	@test -z "$$(gofmt -l .)" || { gofmt -l .; exit 1; }
	go vet ./...
	go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
	cd api/validate && npm ci --no-audit --no-fund --loglevel=error && node validate.mjs ../openapi.yaml

run: ## run the service on :8080 (embedded store in ./data; set TRIBUTARY_MYSQL_DSN for MySQL)
	go run ./cmd/api

# Stamped into the binary as the Dockerfile stamps it (api version, the
# start's log lines, tributary_build_info): make build VERSION=v1.2.3.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

build: ## build the binary into bin/api, its version stamped in (VERSION, else git describe)
	CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.version=$(VERSION)" -o bin/api ./cmd/api

bench: ## run every benchmark, with allocations (the MySQL store's need MariaDB, as its tests do)
	go test -run '^$$' -bench . -benchmem -benchtime 2s ./...
