/*
 * model/bf16.c: the bf16 precision of a model (gpt2_set_precision): its matmul weights
 * converted to bf16 once, and matmuls through oneDNN (Debian's libdnnl, its C API) with bf16
 * inputs and f32 accumulation.
 *
 * bf16 is the top half of an f32: the same 8-bit exponent (the same range) and 8 significant
 * bits instead of 24, so one rounding costs a relative error of at most 2^-9. A CPU with
 * avx512_bf16 multiplies pairs of them and adds into f32 at twice the rate of f32 FMAs
 * (vdpbf16ps), and the weights take half the memory and half the bandwidth.
 *
 * What is converted: the four linear weights of each block, in their Conv1D layout (K,N),
 * and wte (V,C) for the tied LM head; one allocation. What is not: everything else stays f32,
 * read from the model's weights as before (the embedding lookups read wte's f32 rows, the
 * classifier rows of the LM head too), and the activations, whose rows are rounded to bf16
 * on their way into each matmul in a scratch buffer reused from call to call.
 *
 * The primitives: one per (K, N, transposed, bias) the model needs (at most 10), made by
 * gpt2_set_precision with the row count M left to run time (DNNL_RUNTIME_DIM_VAL), so any
 * batch reuses them. Measured on the 124M shapes against primitives made for each fixed M:
 * the same rate (oneDNN's gemm:jit kernel against brgemm, 180-250 GFLOP/s for both on a loaded
 * 2-core machine), and no cache to key, fill and bound, nor millisecond creations when a
 * packed batch brings a new M. Only the memory objects of src and dst (small) are remade when
 * M changes; the weights' and the bias's get a new data handle per call.
 */
#include <cblas.h>   // openblas_get_num_threads: oneDNN gets as many threads
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>
#if DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_OMP
#include <omp.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "model/bf16_internal.h"

const char *const GPT2_PRECISION_NAMES[GPT2_N_PRECISIONS] = {"f32", "bf16"};

int gpt2_precision_parse(const char *name, GPT2Precision *p, Err *err) {
    for (int i = 0; i < GPT2_N_PRECISIONS; i++)
        if (name && strcmp(name, GPT2_PRECISION_NAMES[i]) == 0) {
            *p = (GPT2Precision)i;
            return 0;
        }
    return err_fail(err, "precision \"%.40s\": expected \"f32\" or \"bf16\"", name ? name : "");
}

// ----------------------------------------------------------------------------
// rounding

/* To nearest, ties to even: add 0x7fff plus the lowest kept bit, keep the top half. A NaN
 * keeps its sign and top payload bits and is made quiet (rounding could carry it into inf). */
static inline uint16_t bf16_of(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    uint32_t nan = (u & 0x7fffffffu) > 0x7f800000u;
    return (uint16_t)(nan ? (u >> 16) | 0x40u : rounded);
}

void gpt2_bf16_round(uint16_t *dst, const float *src, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) dst[i] = bf16_of(src[i]);
}

void gpt2_bf16_widen(float *dst, const uint16_t *src, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)src[i] << 16;
        memcpy(dst + i, &u, sizeof u);
    }
}

// ----------------------------------------------------------------------------
// the CPU

#define DISABLE_ENV "GPT2_BF16_DISABLE"

/* avx512_bf16 (CPUID.(7,1):EAX bit 5) with the AVX-512 state enabled by the OS (XCR0 bits
 * 1, 2, 5, 6, 7), or AMX-BF16 (CPUID.(7,0):EDX bit 22): 1 if either, and which in *what. */
static int cpu_has_bf16(const char **what) {
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    unsigned max_sub = a, amx = (d >> 22) & 1u;
    unsigned avx512 = 0;
    if (max_sub >= 1 && __get_cpuid_count(7, 1, &a, &b, &c, &d) && ((a >> 5) & 1u)) {
        unsigned c1, d1, a1, b1;
        // OSXSAVE (CPUID.1:ECX bit 27) before reading XCR0
        if (__get_cpuid(1, &a1, &b1, &c1, &d1) && ((c1 >> 27) & 1u)) {
            unsigned lo, hi;
            __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
            avx512 = (lo & 0xe6u) == 0xe6u;
        }
    }
    *what = amx ? "AMX" : "avx512_bf16";
    return amx || avx512;
#else
    (void)what;
    return 0;
#endif
}

