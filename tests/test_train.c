// tests/test_train.c: what training needs besides the backward (model/train.c).
//
//   - the learning-rate schedule at known points (warm-up, cosine, floor);
//   - the trainer's AdamW (llm.c's numerics) against values worked out by
//     hand, two steps (bias correction at t = 1 and t = 2), decayed and
//     undecayed parameters, and a NULL mask; the three numerics of the one
//     Adam step against Adam in double (they differ in rounding only) (the
//     tuners' own settings are checked against torch in test_pez and
//     test_rlprompt);
//   - the decay mask of a config (counts, and which tensors);
//   - gradient-norm clipping in both forms (llm.c's, torch's);
//   - trainable weights: copied out of a loaded checkpoint, changed, saved
//     and loaded back bit for bit;
//   - the document loader: TSV with a header, CRLF, quotes, a tab inside the
//     text, the text column anywhere (util/'s reader), plain text, and its
//     errors;
//   - token streams (with the real tokenizer when $TOKENIZER_DIR has it),
//     random training windows and the evaluation windows, whose loss must
//     equal a window-by-window reference.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE // mkdtemp, nftw
#endif
#include <math.h>
#include <stdint.h>
#include <unistd.h>

#include "model/gpt2.h"

#define TEST_NAME "test_train"
#include "tests/testlib.h"

// |got - want| <= tol * max(1, |want|)
#define CHECK_NEAR(got, want, tol, what)                                                      \
    CHECK(fabs((double)(got) - (double)(want)) <= (tol) * fmax(1.0, fabs((double)(want))),   \
          "%s: got %.9g, want %.9g", (what), (double)(got), (double)(want))

// ----------------------------------------------------------------------------
// scratch files (in root, the scratch directory of tests/testlib.h)

// Writes bytes to root/name; returns its path (a static buffer: the next call reuses it).
static const char *write_temp(const char *name, const char *bytes) {
    static char path[4200];
    snprintf(path, sizeof path, "%s/%s", root, name);
    FILE *f = fopen(path, "wb");
    if (!f) die("cannot create %s: %s", path, strerror(errno));
    size_t n = strlen(bytes);
    if (fwrite(bytes, 1, n, f) != n || fclose(f) != 0) die("cannot write %s", path);
    return path;
}

// ----------------------------------------------------------------------------
// learning-rate schedule

static void test_schedule(void) {
    GPT2AdamW opt = {.lr = 1e-3f, .warmup_steps = 10, .total_steps = 110, .min_lr_frac = 0.1f};
    // warm-up: (step + 1) / W of the peak
    CHECK_NEAR(gpt2_lr_at(&opt, 0), 1e-4, 1e-6, "lr at step 0");
    CHECK_NEAR(gpt2_lr_at(&opt, 4), 5e-4, 1e-6, "lr at step 4");
    CHECK_NEAR(gpt2_lr_at(&opt, 9), 1e-3, 1e-6, "lr at step 9 (end of warm-up)");
    // cosine from the peak at step W to the floor 0.1 lr at step N
    CHECK_NEAR(gpt2_lr_at(&opt, 10), 1e-3, 1e-6, "lr at step 10 (start of the decay)");
    CHECK_NEAR(gpt2_lr_at(&opt, 60), 5.5e-4, 1e-6, "lr half way: (lr + min) / 2");
    CHECK_NEAR(gpt2_lr_at(&opt, 35), 1e-4 + 9e-4 * 0.5 * (1 + cos(M_PI * 0.25)), 1e-6, "lr a quarter way");
    CHECK_NEAR(gpt2_lr_at(&opt, 110), 1e-4, 1e-6, "lr at step N");
    CHECK_NEAR(gpt2_lr_at(&opt, 500), 1e-4, 1e-6, "lr past step N stays at the floor");
    for (int s = 11; s < 110; s++)
        CHECK(gpt2_lr_at(&opt, s) <= gpt2_lr_at(&opt, s - 1), "the decay is not monotone at step %d", s);
    GPT2AdamW no_warmup = {.lr = 2e-3f, .warmup_steps = 0, .total_steps = 100, .min_lr_frac = 0.0f};
    CHECK_NEAR(gpt2_lr_at(&no_warmup, 0), 2e-3, 1e-6, "no warm-up: the peak at step 0");
    CHECK_NEAR(gpt2_lr_at(&no_warmup, 100), 0.0, 1e-6, "min_lr_frac 0: down to 0");
    GPT2AdamW all_warmup = {.lr = 1e-3f, .warmup_steps = 10, .total_steps = 10, .min_lr_frac = 0.1f};
    CHECK_NEAR(gpt2_lr_at(&all_warmup, 10), 1e-3, 1e-6, "warm-up as long as the run: no decay");
}

