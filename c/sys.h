/*
 * sys.h — the calling thread's CPU and memory placement. Bun Workers are OS threads, so a Worker
 * that calls these pins / inspects its own thread; pinning never changes another thread's mask
 * (threads created later inherit the creator's mask, as with any pthread).
 */
#ifndef BOT4_SYS_H
#define BOT4_SYS_H

#include "bot4.h"

/* Pins the calling thread to the n CPUs listed; 0 or an errno (EINVAL: none of them allowed). */
BOT4_API int32_t bot4_sys_pin(const int32_t *cpus, int32_t n);
/* The CPU the calling thread runs on now (-1 if unknown). */
BOT4_API int32_t bot4_sys_cpu(void);
/* The CPUs the calling thread may run on, written to out (at most cap); returns how many, or -errno. */
BOT4_API int32_t bot4_sys_affinity(int32_t *out, int32_t cap);
/* bot4_sys_mlockall flags (MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT under names the layout checks) */
#define BOT4_MLOCK_CURRENT 1
#define BOT4_MLOCK_FUTURE 2
#define BOT4_MLOCK_ONFAULT 4

/* Locks the process's pages in RAM (flags: BOT4_MLOCK_*, at least CURRENT or FUTURE); 0 or an
 * errno (ENOMEM: over RLIMIT_MEMLOCK; EPERM: not allowed; EINVAL: bad flags). */
BOT4_API int32_t bot4_sys_mlockall(int32_t flags);
BOT4_API int32_t bot4_sys_tid(void); /* the calling thread's kernel id (gettid) */

/* The kernel's own cost of writing one order frame to a TCP socket, as a reference for the order
 * path: a loopback connection (TCP_NODELAY) is opened, and n writes of `bytes` bytes are each
 * timed with the bot4 clock around send() into out_ns; the receiving end is drained in the same
 * thread every 8 writes (untimed), as a local venue in the engine's event loop would read it.
 * 0, or an errno (socket set-up or a failed write). */
BOT4_API int32_t bot4_sys_send_floor(int32_t n, int32_t bytes, double *out_ns);

/* How often this thread is kept off its CPU (interrupts, the host descheduling a virtual CPU): a
 * loop that only reads the bot4 clock for `ms` milliseconds counts the gaps between consecutive
 * reads. out[0..4]: gaps over 5, 10, 30 and 100 µs, the largest gap (ns); out[5]: the share of
 * the time lost in gaps over 5 µs; out[6]: the loop's own reads. Any latency sample taken while
 * such a gap falls inside it carries the gap. 0, or EINVAL. */
BOT4_API int32_t bot4_sys_gaps(double ms, double *out);

BOT4_API int bot4_layout_sys(char *buf, int cap);

#endif
