/*
 * model/gpt2_main.c: the gpt2 program, a command-line front end to model/.
 *
 *   gpt2 init      a random checkpoint in the Hugging Face layout
 *   gpt2 score     per-token log-probabilities and the perplexity of a text
 *   gpt2 generate  a sampled continuation of a prompt, using the KV cache
 *   gpt2 logits    raw float32 logits of a text or of token ids (for tests)
 *   gpt2 info      the config and storage of a checkpoint
 *   gpt2 train     train a checkpoint on a text data set (backward + AdamW)
 *
 * Exit status: 0 success, 1 runtime error ("gpt2: <message>" on stderr),
 * 2 usage error (a one-line message and a hint on stderr). Only main() exits;
 * every command frees everything it allocated before it returns, so that
 * LeakSanitizer stays clean.
 */
#include <cblas.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "model/gpt2.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gpt2 logits writes host floats as little-endian float32: port the writer first"
#endif

// ----------------------------------------------------------------------------
// statuses, messages, usage texts

// What a command returns to main; ST_HELP means "usage printed, exit 0".
enum { ST_OK = 0, ST_ERROR = 1, ST_USAGE = 2, ST_HELP = -1 };

static const char USAGE_MAIN[] =
    "usage: gpt2 COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  init      write a random GPT-2 checkpoint (Hugging Face layout)\n"
    "  score     per-token log-probabilities and perplexity of a text\n"
    "  generate  sample a continuation of a prompt\n"
    "  logits    write raw float32 logits of a text or of token ids (for tests)\n"
    "  info      print the config and storage of a checkpoint\n"
    "  train     train a checkpoint on the sentences of a TSV or text file\n"
    "\n"
    "Run 'gpt2 COMMAND --help' for the options of a command.\n"
    "Exit status: 0 ok, 1 runtime error, 2 usage error.\n";

static const char USAGE_INIT[] =
    "usage: gpt2 init --layers L --heads H --embd C --seed S --out DIR [options]\n"
    "\n"
    "Writes a randomly initialised checkpoint into DIR: config.json and\n"
    "model.safetensors (F32, openai-community/gpt2 tensor names), plus the\n"
    "tokenizer files copied from TOKDIR. Initialisation follows GPT-2 / Hugging\n"
    "Face: every matrix and embedding ~ N(0, 0.02), except the two c_proj weights\n"
    "of each block (attention and MLP output projections), which are scaled by\n"
    "1/sqrt(2L), i.e. ~ N(0, 0.02/sqrt(2L)); biases 0; layer-norm weights 1 and\n"
    "biases 0. The same options and seed give byte-identical files.\n"
    "\n"
    "  --layers L          transformer blocks (1..1024)\n"
    "  --heads H           attention heads per block (1..1024; C % H == 0)\n"
    "  --embd C            embedding width (1..65536)\n"
    "  --positions N       maximum context length (1..1048576, default 1024)\n"
    "  --vocab V           vocabulary size (1..16777216, default 50257)\n"
    "  --seed S            random seed (unsigned 64-bit integer)\n"
    "  --out DIR           output directory (created if needed)\n"
    "  --tokenizer TOKDIR  where vocab.json + merges.txt (or encoder.json +\n"
    "                      vocab.bpe) are copied from (default models/gpt2-tokenizer;\n"
    "                      'make tokenizer' fetches them)\n"
    "  --std S             standard deviation of the matrices and embeddings\n"
    "                      (default 0.02, GPT-2's); tests use larger values so\n"
    "                      that small numerical differences become visible\n"
    "  --test-noise SIGMA  for tests only: add N(0, SIGMA) to every bias and\n"
    "                      layer-norm parameter, so that a numerical test\n"
    "                      exercises them (default 0: off)\n"
    "  --force             overwrite a DIR that already holds a model.safetensors\n";

static const char USAGE_SCORE[] =
    "usage: gpt2 score --model DIR [--json] [--verbose] (TEXT | - | --file F)\n"
    "\n"
    "Scores every token of the text given <|endoftext|> and the tokens before\n"
    "it (the first token is scored after <|endoftext|> alone). Prints one line\n"
    "per token (index, id, the token's bytes quoted, log-probability in nats)\n"
    "and a summary line 'tokens N log_ppl X ppl Y', where log_ppl is the mean\n"
    "negative log-likelihood (natural log) and ppl = exp(log_ppl).\n"
    "The text may hold at most n_positions tokens (the context of the model);\n"
    "longer texts are an error, not a sliding window.\n"
    "\n"
    "  --model DIR   checkpoint directory (config.json, model.safetensors, tokenizer)\n"
    "  --json        print one JSON object instead:\n"
    "                {\"tokens\":[ids],\"logprobs\":[..],\"log_ppl\":x,\"ppl\":y}\n"
    "  --file F      read the text from file F ('-' = standard input)\n"
    "  --verbose     print the timing (tokens/s) on stderr\n"
    "  TEXT          the text itself; '-' reads standard input\n";

static const char USAGE_GENERATE[] =
    "usage: gpt2 generate --model DIR [options] [PROMPT | - | --file F]\n"
    "\n"
    "Encodes <|endoftext|> followed by the prompt (an empty or missing prompt\n"
    "starts from <|endoftext|> alone), runs it once through the model storing\n"
    "the KV cache, then samples one token at a time, streaming the decoded\n"
    "continuation (not the prompt) to stdout, followed by a newline. Stops at\n"
    "<|endoftext|>, after --max-tokens tokens, or when the context is full.\n"
    "The same seed gives the same text.\n"
    "\n"
    "  --model DIR         checkpoint directory\n"
    "  --seed S            random seed (unsigned 64-bit integer, default 1)\n"
    "  --temperature T     softmax temperature (default 1.0; 0 = greedy argmax)\n"
    "  --top-k K           sample among the K most likely tokens (default 40; 0 = all)\n"
    "  --max-tokens N      at most N new tokens (default 64)\n"
    "  --file F            read the prompt from file F ('-' = standard input)\n"
    "  --verbose           print the timing (tokens/s) on stderr\n";

static const char USAGE_LOGITS[] =
    "usage: gpt2 logits --model DIR --out FILE [--all] (TEXT | - | --file F | --ids I,J,..)\n"
    "\n"
    "Runs the text (encoded as-is: no <|endoftext|> is prepended) or the given\n"
    "token ids through the model and writes the logits of the last position,\n"
    "or with --all of every position (row-major (T, V)), to FILE as raw\n"
    "little-endian float32. Prints the shape on stderr.\n"
    "\n"
    "  --model DIR   checkpoint directory\n"
    "  --out FILE    output file\n"
    "  --all         logits of every position, not only the last\n"
    "  --ids LIST    comma-separated token ids (each < V) instead of a text\n"
    "  --file F      read the text from file F ('-' = standard input)\n";

static const char USAGE_INFO[] =
    "usage: gpt2 info --model DIR\n"
    "\n"
    "Loads and validates the checkpoint in DIR and prints its config, parameter\n"
    "count, file size, whether the tensors are used in place from the mmapped\n"
    "file or were converted into owned memory, and its tokenizer.\n"
    "\n"
    "  --model DIR   checkpoint directory\n";

static const char USAGE_TRAIN[] =
    "usage: gpt2 train --model DIR --data FILE --steps N --batch B --seq T --lr LR\n"
    "                  --out DIR [options]\n"
    "\n"
    "Trains every weight of the checkpoint in DIR (a 'gpt2 init' output, or a\n"
    "trained one to continue from) as a language model on the documents of FILE\n"
    "and writes the result to --out (config.json, model.safetensors and the\n"
    "tokenizer files of DIR; --out may be DIR itself).\n"
    "\n"
    "Data: FILE.tsv is read as a table with a header line; the documents are its\n"
    "column 'sentence' (or 'text'). Any other FILE is plain text, one document\n"
    "per non-empty line. All documents form one token stream with <|endoftext|>\n"
    "before, between and after them. Each step takes B windows of T+1 tokens at\n"
    "random offsets (seeded) and averages the next-token loss over all B*T\n"
    "positions. The held-out loss is computed on windows at offsets 0, T, 2T, ...\n"
    "of the --eval-data stream, every target once; perplexity = exp(loss).\n"
    "\n"
    "Optimiser: AdamW (beta1 0.9, beta2 0.95, eps 1e-8), weight decay on matrices\n"
    "and embeddings only, gradient norm clipped to 1.0, learning rate warmed up\n"
    "linearly over W steps then cosine-decayed to LR/10 at step N. The moments are\n"
    "not saved: a continued run starts a fresh optimiser (and warm-up).\n"
    "SIGINT or SIGTERM stops after the current step and saves the model (exit 1).\n"
    "The same options and seed give the same model on the same machine.\n"
    "\n"
    "  --model DIR          checkpoint to start from\n"
    "  --data FILE          training data (.tsv, or plain text)\n"
    "  --steps N            optimiser steps (0: evaluate and save only)\n"
    "  --batch B            windows per step\n"
    "  --seq T              positions per window (at most the model's n_positions)\n"
    "  --lr LR              peak learning rate, e.g. 1e-3 for a small model\n"
    "  --out DIR            where the trained checkpoint is written\n"
    "  --eval-data FILE     held-out data: its loss and perplexity are printed\n"
    "                       before training, every K steps and at the end\n"
    "  --eval-every K       evaluate every K steps too (default 0: start and end)\n"
    "  --eval-batches N     evaluate at most N batches of B windows, evenly spread\n"
    "                       (default 0: the whole held-out stream)\n"
    "  --warmup W           warm-up steps (default N/10)\n"
    "  --weight-decay WD    AdamW weight decay (default 0.1)\n"
    "  --seed S             seed of the window sampler (default 1)\n"
    "  --log FILE           one JSON object per step and per evaluation\n"
    "\n"
    "Progress (step, loss, learning rate, tokens/s, ETA) goes to stderr: one\n"
    "updating line on a terminal, a line every N/50 steps otherwise. The summary\n"
    "goes to stdout.\n";

