/* Fused multi-head self-attention for NCGLF2 inference on the CPU.
 *
 * Why: the base transformer attends over T = P*P + 1 = 122 tokens with heads
 * of width 16. Library kernels spend most of their time in call overhead for
 * such tiny matrix products and in a softmax that leaves the cache. Here one
 * (sample, head) pair at a time stays in L1/L2: keys transposed, values,
 * and a block of query rows whose scores, exponentials and weighted values
 * are computed without leaving registers and a few KB of scratch.
 *
 * Input:  qkv (N, T, 3 * W), row-major, W = heads * E: [q | k | v] per token,
 *         float32 or bfloat16 (as produced by one fused linear layer), and
 *         optionally that layer's bias (3 * W, float32), added here as the
 *         values are loaded rather than in a separate pass over qkv.
 * Output: context (N, T, W), same dtype, heads side by side (ready for the
 *         output projection); class_probs (N, heads, T) float32: row 0 of the
 *         softmax probabilities, which the structure step needs.
 * Arithmetic is float32 throughout (bfloat16 values are widened exactly).
 *
 * Written with GCC/Clang vector extensions so that the compiler maps the
 * 16-lane vectors to AVX-512, AVX2 or NEON, whichever the machine has.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "vector.h"

enum { MAX_HEAD_WIDTH = 256, ROWS = 8, MAX_THREADS = 256 };

/* e^x for x <= 0 (scores after subtracting their maximum): Cephes' single
 * precision polynomial, within 2 ulp; exactly 0 below -87 and for -inf. */
static inline v16 exp_nonpositive(v16 x) {
    const v16i underflow = x < splat(-87.0f);
    x = select_v(underflow, splat(-87.0f), x);
    const v16 shifter = splat(12582912.0f); /* 1.5 * 2^23: adding it rounds to an integer */
    const v16 k = (x * splat(1.44269504088896341f) + shifter) - shifter;
    const v16 r = x - k * splat(0.693359375f) + k * splat(2.12194440e-4f);
    v16 p = splat(1.9875691500e-4f);
    p = p * r + splat(1.3981999507e-3f);
    p = p * r + splat(8.3334519073e-3f);
    p = p * r + splat(4.1665795894e-2f);
    p = p * r + splat(1.6666665459e-1f);
    p = p * r + splat(5.0000001201e-1f);
    p = p * r * r + r + splat(1.0f);
    const v16i two_to_k = (__builtin_convertvector(k, v16i) + 127) << 23;
    return select_v(underflow, splat(0.0f), p * (v16)two_to_k);
}

static inline float lane_max(v16 x) {
    float m = x[0];
    for (int l = 1; l < LANES; ++l) m = x[l] > m ? x[l] : m;
    return m;
}

typedef struct {
    const void *qkv;
    const float *bias; /* NULL: none */
    void *context;
    float *class_probs;
    int64_t tokens, heads, head_width;
    float scale;
    int bf16;
    int64_t first, last; /* (sample, head) pairs [first, last) */
    int status;
} job_t;

/* One (sample, head): keys transposed to [E][blocks of 16 tokens], padded with
 * zeros; values as [T][E/16 vectors]. */