// ----------------------------------------------------------------------------
// Adam and AdamW

// the trainer's: GPT-2 style AdamW in llm.c's arithmetic
static const GPT2Adam TRAINER_ADAMW = {.lr = 0.01, .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.1,
                                       .numerics = GPT2_NUMERICS_LLMC};

static void test_adamw(void) {
    const GPT2Adam *opt = &TRAINER_ADAMW;
    float p[4] = {1.0f, -2.0f, 0.5f, 3.0f}, m[4] = {0}, v[4] = {0};
    const unsigned char decayed[4] = {1, 0, 1, 0};
    const float g1[4] = {0.1f, -0.2f, 0.0f, 1.0f}, g2[4] = {0.2f, 0.1f, -0.3f, 1.0f};

    // t = 1: m = 0.1 g, v = 0.05 g^2; bias-corrected m_hat = g, v_hat = g^2, so
    // the step is lr sign(g) (0 for g = 0) plus lr wd p on decayed parameters:
    //   p0 = 1 - 0.01 (1 + 0.1 * 1)  = 0.989     p1 = -2 + 0.01 = -1.99 (no decay)
    //   p2 = 0.5 - 0.01 (0.1 * 0.5) = 0.4995     p3 = 3 - 0.01 = 2.99
    gpt2_adam_step(p, g1, m, v, 4, opt, 1, decayed);
    const float want1[4] = {0.989f, -1.99f, 0.4995f, 2.99f};
    const float m1[4] = {0.01f, -0.02f, 0.0f, 0.1f}, v1[4] = {0.0005f, 0.002f, 0.0f, 0.05f};
    for (int i = 0; i < 4; i++) {
        CHECK_NEAR(p[i], want1[i], 1e-6, "AdamW t=1 parameter");
        CHECK_NEAR(m[i], m1[i], 1e-6, "AdamW t=1 first moment");
        CHECK_NEAR(v[i], v1[i], 1e-6, "AdamW t=1 second moment");
    }
    // t = 2: m = 0.9 m + 0.1 g, v = 0.95 v + 0.05 g^2, m_hat = m / 0.19,
    // v_hat = v / 0.0975. For p0: m = 0.029, v = 0.002475, m_hat / sqrt(v_hat)
    // = 0.152632 / 0.159326 = 0.957987, decay 0.1 * 0.989: p0 = 0.989 -
    // 0.01 (0.957987 + 0.0989) = 0.978431. Likewise the others.
    gpt2_adam_step(p, g2, m, v, 4, opt, 2, decayed);
    const float want2[4] = {0.978431143f, -1.98731631f, 0.5063501f, 2.98f};
    const float m2[4] = {0.029f, -0.008f, -0.03f, 0.19f}, v2[4] = {0.002475f, 0.0024f, 0.0045f, 0.0975f};
    for (int i = 0; i < 4; i++) {
        CHECK_NEAR(p[i], want2[i], 1e-6, "AdamW t=2 parameter");
        CHECK_NEAR(m[i], m2[i], 1e-6, "AdamW t=2 first moment");
        CHECK_NEAR(v[i], v2[i], 1e-6, "AdamW t=2 second moment");
    }

    // a NULL mask decays everything: p1 and p3 now lose lr wd p too
    float q[4] = {1.0f, -2.0f, 0.5f, 3.0f}, mq[4] = {0}, vq[4] = {0};
    gpt2_adam_step(q, g1, mq, vq, 4, opt, 1, NULL);
    const float want_all[4] = {0.989f, -1.99f + 0.002f, 0.4995f, 2.99f - 0.003f};
    for (int i = 0; i < 4; i++) CHECK_NEAR(q[i], want_all[i], 1e-6, "AdamW with a NULL mask");

    // a long vector (the vectorised loop and its remainder) matches the scalar formula
    size_t n = 1003;
    float *pv = xmalloc(n * sizeof(float)), *gv = xmalloc(n * sizeof(float));
    float *mv = calloc(n, sizeof(float)), *vv = calloc(n, sizeof(float));
    unsigned char *mask = xmalloc(n);
    if (!mv || !vv) die("out of memory");
    for (size_t i = 0; i < n; i++) {
        pv[i] = (float)((int)(i % 17) - 8) / 8.0f;
        gv[i] = (float)((int)(i % 13) - 6) / 10.0f;
        mask[i] = i % 3 == 0;
    }
    gpt2_adam_step(pv, gv, mv, vv, n, opt, 1, mask);
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double p0 = (double)((int)(i % 17) - 8) / 8.0, g = (double)((int)(i % 13) - 6) / 10.0;
        double step = g == 0.0 ? 0.0 : g / (fabs(g) + 1e-8);
        double want = p0 - 0.01 * (step + (i % 3 == 0 ? 0.1 * p0 : 0.0));
        if (fabs(pv[i] - want) > 1e-6) bad++;
    }
    CHECK(bad == 0, "%d of %zu elements of a long vector differ from the formula", bad, n);
    free(pv), free(gv), free(mv), free(vv), free(mask);
}

