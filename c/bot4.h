/*
 * bot4.h — facts every kernel family shares.
 *
 * Guarantees:
 *  - BOT4_CACHELINE is the unit of false-sharing isolation: every counter written by one thread
 *    and read by another sits on its own line (see ring.h).
 *  - Every struct that crosses the FFI seam is described by a layout function
 *    `int bot4_layout_<family>(char *buf, int cap)` that writes "name=value\n" lines (sizes and
 *    offsets taken from the compiler). ffi/layout.ts compares them with the TypeScript mirror at
 *    start-up and refuses to start on any difference.
 *  - Kernels never allocate: callers pass buffers (pointer + length); memory comes from arena.h.
 */
#ifndef BOT4_H
#define BOT4_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <assert.h>

#define BOT4_CACHELINE 64
#define BOT4_API __attribute__((visibility("default")))
#define BOT4_LIKELY(x) __builtin_expect(!!(x), 1)

/* Receive times cross the FFI per frame as doubles: TypeScript holds the bot4 clock as a number
 * (exact to the nanosecond for 104 days), and a u64 argument costs Bun ~10 ns of conversion per
 * call where a double costs none. NaN and negatives read as 0. */
static inline uint64_t bot4_ns_of(double ns) { return ns >= 1 ? (ns < 18446744073709549568.0 ? (uint64_t)ns : UINT64_MAX) : 0; }
#define BOT4_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define BOT4_ALIGNED(n) __attribute__((aligned(n)))

/* Layout export helpers: used only inside bot4_layout_<family>() bodies, where `buf`, `cap`
 * and an int `n` are in scope. */
#define BOT4_L_PUT(name, val)                                                                   \
  n += snprintf(buf + (n < cap ? n : cap), (size_t)(n < cap ? cap - n : 0), "%s=%zu\n", name,  \
                (size_t)(val))
#define BOT4_L_SIZE(T) BOT4_L_PUT(#T, sizeof(T))
#define BOT4_L_OFF(T, f) BOT4_L_PUT(#T "." #f, offsetof(T, f))
#define BOT4_L_CONST(name) BOT4_L_PUT(#name, name)

#endif
