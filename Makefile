# vmkit — one library (libvmkit.a) and one command (build/vmkit).
#   make            build build/vmkit
#   make check      install missing packages, build, run every test twice:
#                   plain, then under AddressSanitizer + UBSan (build/asan)
#   make check-long the same tests with more sampling, plus tests/long/ (CI)
#   make demo       install missing packages, build, run the main job
#   make fuzz       libFuzzer binaries in build/fuzz (clang)
#   make fuzz-smoke run every fuzz target FUZZ_SECONDS (60) each, 2 at a time
#   make bench      run the benchmarks in bench/

BUILD   ?= build
CC      ?= cc
PKGS    := ext2fs com_err libarchive libzstd zlib jansson libcrypto libseccomp libisofs-1 libxml-2.0 libwebsockets libssl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libxml2 is compiled against but not linked: util/xmlso.c loads it on first use
PKG_LIBS   := $(shell pkg-config --libs $(filter-out libxml-2.0,$(PKGS)) 2>/dev/null)
CFLAGS  ?= -O2 -g
WARN    := -std=c11 -Wall -Wextra -Werror -Wno-unused-parameter
CPPFLAGS += -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Isrc $(PKG_CFLAGS)
# The command (and the tests) link the larger libraries statically.  As
# shared objects, which Debian builds with -z now, they cost every start
# ~450 page faults (15 us each on a paravirtualized host) and the binding of
# all their symbols: `vmkit help` took 12 ms, now 5; `fs cat` from an ISO
# 24 ms, now 13 (bench/iso.sh).  --gc-sections drops the parts of
# libarchive that would pull in libxml2 (its xar format), which in turn
# pulls in ICU and libstdc++.  STATIC=0 links them all as shared objects.
# libvmkit.so always links them shared (SHLIB_LIBS).
STATIC  ?= 1
SHLIB_LIBS := $(PKG_LIBS) -lpthread
ifeq ($(STATIC),1)
LDLIBS  += -Wl,--gc-sections -Wl,-Bstatic -larchive -lwebsockets -lssl -lcrypto -lisofs \
           -lseccomp -ljansson -lext2fs -lcom_err -lcap -Wl,-Bdynamic \
           -lzstd -lz -lnettle -lacl -llzma -llz4 -lbz2 -ljte -lpthread
else
LDLIBS  += $(SHLIB_LIBS)
endif
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

LIB_SRC := $(sort $(wildcard src/util/*.c src/block/*.c src/part/*.c src/fs/*.c \
                             src/boot/*.c src/vm/*.c src/guest/*.c \
                             src/backup/*.c src/tls/*.c src/api/*.c src/serve/*.c))
CLI_SRC := $(sort $(wildcard src/cli/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/t_*.c))
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))
TOOL_SRC := $(sort $(wildcard tests/tools/*.c))
# vmkit serve's page, copied next to the binary (build/web) where serve looks
WEB_SRC := $(sort $(wildcard web/*))

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
UNITS   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# Each fuzz entry point is also linked with a replay driver, so the tests
# feed it its corpus under the sanitizers without needing libFuzzer.
REPLAYS := $(FUZZ_SRC:fuzz/%.c=$(BUILD)/replay/%)
# Helper programs the shell tests drive (not run as tests themselves).
TOOLS   := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)

all: $(BUILD)/vmkit $(UNITS) $(REPLAYS) $(TOOLS) $(WEB_SRC:%=$(BUILD)/%)

$(BUILD)/web/%: web/%
	@mkdir -p $(dir $@)
	cp $< $@

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CPPFLAGS) -DVMKIT_VERSION='"$(VERSION)"' $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libvmkit.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/vmkit: $(CLI_OBJ) $(BUILD)/libvmkit.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libvmkit.a $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libvmkit.a tests/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -MMD -MP -o $@ $< $(BUILD)/libvmkit.a $(LDLIBS)

$(BUILD)/tools/%: tests/tools/%.c $(BUILD)/libvmkit.a
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libvmkit.a $(LDLIBS)

$(BUILD)/replay/%: fuzz/%.c fuzz/replay.c $(BUILD)/libvmkit.a
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< fuzz/replay.c $(BUILD)/libvmkit.a $(LDLIBS)

SAN := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer

asan:
	$(MAKE) --no-print-directory BUILD=build/asan CFLAGS="$(SAN)" LDFLAGS="$(SAN)"

deps:
	@sh scripts/deps.sh

# The man pages too: the package tests read them, and two tests building
# them at once would each find the other's half-made files.
check: deps
	@$(MAKE) --no-print-directory all man >/dev/null
	@$(MAKE) --no-print-directory BUILD=build/asan CFLAGS="$(SAN)" LDFLAGS="$(SAN)" all man >/dev/null
	@JOBS=$${JOBS:-3} bash tests/run.sh build build/asan

# The heavy end-to-end runs (more crash points, full guest builds, real
# installers): the plain build only, the tests that sample (tests/run.sh).
check-long: deps
	@$(MAKE) --no-print-directory all >/dev/null
	@LONG=1 bash tests/run.sh build

# The full Debian guest build and boot, and a cloud-init guest configured
# by a `guest seed` (tests/e2e): 30-60 minutes on 2 cores, outside CI's
# budget; run it by hand.  Both files' checks are counted together.
check-debian: deps
	@$(MAKE) --no-print-directory all >/dev/null
	@for t in t_guest_debian t_guest_cloudinit; do \
	    VMKIT=$(CURDIR)/build/vmkit LONG=1 SAN=0 bash tests/e2e/$$t.sh; done | tee /dev/stderr | \
	    awk '/^ok /{p++} /^not ok /{f++} /^1\.\./{n++} END {if (n < 2) {f++; print "not ok - a test file stopped before its plan line"} \
	    printf "%d passed, %d failed\n", p, f; exit f > 0}'

demo: deps
	@$(MAKE) --no-print-directory all >/dev/null
	@$(BUILD)/vmkit demo

fuzz:
	@mkdir -p build/fuzz
	for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
	  $(MAKE) --no-print-directory BUILD=build/fuzz/lib CC=clang CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined" build/fuzz/lib/libvmkit.a && \
	  clang $(WARN) $(CPPFLAGS) -O1 -g -fsanitize=fuzzer,address,undefined -o build/fuzz/$$n $$f build/fuzz/lib/libvmkit.a $(LDLIBS) || exit 1; done

fuzz-smoke: deps
	@$(MAKE) --no-print-directory -j2 fuzz >/dev/null
	@FUZZ_SECONDS=$(or $(FUZZ_SECONDS),60) bash fuzz/smoke.sh

bench: all
	@for b in bench/*.sh; do bash $$b || exit 1; done

clean:
	rm -rf build

.PHONY: all asan deps check check-long check-debian demo fuzz fuzz-smoke bench clean
include mk/install.mk
-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(UNITS:=.d)