static inline __attribute__((always_inline)) void gather_keys_values(const job_t *job, int bf16, int64_t sample, int64_t head,
                                                                     v16 *keys_t, v16 *values) {
    const int64_t t = job->tokens, e = job->head_width, w = job->heads * e;
    const int64_t padded = ((t + LANES - 1) / LANES) * LANES;
    float *kt = (float *)keys_t, *vv = (float *)values;
    float k_bias[MAX_HEAD_WIDTH], v_bias[MAX_HEAD_WIDTH];
    for (int64_t c = 0; c < e; ++c) {
        k_bias[c] = job->bias ? job->bias[w + head * e + c] : 0.0f;
        v_bias[c] = job->bias ? job->bias[2 * w + head * e + c] : 0.0f;
    }
    for (int64_t j = 0; j < t; ++j) {
        const int64_t row = (sample * t + j) * 3 * w + head * e;
        for (int64_t c = 0; c < e; ++c) {
            const int64_t k_at = row + w + c, v_at = row + 2 * w + c;
            kt[c * padded + j] = (bf16 ? widen_bf16(((const uint16_t *)job->qkv)[k_at]) : ((const float *)job->qkv)[k_at]) + k_bias[c];
            vv[j * e + c] = (bf16 ? widen_bf16(((const uint16_t *)job->qkv)[v_at]) : ((const float *)job->qkv)[v_at]) + v_bias[c];
        }
    }
    for (int64_t c = 0; c < e; ++c)
        for (int64_t j = t; j < padded; ++j) kt[c * padded + j] = 0.0f;
}

/* `rows` query rows from `first_row` of one (sample, head); `rows` is a
 * compile-time constant at each call so the per-row arrays live in registers. */
static inline __attribute__((always_inline)) void attend_rows(const job_t *job, int bf16, int rows, int64_t first_row, int64_t sample,
                                                              int64_t head, const v16 *keys_t, const v16 *values, v16 *probs,
                                                              v16 last_block_bias) {
    const int64_t t = job->tokens, e = job->head_width, w = job->heads * e;
    const int64_t blocks = (t + LANES - 1) / LANES, e_vectors = e / LANES;
    float q[ROWS][MAX_HEAD_WIDTH];
    for (int r = 0; r < rows; ++r) {
        const int64_t at = (sample * t + first_row + r) * 3 * w + head * e;
        for (int64_t c = 0; c < e; ++c)
            q[r][c] = ((bf16 ? widen_bf16(((const uint16_t *)job->qkv)[at + c]) : ((const float *)job->qkv)[at + c]) +
                       (job->bias ? job->bias[head * e + c] : 0.0f)) * job->scale;
    }
    /* scores, one block of 16 keys at a time, and their running maxima */
    v16 peak[ROWS];
    for (int r = 0; r < rows; ++r) peak[r] = splat(-INFINITY);
    for (int64_t b = 0; b < blocks; ++b) {
        v16 s[ROWS];
        const v16 start = b == blocks - 1 ? last_block_bias : splat(0.0f); /* -inf on padding lanes */
        for (int r = 0; r < rows; ++r) s[r] = start;
        for (int64_t c = 0; c < e; ++c) {
            const v16 k = keys_t[c * blocks + b];
            for (int r = 0; r < rows; ++r) s[r] += q[r][c] * k;
        }
        for (int r = 0; r < rows; ++r) {
            probs[r * blocks + b] = s[r];
            peak[r] = select_v(s[r] > peak[r], s[r], peak[r]);
        }
    }
    /* softmax numerators and 1 / denominators */
    float inverse[ROWS];
    for (int r = 0; r < rows; ++r) {
        const v16 m = splat(lane_max(peak[r]));
        v16 total = splat(0.0f);
        for (int64_t b = 0; b < blocks; ++b) {
            const v16 x = exp_nonpositive(probs[r * blocks + b] - m);
            probs[r * blocks + b] = x;
            total += x;
        }
        inverse[r] = 1.0f / lane_sum(total);
    }
    /* weighted values, 16 output features at a time */
    for (int64_t g = 0; g < e_vectors; ++g) {
        v16 out[ROWS];
        for (int r = 0; r < rows; ++r) out[r] = splat(0.0f);
        for (int64_t j = 0; j < t; ++j) {
            const v16 v = values[j * e_vectors + g];
            for (int r = 0; r < rows; ++r) out[r] += ((const float *)(probs + r * blocks))[j] * v;
        }
        for (int r = 0; r < rows; ++r) {
            const v16 result = out[r] * inverse[r];
            const int64_t at = (sample * t + first_row + r) * w + head * e + g * LANES;
            store_v16(job->context, bf16, at, result);
        }
    }
    if (first_row == 0) {
        float *row0 = job->class_probs + (sample * job->heads + head) * t;
        const float *p = (const float *)probs;
        for (int64_t j = 0; j < t; ++j) row0[j] = p[j] * inverse[0];
    }
}