// Prints "gpt2 CMD: message" and a hint on stderr; returns ST_USAGE.
static int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "gpt2%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'gpt2 %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
    return ST_USAGE;
}

// Prints the one-line message of a runtime error; returns ST_ERROR.
static int runtime_error(const Err *err) {
    fprintf(stderr, "gpt2: %s\n", err->msg);
    return ST_ERROR;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// ----------------------------------------------------------------------------
// option parsing: hand-rolled, as in llama2.c's run.c. Options are "--name
// value" (or flags); "--" ends the options; anything else is positional, so
// a text such as "-5 degrees" or "-" (standard input) needs no quoting.

static int is_option(const char *arg) {
    return (arg[0] == '-' && arg[1] == '-') || strcmp(arg, "-h") == 0;
}

static int is_help(const char *arg) {
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

// Whether arg is one of names (NULL-terminated): checked before a value is
// taken, so that an unknown option is reported as such, not as "needs a value".
static int is_one_of(const char *arg, const char *const *names) {
    for (; *names; names++)
        if (strcmp(arg, *names) == 0) return 1;
    return 0;
}

// The value after option argv[*i]; advances *i.
static int option_value(const char *cmd, int argc, char **argv, int *i, const char **value) {
    if (*i + 1 >= argc) return usage_error(cmd, "option %s needs a value", argv[*i]);
    *i += 1;
    *value = argv[*i];
    return ST_OK;
}

// What the subcommands' option loops share. A command's options are flags and
// value options ("--name value"), NULL-terminated lists; a command that takes
// positional arguments (texts) also takes "--", which ends its options.
typedef struct {
    const char *cmd, *usage;
    const char *const *flags, *const *values;
    int positional, options_done;
} OptionSpec;

// Reads argv[*i] (and the value after it, advancing *i). ST_OK with *name the
// option and *value its value (NULL for a flag), or *name NULL and *value the
// positional argument (NULL for "--"); ST_HELP once the usage is printed;
// ST_USAGE once the message is.
static int next_option(OptionSpec *o, int argc, char **argv, int *i, const char **name, const char **value) {
    const char *a = argv[*i];
    *name = *value = NULL;
    if (o->options_done || !is_option(a)) {
        if (!o->positional) return usage_error(o->cmd, "unexpected argument '%s'", a);
        *value = a;
        return ST_OK;
    }
    if (o->positional && strcmp(a, "--") == 0) {
        o->options_done = 1;
        return ST_OK;
    }
    if (is_help(a)) {
        fputs(o->usage, stdout);
        return ST_HELP;
    }
    *name = a;
    if (o->flags && is_one_of(a, o->flags)) return ST_OK;
    if (!is_one_of(a, o->values)) return usage_error(o->cmd, "unknown option '%s'", a);
    return option_value(o->cmd, argc, argv, i, value);
}

static int parse_long(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE)
        return usage_error(cmd, "%s expects an integer, got '%s'", opt, s);
    if (v < lo || v > hi)
        return usage_error(cmd, "%s must be in [%ld, %ld], got %ld", opt, lo, hi, v);
    *out = v;
    return ST_OK;
}

static int parse_int(const char *cmd, const char *opt, const char *s, int lo, int hi, int *out) {
    long v = 0;
    int st = parse_long(cmd, opt, s, lo, hi, &v);
    if (st == ST_OK) *out = (int)v;
    return st;
}

static int parse_u64(const char *cmd, const char *opt, const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    // strtoull skips blanks and accepts "-1", wrapping it: a seed starts with a digit
    unsigned long long v = strtoull(s, &end, 10);
    if (!isdigit((unsigned char)s[0]) || end == s || *end != '\0' || errno == ERANGE)
        return usage_error(cmd, "%s expects an unsigned 64-bit integer, got '%s'", opt, s);
    *out = (uint64_t)v;
    return ST_OK;
}

static int parse_float(const char *cmd, const char *opt, const char *s, double lo, double hi, float *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v))
        return usage_error(cmd, "%s expects a finite number, got '%s'", opt, s);
    if (v < lo || v > hi)
        return usage_error(cmd, "%s must be in [%g, %g], got %g", opt, lo, hi, v);
    *out = (float)v;
    return ST_OK;
}

// ----------------------------------------------------------------------------
// ----------------------------------------------------------------------------
// files

static int path_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

// Reads a whole stream into a NUL-terminated malloc'd buffer.
static int read_stream(FILE *f, const char *name, char **data, size_t *len, Err *err) {
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (!buf) return err_fail(err, "%s: out of memory", name);
    for (;;) {
        if (n + 1 == cap) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) { free(buf); return err_fail(err, "%s: out of memory", name); }
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        free(buf);
        return err_fail(err, "%s: read error: %s", name, strerror(errno));
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

// The text of a command: the positional argument, "-" for standard input,
// or --file F.
typedef struct {
    const char *arg;    // positional text or NULL
    const char *file;   // --file or NULL
} TextSource;

static int read_text(const TextSource *src, char **text, size_t *len, Err *err) {
    if (src->file && strcmp(src->file, "-") != 0) return util_read_file(src->file, text, len, err);
    if (src->file || (src->arg && strcmp(src->arg, "-") == 0))
        return read_stream(stdin, "standard input", text, len, err);
    const char *s = src->arg ? src->arg : "";
    *len = strlen(s);
    *text = malloc(*len + 1);
    if (!*text) return err_fail(err, "out of memory");
    memcpy(*text, s, *len + 1);
    return 0;
}

// Takes a positional argument or --file into src; refuses a second source.
static int set_text_source(const char *cmd, TextSource *src, const char *arg, const char *file) {
    if (src->arg || src->file) return usage_error(cmd, "give the text once: as an argument, '-' or --file");
    src->arg = arg;
    src->file = file;
    return ST_OK;
}

// ----------------------------------------------------------------------------
// a loaded model with its tokenizer, KV cache and activations; each part is
// freed only if it was made, so that an early failure frees exactly what
// exists.

typedef struct {
    GPT2Model model;
    int have_model;
    GPT2Tokenizer *tok;
    GPT2KVCache kv;
    int have_kv;
    GPT2Acts acts;
    int have_acts;
} Session;

static int session_open(Session *s, const char *dir, int with_tokenizer, Err *err) {
    memset(s, 0, sizeof *s);
    if (gpt2_load(&s->model, dir, err) != 0) return -1;
    s->have_model = 1;
    if (with_tokenizer && tokenizer_load(&s->tok, dir, err) != 0) {
        s->tok = NULL;
        return -1;
    }
    return 0;
}

static int session_alloc(Session *s, int kv_len, int max_T, int max_keys, int max_out, Err *err) {
    if (kv_len > 0) {
        if (kvcache_alloc(&s->kv, &s->model.config, 1, kv_len, err) != 0) return -1;
        s->have_kv = 1;
    }
    if (gpt2_acts_alloc(&s->acts, &s->model.config, 1, max_T, max_keys, max_out, 0, err) != 0) return -1;
    s->have_acts = 1;
    return 0;
}

static void session_close(Session *s) {
    if (s->have_acts) gpt2_acts_free(&s->acts);
    if (s->have_kv) kvcache_free(&s->kv);
    if (s->tok) tokenizer_free(s->tok);
    if (s->have_model) gpt2_free(&s->model);
    memset(s, 0, sizeof *s);
}

// Encodes text into a malloc'd array. A token holds at least one byte, and
// an ill-formed UTF-8 byte becomes the 3 bytes of U+FFFD, so 3 ids per input
// byte always suffice.
static int encode_text(Session *s, const char *text, size_t len, int **ids, int *n_ids, Err *err) {
    if (len > (size_t)(INT32_MAX / 3 - 1)) return err_fail(err, "text too long (%zu bytes)", len);
    int cap = (int)(3 * len + 1);
    *ids = malloc(sizeof(int) * (size_t)cap);
    if (!*ids) return err_fail(err, "out of memory");
    if (tokenizer_encode(s->tok, text, len, *ids, cap, n_ids, err) != 0) {
        free(*ids);
        *ids = NULL;
        return -1;
    }
    return 0;
}

// <|endoftext|>, which score and generate start from
static const int eot = GPT2_EOT;

// Every id must index a row of wte.
static int check_ids_in_vocab(const int *ids, int n, int V, Err *err) {
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= V)
            return err_fail(err, "token id %d is outside the model's vocabulary (V = %d)", ids[i], V);
    return 0;
}

