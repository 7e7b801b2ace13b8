# bench/bench.mk — `make bench` / `make bench-quick`: ringsched side by side with the in-process peers
# (bench/peers/), plus ringsched's mechanisms on vs off. Results in bench/results/ (see its README.md).

RS_BENCH := $(BUILD)/bench/rs_bench
# The driver uses only the standard library of Debian's python3.
BENCH_PY ?= $(if $(wildcard /usr/bin/python3),/usr/bin/python3,python3)

# The peers' fragment (bench/peers/peers.mk) defines bench-peers; depend on it only once it exists.
BENCH_PEERS_DEP := $(if $(wildcard bench/peers/peers.mk),bench-peers,)

.PHONY: bench bench-quick bench-deps bench-build bench-publish

bench-deps:
	@bash scripts/bench-deps.sh

# Build in a sub-make after the deps script so a fresh machine has its packages before anything compiles.
bench-build: bench-deps
	@$(MAKE) --no-print-directory all $(RS_BENCH) $(BENCH_PEERS_DEP)

bench: bench-build
	$(BENCH_PY) bench/run.py --build $(BUILD)

bench-publish:
	$(BENCH_PY) bench/publish.py

bench-quick: bench-build
	$(BENCH_PY) bench/run.py --quick --build $(BUILD)

# Built by `make` too, so that the ringsched client of the bench never lags the library it links (it is
# small; the peers and their packages stay behind bench-build).
all: $(RS_BENCH)

# --hosted registers the daemon's own kernel bodies as hosted kernels: the built-in kernels' object links in.
$(RS_BENCH): bench/rs_bench.c bench/graph.h client/ringsched.h $(CLIENT_A) $(BUILD)/obj/kernels/builtin.o
	$(call say,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -Ibench -o $@ bench/rs_bench.c $(BUILD)/obj/kernels/builtin.o $(CLIENT_A) $(ALL_LDFLAGS) \
		$(BLAS_LIBS) -lm -pthread