int gpt2_bf16_supported(Err *err) {
    const char *what = NULL, *off = getenv(DISABLE_ENV);
    int disabled = off && *off && strcmp(off, "0") != 0;
    if (disabled || !cpu_has_bf16(&what)) {
        err_fail(err, "precision bf16: this CPU has neither avx512_bf16 nor AMX%s; use precision f32",
                 disabled ? " (" DISABLE_ENV " is set: a CPU without them, for tests)" : "");
        return 0;
    }
    // oneDNN's own dispatch: a build that does not know this CPU, or DNNL_MAX_CPU_ISA below it
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    if ((isa & dnnl_cpu_isa_avx512_core_bf16) != dnnl_cpu_isa_avx512_core_bf16) {
        err_fail(err, "precision bf16: the CPU has %s but oneDNN %d.%d dispatches to %s at most "
                      "(DNNL_MAX_CPU_ISA?); use precision f32",
                 what, dnnl_version()->major, dnnl_version()->minor, dnnl_cpu_isa2str(isa));
        return 0;
    }
    return 1;
}

// ----------------------------------------------------------------------------
// the state of a bf16 model

/* The bf16 copy of one f32 tensor, rows x cols row-major as the original. */
typedef struct {
    const float *src;
    const uint16_t *w;
    int rows, cols;
} Matrix;

/* A matmul primitive: out (M,N) = in (M,K) x B (K,N) + bias, B the weights as (K,N) row-major
 * (tag ab) or as the transpose of an (N,K) row-major tensor (tag ba). */
typedef struct {
    int K, N, trans, bias;
    dnnl_primitive_t prim;
    dnnl_memory_t src, wei, bia, dst;   // src and dst for rows M (remade when it changes)
    int M;
} Prim;

enum { MAX_PRIMS = 10 };

struct GPT2Bf16 {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    uint16_t *weights;        // every bf16 copy, one allocation
    Matrix *mats;             // (n_mats): 4 per block, then wte
    int n_mats;
    Prim prims[MAX_PRIMS];
    int n_prims;
    uint16_t *scratch;        // inputs rounded to bf16
    size_t scratch_cap;       // elements
    int failed;               // a matmul failed since the last gpt2_bf16_error
    Err err;                  //   its message
};

static int dnnl_fail(Err *err, const char *what, dnnl_status_t s) {
    return err_fail(err, "precision bf16: oneDNN %s: %s", what, dnnl_status2str(s));
}

void gpt2_bf16_free(GPT2Bf16 *b) {
    if (!b) return;
    for (int i = 0; i < b->n_prims; i++) {
        Prim *p = &b->prims[i];
        if (p->prim) dnnl_primitive_destroy(p->prim);
        if (p->src) dnnl_memory_destroy(p->src);
        if (p->wei) dnnl_memory_destroy(p->wei);
        if (p->bia) dnnl_memory_destroy(p->bia);
        if (p->dst) dnnl_memory_destroy(p->dst);
    }
    if (b->stream) dnnl_stream_destroy(b->stream);
    if (b->engine) dnnl_engine_destroy(b->engine);
    free(b->weights);
    free(b->mats);
    free(b->scratch);
    free(b);
}

/* The primitive for (K, N, trans, bias), made if it is new. */
static int prim_add(GPT2Bf16 *b, int K, int N, int trans, int bias, Err *err) {
    for (int i = 0; i < b->n_prims; i++) {
        const Prim *p = &b->prims[i];
        if (p->K == K && p->N == N && p->trans == trans && p->bias == bias) return 0;
    }
    if (b->n_prims == MAX_PRIMS) return err_fail(err, "precision bf16: more than %d matmul shapes", MAX_PRIMS);
    Prim *p = &b->prims[b->n_prims++];   // counted now: gpt2_bf16_free frees what it holds
    *p = (Prim){.K = K, .N = N, .trans = trans, .bias = bias, .M = -1};
    dnnl_memory_desc_t src, wei, bia, dst;
    dnnl_dims_t src_dims = {DNNL_RUNTIME_DIM_VAL, K}, wei_dims = {K, N}, bia_dims = {1, N},
                dst_dims = {DNNL_RUNTIME_DIM_VAL, N};
    dnnl_status_t s;
    if ((s = dnnl_memory_desc_init_by_tag(&src, 2, src_dims, dnnl_bf16, dnnl_ab)) ||
        (s = dnnl_memory_desc_init_by_tag(&wei, 2, wei_dims, dnnl_bf16, trans ? dnnl_ba : dnnl_ab)) ||
        (s = dnnl_memory_desc_init_by_tag(&bia, 2, bia_dims, dnnl_f32, dnnl_ab)) ||
        (s = dnnl_memory_desc_init_by_tag(&dst, 2, dst_dims, dnnl_f32, dnnl_ab)))
        return dnnl_fail(err, "memory descriptor", s);
    dnnl_matmul_desc_t desc;
    if ((s = dnnl_matmul_desc_init(&desc, &src, &wei, bias ? &bia : NULL, &dst)))
        return dnnl_fail(err, "matmul descriptor", s);
    dnnl_primitive_desc_t pd;
    if ((s = dnnl_primitive_desc_create(&pd, &desc, NULL, b->engine, NULL)))
        return err_fail(err, "precision bf16: oneDNN has no bf16 matmul for %dx%d%s weights on this CPU: %s", K, N,
                        trans ? " (transposed)" : "", dnnl_status2str(s));
    s = dnnl_primitive_create(&p->prim, pd);
    dnnl_primitive_desc_destroy(pd);
    if (s) return dnnl_fail(err, "matmul primitive", s);
    if ((s = dnnl_memory_create(&p->wei, &wei, b->engine, DNNL_MEMORY_NONE)) ||
        (bias && (s = dnnl_memory_create(&p->bia, &bia, b->engine, DNNL_MEMORY_NONE))))
        return dnnl_fail(err, "memory", s);
    return 0;
}