// ----------------------------------------------------------------------------
// init

typedef struct {
    GPT2Config config;
    uint64_t seed;
    int have_seed;
    const char *out_dir;
    const char *tokenizer_dir;
    float test_noise;
    float std;
    int force;
} InitOptions;

static const char *const INIT_FLAGS[] = {"--force", NULL};
static const char *const INIT_VALUE_OPTIONS[] = {
    "--layers", "--heads", "--embd", "--positions", "--vocab", "--seed", "--out", "--tokenizer", "--test-noise", "--std", NULL,
};

static int parse_init(int argc, char **argv, InitOptions *o) {
    const char *cmd = "init";
    memset(o, 0, sizeof *o);
    o->config.n_positions = 1024;
    o->config.vocab_size = 50257;
    o->config.layer_norm_epsilon = 1e-5f;
    o->tokenizer_dir = "models/gpt2-tokenizer";
    o->std = 0.02f;
    OptionSpec spec = {cmd, USAGE_INIT, INIT_FLAGS, INIT_VALUE_OPTIONS, 0, 0};
    for (int i = 0; i < argc; i++) {
        const char *a, *v;
        int st = next_option(&spec, argc, argv, &i, &a, &v);
        if (st != ST_OK) return st;
        if (strcmp(a, "--force") == 0) o->force = 1;
        else if (strcmp(a, "--layers") == 0) st = parse_int(cmd, a, v, 1, 1024, &o->config.n_layer);
        else if (strcmp(a, "--heads") == 0) st = parse_int(cmd, a, v, 1, 1024, &o->config.n_head);
        else if (strcmp(a, "--embd") == 0) st = parse_int(cmd, a, v, 1, 65536, &o->config.n_embd);
        else if (strcmp(a, "--positions") == 0) st = parse_int(cmd, a, v, 1, 1 << 20, &o->config.n_positions);
        else if (strcmp(a, "--vocab") == 0) st = parse_int(cmd, a, v, 1, 1 << 24, &o->config.vocab_size);
        else if (strcmp(a, "--seed") == 0) { st = parse_u64(cmd, a, v, &o->seed); o->have_seed = 1; }
        else if (strcmp(a, "--out") == 0) o->out_dir = v;
        else if (strcmp(a, "--tokenizer") == 0) o->tokenizer_dir = v;
        else if (strcmp(a, "--test-noise") == 0) st = parse_float(cmd, a, v, 0.0, 1e3, &o->test_noise);
        else if (strcmp(a, "--std") == 0) st = parse_float(cmd, a, v, 0.0, 1e3, &o->std);
        if (st != ST_OK) return st;
    }
    if (!o->config.n_layer) return usage_error(cmd, "missing --layers");
    if (!o->config.n_head) return usage_error(cmd, "missing --heads");
    if (!o->config.n_embd) return usage_error(cmd, "missing --embd");
    if (!o->have_seed) return usage_error(cmd, "missing --seed");
    if (!o->out_dir) return usage_error(cmd, "missing --out");
    if (o->config.n_embd % o->config.n_head != 0)
        return usage_error(cmd, "--embd (%d) must be divisible by --heads (%d)", o->config.n_embd, o->config.n_head);
    return ST_OK;
}

static void fill_normal(float *x, size_t n, double std, Rng *rng) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(std * rng_normal(rng));
}

static void fill_constant(float *x, size_t n, float value) {
    for (size_t i = 0; i < n; i++) x[i] = value;
}

// --test-noise: moves biases and layer-norm parameters off their exact
// 0 / 1 so that a numerical test would notice one that is ignored.
static void add_noise(float *x, size_t n, double sigma, Rng *rng) {
    if (sigma == 0.0) return;
    for (size_t i = 0; i < n; i++) x[i] += (float)(sigma * rng_normal(rng));
}

static void init_layer_norm(float *w, float *b, size_t C, double noise, Rng *rng) {
    fill_constant(w, C, 1.0f);
    fill_constant(b, C, 0.0f);
    add_noise(w, C, noise, rng);
    add_noise(b, C, noise, rng);
}

static void init_bias(float *b, size_t n, double noise, Rng *rng) {
    fill_constant(b, n, 0.0f);
    add_noise(b, n, noise, rng);
}

// GPT-2's initialisation as in Hugging Face's GPT2PreTrainedModel._init_weights,
// tensor by tensor in the canonical order so that one seed means one file.
static void init_weights(GPT2Weights *w, const GPT2Config *c, uint64_t seed, double std, double noise) {
    // the residual projections: each block adds two outputs into the residual
    // stream, so GPT-2 scales them to keep its variance independent of depth
    const double proj_std = std / sqrt(2.0 * c->n_layer);
    size_t C = (size_t)c->n_embd;
    Rng rng;
    rng_seed(&rng, seed);
    fill_normal(w->wte, (size_t)c->vocab_size * C, std, &rng);
    fill_normal(w->wpe, (size_t)c->n_positions * C, std, &rng);
    for (int l = 0; l < c->n_layer; l++) {
        GPT2Block *b = &w->blocks[l];
        init_layer_norm(b->ln_1_w, b->ln_1_b, C, noise, &rng);
        fill_normal(b->attn_w, C * 3 * C, std, &rng);
        init_bias(b->attn_b, 3 * C, noise, &rng);
        fill_normal(b->attn_proj_w, C * C, proj_std, &rng);
        init_bias(b->attn_proj_b, C, noise, &rng);
        init_layer_norm(b->ln_2_w, b->ln_2_b, C, noise, &rng);
        fill_normal(b->fc_w, C * 4 * C, std, &rng);
        init_bias(b->fc_b, 4 * C, noise, &rng);
        fill_normal(b->fc_proj_w, 4 * C * C, proj_std, &rng);
        init_bias(b->fc_proj_b, C, noise, &rng);
    }
    init_layer_norm(w->ln_f_w, w->ln_f_b, C, noise, &rng);
}

// The tokenizer files that travel with a checkpoint, in tokenizer_load's
// order of preference.
static const char *const TOKENIZER_PAIRS[2][2] = {
    {"vocab.json", "merges.txt"},
    {"encoder.json", "vocab.bpe"},
};

// Reads the tokenizer pair found in dir; failing here, before anything is
// written, leaves no half-made checkpoint.
static int read_tokenizer_files(const char *dir, const char *names[2], char *data[2], size_t len[2], Err *err) {
    char path[4096];
    for (int p = 0; p < 2; p++) {
        snprintf(path, sizeof path, "%s/%s", dir, TOKENIZER_PAIRS[p][0]);
        if (!path_exists(path)) continue;
        for (int f = 0; f < 2; f++) {
            names[f] = TOKENIZER_PAIRS[p][f];
            snprintf(path, sizeof path, "%s/%s", dir, names[f]);
            if (util_read_file(path, &data[f], &len[f], err) != 0) {
                if (f == 1) free(data[0]);
                return -1;
            }
        }
        return 0;
    }
    return err_fail(err, "%s/vocab.json: not found (nor encoder.json): run 'make tokenizer' "
                     "or pass --tokenizer DIR", dir);
}

static int write_tokenizer_files(const char *dir, const char *names[2], char *data[2], size_t len[2], Err *err) {
    char path[4096];
    for (int f = 0; f < 2; f++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[f]);
        if (util_write_file_atomic(path, data[f], len[f], err) != 0) return -1;
    }
    return 0;
}

static int cmd_init(int argc, char **argv) {
    InitOptions o;
    int st = parse_init(argc, argv, &o);
    if (st != ST_OK) return st;

    Err err = {{0}};
    char target[4096];
    snprintf(target, sizeof target, "%s/model.safetensors", o.out_dir);
    if (!o.force && path_exists(target)) {
        err_fail(&err, "%s already exists: refusing to overwrite it (use --force)", target);
        return runtime_error(&err);
    }

    const char *tok_names[2] = {NULL, NULL};
    char *tok_data[2] = {NULL, NULL};
    size_t tok_len[2] = {0, 0};
    if (read_tokenizer_files(o.tokenizer_dir, tok_names, tok_data, tok_len, &err) != 0) return runtime_error(&err);

    size_t n_params = gpt2_num_params(&o.config);
    float *params = malloc(n_params * sizeof(float));
    GPT2Block *blocks = malloc((size_t)o.config.n_layer * sizeof(GPT2Block));
    int rc = 0;
    if (!params || !blocks) {
        rc = err_fail(&err, "out of memory for %zu parameters", n_params);
    } else {
        GPT2Weights w;
        gpt2_point_weights(&w, blocks, params, &o.config);
        init_weights(&w, &o.config, o.seed, o.std, o.test_noise);
        rc = gpt2_save(&o.config, &w, o.out_dir, &err);
        if (rc == 0) rc = write_tokenizer_files(o.out_dir, tok_names, tok_data, tok_len, &err);
    }
    free(params);
    free(blocks);
    free(tok_data[0]);
    free(tok_data[1]);
    if (rc != 0) return runtime_error(&err);
    printf("wrote %s: %d layers, %d heads, %d embd, %d positions, %d vocab, %zu parameters, seed %llu%s\n",
           o.out_dir, o.config.n_layer, o.config.n_head, o.config.n_embd, o.config.n_positions,
           o.config.vocab_size, n_params, (unsigned long long)o.seed, o.test_noise > 0 ? " (test noise)" : "");
    return ST_OK;
}