/* Adam in double from the definition: m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
 * p -= lr (wd p + m / (1 - b1^t) / (sqrt(v / (1 - b2^t)) + eps)), decay where mask. */
static void adam_in_double(double *p, const double *g, double *m, double *v, size_t n, const GPT2Adam *o, int t,
                           const unsigned char *mask) {
    for (size_t i = 0; i < n; i++) {
        m[i] = o->beta1 * m[i] + (1 - o->beta1) * g[i];
        v[i] = o->beta2 * v[i] + (1 - o->beta2) * g[i] * g[i];
        double m_hat = m[i] / (1 - pow(o->beta1, t)), v_hat = v[i] / (1 - pow(o->beta2, t));
        p[i] -= o->lr * ((mask[i] ? o->weight_decay * p[i] : 0.0) + m_hat / (sqrt(v_hat) + o->eps));
    }
}

/* The three numerics are one Adam: three steps of each, with a decay mask, AdamW and Adam
 * (weight decay 0), within float rounding of Adam in double. */
static void test_adam_numerics(void) {
    enum { N = 37, STEPS = 3 };
    const GPT2Numerics numerics[3] = {GPT2_NUMERICS_LLMC, GPT2_NUMERICS_TORCH_F32, GPT2_NUMERICS_TORCH_F64};
    const char *names[3] = {"llm.c", "torch float", "torch double"};
    unsigned char mask[N];
    float g[STEPS][N];
    double gd[STEPS][N];
    for (int i = 0; i < N; i++) {
        mask[i] = i % 3 != 1;
        for (int t = 0; t < STEPS; t++) gd[t][i] = g[t][i] = (float)(sin(1.3 * i + 0.7 * t) * pow(10.0, i % 5 - 3));
    }
    for (int wd = 0; wd <= 1; wd++)
        for (int k = 0; k < 3; k++) {
            const GPT2Adam o = {.lr = 0.05, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = wd ? 0.2 : 0.0,
                                .numerics = numerics[k]};
            float p[N], m[N] = {0}, v[N] = {0};
            double pd[N], md[N] = {0}, vd[N] = {0};
            for (int i = 0; i < N; i++) pd[i] = p[i] = (float)(cos(0.9 * i) * 2.0);
            for (int t = 1; t <= STEPS; t++) {
                gpt2_adam_step(p, g[t - 1], m, v, N, &o, t, mask);
                adam_in_double(pd, gd[t - 1], md, vd, N, &o, t, mask);
            }
            double worst = 0.0;
            for (int i = 0; i < N; i++) worst = fmax(worst, fabs(p[i] - pd[i]) / fmax(1.0, fabs(pd[i])));
            CHECK(worst <= 2e-6, "%s, weight decay %g: %.3g from Adam in double", names[k], o.weight_decay, worst);
        }
}

// ----------------------------------------------------------------------------
// decay mask and trainable weights

static const GPT2Config SMALL = {.n_layer = 2, .n_head = 2, .n_embd = 8, .n_positions = 16,
                                 .vocab_size = 50, .layer_norm_epsilon = 1e-5f};

