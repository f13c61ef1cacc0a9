# Every command here is also written down in the README.
.PHONY: help test lint run build bench

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

test: ## run all tests with the race detector
	go test -race -count=1 ./...

lint: ## gofmt, go vet and staticcheck
	@test -z "$$(gofmt -l .)" || { gofmt -l .; exit 1; }
	go vet ./...
	go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

run: ## run the service (needs TRIBUTARY_MYSQL_DSN)
	go run ./cmd/api

build: ## build the binary into bin/api
	CGO_ENABLED=0 go build -o bin/api ./cmd/api

bench: ## run the benchmarks
	go test -run '^$$' -bench . -benchtime 2s ./...
