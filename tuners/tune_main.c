/*
 * tuners/tune_main.c: the tune program. One hyperparameter point (JSON) in,
 * one result record (JSON) out:
 *
 *   tune [--quiet] [POINT.json | -]
 *
 * It loads what the point names (task model, tokenizer, scorer and policy
 * models, word list, splits), builds the evaluator and the scorer, runs PEZ,
 * RLPrompt, soft prompt tuning or a manual prompt, and prints the record on
 * stdout. Progress goes to stderr.
 *
 * Exit status: 0 ok; 1 the run failed, and a record with status "failed" and
 * the error is still printed on stdout (a supervisor always gets a record);
 * 2 a usage error or a bad point (one message on stderr, no record). Only
 * main() exits; everything is freed before it returns.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>   // openblas_get_corename, openblas_get_num_threads: the record's run

#include "tuners/tuners.h"

// Rows per evaluator batch at most: RLPrompt scores 16 prompts x the train split per
// step, PEZ whole dev/test splits. Memory grows with rows x (prompt + max_tokens), and the
// point's activation_mb bounds it (fewer rows).
#define EVAL_ROWS 64
// Prompts per scorer batch (RLPrompt scores its 16 sampled prompts at once).
#define SCORER_PROMPTS 16
#define MAX_POINT_BYTES ((size_t)1 << 20)

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

static const char USAGE[] =
    "usage: tune [--quiet] [POINT.json | -]\n"
    "\n"
    "Runs one hyperparameter point of interpretable prompt tuning (PEZ,\n"
    "RLPrompt, soft prompt tuning) and prints one JSON result record on stdout.\n"
    "The point is read from POINT.json, or from standard input with '-' or no\n"
    "argument.\n"
    "\n"
    "A point is one JSON object (defaults in brackets):\n"
    "  method         \"pez\", \"rlprompt\", \"soft\" or \"manual\" (required); soft\n"
    "                 tunes a continuous prompt (Lester et al. 2021) on PEZ's loop and\n"
    "                 reports its projection onto tokens; manual scores a fixed prompt\n"
    "                 text given as \"prompt\" (a baseline, no training; \"\" is the\n"
    "                 template alone)\n"
    "  task           sst-2, mr, cr, subj, trec, sst-5, agnews, yahoo, or\n"
    "                 \"custom\" with verbalizers (required)\n"
    "  model          task LM checkpoint directory, with its tokenizer (required)\n"
    "  data           {\"train\": F, \"dev\": F, \"test\": F} TSV files, or instead\n"
    "  data_dir, split  the few-shot layout: DIR/SPLIT/{train,dev}.tsv, DIR/test.tsv\n"
    "  scorer_model   LM that scores the prompt's perplexity [the task model]\n"
    "  policy_model   RLPrompt's frozen backbone [the task model]; its reference\n"
    "                 uses distilgpt2 (make distilgpt2)\n"
    "  lambda         weight of the prompt's log-perplexity [0]\n"
    "  objective      \"additive\": task + lambda*log_ppl, or \"convex\":\n"
    "                 (1-lambda)*task + lambda*log_ppl, lambda in [0, 1] [additive]\n"
    "  prompt_length  1..64 [10 for pez and soft, 5 for rlprompt]\n"
    "  seed           0..2^53-1 [0]\n"
    "  template       with [P] and {sentence} once each\n"
    "                 [\"[P]{sentence} It was\" for pez and soft, \"{sentence}[P]\" for\n"
    "                 rlprompt and manual]\n"
    "  verbalizers    one single-token string per class [the task's]\n"
    "  max_tokens     template + sentence tokens per example, sentences cut\n"
    "                 at the end [128]\n"
    "  max_test       score only the first N test examples, 0 = all [0]\n"
    "  activation_mb  the rank's activation memory, MB, or \"none\" [200]: the\n"
    "                 evaluator's batches take at most a quarter (rlprompt, manual:\n"
    "                 all of it), PEZ's and soft's training batches the rest, in\n"
    "                 micro-batches whose gradients add up to the whole batch's\n"
    "                 (the same results at any budget; not part of the point's\n"
    "                 identity; stderr says the batch sizes and each step's\n"
    "                 micro-batches)\n"
    "  prompt_vocab   the tokens a tuner may use: \"all\" (every token but\n"
    "                 <|endoftext|>), \"utf8\" (also only tokens that are whole\n"
    "                 UTF-8 characters, no control characters but tab and\n"
    "                 newline) or \"ascii\" (printable ASCII only) [all]\n"
    "  dictionary     word list for the dictionary-word share\n"
    "                 [/usr/share/dict/words]\n"
    "  precision      \"f32\" or \"bf16\": the matmuls of every model of the run;\n"
    "                 bf16 (oneDNN: weights and inputs rounded to bf16, sums in f32)\n"
    "                 needs a CPU with avx512_bf16 or AMX, else the run fails saying\n"
    "                 so [f32]\n"
    "  pez            {steps 1000, batch 16, eval_every 10, optimizer \"adafactor\"\n"
    "                 | \"adamw\", lr 0.3 (adafactor) / 0.1 (adamw), weight_decay 0.1,\n"
    "                 clip 1.0, init \"classes\" | \"random\", reset_quirk false,\n"
    "                 ppl_grad \"full\" | \"input\" (the reference's)}\n"
    "  soft           the same keys and defaults as pez (reset_quirk refused)\n"
    "  rlprompt       {steps 1000, prompts_per_step 16, top_k 256, eval_every 10,\n"
    "                 hidden 2048, lr 5e-5, clip 5.0, polyak 0.001, reward_scale 5,\n"
    "                 reward \"objective\" | \"gap\" (the reference's)}\n"
    "  pez, soft and rlprompt also take early stopping: patience K (stop after\n"
    "                 K evaluations on dev in a row without a better dev J; 0 =\n"
    "                 off [0]) and min_steps N (no stop before step N [0]); the\n"
    "                 record's steps and stop_reason say where and why it stopped\n"
    "The tuners minimise J = task + lambda*log_ppl (task: cross-entropy of the\n"
    "label over the verbalizers, nats; log_ppl: nats/token, 0 for no tokens) and\n"
    "keep the prompt with the lowest J on dev (ties: lower log_ppl, then the\n"
    "earlier step). Soft computes the task term at its continuous prompt and\n"
    "log_ppl at the prompt's projection; its record reports the projection\n"
    "(accuracy, prompt, log_ppl) and the continuous prompt in faithfulness\n"
    "{acc_continuous} and objective.\n"
    "Unknown keys are errors. The record holds the point with every default\n"
    "filled in (\"point\", keys sorted), status, error, prompt {ids, text,\n"
    "text_ids, roundtrip, roundtrip_share, text_truncated}, accuracy {train, dev,\n"
    "test, test_text}, balanced_accuracy, class_accuracy, prediction_share and\n"
    "task_loss {train, dev, test}, collapsed, objective {split, form, lambda,\n"
    "w_task, w_interp, task, interp, total}, dev_reward, log_ppl, ppl,\n"
    "dict_share, distinct_share, faithfulness {acc_continuous, acc_projected,\n"
    "kl}, steps, stop_reason, best_step, wall_seconds, history [{step, loss, dev_acc,\n"
    "dev_task, log_ppl, dev_objective, train_reward}], vocab_size and versions\n"
    "{tune, model_sha256}, then what reproduces the run: run {code_version,\n"
    "host, command, openblas_core, openblas_threads, openblas_coretype},\n"
    "data_files {train, dev, test: {sha256, examples; test: scored}} and model\n"
    "{n_layer, n_head, n_embd, n_positions, random_init: the weights are the\n"
    "ones `gpt2 init` wrote}. The same point gives the same record but for\n"
    "wall_seconds and run.\n"
    "\n"
    "  --quiet   no progress on stderr\n"
    "  --help    this text\n"
    "\n"
    "Environment: TUNE_KNOWN_SHA256, lines \"SHA256 INODE SIZE MTIME CTIME PATH\"\n"
    "(times as seconds.nanoseconds): the model's sha256 is taken from the line\n"
    "naming its model.safetensors while that file has this inode, size, mtime\n"
    "and ctime, instead of hashing it (the sweep gives each point the digest it\n"
    "made for the point ids).\n"
    "\n"
    "Exit status: 0 ok; 1 the run failed (a record with status \"failed\" is\n"
    "still printed); 2 usage error or bad point (a message on stderr, no record).\n";

// ----------------------------------------------------------------------------
// progress on stderr

typedef struct {
    int tty;        // stderr is a terminal: one line updated in place
    int quiet;
    int open_line;  // a \r-updated line is showing and needs its newline
} Progress;

static void progress_line(void *user, const char *line) {
    Progress *pg = user;
    if (pg->quiet) return;
    if (pg->tty) {
        fprintf(stderr, "\r%s\033[K", line);
        pg->open_line = 1;
    } else {
        fprintf(stderr, "%s\n", line);
    }
    fflush(stderr);
}

/* A line that stays (not updated in place). */
static void info_line(Progress *pg, const char *line) {
    if (pg->quiet) return;
    if (pg->open_line) fputc('\n', stderr);
    pg->open_line = 0;
    fprintf(stderr, "%s\n", line);
    fflush(stderr);
}

