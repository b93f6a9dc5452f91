/* sys.c — thread placement; the contract is in sys.h. */
#include "sys.h"

#include "clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

BOT4_API int32_t bot4_sys_gaps(double ms, double *out) {
  if (!out || !(ms > 0) || ms > 60000) return EINVAL;
  double c5 = 0, c10 = 0, c30 = 0, c100 = 0, max = 0, lost = 0, reads = 0;
  const uint64_t start = bot4_clock_ns(), end = start + (uint64_t)(ms * 1e6);
  uint64_t prev = start;
  for (;;) {
    const uint64_t t = bot4_clock_ns();
    const double g = (double)(t - prev);
    prev = t;
    reads += 1;
    if (g > 5000) {
      c5 += 1;
      lost += g;
      if (g > 10000) c10 += 1;
      if (g > 30000) c30 += 1;
      if (g > 100000) c100 += 1;
      if (g > max) max = g;
    }
    if (t >= end) break;
  }
  out[0] = c5;
  out[1] = c10;
  out[2] = c30;
  out[3] = c100;
  out[4] = max;
  out[5] = lost / (double)(prev - start);
  out[6] = reads;
  return 0;
}

BOT4_API int32_t bot4_sys_send_floor(int32_t n, int32_t bytes, double *out_ns) {
  if (n <= 0 || bytes <= 0 || bytes > 65536 || !out_ns) return EINVAL;
  int l = -1, c = -1, a = -1, rc = 0;
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t sl = sizeof sa;
  char *buf = malloc(65536), *msg = malloc((size_t)bytes);
  if (!buf || !msg) {
    free(buf);
    free(msg);
    return ENOMEM;
  }
  memset(msg, 'x', (size_t)bytes);
  const int one = 1;
  if ((l = socket(AF_INET, SOCK_STREAM, 0)) < 0 || bind(l, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(l, 1) != 0 ||
      getsockname(l, (struct sockaddr *)&sa, &sl) != 0 || (c = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
      connect(c, (struct sockaddr *)&sa, sizeof sa) != 0 || (a = accept(l, NULL, NULL)) < 0 ||
      setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
    rc = errno ? errno : EIO;
    goto out;
  }
  for (int32_t i = 0; i < n; i++) {
    const uint64_t t0 = bot4_clock_ns();
    const ssize_t w = send(c, msg, (size_t)bytes, MSG_NOSIGNAL);
    out_ns[i] = (double)(bot4_clock_ns() - t0);
    if (w != bytes) {
      rc = w < 0 ? errno : EIO;
      goto out;
    }
    if ((i & 7) == 7 || i == n - 1) {
      for (;;) {
        const ssize_t r = recv(a, buf, 65536, MSG_DONTWAIT);
        if (r <= 0) break;
      }
    }
  }
out:
  free(buf);
  free(msg);
  if (a >= 0) close(a);
  if (c >= 0) close(c);
  if (l >= 0) close(l);
  return rc;
}
