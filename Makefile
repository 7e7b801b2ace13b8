# ringsched — one non-recursive Makefile for everything.
#
#   make            build daemon, client library, CLI, plugins, tests (outputs in build/)
#   make demo       run the daemon with its built-in default config and the verifying example workloads
#   make test       unit + integration tests (plus the in-process protocol test), then a 5 s fuzz smoke per target
#   make test-fuzz  every libFuzzer target for 60 s (clang; build-fuzz/, tests/fuzz/README.md)
#   make asan/tsan  sanitizer builds (build-asan/, build-tsan/) running the integration tests
#   make soak       the soak test alone for SOAK_SECONDS (default 300; `make test` runs it for 30 s)
#   make install PREFIX=/usr/local DESTDIR=
#
# Sources are discovered by directory, so a new module is a new file, not a Makefile edit:
#   shm/*.c                -> in both libraries
#   kernels/*.c            -> daemon core (kernels/plugins/*.c -> build/plugins/*.so)
#   daemon/*.c - main.c    -> build/libringschedd_core.a (the daemon as a library, DESIGN §8)
#   client/*.c - cli.c     -> build/libringsched.{a,so}
#   client/workloads/*.c   -> linked into the CLI and the workload programs
#   tests/unit/test_*.c    -> one check executable each
#   tests/integration/*.c  -> client programs used by tests/integration/*.sh
#   tests/inproc/*.c       -> daemon core + client library in one process (TSan sees both sides)

BUILD   ?= build
PREFIX  ?= /usr/local
DESTDIR ?=
SAN     ?=
CC      ?= cc
V       ?= 0

MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
# OpenBLAS's pthread build, pinned to one thread by ringschedd (OPENBLAS_NUM_THREADS=1 before it loads).
# Not the serial build: Debian's serial OpenBLAS is unsafe when several scheduler threads call it at once.
BLAS_INC  := /usr/include/$(MULTIARCH)/openblas-pthread
BLAS_LIB  := /usr/lib/$(MULTIARCH)/openblas-pthread

# The deps script must run before any pkg-config query can succeed on a fresh machine.
DEPS_STAMP := $(BUILD)/.deps-ok
ifeq ($(filter clean deps,$(MAKECMDGOALS)),)
  $(shell mkdir -p $(BUILD) && (test -f $(DEPS_STAMP) || (bash scripts/deps.sh >&2 && touch $(DEPS_STAMP))))
endif

PKGS      := libevent_core libevent_pthreads numa libconfig libsystemd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) check 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)
BLAS_LIBS  := -L$(BLAS_LIB) -Wl,-rpath,$(BLAS_LIB) -lopenblas

OPT      ?= -O2
WARN     := -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers -Wno-format-truncation
# -ffp-contract=off: kernels and the clients' sequential oracles must round identically (no FMA contraction).
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE $(OPT) -g $(WARN) -pthread -fPIC -ffp-contract=off \
	-fno-omit-frame-pointer -I. -Ishm -Iclient -Ikernels -Idaemon -Iclient/workloads -I$(BLAS_INC) $(PKG_CFLAGS)
ifneq ($(SAN),)
  BASE_CFLAGS += -fsanitize=$(SAN) -fno-sanitize-recover=all
  SAN_LDFLAGS := -fsanitize=$(SAN)
endif
ifneq ($(findstring clang,$(shell $(CC) --version 2>/dev/null | head -1)),)
  BASE_CFLAGS += -Wno-unknown-warning-option
endif
ALL_CFLAGS := $(BASE_CFLAGS) $(CFLAGS)
ALL_LDFLAGS := -pthread $(SAN_LDFLAGS) $(LDFLAGS)

ifeq ($(V),0)
  Q := @
  say = @printf '  %-6s %s\n' $(1) $(2);
else
  Q :=
  say =
endif

