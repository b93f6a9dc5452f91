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

BOT4_API int32_t bot4_sys_mlockall(int32_t flags) {
  if (!(flags & (BOT4_MLOCK_CURRENT | BOT4_MLOCK_FUTURE)) ||
      (flags & ~(BOT4_MLOCK_CURRENT | BOT4_MLOCK_FUTURE | BOT4_MLOCK_ONFAULT)))
    return EINVAL;
  int how = 0;
  if (flags & BOT4_MLOCK_CURRENT) how |= MCL_CURRENT;
  if (flags & BOT4_MLOCK_FUTURE) how |= MCL_FUTURE;
#ifdef MCL_ONFAULT
  if (flags & BOT4_MLOCK_ONFAULT) how |= MCL_ONFAULT;
#else
  if (flags & BOT4_MLOCK_ONFAULT) return EINVAL;
#endif
  return mlockall(how) == 0 ? 0 : errno;
}

BOT4_API int32_t bot4_sys_tid(void) { return (int32_t)syscall(SYS_gettid); }

BOT4_API int bot4_layout_sys(char *buf, int cap) {
  int n = 0;
  BOT4_L_CONST(BOT4_MLOCK_CURRENT);
  BOT4_L_CONST(BOT4_MLOCK_FUTURE);
  BOT4_L_CONST(BOT4_MLOCK_ONFAULT);
  BOT4_L_PUT("CPU_SETSIZE", CPU_SETSIZE);
  return n;
}