static void test_decay_mask(void) {
    const GPT2Config *c = &SMALL;
    size_t n = gpt2_num_params(c), C = 8, L = 2, V = 50, P = 16;
    unsigned char *mask = xmalloc(n);
    memset(mask, 7, n);
    gpt2_decay_mask(mask, c);
    size_t ones = 0, zeros = 0;
    for (size_t i = 0; i < n; i++) ones += mask[i] == 1, zeros += mask[i] == 0;
    // decayed: wte, wpe, and per block attn_w (3C^2), attn_proj_w (C^2), fc_w and fc_proj_w (4C^2 each)
    CHECK(ones == V * C + P * C + L * 12 * C * C, "%zu decayed parameters", ones);
    // not decayed: per block ln_1, ln_2 (2C each), attn_b (3C), attn_proj_b (C), fc_b (4C),
    // fc_proj_b (C); then ln_f (2C)
    CHECK(zeros == L * 13 * C + 2 * C, "%zu undecayed parameters", zeros);
    CHECK(ones + zeros == n, "mask values other than 0/1");

    // tensor by tensor, through the layout of gpt2_point_weights
    float *params = xmalloc(n * sizeof(float));
    GPT2Block blocks[2];
    GPT2Weights w;
    gpt2_point_weights(&w, blocks, params, c);
#define MASK_AT(ptr) mask[(size_t)((ptr) - params)]
    CHECK(MASK_AT(w.wte) == 1 && MASK_AT(w.wpe) == 1, "embeddings are decayed");
    for (int l = 0; l < 2; l++) {
        const GPT2Block *b = &w.blocks[l];
        CHECK(MASK_AT(b->attn_w) && MASK_AT(b->attn_w + 3 * C * C - 1) && MASK_AT(b->attn_proj_w) &&
                  MASK_AT(b->fc_w) && MASK_AT(b->fc_proj_w) && MASK_AT(b->fc_proj_w + 4 * C * C - 1),
              "block %d: a matrix is not decayed", l);
        CHECK(!MASK_AT(b->ln_1_w) && !MASK_AT(b->ln_1_b) && !MASK_AT(b->attn_b) && !MASK_AT(b->attn_proj_b) &&
                  !MASK_AT(b->ln_2_w) && !MASK_AT(b->ln_2_b) && !MASK_AT(b->fc_b) && !MASK_AT(b->fc_proj_b) &&
                  !MASK_AT(b->fc_b + 4 * C - 1),
              "block %d: a bias or layer norm is decayed", l);
    }
    CHECK(!MASK_AT(w.ln_f_w) && !MASK_AT(w.ln_f_b) && !MASK_AT(w.ln_f_b + C - 1), "ln_f is decayed");
#undef MASK_AT
    free(params);
    free(mask);
}

static void test_clip(void) {
    // llm.c's: scaled by max_norm / norm
    float g[2] = {3.0f, 4.0f};
    CHECK_NEAR(gpt2_clip_grads(g, 2, 1.0, GPT2_NUMERICS_LLMC), 5.0, 1e-6, "norm before clipping");
    CHECK_NEAR(g[0], 0.6, 1e-6, "clipped x");
    CHECK_NEAR(g[1], 0.8, 1e-6, "clipped y");
    // torch's: by max_norm / (norm + 1e-6), the same in both torch numerics
    for (GPT2Numerics k = GPT2_NUMERICS_TORCH_F32; k <= GPT2_NUMERICS_TORCH_F64; k++) {
        float f[2] = {3.0f, 4.0f};
        CHECK(gpt2_clip_grads(f, 2, 1.0, k) == 5.0 && f[0] == (float)(3.0 / (5.0 + 1e-6)) &&
                  f[1] == (float)(4.0 / (5.0 + 1e-6)),
              "torch's clip (numerics %d): %.9g %.9g", (int)k, f[0], f[1]);
    }
    for (GPT2Numerics k = GPT2_NUMERICS_LLMC; k <= GPT2_NUMERICS_TORCH_F64; k++) {
        float h[3] = {1.0f, 2.0f, 2.0f};
        CHECK_NEAR(gpt2_clip_grads(h, 3, 10.0, k), 3.0, 1e-6, "norm under the limit");
        CHECK(h[0] == 1.0f && h[1] == 2.0f && h[2] == 2.0f, "a norm under the limit changed the gradient (numerics %d)",
              (int)k);
        float z[2] = {30.0f, 40.0f};
        CHECK(gpt2_clip_grads(z, 2, 0.0, k) == 50.0 && z[0] == 30.0f && z[1] == 40.0f,
              "max_norm 0 must be off (numerics %d)", (int)k);
    }
}

