# ringsched — one non-recursive Makefile for everything.
#
#   make            build daemon, client library, CLI, plugins, tests (outputs in build/)
#   make demo       run the daemon with its built-in default config and the verifying example workloads
#   make test       unit + integration tests (plus the in-process protocol test), then a 5 s fuzz smoke per target
#   make test-fuzz  every libFuzzer target for 60 s (clang; build-fuzz/, tests/fuzz/README.md)
#   make asan/tsan  sanitizer builds (build-asan/, build-tsan/) running the integration tests
#   make soak       the soak test alone for SOAK_SECONDS (default 300; `make test` runs it for 30 s)
#   make install    Debian's layout under PREFIX (default /usr/local) and DESTDIR; `make uninstall` undoes it
#
# Sources are discovered by directory, so a new module is a new file, not a Makefile edit:
#   shm/*.c                -> in both libraries
#   kernels/*.c            -> daemon core (kernels/plugins/*.c -> build/plugins/*.so)
#   daemon/*.c - main.c    -> build/libringschedd_core.a (the daemon as a library, DESIGN §8)
#   client/*.c             -> build/libringsched.{a,so}
#   client/cli/*.c         -> build/ringsched (the CLI; a new command is a new file there and a table row)
#   client/workloads/*.c   -> linked into the CLI and the workload programs
#   tests/unit/test_*.c    -> one check executable each
#   tests/integration/*.c  -> client programs used by tests/integration/*.sh
#   tests/inproc/*.c       -> daemon core + client library in one process (TSan sees both sides)

BUILD   ?= build
PREFIX  ?= /usr/local
DESTDIR ?=
# Install directories, Debian's names and places (each can be set on the command line, e.g.
# libdir=/usr/lib/x86_64-linux-gnu for a multiarch package). The configuration is always under /etc, where
# ringschedd looks for it; units and sysusers.d entries under $(PREFIX)/lib, which systemd searches for both
# /usr and /usr/local.
bindir       = $(PREFIX)/bin
sbindir      = $(PREFIX)/sbin
libdir       = $(PREFIX)/lib
includedir   = $(PREFIX)/include
datadir      = $(PREFIX)/share
mandir       = $(datadir)/man
docdir       = $(datadir)/doc/ringsched
sysconfdir   = /etc
pkgconfigdir = $(libdir)/pkgconfig
plugindir    = $(libdir)/ringsched/plugins
unitdir      = $(PREFIX)/lib/systemd/system
sysusersdir  = $(PREFIX)/lib/sysusers.d
SAN     ?=
CC      ?= cc
V       ?= 0

MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
# OpenBLAS's pthread build, pinned to one thread by ringschedd (OPENBLAS_NUM_THREADS=1 before it loads).
# Not the serial build: Debian's serial OpenBLAS is unsafe when several scheduler threads call it at once.
BLAS_INC  := /usr/include/$(MULTIARCH)/openblas-pthread
BLAS_LIB  := /usr/lib/$(MULTIARCH)/openblas-pthread

# The deps script must run before any pkg-config query can succeed on a fresh machine. The generated files
# that name install directories (pkg-config file, man pages) depend on DIRS_STAMP, which changes only when the
# directories do: `make install PREFIX=/usr` rebuilds them for /usr, a later `make` for the default again.
DEPS_STAMP := $(BUILD)/.deps-ok
DIRS_STAMP := $(BUILD)/.install-dirs
DIRS_LINE   = $(PREFIX) $(libdir) $(includedir) $(plugindir) $(docdir) $(sbindir) $(bindir) $(unitdir) $(sysusersdir)
ifeq ($(filter clean deps,$(MAKECMDGOALS)),)
  $(shell mkdir -p $(BUILD) && (test -f $(DEPS_STAMP) || (bash scripts/deps.sh >&2 && touch $(DEPS_STAMP))))
  $(shell echo '$(DIRS_LINE)' | cmp -s - $(DIRS_STAMP) || echo '$(DIRS_LINE)' > $(DIRS_STAMP))
