# Makefile — build a ringschedd kernel plugin outside the ringsched source tree.
#
# `make install` of ringsched puts this file, as Makefile, beside example.c (a commented plugin with one kernel)
# in share/doc/ringsched/examples/plugin/. Copy the directory, rename and edit example.c, then:
#
#     make                          # NAME.so from NAME.c, with the flags of `pkg-config --cflags ringsched`
#     sudo make install             # NAME.so into the daemon's plugin directory, root-owned, mode 0644
#
# and list the installed path in kernels.plugins of /etc/ringsched/ringschedd.conf, then restart ringschedd
# (plugins load at start; `ringschedd --check-config` loads them too). ringsched-kernel(7) describes the
# kernel ABI, what the daemon checks before a kernel runs, and the work bound each kernel must state.
#
# Variables: PLUGIN (the source's name without .c; default example), CC, CFLAGS, LDFLAGS, PKG_CONFIG,
# DESTDIR (a staging root for `make install`), plugindir (default: the one ringsched.pc names).

PLUGIN     ?= example
CC         ?= cc
CFLAGS     ?= -O2 -g
PKG_CONFIG ?= pkg-config

plugindir  ?= $(shell $(PKG_CONFIG) --variable=plugindir ringsched)

# -fPIC -shared: a plugin is a shared object the daemon dlopen()s. -ffp-contract=off: no FMA contraction, so a
# kernel rounds like a client's sequential reference of it. Kernels see only the headers: no library to link.
PLUGIN_CFLAGS = -std=c11 -Wall -Wextra -fPIC -ffp-contract=off $(shell $(PKG_CONFIG) --cflags ringsched)
NO_RINGSCHED  = pkg-config finds no ringsched: install it (make install in its source tree), or point PKG_CONFIG_PATH at the directory holding ringsched.pc

.PHONY: all install clean
all: $(PLUGIN).so

$(PLUGIN).so: $(PLUGIN).c
	@$(PKG_CONFIG) --exists ringsched || { echo "$(NO_RINGSCHED)" >&2; exit 1; }
	$(CC) $(PLUGIN_CFLAGS) $(CFLAGS) -shared -o $@ $< $(LDFLAGS)

install: $(PLUGIN).so
	@test -n "$(plugindir)" || { echo "$(NO_RINGSCHED)" >&2; exit 1; }
	install -d $(DESTDIR)$(plugindir)
	install -m 0644 $(PLUGIN).so $(DESTDIR)$(plugindir)/$(PLUGIN).so

clean:
	rm -f $(PLUGIN).so
