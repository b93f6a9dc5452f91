/*
 * book.h — L2 order books kept from LEVEL tick records, with each venue's sequence procedure.
 *
 * Ladder: per side, levels sorted ascending by key (bids key = price, asks key = -price) in
 * blocks of BOT4_LADDER_BLOCK with a directory of block maxima: an update is a binary search of
 * the directory, a search inside one block and a move of at most one block's entries — O(log n +
 * block) whatever the depth of the level (venues send diffs for levels thousands deep, which cost
 * a flat sorted array a move of the whole side). A block that fills splits; one that runs low
 * merges into a neighbour. The best level is the last entry of the last block, and is copied
 * into the header (best_bid / best_ask and sizes) after every message, so readers need no call.
 * A side that holds `cap` levels drops its worst level to take a better one (counted).
 *
 * Grid window: most updates still cost a search, so each side also keeps a window of
 * BOT4_GRID_SLOTS price units around the top as a plain array of sizes indexed by price:
 * an update inside the window is one multiply, one bounds check and one store. The unit is the
 * prices' decimal unit (10^-digits), found from the first snapshot (the smallest number of
 * digits that represents every snapshot price exactly), so price = index / 10^digits is bit
 * for bit the parsed price. Levels outside the window, or off the unit, live in the ladder; the
 * window is recentred on the best price (an O(window) move, rare) when the top leaves its
 * middle three quarters. `cap` bounds the ladder; the window holds at most its slot count.
 *
 * Records: a message's records share seq (and for Binance price2 = U, size2 = pu or -1); its
 * last record has LAST. A message may be split across batches: the verdict taken on its first
 * record (apply / stale / buffer) holds for all of its records.
 *
 * Rules (documented venue procedures):
 *  BINANCE_SPOT     first diff after a snapshot with lastUpdateId L: drop u <= L, then need
 *                   U <= L+1 <= u; afterwards each U == previous u + 1.
 *  BINANCE_FUTURES  drop u < L, then need U <= L <= u (or pu == L: the event starts exactly at the
 *                   snapshot); afterwards each pu == previous u.
 *  SEQ              (Bybit v5 u, Kraken Futures seq: one counter per book) a WS snapshot syncs
 *                   the book at once; afterwards each seq == previous + 1.
 *  NONE             the handler checks the venue's chain or checksum itself (OKX seqId + CRC32,
 *                   Kraken CRC32, Coinbase's sequence_num, which counts every message of the
 *                   connection, not one book's) and tells the book with a STATUS record.
 * A break of the chain (gap), a snapshot that does not meet the buffered stream, or a book that
 * crosses (best bid >= best ask) after a message clears the book, marks it unusable
 * (state NEED_SNAPSHOT), bumps `resync_requests`, and buffers the diffs that follow (up to the
 * pending capacity; on overflow the oldest are discarded and counted) so the next snapshot can
 * be bridged. A STATUS record (the feed lost its connection or the stream stalled) does the same:
 * a book must not look current while its stream is down. Nothing may trade on a book whose state
 * is not SYNCED.
 *
 * Memory: one block the caller allocates (bot4_book_bytes): header, then each ladder's arrays,
 * then the pending records. No allocation here.
 */
#ifndef BOT4_BOOK_H
#define BOT4_BOOK_H

#include "bot4.h"
#include "tick.h"

#define BOT4_BOOK_MAGIC 0x4b4f4234u /* "4BOK" */

enum bot4_book_rule { BOT4_RULE_NONE = 0, BOT4_RULE_BINANCE_SPOT = 1, BOT4_RULE_BINANCE_FUTURES = 2, BOT4_RULE_SEQ = 3 };
enum bot4_book_state { BOT4_BOOK_NEED_SNAPSHOT = 0, BOT4_BOOK_AWAIT_BRIDGE = 1, BOT4_BOOK_SYNCED = 2 };
enum bot4_book_problem {
  BOT4_BOOK_OK = 0,
  BOT4_BOOK_GAP = 1,
  BOT4_BOOK_CROSSED = 2,
  BOT4_BOOK_SNAPSHOT_TOO_OLD = 3, /* first buffered diff starts after the snapshot */
  BOT4_BOOK_PENDING_OVERFLOW = 4,
  BOT4_BOOK_BAD_LEVEL = 5,       /* price not > 0 or size not >= 0 */
  BOT4_BOOK_INTERRUPTED = 6,     /* the feed lost the stream (a STATUS record) */
  BOT4_BOOK_STALE = 7,           /* no update for longer than the caller allows */
  BOT4_BOOK_CHECKSUM = 8,        /* the venue's checksum disagrees with the book (OKX, Kraken) */
};
enum bot4_book_verdict { V_NONE = 0, V_APPLY = 1, V_SKIP = 2, V_BUFFER = 3, V_SNAPSHOT = 4 };

#define BOT4_LADDER_BLOCK 64
#define BOT4_GRID_SLOTS 65536

