# tests/fuzz/fuzz.mk — the libFuzzer targets (included by the top-level Makefile; see tests/fuzz/README.md).
#
#   make fuzz          build build-fuzz/fuzz_<target> (clang, -fsanitize=fuzzer,address,undefined)
#   make test-fuzz     run every target FUZZ_SECONDS (default 60) from its corpus; non-zero on a crash
#   make fuzz-smoke    the same for FUZZ_SMOKE_SECONDS (default 5) each; skipped, with the reason, when clang
#                      cannot build a libFuzzer program here. `make test` runs it.
#   make fuzz-corpus   regenerate the binary seeds in tests/fuzz/corpus/ (tests/fuzz/gen_corpus.c)
#
# The daemon core, kernels and shm objects are compiled again for the fuzz build into build-fuzz/obj with
# coverage instrumentation (-fsanitize=fuzzer-no-link) and ASan/UBSan; the ordinary build is untouched.

FUZZ_BUILD         ?= build-fuzz
FUZZ_CC            ?= clang
FUZZ_SECONDS       ?= 60
FUZZ_SMOKE_SECONDS ?= 5
FUZZ_TARGETS       := validate wiring control config

FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -O1 -g $(WARN) -Wno-unknown-warning-option -pthread -ffp-contract=off \
	-fno-omit-frame-pointer $(filter -I%,$(BASE_CFLAGS)) $(FUZZ_SAN) -fsanitize=fuzzer-no-link

fuzz_obj = $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(1))
FUZZ_CORE_OBJS := $(call fuzz_obj,$(DCORE_SRCS) $(KERNEL_SRCS) $(SHM_SRCS))
FUZZ_CORE_LIB  := $(FUZZ_BUILD)/libringschedd_core.a
FUZZ_BINS      := $(patsubst %,$(FUZZ_BUILD)/fuzz_%,$(FUZZ_TARGETS))
GEN_CORPUS     := $(BUILD)/tests/fuzz/gen_corpus

.PHONY: fuzz test-fuzz fuzz-smoke fuzz-corpus fuzz-clean

fuzz: $(FUZZ_BINS)

$(FUZZ_BUILD)/obj/%.o: %.c
	$(call say,FUZZCC,$<)
	@mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_CORE_LIB): $(FUZZ_CORE_OBJS)
	$(call say,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_%.o $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_common.o $(FUZZ_CORE_LIB)
	$(call say,LD,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ -pthread $(DAEMON_LIBS)

test-fuzz:
	@bash tests/fuzz/run_fuzz.sh --probe $(FUZZ_CC)
	@$(MAKE) --no-print-directory fuzz
	@bash tests/fuzz/run_fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# 77 from the probe: no libFuzzer here (scripts/deps.sh installs it); the smoke is skipped, not failed.
fuzz-smoke:
	@rc=0; bash tests/fuzz/run_fuzz.sh --probe $(FUZZ_CC) || rc=$$?; \
	if [ $$rc -eq 77 ]; then exit 0; elif [ $$rc -ne 0 ]; then exit $$rc; fi; \
	$(MAKE) --no-print-directory fuzz && \
	bash tests/fuzz/run_fuzz.sh $(FUZZ_BUILD) $(FUZZ_SMOKE_SECONDS) $(FUZZ_TARGETS)

# The seed generator is an ordinary program of the normal build: it reads the real kernel registry.
$(GEN_CORPUS): $(BUILD)/obj/tests/fuzz/gen_corpus.o $(BUILD)/obj/tests/fuzz/fuzz_common.o $(CORE_LIB)
	$(call say,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) -o $@ $^ $(ALL_LDFLAGS) $(DAEMON_LIBS)

fuzz-corpus: $(GEN_CORPUS)
	$(GEN_CORPUS) tests/fuzz/corpus

fuzz-clean:
	rm -rf $(FUZZ_BUILD)
clean: fuzz-clean

-include $(shell find $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)