static int same_floats(const float *a, const float *b, size_t n) { return memcmp(a, b, n * sizeof(float)) == 0; }

// The weights of a loaded (read-only, mmapped) checkpoint, copied into a
// mutable buffer, trained one step, saved and loaded back bit for bit.
static void test_own_weights(void) {
    const GPT2Config *c = &SMALL;
    size_t n = gpt2_num_params(c);
    float *orig = xmalloc(n * sizeof(float)), *params = xmalloc(n * sizeof(float));
    float *grads = xmalloc(n * sizeof(float)), *m = calloc(n, sizeof(float)), *v = calloc(n, sizeof(float));
    if (!m || !v) die("out of memory");
    for (size_t i = 0; i < n; i++) {
        orig[i] = (float)sin(0.37 * (double)i);
        grads[i] = (float)cos(0.11 * (double)i);
    }
    GPT2Block blocks[2];
    GPT2Weights w;
    gpt2_point_weights(&w, blocks, orig, c);
    char a_dir[4200], b_dir[4200];
    snprintf(a_dir, sizeof a_dir, "%s/ckpt_a", root);
    snprintf(b_dir, sizeof b_dir, "%s/ckpt_b", root);
    Err err = {{0}};
    if (gpt2_save(c, &w, a_dir, &err)) die("gpt2_save: %s", err.msg);

    GPT2Model model;
    if (gpt2_load(&model, a_dir, &err)) die("gpt2_load: %s", err.msg);
    gpt2_own_weights(&model, params);
    CHECK(same_floats(params, orig, n), "the copied weights differ from the saved ones");
    CHECK(model.w.wte == params && model.w.ln_f_b == params + n - 8, "the weights do not point into params");
    CHECK(model.w.blocks == model.blocks_storage, "the blocks moved");

    unsigned char *mask = xmalloc(n);
    gpt2_decay_mask(mask, c);
    gpt2_adam_step(params, grads, m, v, n, &TRAINER_ADAMW, 1, mask);
    CHECK(!same_floats(params, orig, n), "AdamW changed nothing");
    CHECK(model.w.blocks[1].fc_w[0] != orig[model.w.blocks[1].fc_w - params], "the model does not see the update");
    if (gpt2_save(&model.config, &model.w, b_dir, &err)) die("gpt2_save of the trained model: %s", err.msg);
    GPT2Model back;
    if (gpt2_load(&back, b_dir, &err)) die("gpt2_load of the trained model: %s", err.msg);
    float *reread = xmalloc(n * sizeof(float));
    gpt2_own_weights(&back, reread);
    CHECK(same_floats(reread, params, n), "the trained model does not load back bit for bit");
    gpt2_free(&back);
    gpt2_free(&model);
    free(orig), free(params), free(grads), free(m), free(v), free(mask), free(reread);
}

// ----------------------------------------------------------------------------
// documents

// Loads path and checks its documents against want (n_want strings).
static void docs_are(const char *path, const char *const *want, size_t n_want, const char *what) {
    GPT2Docs d;
    Err err = {{0}};
    if (gpt2_docs_load(&d, path, &err)) {
        CHECK(0, "%s: load failed: %s", what, err.msg);
        return;
    }
    CHECK(d.n == n_want, "%s: %zu documents, want %zu", what, d.n, n_want);
    for (size_t i = 0; i < d.n && i < n_want; i++)
        CHECK(strcmp(d.docs[i], want[i]) == 0, "%s: document %zu is '%s', want '%s'", what, i, d.docs[i], want[i]);
    gpt2_docs_free(&d);
}

// Loading path fails, with a message that names the file and holds word.
static void docs_fail(const char *path, const char *word, const char *what) {
    GPT2Docs d;
    Err err = {{0}};
    int rc = gpt2_docs_load(&d, path, &err);
    CHECK(rc == -1, "%s: loaded", what);
    if (rc == 0) { gpt2_docs_free(&d); return; }
    CHECK(strstr(err.msg, path) != NULL, "%s: the message does not name the file: %s", what, err.msg);
    CHECK(strstr(err.msg, word) != NULL, "%s: the message lacks '%s': %s", what, word, err.msg);
    CHECK(strchr(err.msg, '\n') == NULL, "%s: the message is not one line", what);
    CHECK(d.docs == NULL && d.buf == NULL && d.n == 0, "%s: the failed load left something behind", what);
}