typedef struct bot4_ladder {
  uint32_t n;     /* levels held */
  uint32_t nblk;  /* blocks in the directory */
  uint32_t pool;  /* blocks available */
  uint32_t nfree; /* entries on the free list */
  uint64_t max_off;  /* double max[pool]: largest key of each directory entry, directory order */
  uint64_t id_off;   /* uint32 id[pool]: block id of each directory entry */
  uint64_t cnt_off;  /* uint32 cnt[pool]: entries in each block, by block id */
  uint64_t free_off; /* uint32 free[pool]: free block ids */
  uint64_t blk_off;  /* blocks: double key[BLOCK], double size[BLOCK] each */
  uint32_t which;    /* 0 bids, 1 asks: where this ladder sits in the book */
  uint32_t gcount;   /* levels held in this side's grid window (the ladder holds the rest) */
} bot4_ladder_t;

static_assert(sizeof(bot4_ladder_t) == BOT4_CACHELINE, "a ladder header is one line");

typedef struct BOT4_ALIGNED(BOT4_CACHELINE) bot4_book {
  /* line 0: geometry and state */
  uint32_t magic;
  uint32_t cap;      /* levels per side */
  uint32_t rule;
  uint32_t state;
  uint32_t instrument;
  uint32_t pend_cap; /* records */
  uint32_t pend_n;
  uint32_t verdict;  /* for the message in progress */
  uint32_t problem;  /* last problem code */
  uint32_t pad0;
  uint64_t last_seq; /* last applied update id (u / seq) */
  uint64_t snap_seq; /* lastUpdateId of the snapshot in use */
  uint64_t problem_seq;
  /* line 1: top of book as of the last message (NaN when a side is empty) */
  double best_bid;
  double best_bid_size;
  double best_ask;
  double best_ask_size;
  uint64_t pend_off;
  double gbest_key[2]; /* the price key of gbest's slot, kept while gbest >= 0: the level's own key
                        * when it became the best, so reading the top divides nothing */
  uint64_t pad1;
  /* lines 2-3: the two ladders */
  bot4_ladder_t side[2];
  /* line 4: the grid windows (see above) */
  double scale;        /* 10^digits: keys are multiples of 1/scale; 0 = no grid yet */
  uint32_t gslots;     /* slots per side */
  int32_t digits;      /* decimal digits of the price unit, -1 unknown */
  int64_t gbase[2];    /* key units of slot 0, per side */
  int32_t gbest[2];    /* slot of the best level in the window, -1 none */
  uint64_t grid_off[2];
  uint64_t last_recv_ns; /* receive time of the last message applied (bot4 clock) */
  /* lines 5-6: counters */
  uint64_t msgs;              /* messages seen (first records) */
  uint64_t applied;           /* messages applied */
  uint64_t stale;             /* messages older than the book, skipped */
  uint64_t buffered;          /* messages buffered while waiting for a snapshot */
  uint64_t snapshots;
  uint64_t snapshots_rejected;
  uint64_t gaps;
  uint64_t crossed;
  uint64_t resync_requests;
  uint64_t truncated;         /* levels dropped because a side was full */
  uint64_t pend_dropped;      /* buffered records discarded on overflow */
  uint64_t bad_levels;
  uint64_t level_updates;     /* level records applied */
  uint64_t recenters;         /* grid windows moved to follow the top */
  uint64_t interruptions;     /* STATUS records: the feed lost the stream */
  uint64_t stale_books;       /* times bot4_books_check_stale found this book stale */
} bot4_book_t;

BOT4_API uint64_t bot4_book_bytes(uint32_t cap, uint32_t pend_cap);
BOT4_API int32_t bot4_book_init(bot4_book_t *b, uint32_t cap, uint32_t pend_cap, uint32_t rule, uint32_t instrument);
/* Back to NEED_SNAPSHOT with an empty ladder and no pending records (counters kept). */
BOT4_API void bot4_book_reset(bot4_book_t *b);
/* Applies LEVEL records recs[(start + i) & mask] for i < n to books[instrument] (NULL entries and
 * other record kinds are skipped). Returns the number of books that asked for a resync during the
 * call (so the caller looks at book states only when it is non-zero). */
BOT4_API int32_t bot4_books_apply(bot4_book_t **books, uint32_t nbooks, const bot4_tick_t *recs, uint32_t mask,
                                  uint32_t start, uint32_t n);
/* Books that are SYNCED but have applied nothing since before now_ns - max_age_ns are stale: each
 * is cleared, marked NEED_SNAPSHOT (problem STALE) and asks for a resync. Returns how many. Call
 * it from the cold path (a timer), never per record. */
BOT4_API int32_t bot4_books_check_stale(bot4_book_t **books, uint32_t nbooks, uint64_t now_ns, uint64_t max_age_ns);
/* One level, for tests and the cold path: side 0 bid / 1 ask; size 0 deletes. */
BOT4_API void bot4_book_set(bot4_book_t *b, uint32_t side, double price, double size);
/* Copies up to n levels of a side, best first, as (price, size) pairs into out; returns how many. */
BOT4_API uint32_t bot4_book_levels(bot4_book_t *b, uint32_t side, double *out, uint32_t n);
/* The grid's exactness rule, exported for tests: 1 when round(key * scale) / scale is key bit for
 * bit (key is a price the window can hold at scale = 10^digits), else 0. */
BOT4_API int32_t bot4_book_unit_check(double key, double scale);
BOT4_API int bot4_layout_book(char *buf, int cap);

#endif
