# libkreconcile — GNU Makefile (no autotools, no CMake; parallel-safe).
#
# Sources are discovered, so modules plug in without editing this file:
#   lib/*.c                 -> libkreconcile (.so + .a)
#   lib/testserver/*.c      -> libkreconcile-testserver.a (tests and kr-apiserver only)
#   examples/<prog>/*.c     -> build/bin/<prog>
#   test/test_*.c           -> build/test/test_* (Check suites), with test/support/*.c
#   test/fuzz/fuzz_*.c      -> libFuzzer targets (make fuzz) and corpus replays (make check)
#   bench/bench_*.c         -> build/bench/bench_* (make bench), with bench/support/*.c
# Module-specific rules (generated sources, extra data) live in mk/*.mk.
# A test that runs threads carries the marker KR_TEST_THREADED in its source:
# it also runs under ThreadSanitizer.

.DEFAULT_GOAL := all
.SECONDARY:
.DELETE_ON_ERROR:
SHELL := /bin/sh

BUILD      ?= build
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DESTDIR    ?=
# SAN=address,undefined or SAN=thread builds everything instrumented.
SAN        ?=
# make demo KEEP=1 leaves the platform running.
KEEP       ?= 0

VERSION := 0.1.0
SOMAJOR := 0

PKG_CONFIG ?= pkg-config
OBJCOPY    ?= objcopy
# libmicrohttpd: the manager's HTTP endpoint (and the test server's).
PKGS    := jansson libcurl libuv openssl yaml-0.1 libmicrohttpd sqlite3 libpq
TS_PKGS :=
PKG_CFLAGS  := $(shell $(PKG_CONFIG) --cflags $(PKGS) $(TS_PKGS) 2>/dev/null)
PKG_LIBS    := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
TS_LIBS     := $(if $(TS_PKGS),$(shell $(PKG_CONFIG) --libs $(TS_PKGS) 2>/dev/null))
CHECK_CFLAGS := $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell $(PKG_CONFIG) --libs check 2>/dev/null)

OPT      ?= -O2
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat=2 -Wno-format-nonliteral
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE $(OPT) -g $(WARN) -Iinclude -Ilib $(PKG_CFLAGS)
ifneq ($(SAN),)
SAN_FLAGS := -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif
CFLAGS   ?=
LDFLAGS  ?=
ALL_CFLAGS  := $(BASE_CFLAGS) $(SAN_FLAGS) $(CFLAGS)
ALL_LDFLAGS := $(SAN_FLAGS) $(LDFLAGS)
LIB_CFLAGS  := $(ALL_CFLAGS) -fPIC -fvisibility=hidden -DKR_BUILDING_LIBRARY
TEST_DEFS   := -DKR_TEST_BIN_DIR='"$(abspath $(BUILD))/bin"' -DKR_SOURCE_DIR='"$(CURDIR)"' \
               -DKR_TEST_BUILD_DIR='"$(abspath $(BUILD))"'