static void test_docs(void) {
    // the GLUE layout with CRLF, quoted fields ("" inside), a tab inside the
    // text (the split is at the last tab), blank lines, a lone quote, an
    // empty sentence; the blanks around a sentence go
    const char *glue = write_temp("glue.tsv",
                                  "sentence\tlabel\r\n"
                                  "hide new secretions from the parental units \t0\r\n"
                                  "\"He said \"\"hi\"\" twice\"\t1\r\n"
                                  "a\tb with a tab\t1\r\n"
                                  "\r\n"
                                  " \t \r\n"
                                  "  \"\t0\r\n"
                                  "it 's \"quoted\" inside\t1\r\n"
                                  "\t0\r\n"
                                  "last line without a newline\t1");
    const char *const glue_docs[] = {"hide new secretions from the parental units", "He said \"hi\" twice",
                                     "a\tb with a tab", "\"", "it 's \"quoted\" inside",
                                     "last line without a newline"};
    docs_are(glue, glue_docs, 6, "GLUE TSV with CRLF and quotes");

    // LF, a UTF-8 BOM, the column named text in the middle of three
    const char *mid = write_temp("mid.TSV", "\xEF\xBB\xBFid\ttext\tlabel\n1\tfoo\tbar\t0\n2\t\"x\"\t1\n");
    const char *const mid_docs[] = {"foo\tbar", "x"};
    docs_are(mid, mid_docs, 2, "text column in the middle, LF, BOM");
    const char *last = write_temp("last.tsv", "label\tsentence\n0\tgood movie\n1\ta\tb\n");
    const char *const last_docs[] = {"good movie", "a\tb"};
    docs_are(last, last_docs, 2, "sentence column last");
    // util/'s TSV rules (tests/test_tsv.c): a quoted text with a lone quote inside keeps its
    // quotes, as pandas reads it; a line of blanks in a wider table is no row
    const char *quotes = write_temp("quotes.tsv", "id\tsentence\tlabel\n1\t\"a \"b\" c\"\t1\n \t \n2\t\"x\"\"y\"\t0\n");
    const char *const quotes_docs[] = {"\"a \"b\" c\"", "x\"y"};
    docs_are(quotes, quotes_docs, 2, "quotes as pandas reads them");

    // plain text: one document per line that is not blank
    const char *txt = write_temp("plain.txt", "line one\n\n line\ttwo \r\n\r\n  \nlast");
    const char *const txt_docs[] = {"line one", "line\ttwo", "last"};
    docs_are(txt, txt_docs, 3, "plain text");

    // errors
    char missing[4200];
    snprintf(missing, sizeof missing, "%s/no_such_file.tsv", root);
    docs_fail(missing, "cannot open", "a missing file");
    docs_fail(write_temp("nocol.tsv", "review\tlabel\ngood\t1\n"), "'sentence' or 'text'", "no sentence column");
    docs_fail(write_temp("sentences.tsv", "sentences\tlabel\ngood\t1\n"), "'sentence' or 'text'",
              "a column named sentences is not sentence");
    docs_fail(write_temp("two.tsv", "sentence\ttext\tlabel\na\tb\t1\n"), "more than one", "two text columns");
    docs_fail(write_temp("empty.tsv", ""), "empty", "an empty TSV");
    docs_fail(write_temp("header.tsv", "sentence\tlabel\r\n"), "no sentences", "a header only");
    docs_fail(write_temp("blank.tsv", "sentence\tlabel\n\n\t1\n"), "no sentences", "only empty sentences");
    docs_fail(write_temp("empty.txt", "\n\r\n\n"), "no non-empty lines", "an empty text file");
    docs_fail(write_temp("short.tsv", "id\tsentence\tlabel\n1\tgood\t1\nbad line\t0\n"), ":3:",
              "a line with too few fields");
}

// ----------------------------------------------------------------------------
// token streams and windows

