/*
 * vparse.h — C parsers for the JSON venues (Bybit v5, Coinbase Advanced Trade, OKX v5, Kraken spot
 * v2 public streams) over the received
 * bytes: one frame in, 64-byte tick records out, no allocation and no intermediate objects, the
 * same contract and counters as the Binance parser (parse.h, whose scanning primitives it shares),
 * plus the feed step that follows a parse without another FFI call: apply the records to the
 * feed's own C books (book.h) and push them into its SPSC ring.
 *
 * Bybit v5 (`/v5/public/{linear,spot,inverse}`):
 *   orderbook.{depth}.{symbol} -> LEVEL, one per [price, size] of data.b then data.a (ASK on a),
 *                                 SNAPSHOT on every record of a `type: snapshot` message, LAST on
 *                                 the final one; seq = data.u, price2 = size2 = 0; ts = cts when
 *                                 sent, else ts (ms). A message with no level makes one NOLEVEL
 *                                 record so the u chain stays whole. Needs u >= 1 and both arrays.
 *   publicTrade.{symbol}       -> TRADE per element of data: price p, size v, ts T, seq = the
 *                                 element's seq (cross sequence; 0 when absent: linear trade ids
 *                                 `i` are UUIDs), SELL when S is "Sell" (S is the taker's side).
 *   tickers.{symbol}           -> BOT4_PARSE_DEFER: linear tickers are deltas merged per symbol
 *                                 (state the cold path keeps); the frame is counted in `deferred`.
 *   {"success":true,..} / {"op":..} -> CONTROL; {"success":false,..} -> VENUE_ERROR; any other
 *   topic -> UNKNOWN_TYPE. A level or trade whose numbers do not read (price not > 0, size not
 *   >= 0, not a decimal) -> MISSING with `instrument` set when the topic named a registered
 *   symbol, so the feed can resync that book; not JSON -> MALFORMED.
 *
 * Coinbase Advanced Trade (`wss://advanced-trade-ws.coinbase.com`):
 *   l2_data       -> LEVEL per update of each event (ASK for side "offer"), SNAPSHOT on every
 *                    record of a `snapshot` event, LAST on each event's final record; seq =
 *                    sequence_num; ts = the update's event_time (ISO-8601, exact ns). An event with
 *                    no update makes one NOLEVEL record (ts = the envelope's timestamp).
 *   market_trades -> TRADE per trade of `update` events (`snapshot` events replay old trades and
 *                    are read, checked and dropped); SELL when side is "BUY" (side is the maker's);
 *                    seq = trade_id when it is up to 15 digits, else 0; ts = time.
 *   heartbeats / subscriptions -> CONTROL (what = HEARTBEAT / SUBSCRIPTIONS); ticker ->
 *                    BOT4_PARSE_DEFER; {"type":"error"} -> VENUE_ERROR; other channels ->
 *                    UNKNOWN_TYPE. An unreadable l2 event or trade -> MISSING (instrument set when
 *                    its product is known).
 *   sequence_num is checked on every frame that parses, before its content is judged: a number at
 *   or below the last -> BOT4_PARSE_STALE (skipped, seq_stale); one past the expected -> `gap`
 *   set and counted (bot4_vfeed_frame then fails every book of the feed: cleared, NEED_SNAPSHOT,
 *   problem GAP, a STATUS record for each into the ring), and the frame goes on. A frame that does
 *   not parse consumes no number, so the next one shows the gap. bot4_vfeed_frame also fails the
 *   book of an unreadable l2 event (problem BAD_LEVEL), and pushes into the ring only the l2
 *   records of books that are SYNCED after the frame (a book that desynced on it gets a STATUS
 *   record instead): the ring never carries updates of a book that waits for its snapshot.
 * Kraken spot v2 (`wss://ws.kraken.com/v2`):
 *   book  -> LEVEL per {price, qty} of each data element's bids then asks (ASK on asks), SNAPSHOT
 *            on every record of a `type: snapshot` message, LAST on the frame's final record; seq 0;
 *            ts = the element's timestamp (RFC 3339, exact ns; 0 when absent). Numbers are JSON
 *            numbers (a quoted one is unreadable). With the book area (bot4_vfeed_kraken) each
 *            element goes through its pair's C book (see below) and only accepted elements' records
 *            reach the ring; an element naming a pair not configured is counted and dropped.
 *   trade -> TRADE per element: SELL when side is "sell" (the taker's side), seq = trade_id when a
 *            safe integer, else 0.
 *   heartbeat / status -> CONTROL (what = HEARTBEAT / STATUS); a method reply -> CONTROL (what =
 *   REPLY), or VENUE_ERROR when success is false; other channels -> UNKNOWN_TYPE; a book message
 *   without a data array or a snapshot/update type -> MISSING (what = DELTA).
 * The usual form of a Kraken book message and of an OKX books push (compact, the venue's key order)
 * is read in one pass; any other form goes through the general reader below, with the same result.
 * Keys may come in any order and whitespace is allowed: `data` met before `topic` is kept as a
 * span and read once the topic is known. Decimals convert exactly as Number() (parse.h).
 */
