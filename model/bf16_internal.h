/*
 * model/bf16_internal.h: the bf16 matmul of model/bf16.c as the forward (gpt2.c), the
 * backward (gpt2_backward.c), the tests and the bench call it. Not part of the gpt2.h
 * contract (gpt2_set_precision is).
 *
 * A model under GPT2_BF16 holds a bf16 copy of each of its matmul weights (the four linear
 * weights of every block and wte), found by the address of the f32 tensor it was made from,
 * and one oneDNN matmul primitive per weight shape and form, created by gpt2_set_precision
 * with a run-time row count M: no primitive is created per call, whatever M a batch has.
 */
#ifndef MODEL_BF16_INTERNAL_H
#define MODEL_BF16_INTERNAL_H

#include <stdint.h>

#include "model/gpt2.h"

/* out (M,N) f32 = bf16(in) (M,K) x W + bias (N, or NULL), accumulated in f32, where W is the
 * bf16 copy of the model's f32 tensor w: w (K,N) row-major when trans is 0 (a Conv1D weight in
 * the forward, wte in the LM head's backward), w (N,K) row-major used transposed when trans is
 * 1 (a Conv1D weight in the backward's d input, wte in the LM head). in is rounded to bf16 in
 * a scratch buffer of the model's (grown when a larger M*K comes, else reused). M = 0 does
 * nothing. On failure (no bf16 copy of w in that shape, no primitive for it, out of memory,
 * oneDNN's error) out gets NaN, the first failure is kept for gpt2_bf16_error, and -1 is
 * returned: the layers calling it return nothing, their pass checks once at its end. */
int gpt2_bf16_matmul(GPT2Bf16 *b, float *out, const float *in, const float *w, const float *bias, int M,
                     int K, int N, int trans);

/* -1 with the first failure of gpt2_bf16_matmul since the last call (prefixed by pass,
 * "forward" or "backward"), which it forgets; 0 when there was none (or b is NULL). */
int gpt2_bf16_error(GPT2Bf16 *b, const char *pass, Err *err);

/* Frees what gpt2_set_precision made (NULL is fine). */
void gpt2_bf16_free(GPT2Bf16 *b);

/* n floats rounded to bf16 (to nearest, ties to even; NaN stays NaN), as the bf16 path rounds
 * inputs and weights; and back (exact). */
void gpt2_bf16_round(uint16_t *dst, const float *src, size_t n);
void gpt2_bf16_widen(float *dst, const uint16_t *src, size_t n);

/* Whether this CPU runs bf16 matmuls (avx512_bf16 or AMX, through oneDNN): 1, or 0 with the
 * reason in err ("precision bf16: ..."). What gpt2_set_precision checks first. */
int gpt2_bf16_supported(Err *err);

#endif