static void progress_end(Progress *pg) {
    if (pg->open_line) fputc('\n', stderr);
    pg->open_line = 0;
}

// ----------------------------------------------------------------------------
// loading everything a run needs

typedef struct {
    TunePoint point;
    GPT2Model model, scorer_model, policy_model;   // the last two only when other dirs
    int have_model, have_scorer, have_policy;
    GPT2Tokenizer *tok;
    unsigned char *allowed;                        // (V) the prompt vocabulary
    TuneContext ctx;
    TuneProvenance prov;   // the record's run, data_files, model (filled as loading goes)
    char sha256[65];
    double hash_seconds;   // hashing the model's weights; -1: their digest came from TUNE_KNOWN_SHA256
} Run;

/* Another checkpoint beside the task model: it scores or generates the task
 * model's token ids, so its vocabulary must be the same. */
static int load_other_model(GPT2Model *m, int *have, const char *dir, const char *role,
                            const GPT2Model *task, Err *err) {
    if (gpt2_load(m, dir, err)) return -1;
    *have = 1;
    if (gpt2_set_precision(m, task->precision, err)) return -1;
    if (m->config.vocab_size != task->config.vocab_size)
        return err_fail(err, "%s model %s has a vocabulary of %d, the task model %d", role, dir,
                         m->config.vocab_size, task->config.vocab_size);
    return 0;
}

