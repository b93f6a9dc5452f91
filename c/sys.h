/*
 * sys.h — the calling thread's CPU and memory placement. Bun Workers are OS threads, so a Worker
 * that calls these pins / inspects its own thread.
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
/* Locks every current and future page of the process in RAM; 0 or an errno. */
BOT4_API int32_t bot4_sys_mlockall(void);
BOT4_API int32_t bot4_sys_tid(void);

#endif
