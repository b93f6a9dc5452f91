/*
 * tick.h — the 64-byte tick record: the unit that flows from feed handlers through the rings
 * to books, indicators and strategies. Exactly one cache line, 64-byte aligned in rings and
 * files, so a record is never split across lines and a batch is a flat array.
 *
 * Field meaning by kind:
 *   TRADE : price/size = the print; flags bit SELL = aggressor sold; price2/size2 unused (0)
 *   QUOTE : price/size = best bid, price2/size2 = best ask (top of book, e.g. bookTicker)
 *   LEVEL : price/size = one L2 level (size 0 = delete); flags bit ASK = ask side,
 *           SNAPSHOT = part of a snapshot, LAST = last level of its venue message,
 *           NOLEVEL = no level, only the message's ids (an empty diff keeps the chain whole);
 *           price2/size2 = the message's first update id and previous update id where the
 *           venue has them (Binance U and pu; -1 = none), see book.h
 *   STATUS: price = status code (enum bot4_status): the feed lost the instrument's stream
 *           (disconnect, stall); the book is cleared and unusable until its next snapshot
 * ts_exchange_ns is Unix-epoch ns as stamped by the venue; ts_recv_ns is the bot4 clock
 * (clock.h) when the bytes arrived. seq is the venue's sequence / update id (0 if none).
 */
#ifndef BOT4_TICK_H
#define BOT4_TICK_H

#include "bot4.h"

enum bot4_tick_kind { BOT4_TICK_TRADE = 1, BOT4_TICK_QUOTE = 2, BOT4_TICK_LEVEL = 3, BOT4_TICK_STATUS = 4 };
enum bot4_status { BOT4_STATUS_DISCONNECTED = 1, BOT4_STATUS_STALLED = 2 };
enum bot4_tick_flag {
  BOT4_FLAG_SELL = 1, /* trade aggressor sold */
  BOT4_FLAG_ASK = 2,  /* level is on the ask side */
  BOT4_FLAG_SNAPSHOT = 4,
  BOT4_FLAG_LAST = 8, /* last record of one venue message */
  BOT4_FLAG_NOLEVEL = 16, /* LEVEL record that carries only the message's sequence ids (no level) */
};

typedef struct BOT4_ALIGNED(BOT4_CACHELINE) bot4_tick {
  uint64_t ts_exchange_ns;
  uint64_t ts_recv_ns;
  double price;
  double size;
  double price2;
  double size2;
  uint64_t seq;
  uint32_t instrument;
  uint16_t venue;
  uint8_t kind;
  uint8_t flags;
} bot4_tick_t;

static_assert(sizeof(bot4_tick_t) == BOT4_CACHELINE, "tick record must be one cache line");
static_assert(offsetof(bot4_tick_t, instrument) == 56, "tick ids packed in the last 8 bytes");

#endif