/* A TSV split, loaded, encoded with the point's template, and freed. */
static int load_split(EncodedSplit *e, const char *path, const TunePoint *p, GPT2Tokenizer *tok,
                      Err *err) {
    Split s;
    if (split_load(&s, path, p->n_classes, err)) return -1;
    int rc = encode_split(e, &s, p->template_text, tok, p->max_tokens, err);
    split_free(&s);
    return rc;
}


// ----------------------------------------------------------------------------
// what reproduces the run (the record's run, data_files, model)

/* Where and how tune runs: the build, the host, its command line, OpenBLAS's kernels and threads. */
static void run_provenance(TuneProvenance *v, int argc, char **argv) {
    v->code_version = util_code_version();
    util_host_name(v->host, sizeof v->host);
    v->argc = argc;
    v->argv = (const char *const *)argv;
    snprintf(v->openblas_core, sizeof v->openblas_core, "%s", openblas_get_corename());
    v->openblas_threads = openblas_get_num_threads();
    v->openblas_coretype = getenv("OPENBLAS_CORETYPE");
}

/* The task model's shape, and whether its weights (digest sha) are a random init. */
static void model_provenance(TuneProvenance *v, const GPT2Model *m, const char *dir, const char *sha) {
    v->have_model = 1;
    v->n_layer = m->config.n_layer;
    v->n_head = m->config.n_head;
    v->n_embd = m->config.n_embd;
    v->n_positions = m->config.n_positions;
    v->random_init = gpt2_random_init(dir, sha);
}

/* The splits by contents: their sha256 (a digest a supervisor handed over in TUNE_KNOWN_SHA256
 * is used while the file is unchanged, as for the model; else tune hashes the file: the splits
 * are small) and their sizes. */
