/* LayerNorm over the last dimension for NCGLF2 inference on the CPU.
 *
 * Why: the transformer normalises rows of only 64 or 128 features; torch's
 * kernel spends more time per row on bookkeeping than on arithmetic (worse
 * in bfloat16). Here a row stays in registers: one pass for the mean, one
 * for the variance of the centred values (no cancellation), one to write.
 * Arithmetic in float32; bfloat16 rows are widened and the result rounded
 * once. Rows are shared among OpenMP threads (torch's pool, see attention.c).
 */
#include <math.h>

#include "vector.h"

enum { MAX_VECTORS = 256 };

static inline __attribute__((always_inline)) void normalise_rows(const void *x, void *y, const float *weight, const float *bias,
                                                                 int64_t rows, int64_t width, float eps, int bf16, int threads) {
    const int64_t vectors = width / LANES;
    (void)threads;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
        v16 v[MAX_VECTORS];
        v16 total = splat(0.0f);
        for (int64_t g = 0; g < vectors; ++g) {
            v[g] = load_v16(x, bf16, r * width + g * LANES);
            total += v[g];
        }
        const float mean = lane_sum(total) / (float)width;
        v16 squares = splat(0.0f);
        for (int64_t g = 0; g < vectors; ++g) {
            v[g] -= mean;
            squares += v[g] * v[g];
        }
        const float inverse = 1.0f / sqrtf(lane_sum(squares) / (float)width + eps);
        for (int64_t g = 0; g < vectors; ++g) {
            v16 w, b;
            memcpy(&w, weight + g * LANES, sizeof w);
            memcpy(&b, bias + g * LANES, sizeof b);
            store_v16(y, bf16, r * width + g * LANES, v[g] * inverse * w + b);
        }
    }
}

/* x, y: (rows, width) float32 or bfloat16; weight, bias: (width) float32. */
int ncglf2_layer_norm(const void *x, void *y, const float *weight, const float *bias, int64_t rows, int64_t width, float eps,
                      int bf16, int threads) {
    if (rows < 0 || width < LANES || width % LANES || width / LANES > MAX_VECTORS || threads < 1 || !(eps >= 0.0f))
        return BAD_ARGUMENT;
    if (bf16)
        normalise_rows(x, y, weight, bias, rows, width, eps, 1, threads);
    else
        normalise_rows(x, y, weight, bias, rows, width, eps, 0, threads);
    return OK;
}
