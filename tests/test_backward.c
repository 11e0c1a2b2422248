/*
 * tests/test_backward.c: gpt2_backward and gpt2_crossentropy against central
 * finite differences of an independent GPT-2 written here in double precision
 * (plain loops, no BLAS, nothing shared with model/ but the parameter layout),
 * on a tiny "hot" random model (weights N(0, 0.3), noisy layer norms and
 * biases) so that every part of the network matters.
 *
 * Checked:
 *   - d_input with a soft prompt first (PEZ layout) and last, for the label
 *     cross-entropy at one position (softmax over K label ids: a classifier),
 *     the next-token loss over the prompt positions, and their sum, on a
 *     ragged batch whose padding holds invalid ids (never read);
 *   - parameter gradients of all 16 tensor kinds (sampled coordinates, the
 *     largest of each tensor among them; wte rows that are inputs, targets or
 *     only in the LM head; wpe) for the next-token loss on a ragged batch;
 *   - frozen weights (grads NULL) give the same d_input, bit for bit;
 *   - padding gets no gradient; a position listed twice in out_pos adds up;
 *   - refusals: activations without all_layers, a prefix cache, no dlogits.
 *
 * Error measure per coordinate: |c - fd| / max(|fd|, |c|, floor), with floor
 * = 1e-3 * max |c| over that tensor (over the checked soft positions for
 * d_input). The floor is there because a coordinate whose gradient is ~0
 * next to the tensor's large ones carries the float rounding of those large
 * terms (~1e-7 to 1e-6 of the tensor's scale): requiring 1e-3 relative
 * accuracy of it would test float noise. With the floor, such a coordinate
 * must still be right to 1e-6 of the tensor's scale in absolute terms.
 * Central differences in double with h = 1e-5 are accurate to ~1e-9 here.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gpt2.h"

#define TEST_NAME "test_backward"
#include "tests/testlib.h"

// the tiny model: every dimension small enough for the double loops below
// V = 300 with 4 labels: the label loss takes the LM head's sparse path (<= V/64 nonzeros
// per row of dlogits), the next-token loss the GEMM
enum { L = 2, NH = 2, C = 16, V = 300, NPOS = 32, B = 3, T = 12, NK = 4 };
#define TOL 1e-3
#define FD_H 1e-5

static uint64_t rng = 7;
static uint64_t rng_next(void) { return xorshift64(&rng); }
static int rng_int(int n) { return (int)(rng_next() % (uint64_t)n); }
static float uniform_sum_normal(void) { return sum_of_uniforms(&rng) * 1.7320508f; } // unit variance

// ----------------------------------------------------------------------------
// parameter layout: the 2 + 12 L + 2 tensors in gpt2_point_weights order

#define NT (2 + 12 * L + 2)
static const char *kind_name[16] = {"wte", "wpe", "ln_1.w", "ln_1.b", "attn.w", "attn.b",
                                    "attn_proj.w", "attn_proj.b", "ln_2.w", "ln_2.b", "fc.w",
                                    "fc.b", "fc_proj.w", "fc_proj.b", "ln_f.w", "ln_f.b"};
static size_t t_off[NT], t_size[NT], n_params;
static int kind_of(int k) { return k < 2 ? k : k >= 2 + 12 * L ? 14 + (k - 2 - 12 * L) : 2 + (k - 2) % 12; }

static void layout(float *params, const GPT2Config *c) {
    GPT2Weights w;
    GPT2Block blocks[L];
    gpt2_point_weights(&w, blocks, params, c);
    const float *p[NT];
    int k = 0;
    p[k++] = w.wte; p[k++] = w.wpe;
    for (int l = 0; l < L; l++) {
        GPT2Block *b = &blocks[l];
        const float *q[12] = {b->ln_1_w, b->ln_1_b, b->attn_w, b->attn_b, b->attn_proj_w, b->attn_proj_b,
                              b->ln_2_w, b->ln_2_b, b->fc_w, b->fc_b, b->fc_proj_w, b->fc_proj_b};
        for (int j = 0; j < 12; j++) p[k++] = q[j];
    }
    p[k++] = w.ln_f_w; p[k++] = w.ln_f_b;
    n_params = gpt2_num_params(c);
    for (k = 0; k < NT; k++) t_off[k] = (size_t)(p[k] - params);
    for (k = 0; k < NT; k++) t_size[k] = (k + 1 < NT ? t_off[k + 1] : n_params) - t_off[k];
}

// ----------------------------------------------------------------------------
// the losses, defined once for both sides

typedef struct {
    const int *ids, *lens;             // (B,T), (B); ids past lens are -1 (never read)
    const unsigned char *is_embed;     // (B,T) or NULL
    int label_pos[B];                  // label cross-entropy at this position, -1: none
    int labels[NK], label_target[B];   // softmax over logits[labels], target index into labels
    int lm_from[B], lm_to[B];          // next-token terms t in [from, to) predicting ids[t+1]
} Case;

/* total loss = mean of the label terms (if any) + mean of the next-token terms (if any) */