#ifndef BOT4_VPARSE_H
#define BOT4_VPARSE_H

#include "bot4.h"
#include "book.h"
#include "parse.h"
#include "ring.h"
#include "tick.h"

#define BOT4_PARSE_STALE (-9) /* Coinbase: sequence_num at or below the last one; skipped (seq_stale) */

enum bot4_vparse_venue { BOT4_VP_BYBIT = 1, BOT4_VP_COINBASE = 2, BOT4_VP_OKX = 3, BOT4_VP_KRAKEN = 4 };
/* what the last frame was (bot4_vfeed_t.what) */
enum bot4_vparse_what {
  BOT4_VP_NONE = 0, BOT4_VP_TRADES = 1, BOT4_VP_DELTA = 2, BOT4_VP_SNAPSHOT = 3,
  BOT4_VP_HEARTBEAT = 4,    /* Coinbase heartbeats (status CONTROL) */
  BOT4_VP_SUBSCRIPTIONS = 5, /* Coinbase subscriptions answer (status CONTROL) */
  BOT4_VP_STATUS = 6,        /* Kraken v2 `status` channel (status CONTROL) */
  BOT4_VP_REPLY = 7          /* Kraken v2 method reply: CONTROL, or VENUE_ERROR when success is false */
};

/* OKX: each level's received text, kept beside the C book for the checksum (the price and size
 * strings as sent) in price order: per side a sorted array (worst first, best last, started in the
 * middle of its room so an insert or delete moves the smaller part) of (key, text slot), so the
 * checksum reads the first 25 levels a side straight from it; and the book outcomes the C step
 * counts. */
#define BOT4_OKX_SLOTS 1024       /* levels a side may hold: a books channel holds 400 levels a side */
#define BOT4_OKX_ROOM (2 * BOT4_OKX_SLOTS)
#define BOT4_OKX_SPANS 4096       /* levels one OKX push may carry */
#define BOT4_OKX_CHECK_LEVELS 25  /* the checksum covers the first 25 levels a side */
typedef struct {
  char t[63];  /* "price:size", each as received: the checksum's text for the level */
  uint8_t len; /* bytes of t */
} okx_text_t;
static_assert(sizeof(okx_text_t) == 64, "one line per level text");

typedef struct {
  double key;  /* bids: price; asks: -price (ascending = worse to better) */
  uint32_t tx; /* its text slot */
  uint32_t pad;
} okx_level_t;

typedef struct BOT4_ALIGNED(BOT4_CACHELINE) bot4_okx_book {
  uint64_t checked;    /* checksums compared */
  uint64_t mismatches; /* checksums that did not agree (book failed, problem CHECKSUM) */
  uint64_t unchecked;  /* pushes whose checksum was 0 or absent (OKX is retiring the field) */
  uint64_t heartbeats; /* no-change updates (prevSeqId == seqId, no level) */
  uint64_t resets;     /* sequence resets after maintenance (seqId < prevSeqId) */
  uint64_t withheld;   /* updates while the book waited for a snapshot: not applied, not pushed */
  uint64_t crossed;
  uint64_t pad0;
  uint32_t n[2];       /* levels per side (0 bids, 1 asks) */
  uint32_t head[2];    /* index of each side's worst level in lv[side] */
  uint32_t nfree;      /* text slots on the free list */
  uint32_t nused;      /* text slots handed out from the pool's start */
  uint32_t dirty;      /* one of the first 25 levels changed since `crc` was computed */
  int32_t crc;
  uint32_t pad1[8];
  okx_level_t lv[2][BOT4_OKX_ROOM];
  okx_text_t slot[2 * BOT4_OKX_SLOTS];
  uint32_t freel[2 * BOT4_OKX_SLOTS];
} bot4_okx_book_t;