// ----------------------------------------------------------------------------
// score

typedef struct {
    const char *model_dir;
    TextSource text;
    int json, verbose;
} ScoreOptions;

// Positions per forward call: bounds the logits buffer to (SCORE_CHUNK, V)
// (25 MB for GPT-2) however long the text; the KV cache carries the context
// from one chunk to the next.
#define SCORE_CHUNK 128

static const char *const SCORE_FLAGS[] = {"--json", "--verbose", NULL};
static const char *const SCORE_VALUE_OPTIONS[] = {"--model", "--file", NULL};

static int parse_score(int argc, char **argv, ScoreOptions *o) {
    const char *cmd = "score";
    memset(o, 0, sizeof *o);
    OptionSpec spec = {cmd, USAGE_SCORE, SCORE_FLAGS, SCORE_VALUE_OPTIONS, 1, 0};
    for (int i = 0; i < argc; i++) {
        const char *a, *v;
        int st = next_option(&spec, argc, argv, &i, &a, &v);
        if (st != ST_OK) return st;
        if (!a) st = v ? set_text_source(cmd, &o->text, v, NULL) : ST_OK;
        else if (strcmp(a, "--json") == 0) o->json = 1;
        else if (strcmp(a, "--verbose") == 0) o->verbose = 1;
        else if (strcmp(a, "--model") == 0) o->model_dir = v;
        else if (strcmp(a, "--file") == 0) st = set_text_source(cmd, &o->text, NULL, v);
        if (st != ST_OK) return st;
    }
    if (!o->model_dir) return usage_error(cmd, "missing --model");
    if (!o->text.arg && !o->text.file) return usage_error(cmd, "missing the text (an argument, '-' or --file F)");
    return ST_OK;
}

// log p(target) under softmax(logits), in double: the subtraction of the
// maximum keeps exp in range, and double keeps the small terms of the sum.
static double log_softmax_at(const float *logits, int V, int target) {
    float max = logits[0];
    for (int i = 1; i < V; i++)
        if (logits[i] > max) max = logits[i];
    double sum = 0.0;
    for (int i = 0; i < V; i++) sum += exp((double)logits[i] - (double)max);
    return (double)logits[target] - (double)max - log(sum);
}

// logprobs[t] = log p(targets[t] | inputs[0..t]), in chunks of SCORE_CHUNK
// positions that continue one another through the KV cache.
static int score_tokens(Session *s, const int *inputs, const int *targets, int n, const int *positions,
                        double *logprobs, Err *err) {
    const int V = s->model.config.vocab_size;
    const int row = 0;
    for (int start = 0; start < n; start += SCORE_CHUNK) {
        int T = n - start < SCORE_CHUNK ? n - start : SCORE_CHUNK;
        GPT2Batch batch = {
            .B = 1, .T = T, .ids = inputs + start,
            .prefix = start > 0 ? &s->kv : NULL, .prefix_rows = &row,
            .store = &s->kv, .store_rows = &row,
            .out_pos = positions, .n_out = T,
        };
        if (gpt2_forward(&s->model, &s->acts, &batch, err) != 0) return -1;
        for (int t = 0; t < T; t++)
            logprobs[start + t] = log_softmax_at(s->acts.logits + (size_t)t * V, V, targets[start + t]);
    }
    return 0;
}

// A token's bytes between quotes: printable ASCII as is, well-formed UTF-8
// characters as is, C escapes for the usual controls, \xNN for the rest (a
// token may hold part of a character).
static void print_quoted_bytes(FILE *out, const char *bytes, size_t len) {
    const unsigned char *s = (const unsigned char *)bytes;
    fputc('"', out);
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        size_t seq;
        if (c == '"' || c == '\\') fprintf(out, "\\%c", c);
        else if (c == '\n') fputs("\\n", out);
        else if (c == '\t') fputs("\\t", out);
        else if (c == '\r') fputs("\\r", out);
        else if (c >= 0x20 && c < 0x7F) fputc(c, out);
        else if (c >= 0x80 && (seq = gpt2_utf8_len(s + i, len - i)) > 0) {
            fwrite(s + i, 1, seq, out);
            i += seq;
            continue;
        } else fprintf(out, "\\x%02x", c);
        i++;
    }
    fputc('"', out);
}

// JSON has no NaN or infinity: a broken model prints null, not invalid JSON.
static void print_json_number(FILE *out, double x) {
    if (isfinite(x)) fprintf(out, "%.17g", x);
    else fputs("null", out);
}

static void print_score_json(const int *ids, const double *logprobs, int n, double log_ppl) {
    fputs("{\"tokens\":[", stdout);
    for (int i = 0; i < n; i++) printf("%s%d", i ? "," : "", ids[i]);
    fputs("],\"logprobs\":[", stdout);
    for (int i = 0; i < n; i++) {
        if (i) fputc(',', stdout);
        print_json_number(stdout, logprobs[i]);
    }
    fputs("],\"log_ppl\":", stdout);
    print_json_number(stdout, log_ppl);
    fputs(",\"ppl\":", stdout);
    print_json_number(stdout, exp(log_ppl));
    fputs("}\n", stdout);
}

static void print_score_table(const GPT2Tokenizer *tok, const int *ids, const double *logprobs, int n, double log_ppl) {
    printf("# index id token logprob\n");
    for (int i = 0; i < n; i++) {
        size_t len = 0;
        const char *bytes = tokenizer_token_bytes(tok, ids[i], &len);
        printf("%d %d ", i, ids[i]);
        print_quoted_bytes(stdout, bytes ? bytes : "", bytes ? len : 0);
        printf(" %.6f\n", logprobs[i]);
    }
    printf("tokens %d log_ppl %.6f ppl %.6g\n", n, log_ppl, exp(log_ppl));
}

static int cmd_score(int argc, char **argv) {
    ScoreOptions o;
    int st = parse_score(argc, argv, &o);
    if (st != ST_OK) return st;

    Err err = {{0}};
    Session s;
    char *text = NULL;
    size_t text_len = 0;
    int *ids = NULL, *seq = NULL, *positions = NULL, n = 0;
    double *logprobs = NULL;
    int rc = -1;
    if (session_open(&s, o.model_dir, 1, &err) != 0) goto done;
    if (read_text(&o.text, &text, &text_len, &err) != 0) goto done;
    if (encode_text(&s, text, text_len, &ids, &n, &err) != 0) goto done;
    const GPT2Config *c = &s.model.config;
    if (n == 0) { err_fail(&err, "the text is empty: nothing to score"); goto done; }
    if (n > c->n_positions) {
        err_fail(&err, "the text is %d tokens, more than the model's context of %d positions "
                  "(score does not slide a window: split the text)", n, c->n_positions);
        goto done;
    }
    if (check_ids_in_vocab(&eot, 1, c->vocab_size, &err) != 0) goto done;
    if (check_ids_in_vocab(ids, n, c->vocab_size, &err) != 0) goto done;

    // seq = <|endoftext|> t0 .. t(n-1): position t reads seq[t], predicts seq[t+1]
    int T_max = n < SCORE_CHUNK ? n : SCORE_CHUNK;
    seq = malloc(sizeof(int) * (size_t)(n + 1));
    positions = malloc(sizeof(int) * (size_t)T_max);
    logprobs = malloc(sizeof(double) * (size_t)n);
    if (!seq || !positions || !logprobs) { err_fail(&err, "out of memory"); goto done; }
    seq[0] = GPT2_EOT;
    memcpy(seq + 1, ids, sizeof(int) * (size_t)n);
    for (int t = 0; t < T_max; t++) positions[t] = t;
    if (session_alloc(&s, n, T_max, n, T_max, &err) != 0) goto done;

    double t0 = now_seconds();
    if (score_tokens(&s, seq, seq + 1, n, positions, logprobs, &err) != 0) goto done;
    double secs = now_seconds() - t0;

    double nll = 0.0;
    for (int i = 0; i < n; i++) nll -= logprobs[i];
    double log_ppl = nll / n;
    if (o.json) print_score_json(ids, logprobs, n, log_ppl);
    else print_score_table(s.tok, ids, logprobs, n, log_ppl);
    if (o.verbose) fprintf(stderr, "scored %d tokens in %.3f s (%.1f tokens/s)\n", n, secs, n / secs);
    rc = 0;
done:
    free(text);
    free(ids);
    free(seq);
    free(positions);
    free(logprobs);
    session_close(&s);
    return rc == 0 ? ST_OK : runtime_error(&err);
}

// ----------------------------------------------------------------------------
// generate

typedef struct {
    const char *model_dir;
    TextSource prompt;
    uint64_t seed;
    float temperature;
    int top_k, max_tokens, verbose;
} GenerateOptions;

