# bench/peers/peers.mk — the peer runtimes the benchmarks compare ringsched with (bench/peers/README.md).
# Included by the top-level Makefile; adds only the phony target `bench-peers` (nothing here is built by `all`).
#
#   make bench-peers   install the peers' Debian packages (bench/peers/deps.sh) and build
#                      $(BUILD)/bench/peers/{omp-gomp,omp-llvm,tbb,starpu} (bench/graph.h patterns) and
#                      $(BUILD)/bench/peers/seed-{omp-gomp,omp-llvm,tbb,starpu} (the seed workloads)

PEERS_DIR   := $(BUILD)/bench/peers
PEERS_BINS  := $(PEERS_DIR)/omp-gomp $(PEERS_DIR)/omp-llvm $(PEERS_DIR)/tbb $(PEERS_DIR)/starpu
PEERS_HDRS  := bench/graph.h bench/peers/peer.h
PEERS_WARN  := -Wall -Wextra -Werror -Wno-unknown-pragmas
PEERS_FLAGS := -O2 -g -D_GNU_SOURCE -pthread $(PEERS_WARN)
PEERS_GCC   ?= gcc
PEERS_CLANG ?= clang
PEERS_CXX   ?= g++
# LLVM's OpenMP runtime (Debian libomp-dev -> libomp-14-dev): omp.h is in clang's resource dir, libomp.so in
# the LLVM libdir, which is not on the loader path, hence the rpath. Queried lazily (clang may not exist yet).
PEERS_LLVM_LIBDIR = $(realpath $(shell $(PEERS_CLANG) -print-resource-dir 2>/dev/null)/../..)
# Lazily too: pkg-config files appear only after deps.sh.
PEERS_STARPU_PC := starpu-1.3

# The seed peers (seeds.h): the workloads' own sources recorded by seeds_wl.c (compiled with the workload
# programs' flags plus -O3 -march=native: their double-precision references, untimed, run about twice as
# fast, and -ffp-contract=off keeps them bit-identical), the daemon's kernel objects and registry as the
# daemon builds them with its argument check (daemon/validate.c), the client library (the workloads' view
# helpers; nothing there connects) and OpenBLAS's pthread build, as the daemon links them.
SEED_BINS    := $(PEERS_DIR)/seed-omp-gomp $(PEERS_DIR)/seed-omp-llvm $(PEERS_DIR)/seed-tbb $(PEERS_DIR)/seed-starpu
SEED_WL_OBJ  := $(PEERS_DIR)/seeds_wl.o
# The daemon core as a static archive: the linker takes only what the recorded tasks need (the kernels, the
# argument check of daemon/validate.c, and what those reach, such as the log), so the peers follow the daemon's
# own code as it grows instead of a hand-kept object list.
SEED_OBJS    := $(SEED_WL_OBJ) $(CORE_LIB) $(CLIENT_A)
SEED_LIBS    := $(DAEMON_LIBS)
SEED_HDRS    := bench/peers/seeds.h bench/peers/peer.h bench/graph.h

.PHONY: bench-peers bench-peers-deps
bench-peers: bench-peers-deps
	$(Q)$(MAKE) --no-print-directory $(PEERS_BINS) $(SEED_BINS)

bench-peers-deps:
	$(Q)bash bench/peers/deps.sh

$(PEERS_DIR)/omp-gomp: bench/peers/omp.c $(PEERS_HDRS)
	$(call say,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(PEERS_GCC) -std=gnu11 $(PEERS_FLAGS) -fopenmp '-DPEER_RUNTIME="libgomp"' -o $@ $<

$(PEERS_DIR)/omp-llvm: bench/peers/omp.c $(PEERS_HDRS)
	$(call say,CLANG,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(PEERS_CLANG) -std=gnu11 $(PEERS_FLAGS) -fopenmp=libomp '-DPEER_RUNTIME="libomp"' -o $@ $< \
		-L$(PEERS_LLVM_LIBDIR) -Wl,-rpath,$(PEERS_LLVM_LIBDIR)

$(PEERS_DIR)/tbb: bench/peers/tbb.cpp $(PEERS_HDRS)
	$(call say,CXX,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(PEERS_CXX) -std=c++17 $(PEERS_FLAGS) $$(pkg-config --cflags tbb) -o $@ $< $$(pkg-config --libs tbb)

$(PEERS_DIR)/starpu: bench/peers/starpu.c bench/peers/starpu_init.h $(PEERS_HDRS)
	$(call say,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(PEERS_GCC) -std=gnu11 $(PEERS_FLAGS) $$(pkg-config --cflags $(PEERS_STARPU_PC)) -o $@ $< \
		$$(pkg-config --libs $(PEERS_STARPU_PC))

$(SEED_WL_OBJ): bench/peers/seeds_wl.c bench/peers/seeds.h $(WORKLOAD_SRCS) client/ringsched.h kernels/rs_kernel.h \
		kernels/registry.h shm/rs_abi.h
	$(call say,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -O3 -march=native -c -o $@ $<

$(PEERS_DIR)/seed-omp-gomp: bench/peers/seed_omp.c $(SEED_HDRS) $(SEED_OBJS)
	$(call say,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(PEERS_GCC) -std=gnu11 $(PEERS_FLAGS) -fopenmp '-DPEER_RUNTIME="libgomp"' -o $@ $< $(SEED_OBJS) $(SEED_LIBS)

$(PEERS_DIR)/seed-omp-llvm: bench/peers/seed_omp.c $(SEED_HDRS) $(SEED_OBJS)
	$(call say,CLANG,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(PEERS_CLANG) -std=gnu11 $(PEERS_FLAGS) -fopenmp=libomp '-DPEER_RUNTIME="libomp"' -o $@ $< $(SEED_OBJS) \
		$(SEED_LIBS) -L$(PEERS_LLVM_LIBDIR) -Wl,-rpath,$(PEERS_LLVM_LIBDIR)

$(PEERS_DIR)/seed-tbb: bench/peers/seed_tbb.cpp $(SEED_HDRS) $(SEED_OBJS)
	$(call say,CXX,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(PEERS_CXX) -std=c++17 $(PEERS_FLAGS) $$(pkg-config --cflags tbb) -o $@ $< $(SEED_OBJS) $(SEED_LIBS) \
		$$(pkg-config --libs tbb)

$(PEERS_DIR)/seed-starpu: bench/peers/seed_starpu.c bench/peers/starpu_init.h $(SEED_HDRS) $(SEED_OBJS)
	$(call say,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(PEERS_GCC) -std=gnu11 $(PEERS_FLAGS) $$(pkg-config --cflags $(PEERS_STARPU_PC)) -o $@ $< $(SEED_OBJS) \
		$(SEED_LIBS) $$(pkg-config --libs $(PEERS_STARPU_PC))