SHM_SRCS     := $(wildcard shm/*.c)
KERNEL_SRCS  := $(wildcard kernels/*.c)
PLUGIN_SRCS  := $(wildcard kernels/plugins/*.c)
TPLUGIN_SRCS := $(wildcard tests/plugins/*.c)
DCORE_SRCS   := $(filter-out daemon/main.c,$(wildcard daemon/*.c))
CLIENT_SRCS  := $(filter-out client/cli.c,$(wildcard client/*.c))
WORKLOAD_SRCS := $(wildcard client/workloads/*.c)
UNIT_SRCS    := $(wildcard tests/unit/test_*.c)
ITEST_SRCS   := $(wildcard tests/integration/*.c)
INPROC_SRCS  := $(wildcard tests/inproc/*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

SHM_OBJS    := $(call obj,$(SHM_SRCS))
KERNEL_OBJS := $(call obj,$(KERNEL_SRCS))
DCORE_OBJS  := $(call obj,$(DCORE_SRCS))
CLIENT_OBJS := $(call obj,$(CLIENT_SRCS))
WORKLOAD_OBJS := $(call obj,$(filter-out client/workloads/main_%.c,$(WORKLOAD_SRCS)))
WORKLOAD_MAINS := $(wildcard client/workloads/main_*.c)

CORE_LIB   := $(BUILD)/libringschedd_core.a
CLIENT_A   := $(BUILD)/libringsched.a
# The shared library's real file carries the full version; libringsched.so.0 (the soname) and libringsched.so
# (for -lringsched) are symlinks to it.
CLIENT_VERSION := 0.1.0
CLIENT_SO  := $(BUILD)/libringsched.so
CLIENT_SO_REAL := $(BUILD)/libringsched.so.$(CLIENT_VERSION)
CLIENT_MAP := client/libringsched.map
WORKLOAD_A := $(BUILD)/libworkloads.a
DAEMON     := $(BUILD)/ringschedd
CLI        := $(BUILD)/ringsched
PC         := $(BUILD)/ringsched.pc
PLUGINS    := $(patsubst kernels/plugins/%.c,$(BUILD)/plugins/%.so,$(PLUGIN_SRCS)) \
	$(patsubst tests/plugins/%.c,$(BUILD)/tests/plugins/%.so,$(TPLUGIN_SRCS))
UNIT_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))
ITEST_BINS := $(patsubst tests/integration/%.c,$(BUILD)/tests/integration/%,$(ITEST_SRCS))
INPROC_BINS := $(patsubst tests/inproc/%.c,$(BUILD)/tests/inproc/%,$(INPROC_SRCS))
WORKLOAD_BINS := $(patsubst client/workloads/main_%.c,$(BUILD)/workloads/%,$(WORKLOAD_MAINS))

DAEMON_LIBS := $(PKG_LIBS) $(BLAS_LIBS) -ldl -lm
CLIENT_LIBS := -lm

# keep every object: they are intermediates of the programs, and rebuilding them on each run wastes time
.SECONDARY:

.PHONY: all deps demo test unit-test integration-test inproc-test asan tsan install clean format
all: $(DAEMON) $(CLI) $(CLIENT_A) $(CLIENT_SO) $(PC) $(PLUGINS) $(UNIT_BINS) $(ITEST_BINS) $(INPROC_BINS) \
	$(WORKLOAD_BINS)

deps:
	bash scripts/deps.sh
	@mkdir -p $(BUILD) && touch $(DEPS_STAMP)

$(BUILD)/obj/%.o: %.c
	$(call say,CC,$<)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(CORE_LIB): $(DCORE_OBJS) $(KERNEL_OBJS) $(SHM_OBJS)
	$(call say,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(CLIENT_A): $(CLIENT_OBJS) $(SHM_OBJS)
	$(call say,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

# The library's objects hide everything ringsched.h does not declare (its #pragma marks the API default), and the
# version script keeps the dynamic symbol table to that API (tests/integration/test_exports.sh checks it). The
# static archive holds the same objects: tests and the CLI link it and still reach the internals.
$(CLIENT_OBJS) $(SHM_OBJS): ALL_CFLAGS += -fvisibility=hidden

$(CLIENT_SO_REAL): $(CLIENT_OBJS) $(SHM_OBJS) $(CLIENT_MAP)
	$(call say,LD,$@)
	$(Q)$(CC) -shared -Wl,-soname,libringsched.so.0 -Wl,--version-script=$(CLIENT_MAP) -o $@ \
		$(CLIENT_OBJS) $(SHM_OBJS) $(ALL_LDFLAGS) $(CLIENT_LIBS)

$(CLIENT_SO): $(CLIENT_SO_REAL)
	$(Q)ln -sf libringsched.so.$(CLIENT_VERSION) $(BUILD)/libringsched.so.0
	$(Q)ln -sf libringsched.so.0 $@

$(WORKLOAD_A): $(WORKLOAD_OBJS)
	$(call say,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(DAEMON): $(BUILD)/obj/daemon/main.o $(CORE_LIB)
	$(call say,LD,$@)
	$(Q)$(CC) -o $@ $^ $(ALL_LDFLAGS) $(DAEMON_LIBS)

$(CLI): $(BUILD)/obj/client/cli.o $(call obj,$(wildcard client/cli/*.c)) $(WORKLOAD_A) $(CLIENT_A)
	$(call say,LD,$@)
	$(Q)$(CC) -o $@ $^ $(ALL_LDFLAGS) $(CLIENT_LIBS)

$(BUILD)/workloads/%: $(BUILD)/obj/client/workloads/main_%.o $(WORKLOAD_A) $(CLIENT_A)
	$(call say,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) -o $@ $^ $(ALL_LDFLAGS) $(CLIENT_LIBS)

$(BUILD)/plugins/%.so: kernels/plugins/%.c kernels/rs_kernel.h
	$(call say,SO,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -shared -o $@ $< $(ALL_LDFLAGS)

$(PC): client/ringsched.pc.in
	$(Q)mkdir -p $(BUILD)
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(CLIENT_VERSION)|g' $< > $@

$(BUILD)/tests/plugins/%.so: tests/plugins/%.c kernels/rs_kernel.h
	$(call say,SO,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -shared -o $@ $< $(ALL_LDFLAGS)

# Unit tests link everything (daemon core, kernels, client library) so any module can be tested.
$(BUILD)/tests/unit/%: $(BUILD)/obj/tests/unit/%.o $(CORE_LIB) $(WORKLOAD_A) $(CLIENT_A)
	$(call say,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) -o $@ $^ $(ALL_LDFLAGS) $(DAEMON_LIBS) $(CHECK_LIBS)

$(BUILD)/tests/integration/%: $(BUILD)/obj/tests/integration/%.o $(WORKLOAD_A) $(CLIENT_A)
	$(call say,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) -o $@ $^ $(ALL_LDFLAGS) $(CLIENT_LIBS)

$(BUILD)/tests/inproc/%: $(BUILD)/obj/tests/inproc/%.o $(CORE_LIB) $(WORKLOAD_A) $(CLIENT_A)
	$(call say,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) -o $@ $^ $(ALL_LDFLAGS) $(DAEMON_LIBS)

# ---- running ----

demo: all
	@bash tests/demo.sh $(BUILD)

unit-test: all
	@bash tests/run_unit.sh $(BUILD)

integration-test: all
	@bash tests/run_integration.sh $(BUILD)

inproc-test: all
	@bash tests/run_inproc.sh $(BUILD)

test: all
	@bash tests/run_all.sh $(BUILD)
	@$(MAKE) --no-print-directory fuzz-smoke

asan:
	$(MAKE) BUILD=build-asan CC=clang SAN=address,undefined OPT=-O1 all
	RS_SANITIZER=asan bash tests/run_sanitized.sh build-asan

tsan:
	$(MAKE) BUILD=build-tsan CC=clang SAN=thread OPT=-O1 all
	RS_SANITIZER=tsan bash tests/run_sanitized.sh build-tsan

# The soak (tests/integration/test_soak.sh) for longer than make test's 30 s; its last line is the verdict.
SOAK_SECONDS ?= 300
.PHONY: soak
soak: all
	@SOAK_SECONDS=$(SOAK_SECONDS) bash tests/integration/test_soak.sh $(BUILD)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
		$(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/ringsched/plugins $(DESTDIR)/etc/ringsched \
		$(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 0755 $(DAEMON) $(DESTDIR)$(PREFIX)/sbin/ringschedd
	install -m 0755 $(CLI) $(DESTDIR)$(PREFIX)/bin/ringsched
	install -m 0644 $(CLIENT_A) $(DESTDIR)$(PREFIX)/lib/libringsched.a
	install -m 0755 $(CLIENT_SO_REAL) $(DESTDIR)$(PREFIX)/lib/libringsched.so.$(CLIENT_VERSION)
	ln -sf libringsched.so.$(CLIENT_VERSION) $(DESTDIR)$(PREFIX)/lib/libringsched.so.0
	ln -sf libringsched.so.0 $(DESTDIR)$(PREFIX)/lib/libringsched.so
	install -m 0644 client/ringsched.h $(DESTDIR)$(PREFIX)/include/ringsched.h
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(CLIENT_VERSION)|g' client/ringsched.pc.in > \
		$(DESTDIR)$(PREFIX)/lib/pkgconfig/ringsched.pc
	install -m 0644 kernels/rs_kernel.h $(DESTDIR)$(PREFIX)/include/rs_kernel.h
	install -m 0644 shm/rs_abi.h $(DESTDIR)$(PREFIX)/include/rs_abi.h
	test -e $(DESTDIR)/etc/ringsched/ringschedd.conf || \
		install -m 0644 conf/ringschedd.conf $(DESTDIR)/etc/ringsched/ringschedd.conf
	sed -e 's|@PREFIX@|$(PREFIX)|g' systemd/ringschedd.service > \
		$(DESTDIR)$(PREFIX)/lib/systemd/system/ringschedd.service

clean:
	rm -rf build build-asan build-tsan

format:
	clang-format -i $(SHM_SRCS) $(KERNEL_SRCS) $(DCORE_SRCS) daemon/main.c $(CLIENT_SRCS) client/cli.c

# Benchmarks (`make bench`, `make bench-quick`) and their peers live in their own make fragments.
include $(wildcard bench/*.mk bench/peers/*.mk)
# The libFuzzer targets (`make test-fuzz`, the smoke run of `make test`).
include tests/fuzz/fuzz.mk

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