// ----------------------------------------------------------------------------
// the reference: GPT-2 in double, one row at a time, straight from the definitions

/* out (n,C) = layer norm of each row of x (n,C), weight w and bias b (C) */
static void ref_layernorm(double *out, const double *x, const double *w, const double *b, int n) {
    for (int t = 0; t < n; t++, x += C, out += C) {
        double m = 0, v = 0;
        for (int i = 0; i < C; i++) m += x[i];
        m /= C;
        for (int i = 0; i < C; i++) v += (x[i] - m) * (x[i] - m);
        v /= C;
        double s = 1.0 / sqrt(v + 1e-5);
        for (int i = 0; i < C; i++) out[i] = (x[i] - m) * s * w[i] + b[i];
    }
}

/* out (n,OC) (+)= in (n,IC) W (IC,OC) + bias */
static void ref_linear(double *out, const double *in, const double *W, const double *bias, int n,
                       int IC, int OC, int add) {
    for (int t = 0; t < n; t++)
        for (int o = 0; o < OC; o++) {
            double s = bias[o];
            for (int i = 0; i < IC; i++) s += in[t * IC + i] * W[(size_t)i * OC + o];
            out[t * OC + o] = (add ? out[t * OC + o] : 0.0) + s;
        }
}

/* The case's total loss with parameters p (canonical layout, double), soft
 * vectors emb (B,T,C) and delta (B,T,C) added to every input vector. */
static double ref_loss(const double *p, const double *emb, const double *delta, const Case *cs) {
    static double x[T * C], ln[T * C], qkv[T * 3 * C], y[T * C], h[T * 4 * C];
    const double *wte = p + t_off[0], *wpe = p + t_off[1];
    int hs = C / NH;
    double lab = 0, lm = 0;
    int n_lab = 0, n_lm = 0;
    for (int b = 0; b < B; b++) {
        int n = cs->lens[b];
        for (int t = 0; t < n; t++) {
            int bt = b * T + t, soft = cs->is_embed && cs->is_embed[bt];
            for (int i = 0; i < C; i++)
                x[t * C + i] = (soft ? emb[bt * C + i] : wte[cs->ids[bt] * C + i]) + wpe[t * C + i] +
                               delta[bt * C + i];
        }
        for (int l = 0; l < L; l++) {
            const double *w[12];
            for (int j = 0; j < 12; j++) w[j] = p + t_off[2 + 12 * l + j];
            ref_layernorm(ln, x, w[0], w[1], n);
            ref_linear(qkv, ln, w[2], w[3], n, C, 3 * C, 0);
            for (int hh = 0; hh < NH; hh++)
                for (int t = 0; t < n; t++) {
                    double a[T], mx = -1e300, sum = 0;
                    for (int j = 0; j <= t; j++) {
                        double s = 0;
                        for (int i = 0; i < hs; i++)
                            s += qkv[t * 3 * C + hh * hs + i] * qkv[j * 3 * C + C + hh * hs + i];
                        a[j] = s / sqrt((double)hs);
                        if (a[j] > mx) mx = a[j];
                    }
                    for (int j = 0; j <= t; j++) sum += (a[j] = exp(a[j] - mx));
                    for (int i = 0; i < hs; i++) {
                        double s = 0;
                        for (int j = 0; j <= t; j++) s += a[j] / sum * qkv[j * 3 * C + 2 * C + hh * hs + i];
                        y[t * C + hh * hs + i] = s;
                    }
                }
            ref_linear(x, y, w[4], w[5], n, C, C, 1);
            ref_layernorm(ln, x, w[6], w[7], n);
            ref_linear(h, ln, w[8], w[9], n, C, 4 * C, 0);
            for (int i = 0; i < n * 4 * C; i++)
                h[i] = 0.5 * h[i] * (1 + tanh(sqrt(2 / M_PI) * (h[i] + 0.044715 * h[i] * h[i] * h[i])));
            ref_linear(x, h, w[10], w[11], n, 4 * C, C, 1);
        }
        ref_layernorm(ln, x, p + t_off[NT - 2], p + t_off[NT - 1], n);
        if (cs->label_pos[b] >= 0) {
            double lg[NK], mx = -1e300, sum = 0;
            for (int j = 0; j < NK; j++) {
                lg[j] = 0;
                for (int i = 0; i < C; i++) lg[j] += ln[cs->label_pos[b] * C + i] * wte[cs->labels[j] * C + i];
                if (lg[j] > mx) mx = lg[j];
            }
            for (int j = 0; j < NK; j++) sum += exp(lg[j] - mx);
            lab += log(sum) + mx - lg[cs->label_target[b]];
            n_lab++;
        }
        for (int t = cs->lm_from[b]; t < cs->lm_to[b]; t++) {
            double lg[V], mx = -1e300, sum = 0;
            for (int v = 0; v < V; v++) {
                lg[v] = 0;
                for (int i = 0; i < C; i++) lg[v] += ln[t * C + i] * wte[v * C + i];
                if (lg[v] > mx) mx = lg[v];
            }
            for (int v = 0; v < V; v++) sum += exp(lg[v] - mx);
            lm += log(sum) + mx - lg[cs->ids[b * T + t + 1]];
            n_lm++;
        }
    }
    return (n_lab ? lab / n_lab : 0) + (n_lm ? lm / n_lm : 0);
}