static void test_token_stream(void) {
    const char *dir = getenv("TOKENIZER_DIR");
    GPT2Tokenizer *tok = NULL;
    Err err = {{0}};
    if (!dir || tokenizer_load(&tok, dir, &err)) {
        printf("skip-check: no tokenizer in $TOKENIZER_DIR (make tokenizer): the token stream case did not run\n");
        return;
    }
    const char *path = write_temp("two.tsv", "sentence\tlabel\r\nHello world\t1\r\n\" great\"\t0\r\n");
    GPT2Docs d;
    GPT2Tokens s;
    if (gpt2_docs_load(&d, path, &err)) die("%s", err.msg);
    if (gpt2_tokens_encode(&s, &d, tok, &err)) die("%s", err.msg);
    // <|endoftext|> Hello world <|endoftext|> great <|endoftext|>: "Hello" 15496,
    // " world" 995, and "great" 18223 (trimmed: not " great" 1049)
    const int want[] = {GPT2_EOT, 15496, 995, GPT2_EOT, 18223, GPT2_EOT};
    CHECK(s.n == 6 && s.n_docs == 2, "%zu tokens from %zu documents, want 6 from 2", s.n, s.n_docs);
    for (size_t i = 0; i < s.n && i < 6; i++) CHECK(s.ids[i] == want[i], "token %zu is %d, want %d", i, s.ids[i], want[i]);
    gpt2_tokens_free(&s);
    gpt2_docs_free(&d);
    tokenizer_free(tok);
}

static void test_sample_windows(void) {
    // ids[i] = i: every target must be its input + 1, every window inside the stream
    enum { N = 50, B = 8, T = 6 };
    int ids[N];
    for (int i = 0; i < N; i++) ids[i] = i;
    GPT2Tokens s = {.ids = ids, .n = N, .n_docs = 1};
    GPT2LMBatch a, b;
    Err err = {{0}};
    if (gpt2_lmbatch_alloc(&a, B, T, &err) || gpt2_lmbatch_alloc(&b, B, T, &err)) die("%s", err.msg);
    uint64_t rng_a = 42, rng_b = 42;
    int seen_last_start = 0, seen_first_start = 0, bad_size = 0, not_same = 0, bad_pos = 0, bad_target = 0,
        bad_row = 0;
    for (int round = 0; round < 200; round++) {
        gpt2_lmbatch_sample(&a, &s, &rng_a);
        gpt2_lmbatch_sample(&b, &s, &rng_b);
        bad_size += a.n_out != B * T || a.rows != B;
        not_same += memcmp(a.inputs, b.inputs, sizeof(int) * B * T) != 0;
        for (int i = 0; i < a.n_out; i++) {
            int p = a.out_pos[i];
            bad_pos += p != i;
            // the next token, inside the stream
            bad_target += a.targets[i] != a.inputs[p] + 1 || a.targets[i] >= N;
        }
        for (int r = 0; r < B; r++) {
            bad_row += a.inputs[r * T + T - 1] != a.inputs[r * T] + T - 1;
            seen_first_start |= a.inputs[r * T] == 0;
            seen_last_start |= a.inputs[r * T] == N - T - 1;
        }
    }
    CHECK(bad_size == 0, "%d training batches do not score all B*T positions", bad_size);
    CHECK(not_same == 0, "the same seed sampled different windows %d times", not_same);
    CHECK(bad_pos == 0 && bad_target == 0, "%d out_pos and %d targets are wrong", bad_pos, bad_target);
    CHECK(bad_row == 0, "%d windows are not consecutive tokens", bad_row);
    CHECK(seen_first_start && seen_last_start, "the first or last offset never came up in 1600 windows");
    uint64_t rng_c = 43;
    gpt2_lmbatch_sample(&b, &s, &rng_c);
    gpt2_lmbatch_sample(&a, &s, &rng_a);
    CHECK(memcmp(a.inputs, b.inputs, sizeof(int) * B * T) != 0, "seeds 42 and 43 sampled the same windows");
    gpt2_lmbatch_free(&a);
    gpt2_lmbatch_free(&b);
}

/* Reference for the evaluation loss: window by window, one forward each,
 * the windows placed independently of model/train.c's code. */
