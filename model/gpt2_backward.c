/*
 * model/gpt2_backward.c: the GPT-2 backward pass on the CPU, and the
 * cross-entropy loss that starts it.
 *
 * Layer functions in the llm.c style: outputs first, then inputs, weights and
 * dims, every tensor's shape in a comment. Weight gradients accumulate (+=)
 * so that micro-batches add up; gradients of activations are overwritten
 * where that saves a memset of a buffer (the residual stream accumulates, as
 * it must: every block adds to it).
 *
 * Two uses, one code path:
 *   - prompt tuning (grads == NULL): only d loss / d input vectors is wanted,
 *     so every weight-gradient GEMM (dW, db, the dwte of the LM head) is
 *     skipped: the backward costs about as much as the forward;
 *   - training (grads != NULL): full parameter gradients as well.
 *
 * The matmul-shaped work runs on cblas_sgemm; attention backward is O(T^2)
 * per head (dpre = a * (da - <a, da>), not llm.c's O(T^3) Jacobian loop); the
 * rest are loops written so that gcc vectorises them.
 */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "model/bf16_internal.h"
#include "model/gpt2.h"

// ----------------------------------------------------------------------------
// layers

/* d_input (B,T,C), the caller's padded layout, = dout for real positions, 0 for padding
 * (t >= lens[b]); with dwte (V,C) and dwpe (n_positions,C), also dwpe[t] += dout and, where
 * the input was a token (not is_embed), dwte[ids] += dout. dout (N,C) is the gradient at the
 * input of block 0, packed (row b at off[b]); ids, is_embed (B,T); lens, off (B).
 * Positions start at 0: batches with a prefix cache are refused earlier. */
static void encoder_backward(float *d_input, float *dwte, float *dwpe, const float *dout,
                             const int *ids, const unsigned char *is_embed, const int *lens,
                             const int *off, int B, int T, int C) {
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            size_t bt = (size_t)b * T + t;
            int real = t < lens[b];
            const float *d = real ? dout + ((size_t)off[b] + t) * C : NULL;
            if (d_input) {
                if (real) memcpy(d_input + bt * C, d, C * sizeof(float));
                else memset(d_input + bt * C, 0, C * sizeof(float));
            }
            if (!dwte || !real) continue; // padding was never read: no gradient
            float *dp = dwpe + (size_t)t * C;
#pragma omp simd
            for (int i = 0; i < C; i++) dp[i] += d[i];
            if (is_embed && is_embed[bt]) continue; // a soft vector, not a wte row
            float *dw = dwte + (size_t)ids[bt] * C;
#pragma omp simd
            for (int i = 0; i < C; i++) dw[i] += d[i];
        }
    }
}

/* Backward of out = (inp - mean) * rstd * weight + bias, per row:
 * dinp (N,C) +=; dweight, dbias (C) += when dweight is not NULL.
 * dout (N,C), inp (N,C), mean, rstd (N) from the forward, weight (C).
 * With n = (x - mean) rstd and g = dout * weight (d of n):
 * dx = rstd (g - mean(g) - n mean(g n)). */
static void layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                               const float *inp, const float *mean, const float *rstd,
                               const float *weight, int N, int C) {
    for (int r = 0; r < N; r++) {
        const float *dy = dout + (size_t)r * C, *x = inp + (size_t)r * C;
        float *dx = dinp + (size_t)r * C;
        float m = mean[r], s = rstd[r];
        float g_mean = 0.0f, gn_mean = 0.0f;
#pragma omp simd reduction(+ : g_mean, gn_mean)
        for (int i = 0; i < C; i++) {
            float g = weight[i] * dy[i];
            g_mean += g;
            gn_mean += g * (x[i] - m) * s;
        }
        g_mean /= C;
        gn_mean /= C;
#pragma omp simd
        for (int i = 0; i < C; i++) {
            float n = (x[i] - m) * s;
            dx[i] += s * (weight[i] * dy[i] - g_mean - n * gn_mean);
        }
        if (!dweight) continue;
#pragma omp simd
        for (int i = 0; i < C; i++) {
            dweight[i] += (x[i] - m) * s * dy[i];
            dbias[i] += dy[i];
        }
    }
}

/* Backward of out (N,OC) = inp (N,C) weight (C,OC) + bias (OC):
 * dinp (N,C) = dout (N,OC) weight^T, overwritten (no memset needed), in m's precision;
 * dweight (C,OC) += inp^T dout and dbias (OC) += column sums of dout, only
 * when dweight is not NULL (frozen weights: no weight-gradient GEMM). */