static inline __attribute__((always_inline)) void run_pairs(job_t *job, int bf16, v16 *keys_t, v16 *values, v16 *probs) {
    const int64_t t = job->tokens, blocks = (t + LANES - 1) / LANES;
    v16 last_block_bias;
    for (int l = 0; l < LANES; ++l) last_block_bias[l] = (blocks - 1) * LANES + l < t ? 0.0f : -INFINITY;
    for (int64_t pair = job->first; pair < job->last; ++pair) {
        const int64_t sample = pair / job->heads, head = pair % job->heads;
        gather_keys_values(job, bf16, sample, head, keys_t, values);
        int64_t i = 0;
        for (; i + ROWS <= t; i += ROWS) attend_rows(job, bf16, ROWS, i, sample, head, keys_t, values, probs, last_block_bias);
        for (; i < t; ++i) attend_rows(job, bf16, 1, i, sample, head, keys_t, values, probs, last_block_bias);
    }
}

static void *run_job(void *arg) {
    job_t *job = arg;
    const int64_t blocks = (job->tokens + LANES - 1) / LANES;
    v16 *keys_t = aligned_alloc(64, sizeof(v16) * (size_t)(job->head_width * blocks));
    v16 *values = aligned_alloc(64, sizeof(v16) * (size_t)(job->tokens * (job->head_width / LANES)));
    v16 *probs = aligned_alloc(64, sizeof(v16) * (size_t)(ROWS * blocks));
    if (keys_t && values && probs) {
        if (job->bf16)
            run_pairs(job, 1, keys_t, values, probs);
        else
            run_pairs(job, 0, keys_t, values, probs);
        job->status = OK;
    } else {
        job->status = OUT_OF_MEMORY;
    }
    free(keys_t);
    free(values);
    free(probs);
    return NULL;
}

/* Returns 0 on success, 1 for arguments out of range, 2 when memory ran out. */
int ncglf2_attention(const void *qkv, const float *bias, void *context, float *class_probs, int64_t samples, int64_t tokens, int64_t heads,
                     int64_t head_width, float scale, int bf16, int threads) {
    if (samples < 0 || tokens < 1 || heads < 1 || head_width < LANES || head_width > MAX_HEAD_WIDTH || head_width % LANES ||
        threads < 1)
        return BAD_ARGUMENT;
    const int64_t pairs = samples * heads;
    if (pairs == 0) return OK;
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    if (threads > pairs) threads = (int)pairs;
    job_t jobs[MAX_THREADS];
    for (int k = 0; k < threads; ++k)
        jobs[k] = (job_t){qkv, bias, context, class_probs, tokens, heads, head_width, scale, bf16,
                          pairs * k / threads, pairs * (k + 1) / threads, OK};
#ifdef _OPENMP
    /* Built with OpenMP, this library shares the already loaded runtime (and so
     * the thread pool) of torch: no second set of threads fighting for cores. */
#pragma omp parallel for num_threads(threads) schedule(static, 1)
    for (int k = 0; k < threads; ++k) run_job(&jobs[k]);
#else
    pthread_t ids[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    for (int k = 1; k < threads; ++k) started[k] = pthread_create(&ids[k], NULL, run_job, &jobs[k]) == 0;
    run_job(&jobs[0]);
    for (int k = 1; k < threads; ++k) {
        if (started[k])
            pthread_join(ids[k], NULL);
        else
            run_job(&jobs[k]); /* no thread to be had: do its share here */
    }
#endif
    int status = OK;
    for (int k = 0; k < threads; ++k)
        if (jobs[k].status != OK) status = jobs[k].status;
    return status;
}