static const char *const GENERATE_FLAGS[] = {"--verbose", NULL};
static const char *const GENERATE_VALUE_OPTIONS[] = {
    "--model", "--file", "--seed", "--temperature", "--top-k", "--max-tokens", NULL,
};

static int parse_generate(int argc, char **argv, GenerateOptions *o) {
    const char *cmd = "generate";
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->temperature = 1.0f;
    o->top_k = 40;
    o->max_tokens = 64;
    OptionSpec spec = {cmd, USAGE_GENERATE, GENERATE_FLAGS, GENERATE_VALUE_OPTIONS, 1, 0};
    for (int i = 0; i < argc; i++) {
        const char *a, *v;
        int st = next_option(&spec, argc, argv, &i, &a, &v);
        if (st != ST_OK) return st;
        if (!a) st = v ? set_text_source(cmd, &o->prompt, v, NULL) : ST_OK;
        else if (strcmp(a, "--verbose") == 0) o->verbose = 1;
        else if (strcmp(a, "--model") == 0) o->model_dir = v;
        else if (strcmp(a, "--file") == 0) st = set_text_source(cmd, &o->prompt, NULL, v);
        else if (strcmp(a, "--seed") == 0) st = parse_u64(cmd, a, v, &o->seed);
        else if (strcmp(a, "--temperature") == 0) st = parse_float(cmd, a, v, 0.0, 1e6, &o->temperature);
        else if (strcmp(a, "--top-k") == 0) st = parse_int(cmd, a, v, 0, INT32_MAX, &o->top_k);
        else if (strcmp(a, "--max-tokens") == 0) st = parse_int(cmd, a, v, 0, INT32_MAX, &o->max_tokens);
        if (st != ST_OK) return st;
    }
    if (!o->model_dir) return usage_error(cmd, "missing --model");
    return ST_OK;
}

typedef struct {
    float logit;
    int id;
} Candidate;

static void swap_candidates(Candidate *a, Candidate *b) {
    Candidate t = *a;
    *a = *b;
    *b = t;
}

static float median_of_three(float a, float b, float c) {
    if (a > b) { float t = a; a = b; b = t; }
    if (b > c) b = c;
    return a > b ? a : b;
}

// Moves the k largest logits into c[0..k) (in no particular order):
// quickselect with a three-way partition, so that runs of equal logits (a
// degenerate model) cost one pass instead of quadratic time.
static void select_top_k(Candidate *c, int n, int k) {
    int lo = 0, hi = n;  // invariant: c[0..lo) >= c[lo..hi) >= c[hi..n), lo <= k <= hi
    while (hi - lo > 1 && k > lo && k < hi) {
        float pivot = median_of_three(c[lo].logit, c[lo + (hi - lo) / 2].logit, c[hi - 1].logit);
        int gt = lo, i = lo, lt = hi;   // [lo,gt) > pivot, [gt,lt) == pivot, [lt,hi) < pivot
        while (i < lt) {
            if (c[i].logit > pivot) swap_candidates(&c[gt++], &c[i++]);
            else if (c[i].logit < pivot) swap_candidates(&c[i], &c[--lt]);
            else i++;
        }
        if (k <= gt) hi = gt;
        else if (k <= lt) return;   // the boundary falls among equals: done
        else lo = lt;
    }
}

static int argmax_token(const float *logits, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (logits[i] > logits[best]) best = i;
    return best;
}

// One token from softmax(logits / temperature) restricted to the top_k most
// likely (0 = all), or the argmax at temperature 0. NaN logits count as -inf.
static int sample_token(const float *logits, int n, float temperature, int top_k, Candidate *cands, Rng *rng) {
    if (temperature == 0.0f) return argmax_token(logits, n);
    for (int i = 0; i < n; i++) {
        cands[i].logit = isnan(logits[i]) ? -INFINITY : logits[i];
        cands[i].id = i;
    }
    int k = (top_k == 0 || top_k > n) ? n : top_k;
    if (k < n) select_top_k(cands, n, k);
    float max = cands[0].logit;
    for (int i = 1; i < k; i++)
        if (cands[i].logit > max) max = cands[i].logit;
    if (max == -INFINITY) return cands[0].id;   // nothing to weigh
    double total = 0.0;
    for (int i = 0; i < k; i++) total += exp(((double)cands[i].logit - max) / temperature);
    double target = rng_uniform(rng) * total, acc = 0.0;
    for (int i = 0; i < k; i++) {
        acc += exp(((double)cands[i].logit - max) / temperature);
        if (target < acc) return cands[i].id;
    }
    return cands[k - 1].id;   // rounding left target at the very top
}

// Streams one token's bytes. They are written raw and flushed: a character
// split across tokens arrives whole in the byte stream, which is what a
// terminal or a pipe reads.
static void emit_token(const GPT2Tokenizer *tok, int id) {
    size_t len = 0;
    const char *bytes = tokenizer_token_bytes(tok, id, &len);
    if (bytes) fwrite(bytes, 1, len, stdout);
    fflush(stdout);
}

static int cmd_generate(int argc, char **argv) {
    GenerateOptions o;
    int st = parse_generate(argc, argv, &o);
    if (st != ST_OK) return st;

    Err err = {{0}};
    Session s;
    char *text = NULL;
    size_t text_len = 0;
    int *prompt_ids = NULL, *seq = NULL, n_prompt = 0;
    Candidate *cands = NULL;
    int rc = -1;
    if (session_open(&s, o.model_dir, 1, &err) != 0) goto done;
    const GPT2Config *c = &s.model.config;
    if (read_text(&o.prompt, &text, &text_len, &err) != 0) goto done;
    if (encode_text(&s, text, text_len, &prompt_ids, &n_prompt, &err) != 0) goto done;
    if (check_ids_in_vocab(&eot, 1, c->vocab_size, &err) != 0) goto done;
    if (check_ids_in_vocab(prompt_ids, n_prompt, c->vocab_size, &err) != 0) goto done;
    int n0 = n_prompt + 1;   // <|endoftext|> + prompt
    if (n0 > c->n_positions) {
        err_fail(&err, "the prompt is %d tokens: with <|endoftext|> it exceeds the model's context of %d positions",
                  n_prompt, c->n_positions);
        goto done;
    }
    // sampling never picks an id that the tokenizer cannot print (a padded V)
    int tok_V = tokenizer_vocab_size(s.tok);
    int n_vocab = c->vocab_size < tok_V ? c->vocab_size : tok_V;
    // positions that will ever be fed: the prompt and all but the last new token
    long want = (long)n0 + (o.max_tokens > 0 ? o.max_tokens - 1 : 0);
    int kv_len = want < c->n_positions ? (int)want : c->n_positions;

    seq = malloc(sizeof(int) * (size_t)n0);
    cands = malloc(sizeof(Candidate) * (size_t)n_vocab);
    if (!seq || !cands) { err_fail(&err, "out of memory"); goto done; }
    seq[0] = GPT2_EOT;
    memcpy(seq + 1, prompt_ids, sizeof(int) * (size_t)n_prompt);
    if (session_alloc(&s, kv_len, n0, kv_len, 1, &err) != 0) goto done;

    // the prompt, once, filling the cache; only its last position's logits
    const int row = 0, last = n0 - 1, first = 0;
    double t0 = now_seconds();
    GPT2Batch prompt = {
        .B = 1, .T = n0, .ids = seq, .store = &s.kv, .store_rows = &row, .out_pos = &last, .n_out = 1,
    };
    if (gpt2_forward(&s.model, &s.acts, &prompt, &err) != 0) goto done;
    double t1 = now_seconds();

    // then one token at a time, each continuing and extending cache row 0
    Rng rng;
    rng_seed(&rng, o.seed);
    int pos = n0, generated = 0;
    while (generated < o.max_tokens) {
        int next = sample_token(s.acts.logits, n_vocab, o.temperature, o.top_k, cands, &rng);
        if (next == GPT2_EOT) break;
        emit_token(s.tok, next);
        generated++;
        if (generated == o.max_tokens || pos >= kv_len) break;
        GPT2Batch step = {
            .B = 1, .T = 1, .ids = &next, .prefix = &s.kv, .prefix_rows = &row,
            .store = &s.kv, .store_rows = &row, .out_pos = &first, .n_out = 1,
        };
        if (gpt2_forward(&s.model, &s.acts, &step, &err) != 0) {
            fputc('\n', stdout);
            goto done;
        }
        pos++;
    }
    fputc('\n', stdout);
    fflush(stdout);
    double t2 = now_seconds();
    if (o.verbose) {
        fprintf(stderr, "prompt: %d tokens in %.3f s (%.1f tokens/s)\n", n0, t1 - t0, n0 / (t1 - t0));
        fprintf(stderr, "generated: %d tokens in %.3f s (%.1f tokens/s)\n", generated, t2 - t1,
                generated / (t2 - t1));
    }
    rc = 0;
done:
    free(text);
    free(prompt_ids);
    free(seq);
    free(cands);
    session_close(&s);
    return rc == 0 ? ST_OK : runtime_error(&err);
}

// ----------------------------------------------------------------------------
// logits