static void matmul_backward(const GPT2Model *m, float *dinp, float *dweight, float *dbias,
                            const float *dout, const float *inp, const float *weight, int N, int C,
                            int OC) {
    if (m->bf16) gpt2_bf16_matmul(m->bf16, dinp, dout, weight, NULL, N, OC, C, 1); // dweight NULL
    else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, C, OC,
                     1.0f, dout, OC, weight, OC, 0.0f, dinp, C);
    if (!dweight) return;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C, OC, N,
                1.0f, inp, C, dout, OC, 1.0f, dweight, OC);
    for (int r = 0; r < N; r++) {
        const float *d = dout + (size_t)r * OC;
#pragma omp simd
        for (int o = 0; o < OC; o++) dbias[o] += d[o];
    }
}

/* Backward of gelu_new (tanh approximation), element-wise, may run in place
 * (dinp == dout): dinp (N) = dout (N) * gelu'(inp). inp (N) is the forward's
 * input, out (N) its output 0.5 x (1 + tanh u), u = s (x + 0.044715 x^3).
 * gelu' = 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) s (1 + 3 * 0.044715 x^2).
 * 1 + tanh u is read back from the output as 2 out / x instead of calling
 * tanhf again: tanhf costs ~16 ns and does not vectorise (9.4M calls per
 * 124M backward at B*T = 256), a division does. Near 0, where 0.5 x may
 * lose its bits, tanh u = s x to far better than float precision. */
static void gelu_backward(float *dinp, const float *inp, const float *out, const float *dout,
                          size_t N) {
    const float s = 0.7978845608028654f, c = 0.044715f;
#pragma omp simd
    for (size_t i = 0; i < N; i++) {
        float x = inp[i];
        int big = fabsf(x) > 1e-4f;
        float p = big ? 2.0f * out[i] / (big ? x : 1.0f) : 1.0f + s * x; // 1 + tanh u
        float sech2 = p * (2.0f - p);                                     // (1 + th)(1 - th)
        float d = 0.5f * p + 0.5f * x * sech2 * s * (1.0f + 3.0f * c * x * x);
        dinp[i] = d * dout[i];
    }
}

/* Backward of causal self-attention without a prefix (keys 0..t for query t), packed rows
 * (row b's lens[b] positions at off[b]).
 * dqkv (N,3C) = dq | dk | dv, overwritten; datt (N,NH,K) scratch.
 * dout (N,C) = d of the attention output, qkv (N,3C) and att (N,NH,K)
 * (softmax weights, K = max_keys) from the forward; lens, off (B).
 * Per head and query t, with y_t = sum_j a_tj v_j and a_t = softmax(q_t.k_j scale):
 *   da_tj = dy_t.v_j    dpre_tj = a_tj (da_tj - <a_t, da_t>) scale
 *   dv = A^T dY         dq = dPre K         dk = dPre^T Q
 * which is O(T^2 hs) per head (llm.c's loop over the softmax Jacobian is
 * O(T^3)). Each product is one small sgemm per head on the len x len block
 * with the masked (j > t) entries set to 0: twice the causal work, but at
 * GEMM speed (~70 GFLOP/s at T = hs = 64 on one core, where loops holding
 * the causal triangle ran at ~12). */