// ----------------------------------------------------------------------------
// the C side: forward, the same losses, backward

static float dlogits[B * T * 2 * V];

/* Returns the loss; d_input (B,T,C) and grads as gpt2_backward fills them.
 * Label losses go through the classifier rows (label_pos / label_ids: K
 * logits, no LM head), LM losses through full-vocabulary rows (out_pos). */
static double c_loss(const GPT2Model *m, GPT2Acts *a, const Case *cs, const float *emb,
                     float *d_input, GPT2Weights *grads) {
    int out_pos[B * T], label_pos[B], targets[B * T], n_lab = 0, n_lm = 0;
    for (int b = 0; b < B; b++)
        if (cs->label_pos[b] >= 0) label_pos[n_lab++] = b * T + cs->label_pos[b];
    for (int b = 0; b < B; b++)
        for (int t = cs->lm_from[b]; t < cs->lm_to[b]; t++) {
            out_pos[n_lm] = b * T + t;
            targets[n_lm++] = cs->ids[b * T + t + 1];
        }
    GPT2Batch batch = {.B = B, .T = T, .ids = cs->ids, .lens = cs->lens, .embeds = emb,
                       .is_embed = cs->is_embed, .out_pos = out_pos, .n_out = n_lm,
                       .label_pos = label_pos, .n_label = n_lab, .label_ids = cs->labels,
                       .n_label_ids = NK};
    Err err;
    if (gpt2_forward(m, a, &batch, &err)) { printf("FAIL forward: %s\n", err.msg); exit(1); }
    double loss = 0;
    float dlabel[B * NK];
    int r = 0;
    for (int b = 0; b < B; b++) { // label rows: softmax over the NK label logits
        if (cs->label_pos[b] < 0) continue;
        const float *lg = a->label_logits + (size_t)r * NK;
        double mx = -1e300, sum = 0, e[NK];
        for (int j = 0; j < NK; j++) mx = fmax(mx, lg[j]);
        for (int j = 0; j < NK; j++) sum += (e[j] = exp(lg[j] - mx));
        loss += (log(sum) + mx - lg[cs->label_target[b]]) / n_lab;
        for (int j = 0; j < NK; j++) dlabel[r * NK + j] = (float)((e[j] / sum - (j == cs->label_target[b])) / n_lab);
        r++;
    }
    if (n_lm) loss += gpt2_crossentropy(a->logits, targets, n_lm, V, dlogits, 1.0f);
    if (gpt2_backward(m, a, &batch, dlogits, dlabel, d_input, grads, &err)) {
        printf("FAIL backward: %s\n", err.msg);
        exit(1);
    }
    return loss;
}