static int data_provenance(TuneProvenance *v, const TuneContext *ctx, Err *err) {
    const TunePoint *p = ctx->point;
    const char *paths[TUNE_N_SPLITS] = {p->train_path, p->dev_path, p->test_path};
    const EncodedSplit *splits[TUNE_N_SPLITS] = {&ctx->train, &ctx->dev, &ctx->test};
    for (int sp = 0; sp < TUNE_N_SPLITS; sp++) {
        int hashed;
        if (gpt2_file_sha256_reuse(paths[sp], getenv(TUNE_KNOWN_SHA256_ENV), v->data_sha256[sp], &hashed, err))
            return -1;
        v->data_n[sp] = splits[sp]->n;
    }
    v->test_scored = p->max_test > 0 && p->max_test < ctx->test.n ? p->max_test : ctx->test.n;
    v->have_data = 1;
    return 0;
}

static int run_load(Run *run, Err *err) {
    const TunePoint *p = &run->point;
    TuneContext *ctx = &run->ctx;
    ctx->point = p;
    if (gpt2_load(&run->model, p->model_dir, err)) return -1;
    run->have_model = 1;
    // the model's identity, in every record from here on: the sweep's digest while the file is
    // the one it hashed, the sweep's path string (point_input_path) naming it
    char weights[TUNE_PATH + 32];
    if (point_input_path(p, INPUT_MODEL, weights, sizeof weights)) return err_fail(err, "the model's path is too long");
    int hashed = 0;
    double t0 = util_now();
    if (gpt2_file_sha256_reuse(weights, getenv(TUNE_KNOWN_SHA256_ENV), run->sha256, &hashed, err)) return -1;
    run->hash_seconds = hashed ? util_now() - t0 : -1;
    model_provenance(&run->prov, &run->model, p->model_dir, run->sha256);
    // the point's precision, for every model of the run (the others take the task model's)
    if (gpt2_set_precision(&run->model, p->precision, err)) return -1;
    ctx->model = ctx->scorer_model = ctx->policy_model = &run->model;
    if (tokenizer_load(&run->tok, p->model_dir, err)) {
        run->tok = NULL;
        return -1;
    }
    ctx->tok = run->tok;
    if (p->method == METHOD_MANUAL) { // the prompt's length comes from its text
        int ids[TUNE_MAX_PROMPT];
        if (manual_prompt_ids(p, run->tok, ids, &run->point.prompt_length, err)) return -1;
    }
    if (tokenizer_vocab_size(run->tok) > run->model.config.vocab_size)
        return err_fail(err, "the tokenizer in %s has %d tokens, the model only %d", p->model_dir,
                         tokenizer_vocab_size(run->tok), run->model.config.vocab_size);
    int V = run->model.config.vocab_size, n_allowed = 0;
    if (!(run->allowed = malloc((size_t)V))) return err_fail(err, "out of memory (prompt vocabulary)");
    if (prompt_vocab_mask(run->allowed, run->tok, V, p->prompt_vocab, &n_allowed, err)) return -1;
    ctx->allowed = run->allowed;
    if (p->scorer_dir[0]) {
        if (load_other_model(&run->scorer_model, &run->have_scorer, p->scorer_dir, "scorer", &run->model, err))
            return -1;
        ctx->scorer_model = &run->scorer_model;
    }
    if (p->policy_dir[0]) {
        if (load_other_model(&run->policy_model, &run->have_policy, p->policy_dir, "policy", &run->model, err))
            return -1;
        ctx->policy_model = &run->policy_model;
    }
    if (dictionary_load(&ctx->dict, p->dict_path, err)) return -1;

    ctx->n_classes = p->n_classes;
    const char *verbalizers[TUNE_MAX_CLASSES];
    for (int k = 0; k < p->n_classes; k++) verbalizers[k] = p->verbalizers[k];
    if (verbalizer_ids(run->tok, verbalizers, p->n_classes, ctx->label_ids, err)) return -1;
    if (load_split(&ctx->train, p->train_path, p, run->tok, err) ||
        load_split(&ctx->dev, p->dev_path, p, run->tok, err) ||
        load_split(&ctx->test, p->test_path, p, run->tok, err))
        return -1;
    if (data_provenance(&run->prov, ctx, err)) return -1;

    // rows as wide as the longest example with its prompt, within the context
    int longest = encoded_split_longest(&ctx->train);
    if (encoded_split_longest(&ctx->dev) > longest) longest = encoded_split_longest(&ctx->dev);
    if (encoded_split_longest(&ctx->test) > longest) longest = encoded_split_longest(&ctx->test);
    int max_T = longest + p->prompt_length, context = run->model.config.n_positions;
    if (max_T > context)
        return err_fail(err, "examples need up to %d positions (%d tokens + prompt %d), the model's context "
                         "is %d: lower max_tokens", max_T, longest, p->prompt_length, context);
    // the evaluator's share of the activation budget, its batches planned for rows of the mean length
    long tokens = 0, rows = 0;
    const EncodedSplit *splits[] = {&ctx->train, &ctx->dev, &ctx->test};
    for (int k = 0; k < 3; k++) {
        rows += splits[k]->n;
        for (int i = 0; i < splits[k]->n; i++) tokens += splits[k]->pre_len[i] + splits[k]->post_len[i];
    }
    int mean_T = (int)((tokens + rows - 1) / rows) + p->prompt_length;
    double share = tune_eval_share(p);
    size_t eval_bytes = (size_t)(p->activation_mb * share * 1048576.0);
    if (evaluator_new_bounded(&ctx->eval, &run->model, ctx->label_ids, p->n_classes, EVAL_ROWS, max_T, eval_bytes,
                              mean_T, err))
        return -1;
    size_t one_row = evaluator_bytes(ctx->eval, NULL, NULL);
    if (eval_bytes && one_row > eval_bytes && !p->activation_default)
        return err_fail(err, "activation_mb %g leaves %.3g MB for evaluation, and one row of %d positions needs %.3g MB "
                         "(activation_mb >= %.0f)", p->activation_mb, eval_bytes / 1048576.0, max_T,
                         one_row / 1048576.0, ceil(one_row / 1048576.0 / share));
    if (evaluator_cache(ctx->eval, &ctx->train, err) || evaluator_cache(ctx->eval, &ctx->dev, err))
        return -1;
    if (p->prompt_length > ctx->scorer_model->config.n_positions)
        return err_fail(err, "prompt_length %d exceeds the scorer's context of %d", p->prompt_length,
                         ctx->scorer_model->config.n_positions);
    return scorer_new(&ctx->scorer, ctx->scorer_model, SCORER_PROMPTS, err);
}