static void attention_backward(float *dqkv, float *datt, const float *dout, const float *qkv,
                               const float *att, const int *lens, const int *off, int B, int C,
                               int NH, int K) {
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    int C3 = 3 * C, AS = NH * K; // AS: stride between positions of one head in att, datt
    for (int b = 0; b < B; b++) {
        int len = lens[b];
        if (len == 0) continue;
        for (int h = 0; h < NH; h++) {
            size_t r0 = (size_t)off[b] * C3 + (size_t)h * hs; // row 0 of this head in qkv, dqkv
            const float *q = qkv + r0, *k = q + C, *v = q + 2 * C;
            float *dq = dqkv + r0, *dk = dq + C, *dv = dq + 2 * C;
            const float *dy = dout + (size_t)off[b] * C + (size_t)h * hs;  // (len, hs), stride C
            const float *a = att + ((size_t)off[b] * NH + h) * K;          // (len, len), stride AS
            float *d = datt + ((size_t)off[b] * NH + h) * K;
            // the causal A with its upper triangle 0 (the forward never wrote it), for dv
            for (int t = 0; t < len; t++) {
                memcpy(d + (size_t)t * AS, a + (size_t)t * AS, (t + 1) * sizeof(float));
                for (int j = t + 1; j < len; j++) d[(size_t)t * AS + j] = 0.0f;
            }
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, len, hs, len,
                        1.0f, d, AS, dy, C, 0.0f, dv, C3);
            // da = dY V^T, then dpre in place, 0 above the diagonal
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, len, len, hs,
                        1.0f, dy, C, v, C3, 0.0f, d, AS);
            for (int t = 0; t < len; t++) {
                const float *at = a + (size_t)t * AS;
                float *dt = d + (size_t)t * AS, dot = 0.0f;
#pragma omp simd reduction(+ : dot)
                for (int j = 0; j <= t; j++) dot += at[j] * dt[j];
#pragma omp simd
                for (int j = 0; j <= t; j++) dt[j] = at[j] * (dt[j] - dot) * scale;
                for (int j = t + 1; j < len; j++) dt[j] = 0.0f;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, len, hs, len,
                        1.0f, d, AS, k, C3, 0.0f, dq, C3);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, len, hs, len,
                        1.0f, d, AS, q, C3, 0.0f, dk, C3);
        }
    }
}

/* Backward of the tied LM head on the n_out rows that carry loss:
 * dgathered (n_out,C) = dlogits (n_out,V) wte (V,C), overwritten;
 * dwte (V,C) += dlogits^T gathered (n_out,C) when dwte is not NULL.
 * A loss over a few label ids (a classifier) leaves dlogits 0 outside them:
 * then only those rows of wte are read (K axpys instead of a GEMM that
 * streams all of wte: ~20 ms at 124M for 4 rows, bandwidth-bound). The scan
 * for zeros gives up after one block of a dense row (a full softmax). */
/* The LM head restricted to K label ids (the forward's label_head_forward).
 * dgathered (C) = sum_k dlabel[k] wte[ids[k]] for one classifier row;
 * with dwte: dwte[ids[k]] += dlabel[k] * gathered (C). dlabel (K), ids (K). */
static void label_head_backward(float *dgathered, float *dwte, const float *dlabel,
                                const float *gathered, const float *wte, const int *ids, int K, int C) {
    memset(dgathered, 0, C * sizeof(float));
    for (int k = 0; k < K; k++) {
        const float *w = wte + (size_t)ids[k] * C;
        float x = dlabel[k];
#pragma omp simd
        for (int i = 0; i < C; i++) dgathered[i] += x * w[i];
        if (!dwte) continue;
        float *dw = dwte + (size_t)ids[k] * C;
#pragma omp simd
        for (int i = 0; i < C; i++) dw[i] += x * gathered[i];
    }
}

static void lm_head_backward(const GPT2Model *m, float *dgathered, float *dwte, const float *dlogits,
                             const float *gathered, const float *wte, int n_out, int V, int C) {
    const int block = 1024, max_nnz = V / 64; // sparse enough that axpys beat the GEMM
    int sparse = 1;
    for (int r = 0; r < n_out && sparse; r++) {
        const float *d = dlogits + (size_t)r * V;
        int nnz = 0;
        for (int v0 = 0; v0 < V && sparse; v0 += block) {
            int n = V - v0 < block ? V - v0 : block, c = 0;
#pragma omp simd reduction(+ : c)
            for (int v = 0; v < n; v++) c += d[v0 + v] != 0.0f;
            nnz += c;
            sparse = nnz <= max_nnz;
        }
    }
    if (!sparse) {
        if (m->bf16) gpt2_bf16_matmul(m->bf16, dgathered, dlogits, wte, NULL, n_out, V, C, 0); // dwte NULL
        else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n_out, C, V,
                         1.0f, dlogits, V, wte, C, 0.0f, dgathered, C);
        if (dwte)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, V, C, n_out,
                        1.0f, dlogits, V, gathered, C, 1.0f, dwte, C);
        return;
    }
    for (int r = 0; r < n_out; r++) {
        const float *d = dlogits + (size_t)r * V, *g = gathered + (size_t)r * C;
        float *dg = dgathered + (size_t)r * C;
        memset(dg, 0, C * sizeof(float));
        for (int v = 0; v < V; v++) {
            if (d[v] == 0.0f) continue;
            const float *w = wte + (size_t)v * C;
            float x = d[v];
#pragma omp simd
            for (int i = 0; i < C; i++) dg[i] += x * w[i];
            if (!dwte) continue;
            float *dw = dwte + (size_t)v * C;
#pragma omp simd
            for (int i = 0; i < C; i++) dw[i] += x * g[i];
        }
    }
}

