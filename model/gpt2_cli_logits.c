/*
 * model/gpt2_cli_logits.c: `gpt2 logits`, the raw float32 logits of a text or
 * of token ids, written to a file (for the numerical tests).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gpt2_cli.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gpt2 logits writes host floats as little-endian float32: port the writer first"
#endif

static const char USAGE_LOGITS[] =
    "usage: gpt2 logits --model DIR --out FILE [--all] [--precision P]\n"
    "                   (TEXT | - | --file F | --ids I,J,..)\n"
    "\n"
    "Runs the text (encoded as-is: no <|endoftext|> is prepended) or the given\n"
    "token ids through the model and writes the logits of the last position,\n"
    "or with --all of every position (row-major (T, V)), to FILE as raw\n"
    "little-endian float32. Prints the shape on stderr.\n"
    "\n"
    "  --model DIR   checkpoint directory\n"
    "  --precision P f32 (default) or bf16: the matmuls in bf16 through oneDNN\n"
    "                (needs avx512_bf16 or AMX)\n"
    "  --out FILE    output file\n"
    "  --all         logits of every position, not only the last\n"
    "  --ids LIST    comma-separated token ids (each < V) instead of a text\n"
    "  --file F      read the text from file F ('-' = standard input)\n";

typedef struct {
    const char *model_dir, *out_file, *ids_list;
    TextSource text;
    int all;
    GPT2Precision precision;
} LogitsOptions;

static const char *const LOGITS_FLAGS[] = {"--all", NULL};
static const char *const LOGITS_VALUE_OPTIONS[] = {"--model", "--out", "--ids", "--file", "--precision", NULL};

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
        else if (strcmp(a, "--precision") == 0) st = parse_precision(cmd, a, v, &o->precision);
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

int cmd_logits(int argc, char **argv) {
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
    if (gpt2_set_precision(&s.model, o.precision, &err) != 0) goto done;
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
