/* core.c — build identity and the tick layout. */
#include "simd.h"
#include "tick.h"

#ifndef BOT4_VARIANT
#define BOT4_VARIANT "unknown"
#endif

BOT4_API const char *bot4_variant(void) { return BOT4_VARIANT; }
BOT4_API const char *bot4_isa(void) { return BOT4_VARIANT_ISA; }
BOT4_API int32_t bot4_lanes(void) { return BOT4_LANES; }
/* Cheapest possible calls, for measuring the FFI crossing itself. */
BOT4_API void bot4_noop(void) {}
BOT4_API int32_t bot4_noop_ptr_len(const void *p, int32_t len) { return (int32_t)((uintptr_t)p & 1) + len; }

BOT4_API int bot4_layout_tick(char *buf, int cap) {
  int n = 0;
  BOT4_L_SIZE(bot4_tick_t);
  BOT4_L_OFF(bot4_tick_t, ts_exchange_ns);
  BOT4_L_OFF(bot4_tick_t, ts_recv_ns);
  BOT4_L_OFF(bot4_tick_t, price);
  BOT4_L_OFF(bot4_tick_t, size);
  BOT4_L_OFF(bot4_tick_t, price2);
  BOT4_L_OFF(bot4_tick_t, size2);
  BOT4_L_OFF(bot4_tick_t, seq);
  BOT4_L_OFF(bot4_tick_t, instrument);
  BOT4_L_OFF(bot4_tick_t, venue);
  BOT4_L_OFF(bot4_tick_t, kind);
  BOT4_L_OFF(bot4_tick_t, flags);
  BOT4_L_CONST(BOT4_TICK_TRADE);
  BOT4_L_CONST(BOT4_TICK_QUOTE);
  BOT4_L_CONST(BOT4_TICK_LEVEL);
  BOT4_L_CONST(BOT4_TICK_STATUS);
  BOT4_L_CONST(BOT4_FLAG_SELL);
  BOT4_L_CONST(BOT4_FLAG_ASK);
  BOT4_L_CONST(BOT4_FLAG_SNAPSHOT);
  BOT4_L_CONST(BOT4_FLAG_LAST);
  BOT4_L_CONST(BOT4_FLAG_NOLEVEL);
  return n;
}
