/*
 * model/gpt2_cli_train.c: `gpt2 train`, the trainer: every weight of a
 * checkpoint trained as a language model on a data set (forward,
 * cross-entropy, backward, AdamW), with held-out evaluation, a log, progress
 * lines, and a save on SIGINT / SIGTERM.
 */
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/gpt2_cli.h"

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
    *grad_norm = (float)gpt2_clip_grads(t->grads, t->n_params, 1.0, GPT2_NUMERICS_LLMC);
    *lr = gpt2_lr_at(opt, step);
    const GPT2Adam adamw = {.lr = *lr, .beta1 = opt->beta1, .beta2 = opt->beta2, .eps = opt->eps,
                            .weight_decay = opt->weight_decay, .numerics = GPT2_NUMERICS_LLMC};
    gpt2_adam_step(t->params, t->grads, t->m, t->v, t->n_params, &adamw, step + 1, t->decay_mask);
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
    double t0 = util_now();
    if (gpt2_eval_loss(&t->model, &t->acts, &t->batch, &t->eval, windows, loss, &n_targets, err)) return -1;
    double secs = util_now() - t0;
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

int cmd_train(int argc, char **argv) {
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
        double t0 = util_now();
        if (train_step(&t, &opt, step, &rng, &loss, &grad_norm, &lr, &err)) goto done;
        double secs = util_now() - t0;
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