// ----------------------------------------------------------------------------
// loss

float gpt2_crossentropy(const float *logits, const int *targets, int N, int V, float *dlogits,
                        float scale) {
    if (N <= 0) return 0.0f;
    for (int n = 0; n < N; n++)
        if (targets[n] < 0 || targets[n] >= V) return NAN; // nothing written
    double total = 0.0;
    for (int n = 0; n < N; n++) {
        const float *x = logits + (size_t)n * V;
        float mx = -INFINITY, xt = x[targets[n]]; // read first: dlogits may be logits
#pragma omp simd reduction(max : mx)
        for (int v = 0; v < V; v++) mx = x[v] > mx ? x[v] : mx; // fmaxf would be a libm call
        // exp(x - max) <= 1, summed in double: the loss is log(sum) + max - x[target]
        double sum = 0.0;
        if (dlogits) {
            float *d = dlogits + (size_t)n * V;
#pragma omp simd reduction(+ : sum)
            for (int v = 0; v < V; v++) { d[v] = gpt2_expf(x[v] - mx); sum += d[v]; }
            float k = (float)(scale / (sum * N));
#pragma omp simd
            for (int v = 0; v < V; v++) d[v] *= k;
            d[targets[n]] -= scale / N;
        } else {
#pragma omp simd reduction(+ : sum)
            for (int v = 0; v < V; v++) sum += gpt2_expf(x[v] - mx);
        }
        total += log(sum) + mx - xt;
    }
    return (float)(total / N);
}

// ----------------------------------------------------------------------------
// model

/* What a backward needs beyond gpt2_batch_check: every layer's activations,
 * no prefix cache (positions start at 0), and the gradients of the rows that
 * carry loss. */
static int backward_check(const GPT2Model *m, const GPT2Acts *a, const GPT2Batch *bt,
                          const float *dlogits, const float *dlabel_logits, Err *err) {
    if (!a->all_layers || !a->dresidual)
        return err_fail(err, "backward: the activations keep one layer only "
                              "(allocate them with all_layers = 1)");
    if (bt->prefix)
        return err_fail(err, "backward: batches with a prefix cache are not supported");
    if (gpt2_batch_check(m, a, bt, "backward", err)) return -1;
    if (bt->n_out > 0 && !dlogits) return err_fail(err, "backward: %d logit rows and no dlogits", bt->n_out);
    if (bt->n_label > 0 && !dlabel_logits)
        return err_fail(err, "backward: %d classifier rows and no dlabel_logits", bt->n_label);
    return 0;
}