// ----------------------------------------------------------------------------
// comparison

typedef struct {
    const char *name;
    double max_rel;
    int checked;
} Stat;

static double rel_err(double c, double fd, double floor) {
    return fabs(c - fd) / fmax(fmax(fabs(fd), fabs(c)), floor);
}

static void stat_add(Stat *s, double c, double fd, double floor, const char *where) {
    double e = rel_err(c, fd, floor);
    s->checked++;
    if (e > s->max_rel) s->max_rel = e;
    CHECK(e <= TOL, "%s %s: backward %.9g, finite differences %.9g (rel %.2g)", s->name, where, c, fd, e);
}

static void stat_print(const Stat *s) {
    printf("  %-28s %4d coords  max rel err %.2e\n", s->name, s->checked, s->max_rel);
}

// the reference's inputs in double: parameters, soft vectors, deltas added to every input vector
static double *dparams, *demb, *ddelta;
static double reference_loss(const void *cs) { return ref_loss(dparams, demb, ddelta, cs); }

// d loss / d x[i] of the reference, x one of its inputs above
static double fd_at(double *x, size_t i, const Case *cs) { return central_difference(reference_loss, cs, x, i, FD_H); }

/* d_input of one case against finite differences at every soft position
 * (all coordinates) and at two hard positions per row. */
static void check_d_input(const GPT2Model *m, GPT2Acts *a, const Case *cs, const float *emb,
                          const char *name) {
    static float d_input[B * T * C];
    double loss = c_loss(m, a, cs, emb, d_input, NULL);
    double ref = ref_loss(dparams, demb, ddelta, cs);
    CHECK(fabs(loss - ref) <= 1e-5 * fmax(1.0, fabs(ref)), "%s: loss %.9g, reference %.9g", name, loss, ref);
    double scale = 0;
    for (int i = 0; i < B * T * C; i++) scale = fmax(scale, fabs(d_input[i]));
    char sname[96], where[64];
    snprintf(sname, sizeof sname, "d_input %s", name);
    Stat s = {sname, 0, 0};
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            size_t bt = (size_t)b * T + t;
            if (t >= cs->lens[b]) {
                for (int i = 0; i < C; i++)
                    CHECK(d_input[bt * C + i] == 0.0f, "%s: padding (%d,%d) has gradient %g", name, b, t, d_input[bt * C + i]);
                continue;
            }
            int soft = cs->is_embed && cs->is_embed[bt];
            if (!soft && t % 5 != 1) continue; // hard positions: a sample
            for (int i = 0; i < C; i++) {
                snprintf(where, sizeof where, "(%d,%d,%d)", b, t, i);
                stat_add(&s, d_input[bt * C + i], fd_at(ddelta, bt * C + i, cs), 1e-3 * scale, where);
            }
        }
    printf("  loss %.6f (reference %.6f)\n", loss, ref);
    stat_print(&s);
}

// ----------------------------------------------------------------------------