typedef struct BOT4_ALIGNED(BOT4_CACHELINE) bot4_okx {
  uint32_t spans[BOT4_OKX_SPANS * 4]; /* the last push's level texts: price off, len, size off, len */
  bot4_okx_book_t book[];             /* by instrument */
} bot4_okx_t;

/* Kraken spot v2: each pair's book as Kraken's book-checksum guide keeps it — all levels of a
 * message applied in order, then the book truncated to the subscribed depth ("you will not receive
 * qty 0 for levels that fall out of scope"), then the CRC32 over the top 10 asks (low to high)
 * and the top 10 bids (high to low), each level's price and qty digits with "." and leading zeros
 * removed. The digits are taken from the received text of each number (the fraction padded with
 * zeros to the pair's precision, as the guide formats them), kept beside the level. A side is a
 * sorted array, worst level first and best last, that starts in the middle of its room: an insert
 * or a delete moves the smaller part (the worse levels and the head, or the better levels), and
 * truncating the worst levels moves nothing. */
#define BOT4_KR_SLACK 512      /* levels a side may hold beyond the depth while a message is applied */
#define BOT4_KR_SPANS 4096     /* levels one Kraken frame may carry */
#define BOT4_KR_ELEMS 64       /* data elements (pairs) one book frame may carry */
#define BOT4_KR_CHECK_LEVELS 10
#define BOT4_KR_DIGITS 30      /* checksum digits kept for a price or a qty */

typedef struct {
  double key;  /* bids: price; asks: -price (ascending = worse to better) */
  double size;
  uint32_t tx; /* its text slot */
  uint32_t pad;
} bot4_kr_level_t;

typedef struct {
  uint8_t plen, slen;
  uint8_t p[BOT4_KR_DIGITS];
  uint8_t s[BOT4_KR_DIGITS + 2];
} bot4_kr_text_t;
static_assert(sizeof(bot4_kr_text_t) == 64, "one line per level text");

enum bot4_kr_flag { BOT4_KR_RESYNC = 1, BOT4_KR_SNAPPED = 2 };

typedef struct BOT4_ALIGNED(BOT4_CACHELINE) bot4_kraken_book {
  /* line 0 */
  uint32_t state;      /* BOT4_BOOK_NEED_SNAPSHOT / BOT4_BOOK_SYNCED */
  uint32_t problem;    /* the last problem (enum bot4_book_problem) */
  uint32_t flags;      /* enum bot4_kr_flag: set here, cleared by the feed */
  uint32_t configured; /* bot4_vfeed_kraken_pair was called */
  uint32_t n[2];       /* levels per side (0 bids, 1 asks) */
  uint32_t head[2];    /* index of each side's worst level */
  uint32_t pprec, qprec;
  uint32_t nfree;      /* text slots free */
  uint32_t dirty;      /* a top-10 level changed since `crc` was computed */
  uint64_t last_venue; /* the checksum of the last mismatch: the venue's, and the book's */
  uint64_t last_book;
  /* lines 1-2: counters */
  uint64_t snapshots;  /* snapshots accepted */
  uint64_t updates;    /* update elements received */
  uint64_t applied;    /* updates accepted */
  uint64_t levels;     /* levels applied */
  uint64_t truncated;  /* levels dropped by the truncation to the depth */
  uint64_t checked;    /* checksums compared */
  uint64_t mismatches;
  uint64_t missing;    /* elements without a checksum */
  uint64_t skipped;    /* updates while the book waited for a snapshot: not applied, not pushed */
  uint64_t crossed;
  uint64_t malformed;  /* elements that could not be read */
  uint64_t resyncs;    /* times the book was failed */
  uint64_t crc;        /* the book's checksum when it was last computed */
  uint32_t nused;      /* text slots handed out from the pool's start (nfree: on the free list) */
  uint32_t pad2a;
  uint64_t pad1[2];
  /* line 3: the arrays (in the area) */
  bot4_kr_level_t *lv[2];
  bot4_kr_text_t *tx;
  uint32_t *freel;
  uint64_t pad2[4];
} bot4_kraken_book_t;

typedef struct {
  uint32_t first, end; /* its records */
  uint32_t inst;       /* UINT32_MAX: not a configured pair */
  uint32_t bad;        /* a level, the checksum or the timestamp did not read; no symbol */
  int64_t checksum;    /* -1: absent */
} bot4_kr_elem_t;