int gpt2_backward(const GPT2Model *m, GPT2Acts *a, const GPT2Batch *bt, const float *dlogits,
                  const float *dlabel_logits, float *d_input, GPT2Weights *grads, Err *err) {
    if (grads && m->bf16)
        return err_fail(err, "backward: weight gradients need precision f32 (this model is bf16: "
                              "for forwards and frozen-weight backwards only)");
    if (backward_check(m, a, bt, dlogits, dlabel_logits, err)) return -1;
    if (!d_input && !grads) return 0;
    const GPT2Config *c = &m->config;
    int B = bt->B, T = bt->T, C = c->n_embd, NH = c->n_head, L = c->n_layer, V = c->vocab_size;
    int K = a->max_keys, n_out = bt->n_out;
    int lens[B], off[B]; // small: B is at most a few thousand
    size_t N = (size_t)gpt2_batch_pack(bt, lens, off); // real positions, packed as the forward did
    if (n_out == 0 && bt->n_label == 0) { // no loss: every gradient is 0 (grads accumulate nothing)
        if (d_input) memset(d_input, 0, (size_t)B * T * C * sizeof(float));
        return 0;
    }
    // the forward's per-layer activations, as it laid them out for this batch's N positions
#define LAYER(x, l, width) (a->x + (size_t)(l) * N * (width))
    const float *last = LAYER(residual3, L - 1, C); // input of ln_f

    // LM head, only on the n_out rows that carry loss
    lm_head_backward(m, a->dgathered, grads ? grads->wte : NULL, dlogits, a->gathered, m->w.wte,
                     n_out, V, C);

    // ln_f backward on the gathered rows straight into the residual stream,
    // which is 0 at every other position (the scatter). Row by row, so that
    // a position listed twice in out_pos adds up.
    float *dres = a->dresidual;
    memset(dres, 0, N * C * sizeof(float));
    for (int i = 0; i < n_out; i++) {
        size_t p = (size_t)off[bt->out_pos[i] / T] + bt->out_pos[i] % T;
        layernorm_backward(dres + p * C, grads ? grads->ln_f_w : NULL, grads ? grads->ln_f_b : NULL,
                           a->dgathered + (size_t)i * C, last + p * C, a->lnf_mean + p,
                           a->lnf_rstd + p, m->w.ln_f_w, 1, C);
    }
    // classifier rows the same way, one at a time through dgathered's first
    // row (free now: max_out >= n_label >= 1 whenever this loop runs)
    for (int i = 0; i < bt->n_label; i++) {
        size_t p = (size_t)off[bt->label_pos[i] / T] + bt->label_pos[i] % T;
        label_head_backward(a->dgathered, grads ? grads->wte : NULL,
                            dlabel_logits + (size_t)i * bt->n_label_ids,
                            a->label_gathered + (size_t)i * C, m->w.wte, bt->label_ids,
                            bt->n_label_ids, C);
        layernorm_backward(dres + p * C, grads ? grads->ln_f_w : NULL, grads ? grads->ln_f_b : NULL,
                           a->dgathered, last + p * C, a->lnf_mean + p, a->lnf_rstd + p,
                           m->w.ln_f_w, 1, C);
    }

    // blocks in reverse; dres holds d of the block's output and becomes d of its input
    for (int l = L - 1; l >= 0; l--) {
        const GPT2Block *w = &m->w.blocks[l];
        GPT2Block *g = grads ? &grads->blocks[l] : NULL;
        const float *res_in = l == 0 ? a->encoded : LAYER(residual3, l - 1, C);
        const float *res2 = LAYER(residual2, l, C), *ln1 = LAYER(ln1, l, C), *ln2 = LAYER(ln2, l, C);
        const float *qkv = LAYER(qkv, l, 3 * C), *atty = LAYER(atty, l, C);
        const float *fch = LAYER(fch, l, 4 * C), *fch_gelu = LAYER(fch_gelu, l, 4 * C);
        const float *att = a->att + (size_t)l * N * NH * K;

        // MLP: res3 = res2 + gelu(ln2 fc_w + fc_b) fc_proj_w + fc_proj_b
        matmul_backward(m, a->dfch, g ? g->fc_proj_w : NULL, g ? g->fc_proj_b : NULL, dres,
                        fch_gelu, w->fc_proj_w, (int)N, 4 * C, C);
        gelu_backward(a->dfch, fch, fch_gelu, a->dfch, N * 4 * C);
        matmul_backward(m, a->dln, g ? g->fc_w : NULL, g ? g->fc_b : NULL, a->dfch, ln2, w->fc_w,
                        (int)N, C, 4 * C);
        layernorm_backward(dres, g ? g->ln_2_w : NULL, g ? g->ln_2_b : NULL, a->dln, res2,
                           LAYER(ln2_mean, l, 1), LAYER(ln2_rstd, l, 1), w->ln_2_w, (int)N, C);

        // attention: res2 = res_in + attention(ln1 attn_w + attn_b) attn_proj_w + attn_proj_b
        matmul_backward(m, a->dln, g ? g->attn_proj_w : NULL, g ? g->attn_proj_b : NULL, dres, atty,
                        w->attn_proj_w, (int)N, C, C);
        attention_backward(a->dqkv, a->datt, a->dln, qkv, att, lens, off, B, C, NH, K);
        matmul_backward(m, a->dln, g ? g->attn_w : NULL, g ? g->attn_b : NULL, a->dqkv, ln1,
                        w->attn_w, (int)N, C, 3 * C);
        layernorm_backward(dres, g ? g->ln_1_w : NULL, g ? g->ln_1_b : NULL, a->dln, res_in,
                           LAYER(ln1_mean, l, 1), LAYER(ln1_rstd, l, 1), w->ln_1_w, (int)N, C);
    }
#undef LAYER
    encoder_backward(d_input, grads ? grads->wte : NULL, grads ? grads->wpe : NULL, dres, bt->ids,
                     bt->is_embed, lens, off, B, T, C);
    return gpt2_bf16_error(m->bf16, "backward", err);
}