typedef struct {
    const char *model_dir, *out_file, *ids_list;
    TextSource text;
    int all;
} LogitsOptions;

static const char *const LOGITS_FLAGS[] = {"--all", NULL};
static const char *const LOGITS_VALUE_OPTIONS[] = {"--model", "--out", "--ids", "--file", NULL};

static int parse_logits(int argc, char **argv, LogitsOptions *o) {
    const char *cmd = "logits";
    memset(o, 0, sizeof *o);
    OptionSpec spec = {cmd, USAGE_LOGITS, LOGITS_FLAGS, LOGITS_VALUE_OPTIONS, 1, 0};
    for (int i = 0; i < argc; i++) {
        const char *a, *v;
        int st = next_option(&spec, argc, argv, &i, &a, &v);
        if (st != ST_OK) return st;
        if (!a) st = v ? set_text_source(cmd, &o->text, v, NULL) : ST_OK;
        else if (strcmp(a, "--all") == 0) o->all = 1;
        else if (strcmp(a, "--model") == 0) o->model_dir = v;
        else if (strcmp(a, "--out") == 0) o->out_file = v;
        else if (strcmp(a, "--ids") == 0) o->ids_list = v;
        else if (strcmp(a, "--file") == 0) st = set_text_source(cmd, &o->text, NULL, v);
        if (st != ST_OK) return st;
    }
    if (!o->model_dir) return usage_error(cmd, "missing --model");
    if (!o->out_file) return usage_error(cmd, "missing --out");
    int have_text = o->text.arg || o->text.file;
    if (have_text && o->ids_list) return usage_error(cmd, "give either a text or --ids, not both");
    if (!have_text && !o->ids_list) return usage_error(cmd, "missing the text (an argument, '-', --file F or --ids)");
    return ST_OK;
}

// "1,2,3" into a malloc'd array; only the syntax is checked here, the range
// once V is known.
static int parse_id_list(const char *list, int **ids, int *n) {
    const char *cmd = "logits";
    int count = 1;
    for (const char *p = list; *p; p++) count += *p == ',';
    *ids = malloc(sizeof(int) * (size_t)count);
    if (!*ids) return usage_error(cmd, "out of memory");
    const char *p = list;
    for (int i = 0; i < count; i++) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || (*end != ',' && *end != '\0') || errno == ERANGE || v < 0 || v > INT32_MAX) {
            free(*ids);
            *ids = NULL;
            return usage_error(cmd, "--ids expects comma-separated non-negative integers, got '%s'", list);
        }
        (*ids)[i] = (int)v;
        p = end + 1;
    }
    *n = count;
    return ST_OK;
}

static int write_floats(const char *path, const float *x, size_t n, Err *err) {
    FILE *f = fopen(path, "wb");
    if (!f) return err_fail(err, "%s: cannot create: %s", path, strerror(errno));
    size_t wrote = fwrite(x, sizeof(float), n, f);
    int close_rc = fclose(f);
    if (wrote != n || close_rc != 0) return err_fail(err, "%s: write failed: %s", path, strerror(errno));
    return 0;
}

static int cmd_logits(int argc, char **argv) {
    LogitsOptions o;
    int st = parse_logits(argc, argv, &o);
    if (st != ST_OK) return st;

    int *ids = NULL, *positions = NULL, n = 0;
    if (o.ids_list && (st = parse_id_list(o.ids_list, &ids, &n)) != ST_OK) return st;

    Err err = {{0}};
    Session s;
    char *text = NULL;
    size_t text_len = 0;
    int rc = -1;
    if (session_open(&s, o.model_dir, !o.ids_list, &err) != 0) goto done;
    const GPT2Config *c = &s.model.config;
    const int V = c->vocab_size;
    if (o.ids_list) {
        for (int i = 0; i < n; i++)
            if (ids[i] >= V) {
                st = usage_error("logits", "--ids: id %d is not below the vocabulary size %d", ids[i], V);
                goto done;
            }
    } else {
        if (read_text(&o.text, &text, &text_len, &err) != 0) goto done;
        if (encode_text(&s, text, text_len, &ids, &n, &err) != 0) goto done;
        if (check_ids_in_vocab(ids, n, V, &err) != 0) goto done;
    }
    if (n == 0) { err_fail(&err, "the text is empty: no position to compute"); goto done; }
    if (n > c->n_positions) {
        err_fail(&err, "%d tokens exceed the model's context of %d positions", n, c->n_positions);
        goto done;
    }

    int n_out = o.all ? n : 1;
    positions = malloc(sizeof(int) * (size_t)n_out);
    if (!positions) { err_fail(&err, "out of memory"); goto done; }
    for (int i = 0; i < n_out; i++) positions[i] = o.all ? i : n - 1;
    if (session_alloc(&s, 0, n, n, n_out, &err) != 0) goto done;
    GPT2Batch batch = {.B = 1, .T = n, .ids = ids, .out_pos = positions, .n_out = n_out};
    if (gpt2_forward(&s.model, &s.acts, &batch, &err) != 0) goto done;
    if (write_floats(o.out_file, s.acts.logits, (size_t)n_out * V, &err) != 0) goto done;
    fprintf(stderr, "logits: (%d, %d) float32 little-endian -> %s\n", n_out, V, o.out_file);
    rc = 0;
done:
    free(text);
    free(ids);
    free(positions);
    session_close(&s);
    if (st != ST_OK) return st;
    return rc == 0 ? ST_OK : runtime_error(&err);
}

// ----------------------------------------------------------------------------
// info

static const char *const INFO_VALUE_OPTIONS[] = {"--model", NULL};

static int parse_info(int argc, char **argv, const char **model_dir) {
    const char *cmd = "info";
    *model_dir = NULL;
    OptionSpec spec = {cmd, USAGE_INFO, NULL, INFO_VALUE_OPTIONS, 0, 0};
    for (int i = 0; i < argc; i++) {
        const char *a, *v;
        int st = next_option(&spec, argc, argv, &i, &a, &v);
        if (st != ST_OK) return st;
        if (strcmp(a, "--model") == 0) *model_dir = v;
    }
    if (!*model_dir) return usage_error(cmd, "missing --model");
    return ST_OK;
}

static void print_storage(const GPT2Model *m, size_t n_params) {
    if (m->owned_floats == 0)
        printf("storage:     all tensors used in place (F32, mmapped read-only)\n");
    else if (m->owned_floats >= n_params)
        printf("storage:     all tensors converted into owned memory (%zu floats: F16/BF16 or misaligned)\n",
               m->owned_floats);
    else
        printf("storage:     %zu of %zu floats converted into owned memory (F16/BF16 or misaligned), "
               "the rest used in place\n", m->owned_floats, n_params);
}

static int cmd_info(int argc, char **argv) {
    const char *dir;
    int st = parse_info(argc, argv, &dir);
    if (st != ST_OK) return st;

    Err err = {{0}};
    Session s;
    if (session_open(&s, dir, 0, &err) != 0) {
        session_close(&s);
        return runtime_error(&err);
    }
    const GPT2Config *c = &s.model.config;
    size_t n_params = gpt2_num_params(c);
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    struct stat sb;
    long long file_size = stat(path, &sb) == 0 ? (long long)sb.st_size : -1;

    printf("model:       %s\n", dir);
    printf("n_layer:     %d\n", c->n_layer);
    printf("n_head:      %d\n", c->n_head);
    printf("n_embd:      %d (head size %d)\n", c->n_embd, c->n_embd / c->n_head);
    printf("n_positions: %d\n", c->n_positions);
    printf("vocab_size:  %d\n", c->vocab_size);
    printf("ln_epsilon:  %g\n", (double)c->layer_norm_epsilon);
    printf("parameters:  %zu (%.1f MB as F32)\n", n_params, n_params * 4.0 / 1e6);
    printf("file:        %s, %lld bytes (%.1f MB)\n", path, file_size, file_size / 1e6);
    print_storage(&s.model, n_params);

    GPT2Tokenizer *tok = NULL;
    Err tok_err = {{0}};
    if (tokenizer_load(&tok, dir, &tok_err) == 0) {
        printf("tokenizer:   %d tokens\n", tokenizer_vocab_size(tok));
        tokenizer_free(tok);
    } else {
        printf("tokenizer:   none (%s)\n", tok_err.msg);
    }
    session_close(&s);
    return ST_OK;
}

// ----------------------------------------------------------------------------
// train

typedef struct {
    const char *model_dir, *data_file, *eval_file, *out_dir, *log_file;
    int steps, batch, seq, eval_every, eval_batches, warmup;   // warmup < 0: default
    float lr, weight_decay;
    uint64_t seed;
} TrainOptions;

static const char *const TRAIN_VALUE_OPTIONS[] = {
    "--model", "--data", "--steps", "--batch", "--seq", "--lr", "--out", "--eval-data",
    "--eval-every", "--eval-batches", "--warmup", "--weight-decay", "--seed", "--log", NULL,
};