typedef struct BOT4_ALIGNED(BOT4_CACHELINE) bot4_kraken {
  uint32_t nbooks, depth, lim, cap; /* books; subscribed depth; levels a side may hold; slots a side */
  uint64_t unknown;                 /* data elements naming a pair not configured */
  uint32_t nelem, pad0;
  uint8_t ts_key[16]; /* the last timestamp's date and hour ("2024-01-02T03"), and that hour in ns */
  uint64_t ts_base;
  uint64_t pad1;
  bot4_kr_elem_t elem[BOT4_KR_ELEMS];
  uint32_t spans[BOT4_KR_SPANS * 4]; /* the last frame's level texts: price off, len, qty off, len */
  bot4_kraken_book_t book[];         /* by instrument; their arrays follow */
} bot4_kraken_t;

/* One feed's C path: its parser, its books (a BookSet table: bot4_book_t *[nbooks], NULL entries
 * allowed) and its ring. The per-frame results are read from TypeScript in place. */
typedef struct BOT4_ALIGNED(BOT4_CACHELINE) bot4_vfeed {
  bot4_parser_t *parser;
  bot4_book_t **books;
  bot4_ring_t *ring;   /* NULL: records stay in parser->scratch */
  uint32_t nbooks;
  uint32_t venue_kind; /* enum bot4_vparse_venue */
  /* results of the last frame */
  int32_t status;      /* records produced (>= 0) or enum bot4_parse_status / BOT4_PARSE_DEFER */
  int32_t resyncs;     /* books that asked for a resync while applying it */
  uint32_t instrument; /* the frame's instrument (0xffffffff: none known) */
  uint32_t what;       /* enum bot4_vparse_what */
  uint32_t pushed;     /* records the ring took */
  uint32_t pad0;
  uint64_t ring_drops; /* records the ring had no room for (total) */
  /* line 1: the connection-wide sequence (Coinbase sequence_num counts every message of a
   * connection, whatever its channel; bot4_vfeed_reset starts it afresh) */
  uint64_t seq_next;    /* sequence_num the next frame must carry */
  uint64_t seq_gaps;    /* frames that skipped numbers (each failed every book of the feed) */
  uint64_t seq_stale;   /* frames at or below the last number, skipped */
  uint64_t seq_last;    /* last number accepted */
  uint32_t seq_started; /* a number has been seen on this connection */
  uint32_t gap;         /* the last frame revealed a gap */
  bot4_tick_t *scratch; /* bot4_vfeed_frame's records: the parser's scratch, or a larger one */
  uint32_t scratch_cap; /* (Coinbase snapshots carry every level: tens of thousands) */
  uint32_t pad2;
  uint64_t pad1;
  /* line 2: OKX (bot4_vfeed_okx) */
  bot4_okx_t *okx;
  int64_t okx_seq, okx_prev, okx_checksum; /* the last book push's seqId (-1 none), prevSeqId, checksum */
  uint32_t okx_checksum_ok;                /* it carried a 32-bit checksum */
  uint32_t pad3;
  bot4_kraken_t *kraken; /* Kraken v2 (bot4_vfeed_kraken) */
  uint64_t pad4[2];
} bot4_vfeed_t;

BOT4_API uint64_t bot4_vfeed_bytes(void);
/* A new connection: the sequence starts afresh and every book waits for its snapshot
 * (NEED_SNAPSHOT whatever its rule; counters kept). */
BOT4_API void bot4_vfeed_reset(bot4_vfeed_t *f);
/* The feed can no longer trust one book (its records were lost to a full ring, the engine asked):
 * the book is cleared and waits for a snapshot (problem INTERRUPTED), a STATUS record for it goes
 * into the ring. Returns 1, or 0 when the feed has no such book. */
BOT4_API int32_t bot4_vfeed_fail(bot4_vfeed_t *f, uint32_t instrument, uint64_t recv_ns);
/* Gives bot4_vfeed_frame a larger record area (64-byte aligned, cap records; the caller keeps it
 * alive); NULL restores the parser's scratch (BOT4_PARSE_SCRATCH records). */
BOT4_API int32_t bot4_vfeed_scratch(bot4_vfeed_t *f, bot4_tick_t *recs, uint32_t cap);
BOT4_API int32_t bot4_vfeed_init(bot4_vfeed_t *f, bot4_parser_t *p, uint32_t venue_kind, bot4_book_t **books,
                                 uint32_t nbooks, bot4_ring_t *ring);
/* Parses one frame of the feed's venue into out[0..cap) (records stamped with recv_ns and the
 * parser's venue); sets f->instrument / f->what. Returns records or a negative status. */