static double reference_eval_loss(const GPT2Model *m, GPT2Acts *a, const int *ids, size_t n, int T,
                                  size_t *count) {
    int V = m->config.vocab_size, pos[64], tgt[64];
    double total = 0.0;
    *count = 0;
    size_t scored_up_to = 0;   // targets 1..scored_up_to are done
    for (size_t start = 0; scored_up_to < n - 1; start += (size_t)T) {
        if (start + (size_t)T > n - 1) start = n - 1 - (size_t)T;   // the tail window
        int k = 0;
        for (int t = 0; t < T; t++)
            if (start + (size_t)t + 1 > scored_up_to) pos[k] = t, tgt[k] = ids[start + (size_t)t + 1], k++;
        GPT2Batch batch = {.B = 1, .T = T, .ids = ids + start, .out_pos = pos, .n_out = k};
        Err err = {{0}};
        if (gpt2_forward(m, a, &batch, &err)) die("reference forward: %s", err.msg);
        total += (double)gpt2_crossentropy(a->logits, tgt, k, V, NULL, 1.0f) * k;
        *count += (size_t)k;
        scored_up_to = start + (size_t)T;
    }
    return total / (double)*count;
}

static void test_eval_loss(void) {
    // a small random model (V 50) and a stream whose length leaves a tail
    const GPT2Config *c = &SMALL;
    size_t n_params = gpt2_num_params(c);
    float *params = xmalloc(n_params * sizeof(float));
    for (size_t i = 0; i < n_params; i++) params[i] = 0.3f * (float)sin(1.7 * (double)i + 0.2);
    GPT2Block blocks[2];
    GPT2Weights w;
    gpt2_point_weights(&w, blocks, params, c);
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/eval_model", root);
    Err err = {{0}};
    GPT2Model m;
    if (gpt2_save(c, &w, dir, &err) || gpt2_load(&m, dir, &err)) die("%s", err.msg);

    enum { N = 23, B = 2, T = 4 };
    int ids[N];
    for (int i = 0; i < N; i++) ids[i] = (i * 7 + 3) % 50;
    GPT2Tokens s = {.ids = ids, .n = N, .n_docs = 1};
    // 22 targets, T 4: five full windows and a tail one
    CHECK(gpt2_eval_windows(&s, T, 0) == 6, "%zu evaluation windows, want 6", gpt2_eval_windows(&s, T, 0));
    CHECK(gpt2_eval_windows(&s, T, 4) == 4, "max_windows 4 gives %zu", gpt2_eval_windows(&s, T, 4));
    CHECK(gpt2_eval_windows(&s, T, 100) == 6, "max_windows 100 gives %zu", gpt2_eval_windows(&s, T, 100));

    GPT2Acts acts, ref_acts;
    GPT2LMBatch batch;
    if (gpt2_acts_alloc(&acts, c, B, T, T, B * T, 0, &err) || gpt2_acts_alloc(&ref_acts, c, 1, T, T, T, 0, &err) ||
        gpt2_lmbatch_alloc(&batch, B, T, &err))
        die("%s", err.msg);
    double loss = 0.0;
    size_t count = 0, ref_count = 0;
    CHECK(gpt2_eval_loss(&m, &acts, &batch, &s, 0, &loss, &count, &err) == 0, "eval failed: %s", err.msg);
    double ref = reference_eval_loss(&m, &ref_acts, ids, N, T, &ref_count);
    CHECK(count == N - 1 && ref_count == N - 1, "%zu targets scored (reference %zu), want %d", count, ref_count, N - 1);
    CHECK_NEAR(loss, ref, 1e-5, "evaluation loss against the window-by-window reference");
    CHECK(loss > 0.0 && isfinite(loss), "loss %g", loss);

    // a subset of windows: fewer targets, still a finite mean
    CHECK(gpt2_eval_loss(&m, &acts, &batch, &s, 3, &loss, &count, &err) == 0, "eval subset failed: %s", err.msg);
    CHECK(count == 3 * T, "3 full windows score %zu targets", count);
    // too short a stream is an error, not a crash
    GPT2Tokens tiny = {.ids = ids, .n = T, .n_docs = 1};
    CHECK(gpt2_eval_loss(&m, &acts, &batch, &tiny, 0, &loss, &count, &err) == -1, "a stream of T tokens evaluated");

    gpt2_lmbatch_free(&batch);
    gpt2_acts_free(&acts);
    gpt2_acts_free(&ref_acts);
    gpt2_free(&m);
    free(params);
}

// ----------------------------------------------------------------------------

int main(void) {
    make_root();
    test_schedule();
    test_adamw();
    test_adam_numerics();
    test_decay_mask();
    test_clip();
    test_own_weights();
    test_docs();
    test_token_stream();
    test_sample_windows();
    test_eval_loss();
    remove_root();
    if (failures) {
        fprintf(stderr, "test_train: %d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("test_train: all %d checks passed\n", checks);
    return 0;
}