static int parse_train(int argc, char **argv, TrainOptions *o) {
    const char *cmd = "train";
    memset(o, 0, sizeof *o);
    o->steps = o->batch = o->seq = o->warmup = -1;
    o->lr = -1.0f;
    o->weight_decay = 0.1f;
    o->seed = 1;
    OptionSpec spec = {cmd, USAGE_TRAIN, NULL, TRAIN_VALUE_OPTIONS, 0, 0};
    for (int i = 0; i < argc; i++) {
        const char *a, *v;
        int st = next_option(&spec, argc, argv, &i, &a, &v);
        if (st != ST_OK) return st;
        if (strcmp(a, "--model") == 0) o->model_dir = v;
        else if (strcmp(a, "--data") == 0) o->data_file = v;
        else if (strcmp(a, "--out") == 0) o->out_dir = v;
        else if (strcmp(a, "--eval-data") == 0) o->eval_file = v;
        else if (strcmp(a, "--log") == 0) o->log_file = v;
        else if (strcmp(a, "--steps") == 0) st = parse_int(cmd, a, v, 0, INT32_MAX - 1, &o->steps);
        else if (strcmp(a, "--batch") == 0) st = parse_int(cmd, a, v, 1, 1 << 16, &o->batch);
        else if (strcmp(a, "--seq") == 0) st = parse_int(cmd, a, v, 1, 1 << 20, &o->seq);
        else if (strcmp(a, "--eval-every") == 0) st = parse_int(cmd, a, v, 0, INT32_MAX, &o->eval_every);
        else if (strcmp(a, "--eval-batches") == 0) st = parse_int(cmd, a, v, 0, INT32_MAX, &o->eval_batches);
        else if (strcmp(a, "--warmup") == 0) st = parse_int(cmd, a, v, 0, INT32_MAX, &o->warmup);
        else if (strcmp(a, "--lr") == 0) st = parse_float(cmd, a, v, 0.0, 10.0, &o->lr);
        else if (strcmp(a, "--weight-decay") == 0) st = parse_float(cmd, a, v, 0.0, 100.0, &o->weight_decay);
        else if (strcmp(a, "--seed") == 0) st = parse_u64(cmd, a, v, &o->seed);
        if (st != ST_OK) return st;
    }
    if (!o->model_dir) return usage_error(cmd, "missing --model");
    if (!o->data_file) return usage_error(cmd, "missing --data");
    if (o->steps < 0) return usage_error(cmd, "missing --steps");
    if (o->batch < 0) return usage_error(cmd, "missing --batch");
    if (o->seq < 0) return usage_error(cmd, "missing --seq");
    if (o->lr < 0.0f) return usage_error(cmd, "missing --lr");
    if (o->lr == 0.0f) return usage_error(cmd, "--lr must be positive");
    if (!o->out_dir) return usage_error(cmd, "missing --out");
    if (!o->eval_file && (o->eval_every || o->eval_batches))
        return usage_error(cmd, "--eval-every and --eval-batches need --eval-data");
    if ((size_t)o->batch * (size_t)o->seq > (size_t)INT32_MAX / 4)
        return usage_error(cmd, "--batch x --seq (%d x %d) is too large", o->batch, o->seq);
    if (o->warmup < 0) o->warmup = o->steps / 10;
    return ST_OK;
}

// Set by SIGINT / SIGTERM, read between steps: the run stops and saves.
static volatile sig_atomic_t stop_signal = 0;

static void on_stop_signal(int sig) { stop_signal = sig; }

// SA_RESETHAND: a second signal during the save acts as usual (saving is
// atomic, so that never leaves a partial checkpoint). A signal that was
// ignored stays ignored, as the shell asks of a background job.
static void catch_stop_signals(struct sigaction old[2]) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    stop_signal = 0;
    const int signals[2] = {SIGINT, SIGTERM};
    for (int i = 0; i < 2; i++) {
        sigaction(signals[i], NULL, &old[i]);
        if (old[i].sa_handler != SIG_IGN) sigaction(signals[i], &sa, NULL);
    }
}

static void release_stop_signals(const struct sigaction old[2]) {
    sigaction(SIGINT, &old[0], NULL);
    sigaction(SIGTERM, &old[1], NULL);
}

/* Everything a run holds, allocated once before the first step; each part
 * is freed only if it was made. */
typedef struct {
    GPT2Model model;
    int have_model;
    GPT2Tokenizer *tok;
    const char *tok_names[2];
    char *tok_data[2];
    size_t tok_len[2];
    GPT2Tokens train, eval;
    size_t n_params;
    float *params, *grads, *m, *v;   // (n_params) each
    unsigned char *decay_mask;       // (n_params)
    GPT2Block *grad_blocks;          // (L)
    GPT2Weights grad_w;              // views into grads
    GPT2Acts acts;
    int have_acts;
    GPT2LMBatch batch;
    FILE *log;
    int tty;                         // stderr is a terminal: one updating line
} Trainer;

static void trainer_close(Trainer *t) {
    if (t->log) fclose(t->log);
    gpt2_lmbatch_free(&t->batch);
    if (t->have_acts) gpt2_acts_free(&t->acts);
    free(t->grad_blocks);
    free(t->decay_mask);
    free(t->v);
    free(t->m);
    free(t->grads);
    free(t->params);
    gpt2_tokens_free(&t->eval);
    gpt2_tokens_free(&t->train);
    free(t->tok_data[0]);
    free(t->tok_data[1]);
    if (t->tok) tokenizer_free(t->tok);
    if (t->have_model) gpt2_free(&t->model);
    memset(t, 0, sizeof *t);
}

// A data file as a token stream of the model's vocabulary, with room for one window.
static int load_tokens(Trainer *t, const char *path, int T, GPT2Tokens *out, Err *err) {
    GPT2Docs docs;
    if (gpt2_docs_load(&docs, path, err)) return -1;
    int rc = gpt2_tokens_encode(out, &docs, t->tok, err);
    gpt2_docs_free(&docs);
    if (rc) return -1;
    int V = t->model.config.vocab_size;
    for (size_t i = 0; i < out->n; i++)
        if (out->ids[i] >= V)
            return err_fail(err, "%s: token id %d is outside the model's vocabulary (V = %d)", path,
                             out->ids[i], V);
    if (out->n <= (size_t)T)
        return err_fail(err, "%s: %zu tokens, fewer than one window of --seq %d + 1", path, out->n, T);
    return 0;
}

static int trainer_open(Trainer *t, const TrainOptions *o, Err *err) {
    memset(t, 0, sizeof *t);
    t->tty = isatty(fileno(stderr));
    if (gpt2_load(&t->model, o->model_dir, err)) return -1;
    t->have_model = 1;
    const GPT2Config *c = &t->model.config;
    int B = o->batch, T = o->seq;
    if (T > c->n_positions)
        return err_fail(err, "--seq %d exceeds the model's context of %d positions", T, c->n_positions);
    // the tokenizer files travel with the output: read them before any work
    if (read_tokenizer_files(o->model_dir, t->tok_names, t->tok_data, t->tok_len, err)) return -1;
    if (tokenizer_load(&t->tok, o->model_dir, err)) {
        t->tok = NULL;
        return -1;
    }
    if (load_tokens(t, o->data_file, T, &t->train, err)) return -1;
    if (o->eval_file && load_tokens(t, o->eval_file, T, &t->eval, err)) return -1;

    t->n_params = gpt2_num_params(c);
    size_t n = t->n_params, BT = (size_t)B * T;
    t->params = malloc(n * sizeof(float));
    t->grads = malloc(n * sizeof(float));
    t->m = calloc(n, sizeof(float));
    t->v = calloc(n, sizeof(float));
    t->decay_mask = malloc(n);
    t->grad_blocks = malloc((size_t)c->n_layer * sizeof(GPT2Block));
    if (!t->params || !t->grads || !t->m || !t->v || !t->decay_mask || !t->grad_blocks)
        return err_fail(err, "out of memory for %zu parameters (x4)", n);
    gpt2_own_weights(&t->model, t->params);
    gpt2_point_weights(&t->grad_w, t->grad_blocks, t->grads, c);
    gpt2_decay_mask(t->decay_mask, c);
    // every layer kept for the backward, logits for all B*T positions (the
    // cross-entropy overwrites them with dlogits in place)
    if (gpt2_acts_alloc(&t->acts, c, B, T, T, (int)BT, 1, err)) return -1;
    t->have_acts = 1;
    if (gpt2_lmbatch_alloc(&t->batch, B, T, err)) return -1;
    if (o->log_file && !(t->log = fopen(o->log_file, "w")))
        return err_fail(err, "%s: cannot create: %s", o->log_file, strerror(errno));
    return 0;
}

/* One optimiser step on a fresh random batch: forward, cross-entropy over all
 * B*T positions, backward into zeroed grads, clip, AdamW. */
