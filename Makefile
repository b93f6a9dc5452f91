# Bot4 build. `make run` and `make test` do every set-up step on a machine that has only node,
# npm, gcc, make and git: Bun (pinned in .bun-version) from the npm registry, dependencies from
# bun.lock, the C kernel variants, then the single `bot4` executable.
SHELL := /bin/bash
.DEFAULT_GOAL := all

BUN := .tools/bin/bun
CC ?= gcc
BUILD := build
LIBDIR := $(BUILD)/lib
VARIANTS := native v4 v3 base
LIBS := $(foreach v,$(VARIANTS),$(LIBDIR)/libbot4-$(v).so)
CSRC := $(wildcard c/*.c)
CHDR := $(wildcard c/*.h)
TSSRC := $(shell find src ffi -name '*.ts' 2>/dev/null)

# -ffp-contract=off: no silent FMA fusion, so scalar references, vector kernels and every variant
# agree bit for bit (a kernel that wants FMA says so explicitly).
CFLAGS_COMMON := -O3 -std=gnu11 -fPIC -shared -pthread -fvisibility=hidden -fno-plt -ffp-contract=off \
  -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE $(EXTRA_CFLAGS)
CFLAGS_native := -march=native -mtune=native
CFLAGS_v4 := -march=x86-64-v4 -mtune=generic -mprefer-vector-width=512
CFLAGS_v3 := -march=x86-64-v3 -mtune=generic
CFLAGS_base := -march=x86-64 -mtune=generic

.PHONY: all deps libs native bot4 run test bench ref clean distclean
all: deps libs bot4

$(BUN): .bun-version scripts/ensure-bun.sh
	@scripts/ensure-bun.sh
	@touch $(BUN)

node_modules/.bot4-installed: package.json bun.lock $(BUN)
	$(BUN) install --frozen-lockfile
	@touch $@
deps: node_modules/.bot4-installed

libs: $(LIBS) $(LIBDIR)/native.cpu
native: $(LIBDIR)/libbot4-native.so $(LIBDIR)/native.cpu

$(LIBDIR)/libbot4-%.so: $(CSRC) $(CHDR) Makefile
	@mkdir -p $(LIBDIR)
	$(CC) $(CFLAGS_COMMON) $(CFLAGS_$*) -DBOT4_VARIANT='"$*"' -o $@ $(CSRC) -lm

# The CPU the native variant was built for: the loader uses native only on a CPU that matches.
$(LIBDIR)/native.cpu: $(LIBDIR)/libbot4-native.so
	@scripts/cpu-id.sh > $@

# Worker entry points are compiled in beside the CLI (src/sys/workers.ts finds them under
# /$$bunfs/root/, the common root of the entry points).
WORKERS := src/feed/replay-worker.ts src/feed/live-worker.ts src/engine/engine-worker.ts src/journal/writer-worker.ts src/profile/pipeline-worker.ts
$(BUILD)/bot4: deps libs $(TSSRC) package.json
	$(BUN) build --compile --bytecode --minify-syntax --minify-whitespace src/cli/main.ts $(WORKERS) --outfile $@
bot4: $(BUILD)/bot4

# TA-Lib's C sources as carried by the npm `talib` package (dev dependency; its Node binding is
# never built or loaded): only the functions the indicator tests and benches compare against,
# and the moving averages TA_MA dispatches to. Loaded by ffi/talib.ts, never by the product.
TALIB := node_modules/talib/src/lib
TALIB_FUNCS := SMA EMA BBANDS RSI MACD ATR STDDEV VAR TRANGE MA utility DEMA TEMA TRIMA KAMA MAMA T3 WMA
TALIB_SRC = $(foreach f,$(TALIB_FUNCS),$(TALIB)/src/ta_func/ta_$(f).c) $(TALIB)/src/ta_common/ta_global.c
$(BUILD)/ref/libta.so: node_modules/.bot4-installed Makefile
	@mkdir -p $(BUILD)/ref
	$(CC) -O2 -fPIC -shared -w -I$(TALIB)/include -I$(TALIB)/src/ta_common -I$(TALIB)/src/ta_func -o $@ $(TALIB_SRC) -lm
ref: $(BUILD)/ref/libta.so

run: all
	$(BUILD)/bot4 run $(ARGS)

test: all ref
	$(BUN) test $(TEST_ARGS)

bench: all ref
	$(BUN) run bench/all.ts $(ARGS)

clean:
	rm -rf $(BUILD)
distclean: clean
	rm -rf node_modules .tools
