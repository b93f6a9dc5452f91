/*
 * ring.h — lock-free rings of 64-byte records over shared memory.
 *
 * Two kinds, one header layout (bot4_ring_t, then the records):
 *
 *  SPSC  one producer thread, one consumer thread. Indices are free-running u32 counters
 *        (slot = index & mask, fill = head - tail in modular arithmetic, so they may wrap);
 *        the producer owns `head` and a private cached copy of `tail`, the consumer owns `tail`
 *        and a cached `head`; each pair sits on its own cache line so the two threads never
 *        write the same line. Publishing is a release store of `head` after the records are
 *        written; consuming is an acquire load of `head` before they are read (and the mirror
 *        for `tail`). The TypeScript side (ffi/ring.ts) follows the same protocol over typed-array
 *        views with Atomics.load/store on the same words, so C and TypeScript producers and
 *        consumers can be mixed on one ring.
 *
 *  MPMC  many producers, many consumers (Vyukov's bounded queue): a per-slot sequence word
 *        (u32, in its own array after the records so records stay 64-byte aligned) says whether
 *        the slot is free for lap L (seq == index) or full (seq == index + 1); producers and
 *        consumers claim indices with a compare-exchange on `head` / `tail`. Used for fan-in of
 *        several feeds into one engine; many SPSC rings polled in turn do the same job and are
 *        what the engine uses by default (no CAS on the hot path).
 *
 * Overflow is never silent: bot4_ring_push_drop() counts the records it could not place in
 * `drops` (the producer's line), readable from any thread.
 *
 * Memory comes from mmap (shared, anonymous, page-aligned, prefaulted); the ring's address is
 * its handle, valid in every thread of the process. A header carries a magic and the geometry,
 * checked whenever a handle is attached (bot4_ring_check).
 */
#ifndef BOT4_RING_H
#define BOT4_RING_H

#include "bot4.h"

#define BOT4_RING_MAGIC 0x524e4734u /* "4GNR" */
#define BOT4_RING_VERSION 1
#define BOT4_RING_SPSC 1
#define BOT4_RING_MPMC 2
#define BOT4_RING_RECORD 64
#define BOT4_RING_MIN_CAPACITY 2
#define BOT4_RING_MAX_CAPACITY (1u << 26)
#define BOT4_RING_HEADER 256 /* records start here: header lines rounded up */

typedef struct BOT4_ALIGNED(BOT4_CACHELINE) bot4_ring {
  /* line 0: geometry, written once at creation */
  uint32_t magic;
  uint32_t version;
  uint32_t kind;
  uint32_t capacity;
  uint32_t mask;
  uint32_t record_bytes;
  uint64_t map_bytes;
  uint64_t records_off; /* from the ring's address */
  uint64_t seqs_off;    /* MPMC slot sequence words; 0 for SPSC */
  uint8_t pad0[BOT4_CACHELINE - 48];
  /* line 1: producer side */
  uint32_t head;        /* next index to publish (SPSC) / to claim (MPMC) */
  uint32_t cached_tail; /* SPSC producer's private copy of tail */
  double drops;         /* records refused because the ring was full */
  double full_waits;    /* producer polls that found the ring full */
  uint8_t pad1[BOT4_CACHELINE - 24];
  /* line 2: consumer side */
  uint32_t tail;        /* next index to consume */
  uint32_t cached_head; /* SPSC consumer's private copy of head */
  double empty_polls;   /* consumer polls that found nothing */
  uint8_t pad2[BOT4_CACHELINE - 16];
  /* line 3: spare, keeps the records off the consumer's line */
  uint8_t pad3[BOT4_CACHELINE];
} bot4_ring_t;

static_assert(sizeof(bot4_ring_t) == BOT4_RING_HEADER, "ring header is four cache lines");

/* Creation and checking. capacity: a power of two in [MIN, MAX]. NULL on bad capacity or no memory
 * (errno set). */
BOT4_API bot4_ring_t *bot4_ring_create(int32_t kind, int32_t capacity);
BOT4_API void bot4_ring_destroy(bot4_ring_t *r);
/* 0 if `r` looks like a live ring of this version, else a negative reason:
 * -1 null, -2 bad magic, -3 bad version, -4 bad geometry */
BOT4_API int32_t bot4_ring_check(const bot4_ring_t *r);
BOT4_API void *bot4_ring_records(bot4_ring_t *r);
BOT4_API int32_t bot4_ring_size(const bot4_ring_t *r); /* records in the ring now */

/* SPSC, in place (the TypeScript path): the producer asks for room, writes records at slots
 * head..head+n-1 (index & mask) and publishes; the consumer asks what is ready, reads slots
 * tail..tail+n-1 in place and releases. Each is one call; the loads/stores are acquire/release. */
BOT4_API int32_t bot4_ring_claim(bot4_ring_t *r, int32_t want);
BOT4_API void bot4_ring_publish(bot4_ring_t *r, int32_t n);
BOT4_API int32_t bot4_ring_available(bot4_ring_t *r, int32_t max);
/* As available, for a consumer still holding `held` read records it has not released: the ready
 * records after them (from index tail + held), at most `max`. Releasing in large steps keeps the
 * producer from re-reading the consumer's line after every small batch (the two cores then trade
 * that line and the head's once per step, not once per batch). */
BOT4_API int32_t bot4_ring_available_after(bot4_ring_t *r, int32_t held, int32_t max);

/* SPSC, batched: copy up to n records in / out; return how many moved. push_drop counts the
 * records it could not place as drops. peek/release let a consumer read in place. */
BOT4_API int32_t bot4_ring_push(bot4_ring_t *r, const void *recs, int32_t n);
BOT4_API int32_t bot4_ring_push_drop(bot4_ring_t *r, const void *recs, int32_t n);
BOT4_API int32_t bot4_ring_pop(bot4_ring_t *r, void *out, int32_t max);
BOT4_API int32_t bot4_ring_peek(bot4_ring_t *r, int32_t max, uint32_t *start);
BOT4_API void bot4_ring_release(bot4_ring_t *r, int32_t n);

/* MPMC, batched: a producer claims up to n consecutive indices with one CAS; a consumer the same. */
BOT4_API int32_t bot4_mpmc_push(bot4_ring_t *r, const void *recs, int32_t n);
BOT4_API int32_t bot4_mpmc_push_drop(bot4_ring_t *r, const void *recs, int32_t n);
BOT4_API int32_t bot4_mpmc_pop(bot4_ring_t *r, void *out, int32_t max);

/* Reference measurement of the hardware: round trips of one record between this thread and a
 * C thread over two SPSC rings, both spinning. Each RTT (ns, bot4 clock) goes to `out_ns`
 * (n doubles). cpu_a/cpu_b pin the two threads (-1 = leave). Returns 0, or an errno. */
BOT4_API int32_t bot4_ring_rtt_native(int32_t n, double *out_ns, int32_t cpu_a, int32_t cpu_b);
/* Throughput reference: a C producer thread pushes `n` records in batches of `batch` into an SPSC
 * ring that this thread pops; returns records per second, or -1 on a sequence error. */
BOT4_API double bot4_ring_throughput_native(int32_t n, int32_t batch, int32_t capacity);

BOT4_API int bot4_layout_ring(char *buf, int cap);

#endif