static int train_step(Trainer *t, const GPT2AdamW *opt, int step, uint64_t *rng,
                      float *loss, float *grad_norm, float *lr, Err *err) {
    GPT2LMBatch *b = &t->batch;
    int V = t->model.config.vocab_size;
    gpt2_lmbatch_sample(b, &t->train, rng);
    GPT2Batch batch = {.B = b->B, .T = b->T, .ids = b->inputs, .out_pos = b->out_pos, .n_out = b->n_out};
    if (gpt2_forward(&t->model, &t->acts, &batch, err)) return -1;
    // dlogits in place of the logits: gpt2_crossentropy reads each row before it writes it
    float *dlogits = t->acts.logits;
    *loss = gpt2_crossentropy(t->acts.logits, b->targets, b->n_out, V, dlogits, 1.0f);
    if (!isfinite(*loss)) return err_fail(err, "step %d: the loss is %g (try a lower --lr)", step + 1, (double)*loss);
    memset(t->grads, 0, t->n_params * sizeof(float));
    if (gpt2_backward(&t->model, &t->acts, &batch, dlogits, NULL, NULL, &t->grad_w, err)) return -1;
    *grad_norm = gpt2_clip_grad_norm(t->grads, t->n_params, 1.0f);
    *lr = gpt2_lr_at(opt, step);
    gpt2_adamw_step(t->params, t->grads, t->m, t->v, t->n_params, opt, *lr, step + 1, t->decay_mask);
    return 0;
}

// "1h02m", "3m05s" or "12s"
static void format_duration(char *buf, size_t cap, double secs) {
    long s = secs > 0 ? (long)(secs + 0.5) : 0;
    if (s >= 3600) snprintf(buf, cap, "%ldh%02ldm", s / 3600, s / 60 % 60);
    else if (s >= 60) snprintf(buf, cap, "%ldm%02lds", s / 60, s % 60);
    else snprintf(buf, cap, "%lds", s);
}

// On a terminal the progress line is rewritten in place; anything else
// printed first ends it.
static void end_progress_line(Trainer *t, int *open_line) {
    if (t->tty && *open_line) fputc('\n', stderr);
    *open_line = 0;
}

static int evaluate(Trainer *t, const TrainOptions *o, int step, int *open_line, double *loss, Err *err) {
    size_t windows = o->eval_batches ? (size_t)o->eval_batches * (size_t)o->batch : 0, n_targets = 0;
    double t0 = now_seconds();
    if (gpt2_eval_loss(&t->model, &t->acts, &t->batch, &t->eval, windows, loss, &n_targets, err)) return -1;
    double secs = now_seconds() - t0;
    end_progress_line(t, open_line);
    fprintf(stderr, "eval step %d/%d: loss %.4f ppl %.2f (%zu tokens of %s, %.1f s)\n", step, o->steps,
            *loss, exp(*loss), n_targets, o->eval_file, secs);
    if (t->log) {
        fprintf(t->log, "{\"step\":%d,\"eval_loss\":%.6f,\"eval_ppl\":%.4f,\"eval_tokens\":%zu}\n", step,
                *loss, exp(*loss), n_targets);
        fflush(t->log);
    }
    return 0;
}

// What is about to run, on stderr: the model, the data, the settings, and the
// OpenBLAS kernels (its AVX2 fallback on an AVX-512 CPU halves the speed).
static void print_run_header(const Trainer *t, const TrainOptions *o) {
    const GPT2Config *c = &t->model.config;
    const char *threads = getenv("OPENBLAS_NUM_THREADS");
    fprintf(stderr, "train: %s (%d layers, %d heads, %d embd, %d positions, %zu parameters)\n",
            o->model_dir, c->n_layer, c->n_head, c->n_embd, c->n_positions, t->n_params);
    fprintf(stderr, "train: %s: %zu documents, %zu tokens", o->data_file, t->train.n_docs, t->train.n);
    if (o->eval_file)
        fprintf(stderr, "; held out %s: %zu documents, %zu tokens", o->eval_file, t->eval.n_docs, t->eval.n);
    fprintf(stderr, "\ntrain: %d steps of %d x %d tokens, lr %g, warm-up %d, weight decay %g, seed %llu, "
            "OpenBLAS %s, %s threads\n", o->steps, o->batch, o->seq, (double)o->lr, o->warmup,
            (double)o->weight_decay, (unsigned long long)o->seed, openblas_get_corename(),
            threads ? threads : "default");
}

static int save_trained(Trainer *t, const char *dir, Err *err) {
    if (gpt2_save(&t->model.config, &t->model.w, dir, err)) return -1;
    return write_tokenizer_files(dir, t->tok_names, t->tok_data, t->tok_len, err);
}

static int cmd_train(int argc, char **argv) {
    TrainOptions o;
    int st = parse_train(argc, argv, &o);
    if (st != ST_OK) return st;

    Err err = {{0}};
    Trainer t;
    struct sigaction old_handlers[2];
    int rc = -1, interrupted = 0, open_line = 0, done_steps = 0;
    double eval_before = NAN, eval_after = NAN;
    float loss = NAN;
    catch_stop_signals(old_handlers);
    if (trainer_open(&t, &o, &err)) goto done;
    const int B = o.batch, T = o.seq;
    print_run_header(&t, &o);

    GPT2AdamW opt = {.lr = o.lr, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = o.weight_decay,
                     .warmup_steps = o.warmup, .total_steps = o.steps, .min_lr_frac = 0.1f};
    if (o.eval_file && evaluate(&t, &o, 0, &open_line, &eval_before, &err)) goto done;

    uint64_t rng = o.seed;
    int print_every = t.tty ? 1 : (o.steps / 50 > 0 ? o.steps / 50 : 1);
    double train_secs = 0.0;
    for (int step = 0; step < o.steps; step++) {
        if (stop_signal) { interrupted = 1; break; }
        float grad_norm = 0.0f, lr = 0.0f;
        double t0 = now_seconds();
        if (train_step(&t, &opt, step, &rng, &loss, &grad_norm, &lr, &err)) goto done;
        double secs = now_seconds() - t0;
        train_secs += secs;
        done_steps = step + 1;
        if (t.log) {   // flushed: a run can be followed with tail -f
            fprintf(t.log, "{\"step\":%d,\"loss\":%.6f,\"lr\":%.6g,\"grad_norm\":%.6g,\"ms\":%.1f}\n",
                    done_steps, loss, (double)lr, (double)grad_norm, 1e3 * secs);
            fflush(t.log);
        }
        if (done_steps % print_every == 0 || done_steps == o.steps || done_steps == 1) {
            char eta[32];
            format_duration(eta, sizeof eta, train_secs / done_steps * (o.steps - done_steps));
            fprintf(stderr, "%sstep %d/%d | loss %.4f | lr %.2e | norm %.2f | %.0f tok/s | ETA %s%s",
                    t.tty ? "\r" : "", done_steps, o.steps, loss, (double)lr, (double)grad_norm,
                    (double)B * T * done_steps / train_secs, eta, t.tty ? "\033[K" : "\n");
            open_line = t.tty;
        }
        if (o.eval_file && o.eval_every && done_steps % o.eval_every == 0 && done_steps < o.steps &&
            evaluate(&t, &o, done_steps, &open_line, &eval_after, &err))
            goto done;
    }
    end_progress_line(&t, &open_line);
    if (interrupted)
        fprintf(stderr, "train: %s after step %d of %d: saving\n", stop_signal == SIGTERM ? "SIGTERM" : "SIGINT",
                done_steps, o.steps);
    else if (o.eval_file && done_steps == 0)
        eval_after = eval_before;
    else if (o.eval_file && evaluate(&t, &o, done_steps, &open_line, &eval_after, &err))
        goto done;
    if (save_trained(&t, o.out_dir, &err)) goto done;

    printf("wrote %s: %d steps of %d x %d tokens in %.1f s (%.0f tokens/s, %.1f ms/step)", o.out_dir,
           done_steps, B, T, train_secs, done_steps ? (double)B * T * done_steps / train_secs : 0.0,
           done_steps ? 1e3 * train_secs / done_steps : 0.0);
    if (done_steps) printf(", last loss %.4f", loss);
    if (o.eval_file && !interrupted)
        printf(", held-out ppl %.2f -> %.2f", exp(eval_before), exp(eval_after));
    printf("\n");
    if (interrupted) {
        err_fail(&err, "interrupted after step %d of %d; the model so far is saved in %s", done_steps,
                  o.steps, o.out_dir);
        goto done;
    }
    rc = 0;
done:
    end_progress_line(&t, &open_line);
    trainer_close(&t);
    release_stop_signals(old_handlers);
    return rc == 0 ? ST_OK : runtime_error(&err);
}

// ----------------------------------------------------------------------------
// main

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);   // argv: the arguments after the name
} Command;

static const Command COMMANDS[] = {
    {"init", cmd_init},
    {"score", cmd_score},
    {"generate", cmd_generate},
    {"logits", cmd_logits},
    {"info", cmd_info},
    {"train", cmd_train},
};

int main(int argc, char **argv) {
    if (argc < 2) return usage_error(NULL, "missing command (init, score, generate, logits, info or train)");
    if (is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
        fputs(USAGE_MAIN, stdout);
        return ST_OK;
    }
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++) {
        if (strcmp(argv[1], COMMANDS[i].name) != 0) continue;
        int st = COMMANDS[i].run(argc - 2, argv + 2);
        return st == ST_HELP ? ST_OK : st;
    }
    return usage_error(NULL, "unknown command '%s'", argv[1]);
}