int main(void) {
    GPT2Config cfg = {.n_layer = L, .n_head = NH, .n_embd = C, .n_positions = NPOS, .vocab_size = V,
                      .layer_norm_epsilon = 1e-5f};
    GPT2Model m;
    float *params = xmalloc(gpt2_num_params(&cfg) * sizeof(float));
    layout(params, &cfg);
    for (size_t i = 0; i < n_params; i++) params[i] = 0.3f * uniform_sum_normal();
    model_on_params(&m, cfg, params); // layer norm gains around 1 (biases stay N(0, 0.3))
    dparams = malloc(n_params * sizeof(double));
    for (size_t i = 0; i < n_params; i++) dparams[i] = params[i];
    demb = calloc(B * T * C, sizeof(double));
    ddelta = calloc(B * T * C, sizeof(double));
    float *grad_buf = malloc(n_params * sizeof(float));
    GPT2Weights grads;
    GPT2Block grad_blocks[L];
    gpt2_point_weights(&grads, grad_blocks, grad_buf, &cfg);

    GPT2Acts a;
    Err err;
    if (gpt2_acts_alloc(&a, &cfg, B, T, T, 2 * B * T, 1, &err)) { printf("FAIL acts: %s\n", err.msg); return 1; }

    // ragged batch; padding ids are invalid, so reading them would show (ASan, range)
    int lens[B] = {12, 9, 7}, ids[B * T];
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) ids[b * T + t] = t < lens[b] ? rng_int(V) : -1;
    float emb[B * T * C];
    for (int i = 0; i < B * T * C; i++) demb[i] = emb[i] = 0.5f * uniform_sum_normal();
    const int P = 3; // soft prompt length

    // d_input: prompt first (PEZ) and prompt last, three losses each
    for (int layout_last = 0; layout_last <= 1; layout_last++) {
        unsigned char is_embed[B * T];
        memset(is_embed, 0, sizeof is_embed);
        Case cs = {.ids = ids, .lens = lens, .is_embed = is_embed, .labels = {5, 17, 42, 80}};
        for (int b = 0; b < B; b++) {
            int start = layout_last ? lens[b] - P : 0;
            for (int t = start; t < start + P; t++) is_embed[b * T + t] = 1;
            cs.label_target[b] = b % NK;
        }
        for (int kind = 0; kind < 3; kind++) { // label CE, prompt next-token, both
            for (int b = 0; b < B; b++) {
                cs.label_pos[b] = kind != 1 ? lens[b] - 1 : -1; // the classifier reads the last position
                // next-token terms over the prompt: first, positions 0..P-1 predicting
                // ids 1..P; last, the position before it and its positions but the last
                cs.lm_from[b] = kind == 0 ? 0 : layout_last ? lens[b] - P - 1 : 0;
                cs.lm_to[b] = kind == 0 ? 0 : layout_last ? lens[b] - 1 : P;
            }
            char name[64];
            snprintf(name, sizeof name, "%s, %s", layout_last ? "prompt last" : "prompt first",
                     kind == 0 ? "label CE" : kind == 1 ? "prompt LM" : "label CE + prompt LM");
            printf("%s:\n", name);
            check_d_input(&m, &a, &cs, emb, name);
        }
    }

    // parameter gradients: next-token loss over every real position of a ragged batch,
    // with a soft position at the start of row 1 (its id must get no input gradient)
    unsigned char is_embed[B * T];
    memset(is_embed, 0, sizeof is_embed);
    is_embed[1 * T + 0] = 1;
    int soft_id = ids[1 * T + 0];
    Case lm = {.ids = ids, .lens = lens, .is_embed = is_embed, .label_pos = {-1, -1, -1}};
    for (int b = 0; b < B; b++) { lm.lm_from[b] = 0; lm.lm_to[b] = lens[b] - 1; }
    memset(grad_buf, 0, n_params * sizeof(float));
    static float d_full[B * T * C], d_frozen[B * T * C];
    double loss = c_loss(&m, &a, &lm, emb, d_full, &grads);
    double ref = ref_loss(dparams, demb, ddelta, &lm);
    printf("parameter gradients, next-token loss on every position:\n  loss %.6f (reference %.6f)\n", loss, ref);
    CHECK(fabs(loss - ref) <= 1e-5 * fmax(1.0, fabs(ref)), "LM loss %.9g, reference %.9g", loss, ref);
    c_loss(&m, &a, &lm, emb, d_frozen, NULL);
    CHECK(memcmp(d_full, d_frozen, sizeof d_full) == 0, "frozen weights change d_input");

    // wte rows to check: inputs, targets, the soft position's id, rows only in the LM head
    int rows[8] = {ids[0], ids[5], ids[T + 3], ids[2 * T + 6], soft_id, 0, 0, 0}, n_rows = 5;
    for (int v = 0; v < V && n_rows < 8; v++) {
        int used = 0;
        for (int i = 0; i < B * T; i++) used |= ids[i] == v;
        if (!used) rows[n_rows++] = v;
    }
    Stat st[16];
    for (int k = 0; k < 16; k++) st[k] = (Stat){kind_name[k], 0, 0};
    for (int k = 0; k < NT; k++) {
        const float *g = grad_buf + t_off[k];
        size_t n = t_size[k], arg = 0;
        double scale = 0;
        for (size_t i = 0; i < n; i++)
            if (fabs(g[i]) > scale) { scale = fabs(g[i]); arg = i; }
        size_t pick[16];
        int np = 0;
        pick[np++] = arg;
        for (int j = 0; j < 5; j++) pick[np++] = rng_next() % n;
        if (k == 0)
            for (int r = 0; r < n_rows; r++) pick[np++] = (size_t)rows[r] * C + rng_int(C);
        if (k == 1)
            for (int t = 0; t < lens[0]; t += 4) pick[np++] = (size_t)t * C + rng_int(C);
        for (int j = 0; j < np; j++) {
            char where[64];
            snprintf(where, sizeof where, "tensor %d index %zu", k, pick[j]);
            stat_add(&st[kind_of(k)], g[pick[j]], fd_at(dparams, t_off[k] + pick[j], &lm), 1e-3 * scale, where);
        }
    }
    for (int k = 0; k < 16; k++) stat_print(&st[k]);
    // positions no row reaches get no wpe gradient
    for (size_t i = (size_t)lens[0] * C; i < t_size[1]; i++)
        CHECK(grad_buf[t_off[1] + i] == 0.0f, "wpe gradient at unused position %zu", i / C);

    // grads accumulate: a second backward doubles them
    float *g1 = malloc(n_params * sizeof(float));
    memcpy(g1, grad_buf, n_params * sizeof(float));
    c_loss(&m, &a, &lm, emb, NULL, &grads);
    for (int k = 0; k < NT; k++) { // per tensor: sgemm with beta = 1 may round differently
        double d = 0, s = 0;
        for (size_t i = t_off[k]; i < t_off[k] + t_size[k]; i++) {
            d = fmax(d, fabs(grad_buf[i] - 2 * g1[i]));
            s = fmax(s, fabs(2 * g1[i]));
        }
        CHECK(d <= 1e-6 * s, "tensor %d: a second backward does not add up (%g of %g)", k, d, s);
    }
    free(g1);

    // the label loss with grads: the sparse LM head path also adds to dwte (label rows)
    {
        Case lab = {.ids = ids, .lens = lens, .labels = {5, 17, 42, 80}};
        for (int b = 0; b < B; b++) { lab.label_pos[b] = lens[b] - 1 - b; lab.label_target[b] = (b + 1) % NK; }
        memset(grad_buf, 0, n_params * sizeof(float));
        c_loss(&m, &a, &lab, emb, NULL, &grads);
        Stat sl = {"label CE: wte, ln_f, h.1.fc.w", 0, 0};
        double scale = 0;
        for (size_t i = 0; i < t_size[0]; i++) scale = fmax(scale, fabs(grad_buf[i]));
        for (int j = 0; j < NK; j++)
            for (int r = 0; r < 3; r++) {
                size_t i = (size_t)lab.labels[j] * C + rng_int(C);
                stat_add(&sl, grad_buf[i], fd_at(dparams, i, &lab), 1e-3 * scale, "wte label row");
            }
        for (int r = 0; r < 4; r++) { // a row that is an input, and ln_f / a block weight
            size_t i = (size_t)ids[rng_int(lens[2])] * C + rng_int(C);
            stat_add(&sl, grad_buf[i], fd_at(dparams, i, &lab), 1e-3 * scale, "wte input row");
            for (int k = NT - 2; k < NT; k++) {
                size_t j = t_off[k] + rng_int((int)t_size[k]);
                stat_add(&sl, grad_buf[j], fd_at(dparams, j, &lab), 1e-3 * scale, "ln_f");
            }
            size_t j = t_off[2 + 12 + 8] + rng_int((int)t_size[2 + 12 + 8]);
            stat_add(&sl, grad_buf[j], fd_at(dparams, j, &lab), 1e-3 * scale, "fc.w");
        }
        stat_print(&sl);
    }

    // a position listed twice in out_pos adds up: {p, p} with d1, d2 == {p} with d1 + d2
    {
        int two[2] = {T + 4, T + 4};
        GPT2Batch bt2 = {.B = B, .T = T, .ids = ids, .lens = lens, .out_pos = two, .n_out = 2};
        float d2[2 * V], d_sum[B * T * C], d_two[B * T * C];
        for (int i = 0; i < 2 * V; i++) d2[i] = uniform_sum_normal();
        CHECK(gpt2_forward(&m, &a, &bt2, &err) == 0, "forward: %s", err.msg);
        CHECK(gpt2_backward(&m, &a, &bt2, d2, NULL, d_two, NULL, &err) == 0, "backward: %s", err.msg);
        for (int i = 0; i < V; i++) d2[i] += d2[V + i];
        bt2.n_out = 1;
        CHECK(gpt2_forward(&m, &a, &bt2, &err) == 0, "forward: %s", err.msg);
        CHECK(gpt2_backward(&m, &a, &bt2, d2, NULL, d_sum, NULL, &err) == 0, "backward: %s", err.msg);
        float s = 0, d = 0;
        for (int i = 0; i < B * T * C; i++) { s = fmaxf(s, fabsf(d_sum[i])); d = fmaxf(d, fabsf(d_sum[i] - d_two[i])); }
        CHECK(s > 0 && d <= 1e-5f * s, "duplicate out_pos: differs by %g of %g", d, s);
    }

    // gpt2_crossentropy against double, in place too
    {
        enum { N = 5 };
        float lg[N * V], d[N * V];
        int tg[N];
        for (int i = 0; i < N * V; i++) lg[i] = 3.0f * uniform_sum_normal();
        for (int n = 0; n < N; n++) tg[n] = rng_int(V);
        double want = 0, worst_d = 0;
        float got = gpt2_crossentropy(lg, tg, N, V, d, 0.5f);
        for (int n = 0; n < N; n++) {
            double mx = -1e300, sum = 0;
            for (int v = 0; v < V; v++) mx = fmax(mx, lg[n * V + v]);
            for (int v = 0; v < V; v++) sum += exp(lg[n * V + v] - mx);
            want += (log(sum) + mx - lg[n * V + tg[n]]) / N;
            for (int v = 0; v < V; v++) {
                double p = exp(lg[n * V + v] - mx) / sum, dv = 0.5 * (p - (v == tg[n])) / N;
                worst_d = fmax(worst_d, fabs(d[n * V + v] - dv));
            }
        }
        CHECK(fabs(got - want) <= 1e-6 * fabs(want), "crossentropy %.9g, want %.9g", got, want);
        CHECK(worst_d <= 1e-8, "crossentropy gradient off by %g", worst_d);
        float got2 = gpt2_crossentropy(lg, tg, N, V, lg, 0.5f);
        CHECK(got2 == got && memcmp(lg, d, sizeof d) == 0, "in-place crossentropy differs");
        tg[2] = V;
        CHECK(isnan(gpt2_crossentropy(lg, tg, N, V, NULL, 1.0f)), "target %d accepted", V);
        printf("crossentropy: loss %.6f, max |d - ref| %.2g\n", got, worst_d);
    }

    // refusals, with a message
    {
        int one = T - 1;
        GPT2Batch bt1 = {.B = 1, .T = T, .ids = ids, .out_pos = &one, .n_out = 1};
        CHECK(gpt2_backward(&m, &a, &bt1, NULL, NULL, d_full, NULL, &err) != 0 && strstr(err.msg, "dlogits"),
              "missing dlogits accepted");
        GPT2Acts fwd_only;
        CHECK(gpt2_acts_alloc(&fwd_only, &cfg, B, T, T, B * T, 0, &err) == 0, "acts: %s", err.msg);
        CHECK(gpt2_forward(&m, &fwd_only, &bt1, &err) == 0, "forward: %s", err.msg);
        CHECK(gpt2_backward(&m, &fwd_only, &bt1, dlogits, NULL, d_full, NULL, &err) != 0 && strstr(err.msg, "all_layers"),
              "activations without all_layers accepted");
        gpt2_acts_free(&fwd_only);
        GPT2KVCache kv;
        CHECK(kvcache_alloc(&kv, &cfg, 1, T, &err) == 0, "kv: %s", err.msg);
        int row = 0;
        GPT2Batch bp = {.B = 1, .T = 2, .ids = ids, .prefix = &kv, .prefix_rows = &row, .out_pos = &row, .n_out = 1};
        CHECK(gpt2_backward(&m, &a, &bp, dlogits, NULL, d_full, NULL, &err) != 0 && strstr(err.msg, "prefix"),
              "prefix cache accepted");
        kvcache_free(&kv);
    }

    gpt2_acts_free(&a);
    free(params); free(m.blocks_storage); free(grad_buf);
    free(dparams); free(demb); free(ddelta);
    return test_finish();
}
