/* Shared by the NCGLF2 CPU kernels: 16-lane float vectors (GCC/Clang vector
 * extensions, mapped to AVX-512, AVX2 or NEON by the compiler) and exact
 * bfloat16 conversions matching torch's (round to nearest even). */
#ifndef NCGLF2_VECTOR_H
#define NCGLF2_VECTOR_H

#include <stdint.h>
#include <string.h>

typedef float v16 __attribute__((vector_size(64), aligned(64)));
typedef int32_t v16i __attribute__((vector_size(64), aligned(64)));

enum { LANES = 16 };
enum { OK = 0, BAD_ARGUMENT = 1, OUT_OF_MEMORY = 2 };

static inline v16 splat(float x) { return (v16){0} + x; }

static inline v16 select_v(v16i mask, v16 a, v16 b) { return (v16)((mask & (v16i)a) | (~mask & (v16i)b)); }

static inline float lane_sum(v16 x) {
    float s = 0.0f;
    for (int l = 0; l < LANES; ++l) s += x[l];
    return s;
}

static inline float widen_bf16(uint16_t h) {
    const uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline uint16_t narrow_bf16(float f) {
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x40u); /* NaN stays NaN */
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return (uint16_t)(bits >> 16);
}

typedef uint16_t v16h __attribute__((vector_size(32)));
typedef uint32_t v16u __attribute__((vector_size(64)));

/* 16 consecutive values of a float32 or bfloat16 array, as float32 */
static inline v16 load_v16(const void *data, int bf16, int64_t at) {
    v16 out;
    if (bf16) {
        v16h h;
        memcpy(&h, (const uint16_t *)data + at, sizeof h);
        out = (v16)(__builtin_convertvector(h, v16u) << 16);
    } else {
        memcpy(&out, (const float *)data + at, sizeof out);
    }
    return out;
}

/* the same rounding as narrow_bf16, 16 lanes at a time */
static inline void store_v16(void *data, int bf16, int64_t at, v16 values) {
    if (bf16) {
        const v16u bits = (v16u)values;
        const v16u rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
        const v16u quiet = (bits >> 16) | 0x40u;
        const v16u nan = (v16u)((bits & 0x7fffffffu) > 0x7f800000u);
        const v16h h = __builtin_convertvector((nan & quiet) | (~nan & rounded), v16h);
        memcpy((uint16_t *)data + at, &h, sizeof h);
    } else {
        memcpy((float *)data + at, &values, sizeof values);
    }
}

#endif