endif
# sed over a template FILE, LIBDIR, INCLUDEDIR: @PREFIX@, @VERSION@ and the directories (@LIBDIR@ ...). The
# pkg-config file names libdir and includedir relative to ${prefix} when they lie under it (pc_subst), so
# --define-variable=prefix=... moves both; the man pages and the unit name them absolute (abs_subst).
dirs_subst = sed -e 's|@PREFIX@/sbin|$(sbindir)|g' -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(CLIENT_VERSION)|g' -e 's|@LIBDIR@|$(2)|g' \
	-e 's|@INCLUDEDIR@|$(3)|g' -e 's|@PLUGINDIR@|$(plugindir)|g' -e 's|@DOCDIR@|$(docdir)|g' \
	-e 's|@SBINDIR@|$(sbindir)|g' -e 's|@BINDIR@|$(bindir)|g' -e 's|@UNITDIR@|$(unitdir)|g' \
	-e 's|@SYSUSERSDIR@|$(sysusersdir)|g' $(1)
pc_rel = $(if $(filter $(PREFIX)/%,$(1)),$${prefix}/$(patsubst $(PREFIX)/%,%,$(1)),$(1))
pc_subst = $(call dirs_subst,$(1),$(call pc_rel,$(libdir)),$(call pc_rel,$(includedir)))
abs_subst = $(call dirs_subst,$(1),$(libdir),$(includedir))

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
CLIENT_SRCS  := $(wildcard client/*.c)
CLI_SRCS     := $(wildcard client/cli/*.c)
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
MAN_PAGES  := $(patsubst man/%.scd,$(BUILD)/man/%,$(wildcard man/*.scd))
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

.PHONY: all deps demo test unit-test integration-test inproc-test asan tsan install uninstall clean format
all: $(DAEMON) $(CLI) $(CLIENT_A) $(CLIENT_SO) $(PC) $(PLUGINS) $(UNIT_BINS) $(ITEST_BINS) $(INPROC_BINS) \
	$(WORKLOAD_BINS) $(MAN_PAGES)

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

# The workloads' --hosted (client/workloads/common.c) runs the daemon's built-in kernels in the client: their
# tables (kernels/tables.c) go into the archive, and whatever links it gets the OpenBLAS they call (as needed:
# a program that uses none of common.c loads no BLAS).
WORKLOAD_KERNEL_OBJS := $(call obj,kernels/tables.c kernels/builtin.c kernels/attention.c)
$(WORKLOAD_A): $(WORKLOAD_OBJS) $(WORKLOAD_KERNEL_OBJS)
	$(call say,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^
$(CLI) $(WORKLOAD_BINS) $(ITEST_BINS): private CLIENT_LIBS += -Wl,--as-needed $(BLAS_LIBS) -Wl,--no-as-needed

$(DAEMON): $(BUILD)/obj/daemon/main.o $(CORE_LIB)
	$(call say,LD,$@)
	$(Q)$(CC) -o $@ $^ $(ALL_LDFLAGS) $(DAEMON_LIBS)

$(CLI): $(call obj,$(CLI_SRCS)) $(WORKLOAD_A) $(CLIENT_A)
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

$(PC): client/ringsched.pc.in $(DIRS_STAMP)
	$(Q)mkdir -p $(BUILD)
	$(Q)$(call pc_subst,$<) > $@

# The man pages (scdoc sources in man/; scripts/deps.sh installs scdoc). The install directories are
# substituted, and SOURCE_DATE_EPOCH (the last commit's time) makes the date in the footer reproducible.
SCDOC    ?= scdoc
MAN_DATE := $(shell git log -1 --format=%ct 2>/dev/null)
$(BUILD)/man/%: man/%.scd $(DIRS_STAMP)
	$(call say,SCDOC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(call abs_subst,$<) | SOURCE_DATE_EPOCH=$(MAN_DATE) $(SCDOC) > $@.tmp && mv $@.tmp $@

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

# ---- install ----
# Debian's conventions: every path under $(DESTDIR) (a staging root for packaging; empty = this machine),
# programs stripped (their debug info is installed only with DEBUG_INFO=1, see below; the unstripped copies
# stay in $(BUILD)/), the shared
# library under its full version with the soname and development symlinks, and ldconfig run when installing
# onto this machine. The configuration is never overwritten. INSTALLED_FILES is every file and symlink
# `make install` writes, so `make uninstall` (same PREFIX and DESTDIR) removes exactly those, keeps a
# configuration that was edited, and removes only the directories that are ringsched's own. It creates no
# user: systemd-sysusers does, from the sysusers.d entry (README, "Running it as a service").
INSTALL  ?= install
STRIP    ?= strip
LDCONFIG ?= ldconfig
# the exported functions (client/libringsched.map): each gets a man3 link to libringsched(3)
API_FUNCS := $(shell sed -n 's/^[[:space:]]*\(rs_[a-z0-9_]*\);$$/\1/p' $(CLIENT_MAP))
HEADERS   := client/ringsched.h kernels/rs_kernel.h shm/rs_abi.h
SO_NAME   := libringsched.so.0
EXAMPLE_DIR := $(docdir)/examples/plugin
INSTALLED_MANS := $(foreach p,$(notdir $(MAN_PAGES)),$(mandir)/man$(subst .,,$(suffix $(p)))/$(p).gz) \
	$(foreach f,$(API_FUNCS),$(mandir)/man3/$(f).3.gz)
INSTALLED_FILES := $(sbindir)/ringschedd $(bindir)/ringsched \
	$(libdir)/libringsched.so.$(CLIENT_VERSION) $(libdir)/$(SO_NAME) $(libdir)/libringsched.so \
	$(libdir)/libringsched.a $(pkgconfigdir)/ringsched.pc $(addprefix $(includedir)/ringsched/,$(notdir $(HEADERS))) \
	$(plugindir)/example.so $(EXAMPLE_DIR)/example.c $(EXAMPLE_DIR)/Makefile \
	$(unitdir)/ringschedd.service $(sysusersdir)/ringsched.conf $(INSTALLED_MANS)
# ringsched's own directories, deepest first: uninstall removes them when they are empty
OWN_DIRS  := $(includedir)/ringsched $(plugindir) $(libdir)/ringsched $(EXAMPLE_DIR) $(docdir)/examples $(docdir) \
	$(sysconfdir)/ringsched
CONF_DEST := $(DESTDIR)$(sysconfdir)/ringsched/ringschedd.conf
D := $(DESTDIR)
# DEBUG_INFO=1: also install the debug info of every stripped file separately, where gdb looks for it by build
# id: $(debugdir)/.build-id/NN/REST.debug (the layout of Debian's -dbgsym packages). Uninstall finds those files
# from the build ids the installed (stripped) files still carry, so it removes them whatever the variable says.
DEBUG_INFO ?=
debugdir    = /usr/lib/debug
OBJCOPY    ?= objcopy
DEBUG_PAIRS := $(DAEMON)=$(sbindir)/ringschedd $(CLI)=$(bindir)/ringsched \
	$(CLIENT_SO_REAL)=$(libdir)/libringsched.so.$(CLIENT_VERSION) $(BUILD)/plugins/example.so=$(plugindir)/example.so
# shell: dbg= the debug file of the installed ELF $(1) (empty when it has no build id)
debug_file = id=$$(readelf -n $(1) 2>/dev/null | sed -n 's/.*Build ID: *//p'); \
	dbg=$${id:+$(D)$(debugdir)/.build-id/$${id%$${id\#??}}/$${id\#??}.debug}

install: all
	$(INSTALL) -d $(D)$(bindir) $(D)$(sbindir) $(D)$(libdir) $(D)$(pkgconfigdir) $(D)$(includedir)/ringsched \
		$(D)$(plugindir) $(D)$(EXAMPLE_DIR) $(D)$(unitdir) $(D)$(sysusersdir) $(D)$(sysconfdir)/ringsched \
		$(addprefix $(D)$(mandir)/man,1 3 5 7 8)
	$(INSTALL) -m 0755 -s --strip-program=$(STRIP) $(DAEMON) $(D)$(sbindir)/ringschedd
	$(INSTALL) -m 0755 -s --strip-program=$(STRIP) $(CLI) $(D)$(bindir)/ringsched
	$(INSTALL) -m 0644 $(CLIENT_SO_REAL) $(D)$(libdir)/libringsched.so.$(CLIENT_VERSION)
	$(STRIP) --strip-unneeded $(D)$(libdir)/libringsched.so.$(CLIENT_VERSION)
	ln -sf libringsched.so.$(CLIENT_VERSION) $(D)$(libdir)/$(SO_NAME)
	ln -sf $(SO_NAME) $(D)$(libdir)/libringsched.so
	$(INSTALL) -m 0644 $(CLIENT_A) $(D)$(libdir)/libringsched.a
	$(STRIP) --strip-debug $(D)$(libdir)/libringsched.a
	$(call pc_subst,client/ringsched.pc.in) > $(D)$(pkgconfigdir)/ringsched.pc
	$(INSTALL) -m 0644 $(HEADERS) $(D)$(includedir)/ringsched/
	$(INSTALL) -m 0644 $(BUILD)/plugins/example.so $(D)$(plugindir)/example.so
	$(STRIP) --strip-unneeded $(D)$(plugindir)/example.so
	$(INSTALL) -m 0644 kernels/plugins/example.c $(D)$(EXAMPLE_DIR)/example.c
	$(INSTALL) -m 0644 kernels/plugins/template.mk $(D)$(EXAMPLE_DIR)/Makefile
	@for p in $(MAN_PAGES); do n=$${p##*/}; f=$(D)$(mandir)/man$${n##*.}/$$n.gz; \
		echo "gzip -9n < $$p > $$f"; gzip -9n <$$p >$$f && chmod 0644 $$f || exit 1; done
	@for fn in $(API_FUNCS); do ln -sf libringsched.3.gz $(D)$(mandir)/man3/$$fn.3.gz || exit 1; done
	$(call abs_subst,systemd/ringschedd.service) > $(D)$(unitdir)/ringschedd.service
	$(INSTALL) -m 0644 systemd/ringsched.sysusers $(D)$(sysusersdir)/ringsched.conf
	@if [ -e $(CONF_DEST) ]; then echo "keeping the existing $(CONF_DEST)"; \
	else echo "install -m 0644 conf/ringschedd.conf $(CONF_DEST)"; \
		$(INSTALL) -m 0644 conf/ringschedd.conf $(CONF_DEST); fi
ifneq ($(DEBUG_INFO),)
	@for pair in $(DEBUG_PAIRS); do src=$${pair%%=*}; $(call debug_file,$(D)$${pair#*=}); \
		if [ -z "$$dbg" ]; then echo "$$src has no build id: no debug file installed"; continue; fi; \
		echo "$(OBJCOPY) --only-keep-debug $$src $$dbg"; $(INSTALL) -d $${dbg%/*} && \
		$(OBJCOPY) --only-keep-debug --compress-debug-sections $$src $$dbg && chmod 0644 $$dbg || exit 1; done
endif
	@$(call run_ldconfig)

uninstall:
	@for pair in $(DEBUG_PAIRS); do $(call debug_file,$(D)$${pair#*=}); \
		if [ -n "$$dbg" ] && [ -e "$$dbg" ]; then echo "rm -f $$dbg"; rm -f $$dbg; \
			rmdir --ignore-fail-on-non-empty $${dbg%/*}; fi; done
	rm -f $(addprefix $(D),$(INSTALLED_FILES))
	@if [ -e $(CONF_DEST) ] && ! cmp -s conf/ringschedd.conf $(CONF_DEST); then \
		echo "keeping $(CONF_DEST): it differs from the installed default (remove it by hand)"; \
	else echo "rm -f $(CONF_DEST)"; rm -f $(CONF_DEST); fi
	@for d in $(addprefix $(D),$(OWN_DIRS)); do [ ! -d $$d ] || rmdir --ignore-fail-on-non-empty $$d; done
	@$(call run_ldconfig)

# ldconfig refreshes the loader's cache (and the soname link) for an install onto this machine; a staged
# install (DESTDIR) leaves that to the package's trigger.
run_ldconfig = if [ -z "$(DESTDIR)" ]; then echo "$(LDCONFIG)"; $(LDCONFIG) || \
	echo "warning: $(LDCONFIG) failed; run it as root so programs find $(SO_NAME) in $(libdir)"; fi

clean:
	rm -rf build build-asan build-tsan

format:
	clang-format -i $(SHM_SRCS) $(KERNEL_SRCS) $(DCORE_SRCS) daemon/main.c $(CLIENT_SRCS) $(CLI_SRCS)

# Benchmarks (`make bench`, `make bench-quick`) and their peers live in their own make fragments.
include $(wildcard bench/*.mk bench/peers/*.mk)
# The libFuzzer targets (`make test-fuzz`, the smoke run of `make test`).
include tests/fuzz/fuzz.mk

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