# Filled in by mk/*.mk fragments.
LIB_GEN_SRCS :=
TS_GEN_SRCS  :=
TS_PROGS     := kr-apiserver
-include $(sort $(wildcard mk/*.mk))

LIB_SRCS  := $(sort $(wildcard lib/*.c)) $(LIB_GEN_SRCS)
TS_SRCS   := $(sort $(wildcard lib/testserver/*.c)) $(TS_GEN_SRCS)
PROGS     := $(sort $(notdir $(patsubst %/,%,$(dir $(wildcard examples/*/*.c)))))
TESTS     := $(sort $(basename $(notdir $(wildcard test/test_*.c))))
TSAN_TESTS := $(sort $(basename $(notdir $(shell grep -l KR_TEST_THREADED test/test_*.c 2>/dev/null))))
SUPPORT_SRCS := $(sort $(wildcard test/support/*.c))
FUZZERS   := $(sort $(basename $(notdir $(wildcard test/fuzz/fuzz_*.c))))
BENCHES   := $(sort $(basename $(notdir $(wildcard bench/bench_*.c))))
BENCH_SUPPORT_SRCS := $(sort $(wildcard bench/support/*.c))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(patsubst $(BUILD)/%,%,$(1)))
LIB_OBJS     := $(call obj,$(LIB_SRCS))
TS_OBJS      := $(call obj,$(TS_SRCS))
SUPPORT_OBJS := $(call obj,$(SUPPORT_SRCS))
BENCH_SUPPORT_OBJS := $(call obj,$(BENCH_SUPPORT_SRCS))

SO_NAME  := libkreconcile.so.$(SOMAJOR)
SO_FILE  := $(BUILD)/lib/libkreconcile.so.$(VERSION)
A_FILE   := $(BUILD)/lib/libkreconcile.a
TS_A     := $(BUILD)/lib/libkreconcile-testserver.a
# In-tree tests reach the test server's internals (ts_handle...): they link
# the plain archive; programs, benchmarks and installed users link TS_A.
TS_INT_A := $(BUILD)/lib/libkreconcile-testserver-internal.a
# The installed static library: the same objects as A_FILE, with every
# non-exported symbol made local (no smp_... or internal kr_... in users' namespace).
A_DIST   := $(BUILD)/lib/dist/libkreconcile.a
PROG_BINS := $(addprefix $(BUILD)/bin/,$(PROGS))
TEST_BINS := $(addprefix $(BUILD)/test/,$(TESTS))
REPLAY_BINS := $(addprefix $(BUILD)/test/,$(FUZZERS))
BENCH_BINS := $(addprefix $(BUILD)/bench/,$(BENCHES))

.PHONY: all lib programs tests check check-plain test-run tsan valgrind install uninstall \
        install-test demo demo-tools bench fuzz fuzz-merge lint lint-quick clean deps FORCE

all: lib programs

ifeq ($(SAN),)
lib: $(SO_FILE) $(A_FILE) $(TS_A) $(TS_INT_A)
else
lib: $(A_FILE) $(TS_A) $(TS_INT_A)
endif
programs: $(PROG_BINS)
tests: $(TEST_BINS) $(REPLAY_BINS) $(PROG_BINS)

# ---- compilation -----------------------------------------------------------

# Library objects (also generated sources under $(BUILD)/).
$(BUILD)/obj/lib/%.o: lib/%.c
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/examples/%.o: examples/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/test/%.o: test/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itest/support $(CHECK_CFLAGS) $(TEST_DEFS) -MMD -MP -c $< -o $@

$(BUILD)/obj/bench/%.o: bench/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itest/support -Ibench/support $(TEST_DEFS) -MMD -MP -c $< -o $@

# ---- libraries ---------------------------------------------------------------

$(SO_FILE): $(LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) -shared -Wl,-soname,$(SO_NAME) -Wl,--no-undefined $(ALL_LDFLAGS) -o $@ $(LIB_OBJS) \
	    $(PKG_LIBS) -pthread
	ln -sf libkreconcile.so.$(VERSION) $(BUILD)/lib/$(SO_NAME)
	ln -sf $(SO_NAME) $(BUILD)/lib/libkreconcile.so

$(A_FILE): $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $(LIB_OBJS)

# The base layer's self-contained parts the test server uses (libc,
# pthread and OpenSSL only), copied privately as alloc.o is.
TS_BASE_OBJS := $(addprefix $(BUILD)/obj/lib/,lock.o util_base64.o util_clock.o util_rv.o)

# One relocatable object: the test server plus a private copy of the string
# and buffer helpers (alloc.o calls only public functions), every hidden
# symbol made local, so that it links against the shared library's exports
# alone and leaves nothing but kr_testserver_* in the user's namespace.
$(TS_A): $(TS_OBJS) $(BUILD)/obj/lib/alloc.o $(TS_BASE_OBJS)
	@mkdir -p $(@D)
	rm -f $@ $@.o
	$(CC) -r -nostdlib -o $@.o $(TS_OBJS) $(BUILD)/obj/lib/alloc.o $(TS_BASE_OBJS)
	$(OBJCOPY) --localize-hidden $@.o
	$(AR) rcs $@ $@.o
	rm -f $@.o

$(TS_INT_A): $(TS_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $(TS_OBJS)

$(A_DIST): $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@ $@.o
	$(CC) -r -nostdlib -o $@.o $(LIB_OBJS)
	$(OBJCOPY) --localize-hidden $@.o
	$(AR) rcs $@ $@.o
	rm -f $@.o

# ---- programs: static against libkreconcile.a; only TS_PROGS get the test server

define PROG_template
$(BUILD)/bin/$(1): $(call obj,$(sort $(wildcard examples/$(1)/*.c))) $(A_FILE) \
                   $(if $(filter $(1),$(TS_PROGS)),$(TS_A))
	@mkdir -p $$(@D)
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $(call obj,$(sort $(wildcard examples/$(1)/*.c))) \
	    $(if $(filter $(1),$(TS_PROGS)),$(TS_A) $(TS_LIBS)) $(A_FILE) $(PKG_LIBS) -pthread -lm
endef
$(foreach p,$(PROGS),$(eval $(call PROG_template,$(p))))

# ---- tests -------------------------------------------------------------------

TEST_LINK = $(SUPPORT_OBJS) $(TS_INT_A) $(A_FILE)
TEST_LIBS = $(TS_LIBS) $(PKG_LIBS) $(CHECK_LIBS) -pthread -lm

$(BUILD)/test/test_%: $(BUILD)/obj/test/test_%.o $(SUPPORT_OBJS) $(TS_INT_A) $(A_FILE)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(TEST_EXTRA) $(TEST_LINK) $(TEST_LIBS)

# A suite that tests a program's logic carries the marker
# KR_TEST_PROGRAM=<program> in its source: it links examples/<program>/*.c
# except main.c (a program's logic lives beside its main, testable alone).
prog_logic = $(call obj,$(filter-out examples/$(1)/main.c,$(sort $(wildcard examples/$(1)/*.c))))
define TEST_PROG_template
$(BUILD)/test/$(1): $(call prog_logic,$(2))
$(BUILD)/test/$(1): TEST_EXTRA := $(call prog_logic,$(2))
endef
$(foreach t,$(TESTS),$(foreach p,$(shell sed -n 's/.*KR_TEST_PROGRAM=\([a-z0-9-]*\).*/\1/p' \
    test/$(t).c),$(eval $(call TEST_PROG_template,$(t),$(p)))))

# A fuzz target's corpus replay: the target plus a main() that feeds it files.
$(BUILD)/test/fuzz_%: $(BUILD)/obj/test/fuzz/fuzz_%.o $(BUILD)/obj/test/fuzz/replay_main.o \
                      $(SUPPORT_OBJS) $(TS_INT_A) $(A_FILE)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(BUILD)/obj/test/fuzz/replay_main.o $(TEST_LINK) $(TEST_LIBS)

# RESULTS names the file that accumulates pass/fail counts for the summary.
RESULTS ?= $(abspath $(BUILD))/results.txt
TEST_FILTER ?=
RUN_LIST = $(or $(TEST_FILTER),$(TESTS) $(FUZZERS))
# make check compiles on every core, then runs TEST_JOBS test binaries at
# a time: one more than the cores, since a suite spends much of its time
# waiting (leases, backoffs, servers starting) rather than computing.
NPROC := $(shell nproc 2>/dev/null || echo 2)
BUILD_JOBS ?= $(NPROC)
TEST_JOBS ?= $(shell expr $(NPROC) + 1)
test-run: $(addprefix $(BUILD)/test/,$(filter-out none,$(RUN_LIST))) $(PROG_BINS)
	@KR_TEST_JOBS=$(TEST_JOBS) sh test/run-tests.sh "$(BUILD)" "$(RESULTS)" $(RUN_LIST)

check-plain:
	@$(MAKE) --no-print-directory test-run

# The threaded suites (those of TEST_FILTER when given) under ThreadSanitizer.
TSAN_RUN = $(if $(TEST_FILTER),$(or $(filter $(TEST_FILTER),$(TSAN_TESTS)),none),$(or $(TSAN_TESTS),none))
tsan:
	@TSAN_OPTIONS="suppressions=$(CURDIR)/test/tsan.supp $${TSAN_OPTIONS:-}" \
	CK_TIMEOUT_MULTIPLIER=$${CK_TIMEOUT_MULTIPLIER:-3} \
	$(MAKE) --no-print-directory BUILD=build/tsan SAN=thread \
	    TEST_FILTER="$(TSAN_RUN)" \
	    RESULTS=$(abspath build)/check-tsan.txt test-run

valgrind: tests
	@KR_TEST_WRAPPER="valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect \
	  --errors-for-leak-kinds=definite,indirect --error-exitcode=1 --num-callers=30 \
	  --suppressions=$(CURDIR)/test/valgrind.supp" CK_FORK=no CK_TIMEOUT_MULTIPLIER=10 \
	  sh test/run-tests.sh "$(BUILD)" "$(abspath $(BUILD))/valgrind-results.txt" \
	  $(or $(TEST_FILTER),$(TESTS))

# The full suite: plain, AddressSanitizer + UBSan, ThreadSanitizer, install,
# and the README's code snippets compiled against the headers.
check: deps
	@rm -f build/check-*.txt build/check-*.why; status=0; \
	echo "== plain build =="; \
	$(MAKE) --no-print-directory -j$(BUILD_JOBS) RESULTS=$(abspath build)/check-1-plain.txt test-run || status=1; \
	echo "== AddressSanitizer + UndefinedBehaviorSanitizer =="; \
	CK_TIMEOUT_MULTIPLIER=2 $(MAKE) --no-print-directory -j$(BUILD_JOBS) BUILD=build/asan \
	    SAN=address,undefined RESULTS=$(abspath build)/check-2-asan.txt test-run || status=1; \
	echo "== ThreadSanitizer =="; \
	$(MAKE) --no-print-directory -j$(BUILD_JOBS) tsan || status=1; \
	echo "== install test =="; \
	sh test/install-test.sh "$(abspath build)/check-4-install.txt" || status=1; \
	echo "== README API tour compiles =="; \
	sh test/readme-test.sh "$(abspath build)/check-5-readme.txt" || status=1; \
	echo "== benchmarks build =="; \
	if $(MAKE) --no-print-directory -j$(BUILD_JOBS) $(BENCH_BINS); then \
	    echo "bench-build 1 0" >build/check-6-bench.txt; \
	else echo "bench-build 0 1" >build/check-6-bench.txt; status=1; fi; \
	echo "== the tools' demos (make demo-tools) =="; \
	if sh scripts/demo.sh "$(abspath build)/bin"; then echo "demo-tools 1 0" >build/check-7-demos.txt; \
	else echo "demo-tools 0 1" >build/check-7-demos.txt; status=1; fi; \
	echo "== lint (cppcheck, clang-format) =="; \
	if $(MAKE) --no-print-directory lint-quick; then echo "lint 1 0" >build/check-8-lint.txt; \
	else echo "lint 0 1" >build/check-8-lint.txt; status=1; fi; \
	sh test/summary.sh build/check-*.txt || status=1; \
	exit $$status

install-test:
	@sh test/install-test.sh "$(abspath $(BUILD))/install-results.txt"

deps:
	@sh scripts/install-deps.sh

# ---- install -------------------------------------------------------------------

PUBLIC_HEADERS := $(filter-out include/kreconcile/testserver.h,$(wildcard include/kreconcile/*.h))

# The .pc files name the directories of this install: regenerated whenever
# PREFIX, LIBDIR, INCLUDEDIR or VERSION differ from the last install's, with
# the directories under the prefix written as ${prefix}/... (pkg-config's
# --define-variable=prefix then relocates them).
PC_DIRS := $(PREFIX) $(LIBDIR) $(INCLUDEDIR) $(VERSION)
PC_SED = sed -e 's|@PREFIX@|$(PREFIX)|g' \
	    -e 's|@LIBDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))|g' \
	    -e 's|@INCLUDEDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|g' \
	    -e 's|@VERSION@|$(VERSION)|g'

$(BUILD)/pc-dirs: FORCE
	@mkdir -p $(@D)
	@echo '$(PC_DIRS)' | cmp -s - $@ || echo '$(PC_DIRS)' > $@

$(BUILD)/libkreconcile.pc: pkgconfig/libkreconcile.pc.in $(BUILD)/pc-dirs Makefile
	$(PC_SED) $< > $@

$(BUILD)/libkreconcile-testserver.pc: pkgconfig/libkreconcile-testserver.pc.in $(BUILD)/pc-dirs Makefile
	$(PC_SED) $< > $@

FORCE:

install: all $(A_DIST) $(BUILD)/libkreconcile.pc $(BUILD)/libkreconcile-testserver.pc
	install -d $(DESTDIR)$(INCLUDEDIR)/kreconcile $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(BINDIR)
	install -m 644 include/kreconcile.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 $(PUBLIC_HEADERS) $(wildcard include/kreconcile/testserver.h) \
	    $(DESTDIR)$(INCLUDEDIR)/kreconcile/
	install -m 755 $(SO_FILE) $(DESTDIR)$(LIBDIR)/
	ln -sf libkreconcile.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SO_NAME)
	ln -sf $(SO_NAME) $(DESTDIR)$(LIBDIR)/libkreconcile.so
	install -m 644 $(A_DIST) $(TS_A) $(DESTDIR)$(LIBDIR)/
	install -m 644 $(BUILD)/libkreconcile.pc $(BUILD)/libkreconcile-testserver.pc \
	    $(DESTDIR)$(LIBDIR)/pkgconfig/
	$(if $(PROG_BINS),install -m 755 $(PROG_BINS) $(DESTDIR)$(BINDIR)/)

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/kreconcile.h
	rm -rf $(DESTDIR)$(INCLUDEDIR)/kreconcile
	rm -f $(DESTDIR)$(LIBDIR)/libkreconcile.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SO_NAME) \
	    $(DESTDIR)$(LIBDIR)/libkreconcile.so $(DESTDIR)$(LIBDIR)/libkreconcile.a \
	    $(DESTDIR)$(LIBDIR)/libkreconcile-testserver.a \
	    $(DESTDIR)$(LIBDIR)/pkgconfig/libkreconcile.pc \
	    $(DESTDIR)$(LIBDIR)/pkgconfig/libkreconcile-testserver.pc
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(PROGS))

# ---- demo, bench, fuzz, lint ---------------------------------------------------------

# The platform scenario (KEEP=1 leaves it running); the tools' own demos.
demo: deps
	@$(MAKE) --no-print-directory all
	@KEEP=$(KEEP) sh scripts/demo-platform.sh "$(abspath $(BUILD))/bin"

demo-tools: deps
	@$(MAKE) --no-print-directory all
	@sh scripts/demo.sh "$(abspath $(BUILD))/bin"

$(BUILD)/bench/bench_%: $(BUILD)/obj/bench/bench_%.o $(BENCH_SUPPORT_OBJS) $(TS_A) $(A_FILE)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(BENCH_SUPPORT_OBJS) $(TS_A) $(A_FILE) $(TS_LIBS) $(PKG_LIBS) \
	    -pthread -lm

bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_BINS)
	@sh bench/run.sh "$(abspath $(BUILD))"

# libFuzzer builds need clang; each target runs FUZZ_SECONDS on its corpus.
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_BUILD := build/fuzz
fuzz: deps
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) SAN=address,undefined \
	    OPT=-O1 CFLAGS=-fsanitize=fuzzer-no-link lib
	@for f in $(FUZZERS); do \
	  echo "== $$f ($(FUZZ_SECONDS) s) =="; \
	  $(FUZZ_CC) -std=c11 -D_GNU_SOURCE -O1 -g -Iinclude -Ilib $(PKG_CFLAGS) \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -o $(FUZZ_BUILD)/$$f test/fuzz/$$f.c $(FUZZ_BUILD)/lib/libkreconcile-testserver-internal.a \
	    $(FUZZ_BUILD)/lib/libkreconcile.a $(TS_LIBS) $(PKG_LIBS) -pthread -lm || exit 1; \
	  c=$${f#fuzz_}; mkdir -p $(FUZZ_BUILD)/corpus/$$c test/fuzz/corpus/$$c; \
	  $(FUZZ_BUILD)/$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    $(FUZZ_BUILD)/corpus/$$c test/fuzz/corpus/$$c || exit 1; \
	done

# Fold what fuzzing found into the saved corpora (minimised by coverage).
fuzz-merge:
	@for f in $(FUZZERS); do c=$${f#fuzz_}; \
	  [ -x $(FUZZ_BUILD)/$$f ] && [ -d $(FUZZ_BUILD)/corpus/$$c ] || continue; \
	  $(FUZZ_BUILD)/$$f -merge=1 test/fuzz/corpus/$$c $(FUZZ_BUILD)/corpus/$$c; \
	done

LINT_FILES ?= $(sort $(wildcard lib/*.c lib/testserver/*.c examples/*/*.c))
FORMAT_FILES ?= $(sort $(wildcard include/*.h include/kreconcile/*.h lib/*.[ch] \
    lib/testserver/*.[ch] examples/*/*.[ch] test/*.c test/support/*.[ch] test/fuzz/*.c \
    bench/support/*.[ch] \
    bench/*.c))
# lint-quick (cppcheck and the format, under a minute) runs in make check;
# lint adds clang-tidy (minutes: every file on every core).
lint-quick:
	@echo "cppcheck: $(words $(LINT_FILES)) files"
	@cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,performance,portability \
	    --inline-suppr --suppress=missingIncludeSystem -D__GNUC__ -DKR_BUILDING_LIBRARY \
	    --include=$(shell $(PKG_CONFIG) --variable=includedir jansson)/jansson.h \
	    -Iinclude -Ilib $(LINT_FILES)
	@echo "clang-format: $(words $(FORMAT_FILES)) files"
	@clang-format --dry-run -Werror $(FORMAT_FILES)

lint: deps lint-quick
	@echo "clang-tidy: $(words $(LINT_FILES)) files, $(BUILD_JOBS) at a time"
	@printf '%s\n' $(LINT_FILES) | xargs -P$(BUILD_JOBS) -n8 sh -c \
	    'clang-tidy --quiet "$$@" -- -std=c11 -D_GNU_SOURCE -Iinclude -Ilib $(PKG_CFLAGS)' clang-tidy

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
