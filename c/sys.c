/* sys.c — thread placement; the contract is in sys.h. */
#include "sys.h"

#include <errno.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

BOT4_API int32_t bot4_sys_pin(const int32_t *cpus, int32_t n) {
  if (!cpus || n <= 0) return EINVAL;
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int32_t i = 0; i < n; i++) {
    if (cpus[i] < 0 || cpus[i] >= CPU_SETSIZE) return EINVAL;
    CPU_SET(cpus[i], &set);
  }
  /* pid 0: the calling thread */
  return sched_setaffinity(0, sizeof set, &set) == 0 ? 0 : errno;
}

BOT4_API int32_t bot4_sys_cpu(void) { return sched_getcpu(); }

BOT4_API int32_t bot4_sys_affinity(int32_t *out, int32_t cap) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return -errno;
  int32_t k = 0;
  for (int c = 0; c < CPU_SETSIZE && k < cap; c++)
    if (CPU_ISSET(c, &set)) out[k++] = c;
  return k;
}

BOT4_API int32_t bot4_sys_mlockall(void) { return mlockall(MCL_CURRENT | MCL_FUTURE) == 0 ? 0 : errno; }

BOT4_API int32_t bot4_sys_tid(void) { return (int32_t)syscall(SYS_gettid); }