static void run_free(Run *run) {
    tune_context_free(&run->ctx);
    if (run->tok) tokenizer_free(run->tok);
    free(run->allowed);
    if (run->have_policy) gpt2_free(&run->policy_model);
    if (run->have_scorer) gpt2_free(&run->scorer_model);
    if (run->have_model) gpt2_free(&run->model);
    point_free(&run->point);
    memset(run, 0, sizeof *run);
}

// ----------------------------------------------------------------------------

static int usage_error(const char *fmt, const char *arg) {
    fputs("tune: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nRun 'tune --help' for usage.\n", stderr);
    return EXIT_USAGE;
}

int main(int argc, char **argv) {
    Progress pg = {.tty = isatty(fileno(stderr)), .quiet = 0, .open_line = 0};
    const char *point_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(USAGE, stdout);
            return EXIT_OK;
        }
        if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) pg.quiet = 1;
        else if (a[0] == '-' && a[1] != '\0') return usage_error("unknown option %s", a);
        else if (point_path) return usage_error("more than one point given (%s)", a);
        else point_path = a;
    }

    // the point: any problem with it is the caller's (exit 2, no record). A file must be a
    // regular one (a FIFO is refused, not waited on); a stream comes on stdin ('-')
    char *text = NULL;
    size_t size = 0;
    Err rerr;
    if (point_path && strcmp(point_path, "-") != 0) {
        if (util_read_file(point_path, &text, &size, &rerr)) {
            fprintf(stderr, "tune: cannot read the point: %s\n", rerr.msg);
            return EXIT_USAGE;
        }
        if (size > MAX_POINT_BYTES) {
            fprintf(stderr, "tune: %s: a point of %zu bytes is over the limit of %zu\n", point_path, size,
                    MAX_POINT_BYTES);
            free(text);
            return EXIT_USAGE;
        }
    } else {
        if (isatty(fileno(stdin)) && !pg.quiet)
            fputs("tune: reading the point from standard input (end it with Ctrl-D)\n", stderr);
        if (util_read_stream(stdin, "standard input", MAX_POINT_BYTES, &text, &size, &rerr)) {
            fprintf(stderr, "tune: cannot read the point: %s\n", rerr.msg);
            return EXIT_USAGE;
        }
    }
    Run run;
    memset(&run, 0, sizeof run);
    Err err = {{0}};
    int rc = point_parse(&run.point, text, &err);
    free(text);
    if (rc) {
        fprintf(stderr, "tune: %s\n", err.msg);
        return EXIT_USAGE;
    }

    // the run: from here on, every outcome is a record on stdout
    double start = util_now();
    TuneResult result;
    memset(&result, 0, sizeof result);
    run_provenance(&run.prov, argc, argv);
    run.ctx.progress = progress_line;
    run.ctx.progress_user = &pg;
    const TunePoint *p = &run.point;
    rc = run_load(&run, &err);
    double loaded = util_now();
    // the vocabulary is the model's, in every record from its loading on, a failed run's too (the
    // report's reference log-PPL is ln V). TUNE_VERSION stays: it is part of a point's identity,
    // and a field added to the output changes nothing a point computes
    if (run.have_model) result.vocab_size = run.model.config.vocab_size;
    if (rc == 0) {
        char line[512];
        snprintf(line, sizeof line, "tune: %s on %s (%d train, %d dev, %d test), prompt length %d, lambda %g, seed %llu",
                 method_name(p->method), p->task, run.ctx.train.n, run.ctx.dev.n,
                 run.ctx.test.n, p->prompt_length, p->lambda, (unsigned long long)p->seed);
        info_line(&pg, line);
        if (run.hash_seconds < 0) snprintf(line, sizeof line, "tune: model sha256 from " TUNE_KNOWN_SHA256_ENV " (the file is unchanged)");
        else snprintf(line, sizeof line, "tune: model sha256 hashed in %.2f s", run.hash_seconds);
        info_line(&pg, line);
        snprintf(line, sizeof line, "tune: loaded in %.2f s (models, tokenizer, splits, evaluator, scorer; "
                 "the hash excluded)", loaded - start - (run.hash_seconds > 0 ? run.hash_seconds : 0));
        info_line(&pg, line);
        int eval_rows, eval_tokens;
        size_t eval_bytes = evaluator_bytes(run.ctx.eval, &eval_rows, &eval_tokens);
        char budget[32] = "none";
        if (p->activation_mb > 0) snprintf(budget, sizeof budget, "%g", p->activation_mb);
        snprintf(line, sizeof line, "tune: evaluation batches of up to %d rows, %d positions (%.1f MB; activation_mb %s%s)",
                 eval_rows, eval_tokens, eval_bytes / 1048576.0, budget,
                 p->activation_mb > 0 && eval_bytes > p->activation_mb * tune_eval_share(p) * 1048576.0
                     ? ": the default, raised to one row" : "");
        info_line(&pg, line);
        rc = p->method == METHOD_PEZ        ? pez_run(&run.ctx, &result, &err)
             : p->method == METHOD_RLPROMPT ? rlprompt_run(&run.ctx, &result, &err)
             : p->method == METHOD_SOFT     ? soft_run(&run.ctx, &result, &err)
                                            : manual_run(&run.ctx, &result, &err);
    }
    progress_end(&pg);
    result.wall_seconds = util_now() - start;
    char *record = result_record_json(p, &result, rc ? "failed" : "ok", rc ? err.msg : NULL,
                                      run.sha256[0] ? run.sha256 : NULL, &run.prov);
    int status = rc ? EXIT_FAILED : EXIT_OK;
    if (!record) {
        fprintf(stderr, "tune: out of memory writing the record\n");
        status = EXIT_FAILED;
    } else if (printf("%s\n", record) < 0 || fflush(stdout) != 0) {
        fprintf(stderr, "tune: cannot write the record: %s\n", strerror(errno));
        status = EXIT_FAILED;
    }
    if (rc) fprintf(stderr, "tune: %s\n", err.msg);
    free(record);
    result_free(&result);
    run_free(&run);
    return status;
}