/* A new bf16 state of m: the CPU checked, the weights converted, the primitives made. */
static int bf16_new(GPT2Bf16 **out, const GPT2Model *m, Err *err) {
    *out = NULL;
    if (!gpt2_bf16_supported(err)) return -1;
    const GPT2Config *c = &m->config;
    size_t C = (size_t)c->n_embd, V = (size_t)c->vocab_size, L = (size_t)c->n_layer;
    GPT2Bf16 *b = calloc(1, sizeof *b);
    if (!b) return err_fail(err, "precision bf16: out of memory");
    size_t total = V * C + L * 12 * C * C;
    b->n_mats = (int)(4 * L + 1);
    b->weights = malloc(total * sizeof(uint16_t));
    b->mats = malloc((size_t)b->n_mats * sizeof *b->mats);
    if (!b->weights || !b->mats) {
        gpt2_bf16_free(b);
        return err_fail(err, "precision bf16: out of memory (%zu MB of bf16 weights)", total * 2 >> 20);
    }
    // the block weights in the layer order, then wte
    uint16_t *at = b->weights;
    int n = 0;
    for (size_t l = 0; l < L; l++) {
        const GPT2Block *w = &m->w.blocks[l];
        const float *src[4] = {w->attn_w, w->attn_proj_w, w->fc_w, w->fc_proj_w};
        int rows[4] = {(int)C, (int)C, (int)C, (int)(4 * C)}, cols[4] = {(int)(3 * C), (int)C, (int)(4 * C), (int)C};
        for (int k = 0; k < 4; k++) {
            size_t numel = (size_t)rows[k] * cols[k];
            gpt2_bf16_round(at, src[k], numel);
            b->mats[n++] = (Matrix){src[k], at, rows[k], cols[k]};
            at += numel;
        }
    }
    gpt2_bf16_round(at, m->w.wte, V * C);
    b->mats[n++] = (Matrix){m->w.wte, at, (int)V, (int)C};

    // oneDNN: as many threads as OpenBLAS (one per rank: OPENBLAS_NUM_THREADS=1)
#if DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_OMP
    omp_set_num_threads(openblas_get_num_threads());
#endif
    dnnl_status_t s;
    if ((s = dnnl_engine_create(&b->engine, dnnl_cpu, 0)) ||
        (s = dnnl_stream_create(&b->stream, b->engine, dnnl_stream_default_flags))) {
        gpt2_bf16_free(b);
        return dnnl_fail(err, "engine", s);
    }
    // each Conv1D weight (K,N): the forward's x W + bias and the backward's dy W^T; wte (V,C):
    // the LM head's x wte^T and its backward's dlogits wte
    int shapes[4][2] = {{(int)C, (int)(3 * C)}, {(int)C, (int)C}, {(int)C, (int)(4 * C)}, {(int)(4 * C), (int)C}};
    for (int k = 0; k < 4; k++)
        if (prim_add(b, shapes[k][0], shapes[k][1], 0, 1, err) || prim_add(b, shapes[k][1], shapes[k][0], 1, 0, err)) {
            gpt2_bf16_free(b);
            return -1;
        }
    if (prim_add(b, (int)C, (int)V, 1, 0, err) || prim_add(b, (int)V, (int)C, 0, 0, err)) {
        gpt2_bf16_free(b);
        return -1;
    }
    *out = b;
    return 0;
}

int gpt2_set_precision(GPT2Model *m, GPT2Precision p, Err *err) {
    if (p != GPT2_F32 && p != GPT2_BF16) return err_fail(err, "precision: unknown precision %d", (int)p);
    GPT2Bf16 *b = NULL;
    if (p == GPT2_BF16 && bf16_new(&b, m, err)) return -1;
    gpt2_bf16_free(m->bf16);
    m->bf16 = b;
    m->precision = p;
    return 0;
}

// ----------------------------------------------------------------------------
// the matmul

