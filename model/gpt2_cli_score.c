/*
 * model/gpt2_cli_score.c: `gpt2 score`, the per-token log-probabilities and
 * the perplexity of a text, in chunks that continue one another through the
 * KV cache.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gpt2_cli.h"

static const char USAGE_SCORE[] =
    "usage: gpt2 score --model DIR [--json] [--verbose] [--precision P] (TEXT | - | --file F)\n"
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
    "  --precision P f32 (default) or bf16: the matmuls in bf16 through oneDNN\n"
    "                (needs avx512_bf16 or AMX)\n"
    "  --json        print one JSON object instead:\n"
    "                {\"tokens\":[ids],\"logprobs\":[..],\"log_ppl\":x,\"ppl\":y}\n"
    "  --file F      read the text from file F ('-' = standard input)\n"
    "  --verbose     print the timing (tokens/s) on stderr\n"
    "  TEXT          the text itself; '-' reads standard input\n";

typedef struct {
    const char *model_dir;
    TextSource text;
    int json, verbose;
    GPT2Precision precision;
} ScoreOptions;

// Positions per forward call: bounds the logits buffer to (SCORE_CHUNK, V)
// (25 MB for GPT-2) however long the text; the KV cache carries the context
// from one chunk to the next.
#define SCORE_CHUNK 128

static const char *const SCORE_FLAGS[] = {"--json", "--verbose", NULL};
static const char *const SCORE_VALUE_OPTIONS[] = {"--model", "--file", "--precision", NULL};

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
        else if (strcmp(a, "--precision") == 0) st = parse_precision(cmd, a, v, &o->precision);
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

int cmd_score(int argc, char **argv) {
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
    if (gpt2_set_precision(&s.model, o.precision, &err) != 0) goto done;
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

    double t0 = util_now();
    if (score_tokens(&s, seq, seq + 1, n, positions, logprobs, &err) != 0) goto done;
    double secs = util_now() - t0;

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
