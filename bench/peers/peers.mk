# bench/peers/peers.mk — the peer runtimes the benchmarks compare ringsched with (bench/peers/README.md).
# Included by the top-level Makefile; adds only the phony target `bench-peers` (nothing here is built by `all`).
#
#   make bench-peers   install the peers' Debian packages (bench/peers/deps.sh) and build
#                      $(BUILD)/bench/peers/{omp-gomp,omp-llvm,tbb,starpu}

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

.PHONY: bench-peers bench-peers-deps
bench-peers: bench-peers-deps
	$(Q)$(MAKE) --no-print-directory $(PEERS_BINS)

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