/* Keeps the first failure for gpt2_bf16_error; -1. */
__attribute__((format(printf, 2, 3))) static int matmul_fail(GPT2Bf16 *b, const char *fmt, ...) {
    if (!b->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(b->err.msg, sizeof b->err.msg, fmt, ap);
        va_end(ap);
        err_one_line(b->err.msg);
        b->failed = 1;
    }
    return -1;
}

static const Matrix *matrix_of(const GPT2Bf16 *b, const float *w) {
    for (int i = 0; i < b->n_mats; i++)
        if (b->mats[i].src == w) return &b->mats[i];
    return NULL;
}

static Prim *prim_of(GPT2Bf16 *b, int K, int N, int trans, int bias) {
    for (int i = 0; i < b->n_prims; i++) {
        Prim *p = &b->prims[i];
        if (p->K == K && p->N == N && p->trans == trans && p->bias == bias) return p;
    }
    return NULL;
}

/* The src and dst memory objects of p for M rows. */
static dnnl_status_t prim_rows(GPT2Bf16 *b, Prim *p, int M) {
    if (p->M == M) return dnnl_success;
    if (p->src) dnnl_memory_destroy(p->src);
    if (p->dst) dnnl_memory_destroy(p->dst);
    p->src = p->dst = NULL;
    p->M = -1;
    dnnl_memory_desc_t src, dst;
    dnnl_dims_t src_dims = {M, p->K}, dst_dims = {M, p->N};
    dnnl_status_t s;
    if ((s = dnnl_memory_desc_init_by_tag(&src, 2, src_dims, dnnl_bf16, dnnl_ab)) ||
        (s = dnnl_memory_desc_init_by_tag(&dst, 2, dst_dims, dnnl_f32, dnnl_ab)) ||
        (s = dnnl_memory_create(&p->src, &src, b->engine, DNNL_MEMORY_NONE)) ||
        (s = dnnl_memory_create(&p->dst, &dst, b->engine, DNNL_MEMORY_NONE)))
        return s;
    p->M = M;
    return dnnl_success;
}

int gpt2_bf16_matmul(GPT2Bf16 *b, float *out, const float *in, const float *w, const float *bias, int M,
                     int K, int N, int trans) {
    if (M <= 0) return 0;
    size_t need = (size_t)M * K;
    const Matrix *mat = matrix_of(b, w);
    Prim *p = prim_of(b, K, N, trans, bias != NULL);
    int rc = 0;
    if (!mat || mat->rows != (trans ? N : K) || mat->cols != (trans ? K : N))
        rc = matmul_fail(b, "bf16 matmul: no bf16 copy of a %dx%d weight (gpt2_set_precision converts the "
                            "model's weights as they are when it is called)", trans ? N : K, trans ? K : N);
    else if (!p)
        rc = matmul_fail(b, "bf16 matmul: no primitive for %dx%d%s weights", K, N, trans ? " (transposed)" : "");
    if (rc == 0 && need > b->scratch_cap) {
        uint16_t *grown = malloc(need * sizeof(uint16_t));
        if (!grown) rc = matmul_fail(b, "bf16 matmul: out of memory (%d x %d inputs)", M, K);
        else {
            free(b->scratch);
            b->scratch = grown;
            b->scratch_cap = need;
        }
    }
    dnnl_status_t s = dnnl_success;
    if (rc == 0) {
        gpt2_bf16_round(b->scratch, in, need);
        if ((s = prim_rows(b, p, M)) || (s = dnnl_memory_set_data_handle(p->src, b->scratch)) ||
            (s = dnnl_memory_set_data_handle(p->wei, (void *)mat->w)) ||
            (s = dnnl_memory_set_data_handle(p->dst, out)) ||
            (bias && (s = dnnl_memory_set_data_handle(p->bia, (void *)bias))))
            rc = matmul_fail(b, "bf16 matmul: oneDNN memory: %s", dnnl_status2str(s));
    }
    if (rc == 0) {
        dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, p->src}, {DNNL_ARG_WEIGHTS, p->wei}, {DNNL_ARG_DST, p->dst},
                                   {DNNL_ARG_BIAS, p->bia}};
        if ((s = dnnl_primitive_execute(p->prim, b->stream, bias ? 4 : 3, args)) || (s = dnnl_stream_wait(b->stream)))
            rc = matmul_fail(b, "bf16 matmul %dx%dx%d: oneDNN: %s", M, K, N, dnnl_status2str(s));
    }
    if (rc) {
        for (size_t i = 0; i < (size_t)M * N; i++) out[i] = NAN;
    }
    return rc;
}

int gpt2_bf16_error(GPT2Bf16 *b, const char *pass, Err *err) {
    if (!b || !b->failed) return 0;
    b->failed = 0;
    return err_fail(err, "%s: %s", pass, b->err.msg);
}
