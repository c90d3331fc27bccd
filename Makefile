# faultline — build, run, test, bench.
#   make run    one default test against the reference store; prints the verdict
#               and the run directory (runs/latest)
#   make test   everything CI runs: vet, unit and integration tests, a short suite
GO        ?= go
BIN       := bin
RUN_ARGS  ?= --mode strong --workload kv --time-limit 30s
TEST_FLAGS ?= -short -count=1 -timeout 25m

.PHONY: all build run test vet bench fuzz clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -o $(BIN)/storenode ./cmd/storenode
	$(GO) build -o $(BIN)/faultline ./cmd/faultline

run: build
	$(BIN)/faultline run $(RUN_ARGS)

vet:
	$(GO) vet ./...

test: vet build
	$(GO) test $(TEST_FLAGS) ./...

bench: build
	$(GO) test -run '^$$' -bench . -benchtime 2s ./...

clean:
	rm -rf $(BIN)
