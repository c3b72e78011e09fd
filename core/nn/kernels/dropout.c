/* Dropout masks for NCGLF2 training on the CPU.
 *
 * Why: torch draws one Mersenne-twister number per element on one thread;
 * at the attention's 7.6 million probabilities per block that was a third
 * of a training step. Here each element's number is a hash of (seed, index)
 * (SplitMix64's finaliser), so the mask is the same whatever the number of
 * threads, and every thread fills its own range. The caller draws the seed
 * from torch's generator, so torch.manual_seed still decides everything.
 *
 * Output: scale (n) float32, 0 for a dropped element and 65536 / (65536 -
 * threshold) for a kept one, where an element is dropped when the top 16
 * bits of its hash fall below `threshold` (= p * 65536 rounded): the drop
 * rate is p to within 2^-17 and the expectation of x * scale is exactly x.
 */
#include <stdint.h>

#include "vector.h"

static inline uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int ncglf2_dropout_scale(float *scale, int64_t n, int threshold, uint64_t seed, int threads) {
    if (n < 0 || threshold < 0 || threshold >= 65536 || threads < 1) return BAD_ARGUMENT;
    const float kept = 65536.0f / (float)(65536 - threshold);
    const uint64_t start = mix(seed);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < n; ++i) {
        const uint32_t draw = (uint32_t)(mix(start + 0x9e3779b97f4a7c15ull * (uint64_t)i) >> 48);
        scale[i] = draw < (uint32_t)threshold ? 0.0f : kept;
    }
    (void)threads;
    return OK;
}