BOT4_API int32_t bot4_vparse(bot4_vfeed_t *f, const uint8_t *buf, uint32_t len, double recv_ns, bot4_tick_t *out,
                             uint32_t cap);
/* Parses one frame into the parser's scratch, applies its LEVEL records to the feed's books, and
 * pushes all its records into the ring. Returns records produced or a negative status; f->status,
 * f->resyncs, f->instrument, f->what and f->pushed describe the frame. */
BOT4_API int32_t bot4_vfeed_frame(bot4_vfeed_t *f, const uint8_t *buf, uint32_t len, double recv_ns);
/* bot4_vfeed_frame stamped with the bot4 clock (clock.h bot4_clock_now_ns) on entry: a feed whose
 * clock is that clock saves the FFI call that would fetch it. */
BOT4_API int32_t bot4_vfeed_frame_now(bot4_vfeed_t *f, const uint8_t *buf, uint32_t len);
/* Many frames laid end to end (offs[i]..offs[i+1)), each through bot4_vfeed_frame: replay and
 * benchmarks, one FFI call per batch. Returns the records produced in all. */
BOT4_API int32_t bot4_vfeed_frames(bot4_vfeed_t *f, const uint8_t *buf, const uint32_t *offs, uint32_t n,
                                   const uint64_t *recv_ns);
/* OKX: the level-text area for nbooks books (bot4_okx_bytes; 64-byte aligned, the caller keeps
 * it alive): with it bot4_vfeed_frame keeps each book by OKX's procedure — a snapshot loads it;
 * an update must carry prevSeqId == the book's seqId (a no-change update has seqId == prevSeqId
 * and no level; seqId < prevSeqId is the documented reset after maintenance), else GAP; the
 * checksum (when not 0) must equal the CRC-32 of the first 25 levels a side, else CHECKSUM; a
 * crossed book fails too. A failed book is cleared, waits for a snapshot, and the ring gets a
 * STATUS record instead of the push's records; updates meanwhile are withheld. */
BOT4_API uint64_t bot4_okx_bytes(uint32_t nbooks);
BOT4_API int32_t bot4_vfeed_okx(bot4_vfeed_t *f, bot4_okx_t *mem, uint32_t nbooks);
/* OKX's checksum of a book as it stands (0 when a level's text is missing). */
BOT4_API int32_t bot4_vfeed_okx_checksum(bot4_vfeed_t *f, uint32_t instrument);
/* Kraken v2: the book area for nbooks pairs at one subscribed depth (bot4_kraken_bytes; 64-byte
 * aligned, the caller keeps it alive); each pair's precision is set with bot4_vfeed_kraken_pair.
 * With it bot4_vfeed_frame keeps each pair's book by Kraken's procedure: a snapshot loads it; an
 * update applies while the book is synced (else it is withheld and counted `skipped`); after each
 * message the book is truncated to the depth, must not be crossed, and must match the element's
 * checksum when it has one. A failed book (CHECKSUM, CROSSED, BAD_LEVEL) is cleared, waits for a
 * snapshot, gets the RESYNC flag and a STATUS record in the ring in place of its records. */
BOT4_API uint64_t bot4_kraken_bytes(uint32_t nbooks, uint32_t depth);
BOT4_API int32_t bot4_vfeed_kraken(bot4_vfeed_t *f, bot4_kraken_t *mem, uint32_t nbooks, uint32_t depth);
BOT4_API int32_t bot4_vfeed_kraken_pair(bot4_vfeed_t *f, uint32_t instrument, uint32_t price_precision, uint32_t qty_precision);
/* A pair's levels best first as (price, size) pairs, at most n; returns how many. */
BOT4_API uint32_t bot4_kraken_levels(bot4_vfeed_t *f, uint32_t instrument, uint32_t side, double *out, uint32_t n);
/* Kraken's checksum of a pair's book as it stands. */
BOT4_API uint32_t bot4_kraken_checksum(bot4_vfeed_t *f, uint32_t instrument);
/* The checksum digits of a number's text at a precision (tests): returns their count, -1 when
 * the text is not a plain decimal. */
BOT4_API int32_t bot4_kraken_digits(const uint8_t *s, uint32_t n, uint32_t prec, uint8_t *out);
/* CRC-32 (zlib's) of n bytes. */
BOT4_API uint32_t bot4_crc32(const uint8_t *p, uint32_t n);
BOT4_API int bot4_layout_vparse(char *buf, int cap);

#endif
