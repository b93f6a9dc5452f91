/*
 * parse.h — venue message parsers over the received bytes: one frame in, 64-byte tick records out,
 * no allocation, no intermediate objects, no string copies.
 *
 * Binance (spot, USD-M, COIN-M; raw `/ws/<stream>` frames and combined-stream envelopes
 * {"stream":..,"data":{..}}; the REST depth snapshot body):
 *   trade / aggTrade -> TRADE  price=p size=q seq=t (aggTrade: a) ts_exchange=T*1e6, SELL when m
 *                              (buyer is the maker, so the aggressor sold)
 *   bookTicker       -> QUOTE  price/size = b/B, price2/size2 = a/A, seq=u, ts=T|E (spot: 0)
 *   depthUpdate      -> LEVEL  one per [price, qty] of b then a (ASK flag on a), size 0 = delete;
 *                              every record of the frame carries seq=u, price2=U, size2=pu (-1 when
 *                              the venue sends no pu: spot); the frame's last record has LAST.
 *                              A frame with no levels still yields one record flagged NOLEVEL so
 *                              the update-id chain stays whole.
 *   REST snapshot    -> LEVEL  SNAPSHOT flag, seq=lastUpdateId, price2=size2=0; instrument = the
 *                              caller's default (the body names no symbol).
 * Prices and sizes are decimal strings; they are converted exactly as JavaScript's Number() does
 * (correctly rounded): digits up to 2^53 with at most 22 fraction digits take the exact
 * integer / power-of-ten path, anything else goes through strtod.
 *
 * Guarantees: never reads outside [buf, buf+len); a frame that is not well-formed JSON, names
 * an unregistered symbol, lacks a field its kind needs, or carries more levels than the output
 * holds writes nothing (returns a negative status) and is counted. Subscription replies
 * ({"result":..,"id":..}) and venue error frames ({"code":..,"msg":..}) are counted apart.
 */
#ifndef BOT4_PARSE_H
#define BOT4_PARSE_H

#include "bot4.h"
#include "tick.h"
#include "ring.h"

#define BOT4_PARSE_SYMBOLS 256 /* hash slots; at most 192 symbols registered per parser */
#define BOT4_PARSE_SYMBOL_MAX 23
#define BOT4_PARSE_SCRATCH 4096 /* records one frame may produce through bot4_parse_to_ring */

enum bot4_parse_status {
  BOT4_PARSE_MALFORMED = -1,
  BOT4_PARSE_UNKNOWN_SYMBOL = -2,
  BOT4_PARSE_TOO_MANY = -3,
  BOT4_PARSE_UNKNOWN_TYPE = -4,
  BOT4_PARSE_CONTROL = -5,   /* subscription reply: nothing to record */
  BOT4_PARSE_VENUE_ERROR = -6,
  BOT4_PARSE_MISSING = -7,   /* a field the message kind needs is absent or not a number */
};

typedef struct bot4_parse_symbol {
  uint8_t len;
  char name[BOT4_PARSE_SYMBOL_MAX];
  uint32_t instrument;
  uint32_t hash;
} bot4_parse_symbol_t;

typedef struct BOT4_ALIGNED(BOT4_CACHELINE) bot4_parser {
  uint32_t magic;
  uint16_t venue;      /* stamped on every record */
  uint16_t symbols;    /* registered count */
  int32_t last_status; /* status of the last frame (records >= 0, or enum bot4_parse_status) */
  uint32_t pad0;
  /* counters (u64, read from TypeScript through a view) */
  uint64_t frames;
  uint64_t trades;
  uint64_t quotes;
  uint64_t depth;     /* depthUpdate frames */
  uint64_t snapshots;
  uint64_t levels;    /* LEVEL records written */
  uint64_t control;   /* subscription replies */
  uint64_t venue_errors;
  uint64_t malformed;
  uint64_t unknown_symbol;
  uint64_t unknown_type;
  uint64_t missing;
  uint64_t too_many;
  uint64_t ring_drops; /* records bot4_parse_to_ring could not place (ring full) */
  uint64_t pad1[1];
  bot4_parse_symbol_t table[BOT4_PARSE_SYMBOLS];
  bot4_tick_t scratch[BOT4_PARSE_SCRATCH];
} bot4_parser_t;

#define BOT4_PARSER_MAGIC 0x50524b34u /* "4KRP" */

BOT4_API uint64_t bot4_parser_bytes(void);
BOT4_API int32_t bot4_parser_init(bot4_parser_t *p, uint32_t venue);
/* Registers a venue symbol (as it appears in frames, e.g. "BTCUSDT") for an instrument id.
 * Returns 0, or -1 when the name is too long / the table is full / the name is already taken. */
BOT4_API int32_t bot4_parser_add_symbol(bot4_parser_t *p, const uint8_t *name, uint32_t len, uint32_t instrument);
/* Parses one Binance frame into out[0..cap). default_inst is used when the frame names no symbol
 * (REST snapshot); pass 0xffffffff for none. Returns records written or a negative status. */
BOT4_API int32_t bot4_binance_parse(bot4_parser_t *p, const uint8_t *buf, uint32_t len, uint64_t recv_ns,
                                    uint32_t default_inst, bot4_tick_t *out, uint32_t cap);
/* Parses one Binance frame and pushes its records into an SPSC ring (whole frame or, when the
 * ring is full, as many as fit: the rest are counted in ring_drops and in the ring's drops; the
 * book's sequence check then sees the gap and resyncs). Returns records pushed or a status. */
BOT4_API int32_t bot4_binance_to_ring(bot4_parser_t *p, const uint8_t *buf, uint32_t len, uint64_t recv_ns,
                                      bot4_ring_t *ring);
/* Parses many frames in one call: frames laid end to end in buf, offs[i]..offs[i+1) is frame i,
 * recv_ns[i] its receive time; records go to out (cap). Returns records written; per-frame
 * statuses are counted. Used by replay and benchmarks (one FFI call per batch). */
BOT4_API int32_t bot4_binance_parse_many(bot4_parser_t *p, const uint8_t *buf, const uint32_t *offs, uint32_t n,
                                         const uint64_t *recv_ns, bot4_tick_t *out, uint32_t cap);
/* Exact decimal conversion as JavaScript's Number(); exported for tests. NaN on bad input. */
BOT4_API double bot4_parse_decimal(const uint8_t *s, uint32_t len);
BOT4_API int bot4_layout_parse(char *buf, int cap);

#endif
