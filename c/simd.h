/*
 * simd.h — the one place that decides vector width. Kernels are written once against f64v and
 * BOT4_LANES; the build variant picks the hardware width:
 *   x86-64-v4 (AVX-512)  -> 8 doubles per f64v (zmm)
 *   x86-64-v3 (AVX2)     -> 4 doubles per f64v (ymm)   [gcc 12 spills 8-wide types to the stack
 *                                                        without AVX-512: 2–7x slower, so never]
 *   baseline x86-64      -> 2 doubles per f64v (xmm, SSE2)
 * Instrument groups are always BOT4_GROUP = 8 wide in memory (structure of arrays, 64-byte
 * aligned), so state laid out by one variant is valid for every other; a kernel walks a group in
 * BOT4_GROUP / BOT4_LANES steps which the compiler fully unrolls.
 */
#ifndef BOT4_SIMD_H
#define BOT4_SIMD_H

#include "bot4.h"

#define BOT4_GROUP 8

#if defined(__AVX512F__)
#define BOT4_LANES 8
#define BOT4_VARIANT_ISA "avx512"
#elif defined(__AVX2__)
#define BOT4_LANES 4
#define BOT4_VARIANT_ISA "avx2"
#else
#define BOT4_LANES 2
#define BOT4_VARIANT_ISA "sse2"
#endif

#define BOT4_STEPS (BOT4_GROUP / BOT4_LANES)

typedef double f64v __attribute__((vector_size(BOT4_LANES * 8), aligned(BOT4_LANES * 8)));
typedef int64_t i64v __attribute__((vector_size(BOT4_LANES * 8), aligned(BOT4_LANES * 8)));

static inline f64v f64v_load(const double *p) { return *(const f64v *)p; }
static inline void f64v_store(double *p, f64v v) { *(f64v *)p = v; }
static inline f64v f64v_splat(double x) { return (f64v){0} + x; }
/* lane-wise select: m is the all-ones/all-zeros mask produced by a vector comparison */
static inline f64v f64v_select(i64v m, f64v a, f64v b) {
  return (f64v)(((i64v)a & m) | ((i64v)b & ~m));
}

#endif
