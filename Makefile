# faultline — build, run, test, bench.
#   make run    one default test against the reference store; prints the verdict
#               and the run directory (runs/latest)
#   make test   everything CI runs: vet, unit and integration tests, a short suite
GO        ?= go
BIN       := bin
RUN_ARGS  ?= --mode strong --workload kv --time-limit 30s
TEST_FLAGS ?= -short -count=1 -timeout 25m  # -short: ./suites runs its CI subset

.PHONY: all build run test vet bench bench-check bench-peers fuzz suite compare nats-compare clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -o $(BIN)/storenode ./cmd/storenode
	CGO_ENABLED=0 $(GO) build -o $(BIN)/faultline-netfault ./cmd/faultline-netfault
	$(GO) build -o $(BIN)/faultline ./cmd/faultline

run: build
	$(BIN)/faultline run $(RUN_ARGS)

vet:
	$(GO) vet ./...

test: vet build
	$(GO) test $(TEST_FLAGS) ./...
	$(MAKE) fuzz FUZZTIME=10s

# Brief fuzzing of the history reader, the checkers and the store's
# decoders of network input (longer: FUZZTIME=5m).
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(FUZZTIME) ./history/
	$(GO) test -run '^$$' -fuzz '^FuzzLineParser$$' -fuzztime $(FUZZTIME) ./history/
	$(GO) test -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(FUZZTIME) ./history/edn/
	$(GO) test -run '^$$' -fuzz '^FuzzCheck$$' -fuzztime $(FUZZTIME) ./checkers/
	$(GO) test -run '^$$' -fuzz '^FuzzWireJSON$$' -fuzztime $(FUZZTIME) ./store/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeBatch$$' -fuzztime $(FUZZTIME) ./store/causal/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeBatch$$' -fuzztime $(FUZZTIME) ./store/eventual/

# The full suite matrix (every mode x nemesis, the deliberate-fault cases).
suite: build
	$(GO) test -count=1 -timeout 90m -v ./suites/ 2>&1 | tee suite.log | grep -E '^(=== RUN|--- |ok|FAIL|PASS)'

bench: build
	$(GO) test -run '^$$' -bench . -benchtime 2s ./...

# faultline check --model linearizable against a minimal raw-Porcupine
# program on the same 75,000-event kv history: wall, CPU, peak RSS, verdict.
CHECKBENCH_ARGS ?= -runs 5
bench-check:
	$(GO) build -o $(BIN)/faultline ./cmd/faultline
	$(GO) build -o $(BIN)/porcupinecheck ./cmd/checkbench/porcupinecheck
	$(GO) build -o $(BIN)/checkbench ./cmd/checkbench
	$(BIN)/checkbench -faultline $(BIN)/faultline -porcupine $(BIN)/porcupinecheck $(CHECKBENCH_ARGS)

# The reference store (strong, causal, eventual) beside etcd (linearizable
# and serializable reads): same load generator, fresh 3-node clusters,
# interleaved repetitions; a table of medians and ratios to etcd.
PEERS_ARGS ?= -reps 3 -duration 10s
bench-peers: build
	$(GO) run ./bench/peers -storenode $(BIN)/storenode $(PEERS_ARGS)

clean:
	rm -rf $(BIN)

# The mode x nemesis comparison: compare.html plus a table (markdown).
COMPARE_ARGS ?= --time-limit 30s --format markdown
compare: build
	$(BIN)/faultline compare $(COMPARE_ARGS)

# NATS JetStream's sync_interval, default and always, side by side under a
# kill and a power loss of every node (seed 5: the first fault, at ~10 s,
# takes every node): a markdown table of verdicts and lost publishes.
NATS_COMPARE_ARGS ?= --seed 5 --time-limit 60s
nats-compare: build
	@echo '| sync_interval | nemesis | verdict | acknowledged | lost | run directory |'
	@echo '| --- | --- | --- | ---: | ---: | --- |'
	@for s in default always; do for n in kill power; do \
	  sync=; [ $$s = always ] && sync='--nats-sync always'; \
	  out=$$($(BIN)/faultline run --system nats $$sync --workload set --nemesis $$n $(NATS_COMPARE_ARGS) 2>/dev/null); \
	  dir=$$(echo "$$out" | sed -n 's/^run directory: //p'); \
	  v=$$(echo "$$out" | sed -n 's/^verdict: //p'); \
	  acked=$$(grep -o '"acknowledged": *[0-9]*' $$dir/results.json 2>/dev/null | grep -o '[0-9]*$$'); \
	  lost=$$(grep -o '"lost": *[0-9]*' $$dir/results.json 2>/dev/null | grep -o '[0-9]*$$'); \
	  echo "| $$s | $$n | $$v | $${acked:-?} | $${lost:-0} | $$dir |"; \
	done; done
