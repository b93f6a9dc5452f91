/* vparse.c — JSON venue frames (Bybit, Coinbase, OKX) to tick records, and the feed step after them (see vparse.h). */
#define BOT4_PARSE_INTERNALS
#include "vparse.h"

#include <immintrin.h>

#include "clock.h"

/* ---- shared pieces ------------------------------------------------------------------------- */


static inline int lit(const uint8_t *s, uint32_t n, const char *k, uint32_t kn) {
  return n == kn && memcmp(s, k, kn) == 0;
}

/* An unsigned integer value (bare or quoted digits); anything else is skipped and reads as absent. */
static inline int read_uint(cur_t *c, uint64_t *v) {
  ws(c);
  const uint8_t *q = c->p < c->e && (unsigned)(*c->p - '0') < 10 ? c_int(c->p, c->e, v) : NULL;
  if (BOT4_LIKELY(q && q < c->e && (*q == ',' || *q == '}' || *q == ']' || *q == ' ' || *q == '\n' || *q == '\r' || *q == '\t'))) {
    c->p = q;
    return 1;
  }
  if (c->p < c->e && *c->p == '"') {
    const uint8_t *s;
    uint32_t n;
    if (!string(c, &s, &n)) return 0;
    return c_int(s, s + n, v) == s + n && n > 0;
  }
  skip_value(c);
  return 0;
}

/* A decimal value, quoted or bare; NaN (and the frame's bad_value set) when it does not read. */
static inline double read_decimal(cur_t *c, int *bad) {
  ws(c);
  const uint8_t *s;
  uint32_t n;
  if (c->p < c->e && *c->p == '"') {
    double v;
    const uint8_t *q = quick_decimal(c->p + 1, c->e, &v);
    if (BOT4_LIKELY(q != NULL)) {
      c->p = q;
      return v;
    }
    if (!string(c, &s, &n)) return NAN;
  } else {
    token(c, &s, &n);
    if (c->bad) return NAN;
  }
  const double v = decimal(s, n);
  if (!(v == v)) *bad = 1;
  return v;
}

/* [[price, size(, more)], ...] into LEVEL records with `flags`; a level whose numbers do not read
 * (or price not > 0, size not >= 0) sets *bad and parsing continues, so the frame's shape is still
 * checked. The compact ["p","q"] form is read in one pass (parse.h quick_level). */
static void vlevels(cur_t *c, bot4_tick_t *out, uint32_t cap, uint32_t *lv, uint8_t flags, int *bad) {
  if (!expect(c, '[')) return;
  if (peek(c) == ']') {
    c->p++;
    return;
  }
  dshape_t sh[2];
  memset(sh, 0, sizeof sh); /* no shape yet: the first level teaches one (parse.h shaped_decimal) */
  for (;;) {
    double px, sz;
    const uint8_t *q = quick_level_shaped(c->p, c->e, sh, &px, &sz);
    if (BOT4_LIKELY(q != NULL)) {
      c->p = q;
    } else {
      if (peek(c) != '[') {
        skip_value(c);
        *bad = 1;
        px = sz = NAN;
      } else {
        c->p++;
        px = read_decimal(c, bad);
        if (!expect(c, ',')) return;
        sz = read_decimal(c, bad);
        while (peek(c) == ',') {
          c->p++;
          skip_value(c);
        }
        if (!expect(c, ']')) return;
      }
    }
    if (BOT4_UNLIKELY(c->bad)) return;
    if (BOT4_UNLIKELY(!(px > 0) || !(sz >= 0) || sz == INFINITY)) *bad = 1;
    if (BOT4_UNLIKELY(*lv >= cap)) {
      *lv = UINT32_MAX;
      return;
    }
    bot4_tick_t *t = &out[(*lv)++];
    t->price = px;
    t->size = sz;
    t->kind = BOT4_TICK_LEVEL;
    t->flags = flags;
    int ch = (c->p < c->e && *c->p == ',') ? ',' : peek(c);
    if (ch == ',') {
      c->p++;
      continue;
    }
    if (ch == ']') {
      c->p++;
      return;
    }
    c->bad = 1;
    return;
  }
}

/* ---- Bybit v5 ------------------------------------------------------------------------------ */

enum { BB_NONE = 0, BB_BOOK = 1, BB_TRADE = 2, BB_TICKERS = 3, BB_OTHER = 4 };

typedef struct {
  const uint8_t *topic;
  uint32_t topic_n;
  int family;
  int type; /* 0 absent, 1 snapshot, 2 delta, 3 other */
  uint64_t ts, cts;
  int has_ts, has_cts;
  const uint8_t *data; /* data met before topic: its first byte */
  int has_data, has_success, success, has_op;
  /* orderbook data */
  const uint8_t *sym;
  uint32_t sym_n;
  uint64_t u;
  int has_u, has_b, has_a;
  uint32_t lv;
  int bad;      /* a value did not read */
  uint32_t inst; /* trades: the instrument (last one resolved) */
  int unknown;  /* a trade named an unregistered symbol */
} bybit_t;

static inline int bybit_family(const uint8_t *t, uint32_t n) {
  if (n > 10 && memcmp(t, "orderbook.", 10) == 0) return BB_BOOK;
  if (n > 12 && memcmp(t, "publicTrade.", 12) == 0) return BB_TRADE;
  if (n > 8 && memcmp(t, "tickers.", 8) == 0) return BB_TICKERS;
  return BB_OTHER;
}

static void bybit_book_data(cur_t *c, bybit_t *b, bot4_tick_t *out, uint32_t cap) {
  if (peek(c) != '{') {
    skip_value(c);
    b->bad = 1;
    return;
  }
  c->p++;
  if (peek(c) == '}') {
    c->p++;
    return;
  }
  for (;;) {
    const uint8_t *k;
    uint32_t kn;
    if (!string(c, &k, &kn) || !expect(c, ':')) return;
    if (kn == 1 && (k[0] == 'b' || k[0] == 'a')) {
      if (peek(c) == '[') {
        if (k[0] == 'b') b->has_b = 1;
        else b->has_a = 1;
        vlevels(c, out, cap, &b->lv, k[0] == 'a' ? BOT4_FLAG_ASK : 0, &b->bad);
        if (b->lv == UINT32_MAX) return;
      } else {
        skip_value(c);
      }
    } else if (kn == 1 && k[0] == 'u') {
      b->has_u = read_uint(c, &b->u);
    } else if (kn == 1 && k[0] == 's' && peek(c) == '"') {
      string(c, &b->sym, &b->sym_n);
    } else {
      skip_value(c);
    }
    if (BOT4_UNLIKELY(c->bad)) return;
    int ch = peek(c);
    if (ch == ',') {
      c->p++;
      continue;
    }
    if (ch == '}') {
      c->p++;
      return;
    }
    c->bad = 1;
    return;
  }
}

static void bybit_trade_data(cur_t *c, bybit_t *b, const bot4_parser_t *p, bot4_tick_t *out, uint32_t cap, uint64_t recv_ns) {
  if (peek(c) != '[') {
    skip_value(c);
    b->bad = 1;
    return;
  }
  c->p++;
  if (peek(c) == ']') {
    c->p++;
    return;
  }
  const uint8_t *last_sym = NULL;
  uint32_t last_n = 0;
  for (;;) {
    if (!expect(c, '{')) return;
    double px = NAN, sz = NAN;
    uint64_t T = 0, seq = 0;
    int hasT = 0, side = -1;
    const uint8_t *sym = NULL;
    uint32_t sym_n = 0;
    if (peek(c) != '}') {
      for (;;) {
        const uint8_t *k;
        uint32_t kn;
        if (!string(c, &k, &kn) || !expect(c, ':')) return;
        if (kn == 1) {
          switch (k[0]) {
          case 'p': px = read_decimal(c, &b->bad); break;
          case 'v': sz = read_decimal(c, &b->bad); break;
          case 'T': hasT = read_uint(c, &T); break;
          case 's':
            if (peek(c) == '"') string(c, &sym, &sym_n);
            else skip_value(c);
            break;
          case 'S': {
            const uint8_t *s;
            uint32_t n;
            if (peek(c) == '"' && string(c, &s, &n)) side = lit(s, n, "Sell", 4) ? 1 : lit(s, n, "Buy", 3) ? 0 : -1;
            else skip_value(c);
            break;
          }
          default: skip_value(c); break;
          }
        } else if (kn == 3 && memcmp(k, "seq", 3) == 0) {
          if (!read_uint(c, &seq)) seq = 0;
        } else {
          skip_value(c);
        }
        if (BOT4_UNLIKELY(c->bad)) return;
        int ch = peek(c);
        if (ch == ',') {
          c->p++;
          continue;
        }
        if (ch == '}') break;
        c->bad = 1;
        return;
      }
    }
    c->p++; /* the object's '}' */
    if (!sym || !hasT || side < 0 || !(px > 0) || !(sz >= 0) || sz == INFINITY) b->bad = 1;
    if (sym && !(last_sym && last_n == sym_n && memcmp(last_sym, sym, sym_n) == 0)) {
      const int64_t id = lookup(p, sym, sym_n);
      if (id < 0) b->unknown = 1;
      else b->inst = (uint32_t)id;
      last_sym = sym;
      last_n = sym_n;
    }
    if (BOT4_UNLIKELY(b->lv >= cap)) {
      b->lv = UINT32_MAX;
      return;
    }
    bot4_tick_t *t = &out[b->lv++];
    t->ts_exchange_ns = T * 1000000ull;
    t->ts_recv_ns = recv_ns;
    t->price = px;
    t->size = sz;
    t->price2 = 0;
    t->size2 = 0;
    t->seq = seq;
    t->instrument = b->inst;
    t->venue = p->venue;
    t->kind = BOT4_TICK_TRADE;
    t->flags = side == 1 ? BOT4_FLAG_SELL : 0;
    int ch = peek(c);
    if (ch == ',') {
      c->p++;
      continue;
    }
    if (ch == ']') {
      c->p++;
      return;
    }
    c->bad = 1;
    return;
  }
}

static inline void bybit_data(cur_t *c, bybit_t *b, const bot4_parser_t *p, bot4_tick_t *out, uint32_t cap, uint64_t recv_ns) {
  if (b->family == BB_BOOK) bybit_book_data(c, b, out, cap);
  else if (b->family == BB_TRADE) bybit_trade_data(c, b, p, out, cap, recv_ns);
  else skip_value(c);
}

static int32_t bybit_parse(bot4_vfeed_t *f, const uint8_t *buf, uint32_t len, uint64_t recv_ns, bot4_tick_t *out, uint32_t cap) {
  bot4_parser_t *p = f->parser;
  bybit_t b;
  memset(&b, 0, sizeof b);
  b.inst = UINT32_MAX;
  cur_t c = {buf, buf + len, 0};
  if (!expect(&c, '{')) return bot4_parse_fail(p, BOT4_PARSE_MALFORMED);
  if (peek(&c) == '}') {
    c.p++;
  } else {
    for (;;) {
      const uint8_t *k;
      uint32_t kn;
      if (!string(&c, &k, &kn) || !expect(&c, ':')) break;
      if (lit(k, kn, "topic", 5)) {
        if (peek(&c) == '"' && string(&c, &b.topic, &b.topic_n)) b.family = bybit_family(b.topic, b.topic_n);
        else skip_value(&c);
      } else if (lit(k, kn, "data", 4)) {
        b.has_data = 1;
        if (b.family) {
          bybit_data(&c, &b, p, out, cap, recv_ns);
          if (b.lv == UINT32_MAX) return bot4_parse_fail(p, BOT4_PARSE_TOO_MANY);
        } else {
          ws(&c);
          b.data = c.p;
          skip_value(&c);
        }
      } else if (lit(k, kn, "type", 4)) {
        const uint8_t *s;
        uint32_t n;
        if (peek(&c) == '"' && string(&c, &s, &n)) b.type = lit(s, n, "snapshot", 8) ? 1 : lit(s, n, "delta", 5) ? 2 : 3;
        else skip_value(&c);
      } else if (lit(k, kn, "ts", 2)) {
        b.has_ts = read_uint(&c, &b.ts);
      } else if (lit(k, kn, "cts", 3)) {
        b.has_cts = read_uint(&c, &b.cts);
      } else if (lit(k, kn, "success", 7)) {
        const int ch = peek(&c);
        if (ch == 't' || ch == 'f') b.has_success = 1, b.success = ch == 't';
        skip_value(&c);
      } else if (lit(k, kn, "op", 2)) {
        b.has_op = peek(&c) == '"';
        skip_value(&c);
      } else {
        skip_value(&c);
      }
      if (BOT4_UNLIKELY(c.bad)) break;
      const int ch = peek(&c);
      if (ch == ',') {
        c.p++;
        continue;
      }
      if (ch == '}') {
        c.p++;
        break;
      }
      c.bad = 1;
      break;
    }
  }
  if (BOT4_UNLIKELY(c.bad || peek(&c) >= 0)) return bot4_parse_fail(p, BOT4_PARSE_MALFORMED);
  if (BOT4_UNLIKELY(b.data && b.family)) {
    /* data came before topic: read it now */
    cur_t d = {b.data, buf + len, 0};
    bybit_data(&d, &b, p, out, cap, recv_ns);
    if (b.lv == UINT32_MAX) return bot4_parse_fail(p, BOT4_PARSE_TOO_MANY);
    if (d.bad) return bot4_parse_fail(p, BOT4_PARSE_MALFORMED);
  }
  switch (b.family) {
  case BB_NONE:
    if (b.has_success) return bot4_parse_fail(p, b.success ? BOT4_PARSE_CONTROL : BOT4_PARSE_VENUE_ERROR);
    if (b.has_op) return bot4_parse_fail(p, BOT4_PARSE_CONTROL);
    return bot4_parse_fail(p, BOT4_PARSE_UNKNOWN_TYPE);
  case BB_TICKERS: return bot4_parse_fail(p, BOT4_PARSE_DEFER);
  case BB_OTHER: return bot4_parse_fail(p, BOT4_PARSE_UNKNOWN_TYPE);
  case BB_TRADE: {
    if (!b.has_data || b.lv == 0) return bot4_parse_fail(p, BOT4_PARSE_MISSING);
    f->instrument = b.inst;
    if (b.bad) return bot4_parse_fail(p, BOT4_PARSE_MISSING);
    if (b.unknown) return bot4_parse_fail(p, BOT4_PARSE_UNKNOWN_SYMBOL);
    out[b.lv - 1].flags |= BOT4_FLAG_LAST;
    f->what = BOT4_VP_TRADES;
    p->trades += b.lv;
    p->last_status = (int32_t)b.lv;
    return (int32_t)b.lv;
  }
  default: break;
  }
  /* orderbook.{depth}.{symbol}: the symbol is data.s, or the topic's last part */
  const uint8_t *sym = b.sym;
  uint32_t sym_n = b.sym_n;
  if (!sym) {
    uint32_t i = b.topic_n;
    while (i > 0 && b.topic[i - 1] != '.') i--;
    sym = b.topic + i;
    sym_n = b.topic_n - i;
  }
  /* an unreadable message is reported as such before its symbol is judged */
  const int64_t id = lookup(p, sym, sym_n);
  if (id >= 0) f->instrument = (uint32_t)id;
  if (b.bad || !b.has_u || b.u < 1 || !b.has_b || !b.has_a || (b.type != 1 && b.type != 2)) return bot4_parse_fail(p, BOT4_PARSE_MISSING);
  if (id < 0) return bot4_parse_fail(p, BOT4_PARSE_UNKNOWN_SYMBOL);
  const uint32_t inst = (uint32_t)id;
  uint32_t n = b.lv;
  const uint8_t snap = b.type == 1 ? BOT4_FLAG_SNAPSHOT : 0;
  if (n == 0) {
    if (cap < 1) return bot4_parse_fail(p, BOT4_PARSE_TOO_MANY);
    out[0].price = 0;
    out[0].size = 0;
    out[0].kind = BOT4_TICK_LEVEL;
    out[0].flags = BOT4_FLAG_NOLEVEL;
    n = 1;
  }
  const uint64_t ts = (b.has_cts ? b.cts : b.has_ts ? b.ts : 0) * 1000000ull;
  const uint16_t venue = p->venue;
  for (uint32_t i = 0; i < n; i++) {
    bot4_tick_t *t = &out[i];
    t->ts_exchange_ns = ts;
    t->ts_recv_ns = recv_ns;
    t->price2 = 0;
    t->size2 = 0;
    t->seq = b.u;
    t->instrument = inst;
    t->venue = venue;
    t->flags |= snap;
  }
  out[n - 1].flags |= BOT4_FLAG_LAST;
  f->what = snap ? BOT4_VP_SNAPSHOT : BOT4_VP_DELTA;
  if (snap) p->snapshots++;
  else p->depth++;
  p->levels += b.lv;
  p->last_status = (int32_t)n;
  return (int32_t)n;
}

/* ---- Coinbase Advanced Trade --------------------------------------------------------------- */

/* `2026-08-09T21:05:48.483587501Z` (1 to 9 fraction digits, or none) -> ns since the epoch. */
static inline int iso_ns(const uint8_t *s, uint32_t n, uint64_t *out) {
  if (n < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[n - 1] != 'Z') return 0;
  unsigned v[6];
  static const uint8_t at[6] = {0, 5, 8, 11, 14, 17}, w[6] = {4, 2, 2, 2, 2, 2};
  for (int k = 0; k < 6; k++) {
    unsigned x = 0;
    for (int j = 0; j < w[k]; j++) {
      const unsigned d = (unsigned)(s[at[k] + j] - '0');
      if (d > 9) return 0;
      x = x * 10 + d;
    }
    v[k] = x;
  }
  if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 60) return 0;
  uint64_t frac = 0;
  if (n == 20) {
  } else {
    if (s[19] != '.' || n < 22 || n > 30) return 0;
    uint32_t digits = 0;
    for (uint32_t i = 20; i < n - 1; i++) {
      const unsigned d = (unsigned)(s[i] - '0');
      if (d > 9) return 0;
      frac = frac * 10 + d;
      digits++;
    }
    for (; digits < 9; digits++) frac *= 10;
  }
  /* days from 1970-01-01 of a proleptic Gregorian date (era arithmetic) */
  const int y = (int)v[0] - (v[1] <= 2);
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = (unsigned)(y - era * 400);
  const unsigned mp = (v[1] + 9) % 12;
  const unsigned doy = (153 * mp + 2) / 5 + v[2] - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const int64_t days = (int64_t)era * 146097 + (int64_t)doe - 719468;
  const int64_t secs = days * 86400 + (int64_t)v[3] * 3600 + v[4] * 60 + v[5];
  if (secs < 0) return 0;
  *out = (uint64_t)secs * 1000000000ull + frac;
  return 1;
}

enum { CB_NONE = 0, CB_L2 = 1, CB_TRADES = 2, CB_TICKER = 3, CB_HEARTBEATS = 4, CB_SUBS = 5, CB_OTHER = 6 };

typedef struct {
  int chan;
  uint64_t seq, ts;
  int has_seq, has_ts, has_events, is_error, has_type;
  const uint8_t *events; /* events met before channel: its first byte */
  uint32_t lv;
  int bad;          /* a value or an event did not read */
  int unknown;      /* an event or trade named an unregistered product */
  uint32_t inst;    /* the (last) instrument named */
} coinbase_t;

static inline int coinbase_channel(const uint8_t *s, uint32_t n) {
  if (lit(s, n, "l2_data", 7)) return CB_L2;
  if (lit(s, n, "market_trades", 13)) return CB_TRADES;
  if (lit(s, n, "heartbeats", 10)) return CB_HEARTBEATS;
  if (lit(s, n, "subscriptions", 13)) return CB_SUBS;
  if (lit(s, n, "ticker", 6) || lit(s, n, "ticker_batch", 12)) return CB_TICKER;
  return CB_OTHER;
}

static inline int obj_next(cur_t *c) {
  const int ch = peek(c);
  if (ch == ',') {
    c->p++;
    return 1;
  }
  if (ch == '}') {
    c->p++;
    return 0;
  }
  c->bad = 1;
  return 0;
}

/* n bytes at p equal the literal s: two overlapping word compares for 4..16 bytes (n is a
 * constant at every use, so the branches fold away), libc memcmp otherwise */
static inline int lit_eq(const uint8_t *p, const char *s, size_t n) {
  if (n >= 8 && n <= 16) {
    uint64_t a0, a1, b0, b1;
    memcpy(&a0, p, 8), memcpy(&b0, s, 8), memcpy(&a1, p + n - 8, 8), memcpy(&b1, s + n - 8, 8);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
  }
  if (n >= 4 && n < 8) {
    uint32_t a0, a1, b0, b1;
    memcpy(&a0, p, 4), memcpy(&b0, s, 4), memcpy(&a1, p + n - 4, 4), memcpy(&b1, s + n - 4, 4);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
  }
  return memcmp(p, s, n) == 0;
}

#define CB_LIT(p, e, s) ((size_t)((e) - (p)) >= sizeof(s) - 1 && lit_eq((p), (s), sizeof(s) - 1) ? (p) + sizeof(s) - 1 : NULL)

/* The form Coinbase sends, compact and in its key order, read in one pass: constant keys compared
 * as blocks, numbers converted as they are passed. NULL (nothing consumed) on any other form. */
static inline const uint8_t *cb_quick_update(const uint8_t *p, const uint8_t *e, bot4_tick_t *t) {
  int side;
  const uint8_t *q = CB_LIT(p, e, "{\"side\":\"");
  if (!q) return NULL;
  if (CB_LIT(q, e, "bid\"")) side = 0, q += 4;
  else if (CB_LIT(q, e, "offer\"")) side = 1, q += 6;
  else return NULL;
  if (!(q = CB_LIT(q, e, ",\"event_time\":\""))) return NULL;
  const uint8_t *z = q;
  while (z < e && *z != '"' && z - q < 32) z++;
  uint64_t ts;
  if (z >= e || *z != '"' || !iso_ns(q, (uint32_t)(z - q), &ts)) return NULL;
  if (!(q = CB_LIT(z + 1, e, ",\"price_level\":\""))) return NULL;
  double px, sz;
  if (!(q = quick_decimal(q, e, &px))) return NULL;
  if (!(q = CB_LIT(q, e, ",\"new_quantity\":\""))) return NULL;
  if (!(q = quick_decimal(q, e, &sz))) return NULL;
  if (q >= e || *q != '}' || !(px > 0)) return NULL;
  t->ts_exchange_ns = ts;
  t->price = px;
  t->size = sz;
  t->kind = BOT4_TICK_LEVEL;
  t->flags = side ? BOT4_FLAG_ASK : 0;
  return q + 1;
}

/* {"side":"bid"|"offer","event_time":ISO,"price_level":"p","new_quantity":"q"} */
static void cb_update(cur_t *c, coinbase_t *b, bot4_tick_t *t) {
  double px = NAN, sz = NAN;
  uint64_t ts = 0;
  int side = -1, has_t = 0;
  ws(c);
  const uint8_t *q = cb_quick_update(c->p, c->e, t);
  if (BOT4_LIKELY(q != NULL)) {
    c->p = q;
    return;
  }
  if (!expect(c, '{')) return;
  if (peek(c) == '}') c->p++;
  else
    for (;;) {
      const uint8_t *k, *s;
      uint32_t kn, n;
      if (!string(c, &k, &kn) || !expect(c, ':')) return;
      if (lit(k, kn, "price_level", 11)) px = read_decimal(c, &b->bad);
      else if (lit(k, kn, "new_quantity", 12)) sz = read_decimal(c, &b->bad);
      else if (lit(k, kn, "side", 4) && peek(c) == '"') {
        if (string(c, &s, &n)) side = lit(s, n, "bid", 3) ? 0 : lit(s, n, "offer", 5) ? 1 : -1;
      } else if (lit(k, kn, "event_time", 10) && peek(c) == '"') {
        if (string(c, &s, &n)) has_t = iso_ns(s, n, &ts);
      } else skip_value(c);
      if (BOT4_UNLIKELY(c->bad) || !obj_next(c)) break;
    }
  if (side < 0 || !has_t || !(px > 0) || !(sz >= 0) || sz == INFINITY) b->bad = 1;
  t->ts_exchange_ns = ts;
  t->price = px;
  t->size = sz;
  t->kind = BOT4_TICK_LEVEL;
  t->flags = side == 1 ? BOT4_FLAG_ASK : 0;
}

/* {"type":"snapshot"|"update","product_id":"BTC-USD","updates":[...]} */
static void cb_l2_event(cur_t *c, coinbase_t *b, const bot4_parser_t *p, bot4_tick_t *out, uint32_t cap) {
  const uint32_t first = b->lv;
  int type = 0;
  int64_t id = -2;
  int has_updates = 0;
  if (!expect(c, '{')) return;
  if (peek(c) == '}') c->p++;
  else
    for (;;) {
      const uint8_t *k, *s;
      uint32_t kn, n;
      if (!string(c, &k, &kn) || !expect(c, ':')) return;
      if (lit(k, kn, "updates", 7) && peek(c) == '[') {
        has_updates = 1;
        c->p++;
        if (peek(c) == ']') c->p++;
        else
          for (;;) {
            if (BOT4_UNLIKELY(b->lv >= cap)) {
              b->lv = UINT32_MAX;
              return;
            }
            cb_update(c, b, &out[b->lv++]);
            if (BOT4_UNLIKELY(c->bad)) return;
            const int ch = peek(c);
            if (ch == ',') {
              c->p++;
              continue;
            }
            if (ch != ']') c->bad = 1;
            else c->p++;
            break;
          }
      } else if (lit(k, kn, "type", 4) && peek(c) == '"') {
        if (string(c, &s, &n)) type = lit(s, n, "snapshot", 8) ? 1 : lit(s, n, "update", 6) ? 2 : 3;
      } else if (lit(k, kn, "product_id", 10) && peek(c) == '"') {
        if (string(c, &s, &n)) id = lookup(p, s, n);
      } else skip_value(c);
      if (BOT4_UNLIKELY(c->bad) || !obj_next(c)) break;
    }
  if (c->bad) return;
  if (id == -2 || !has_updates || (type != 1 && type != 2)) {
    b->bad = 1;
    return;
  }
  if (id < 0) b->unknown = 1;
  else b->inst = (uint32_t)id;
  if (b->lv == first) {
    if (BOT4_UNLIKELY(b->lv >= cap)) {
      b->lv = UINT32_MAX;
      return;
    }
    bot4_tick_t *t = &out[b->lv++];
    t->ts_exchange_ns = UINT64_MAX; /* the envelope's timestamp, stamped later */
    t->price = 0;
    t->size = 0;
    t->kind = BOT4_TICK_LEVEL;
    t->flags = BOT4_FLAG_NOLEVEL;
  }
  const uint8_t snap = type == 1 ? BOT4_FLAG_SNAPSHOT : 0;
  const uint32_t inst = id >= 0 ? (uint32_t)id : UINT32_MAX;
  for (uint32_t i = first; i < b->lv; i++) {
    out[i].flags |= snap;
    out[i].instrument = inst;
  }
  out[b->lv - 1].flags |= BOT4_FLAG_LAST;
}

/* {"trade_id":"1","product_id":"BTC-USD","price":"p","size":"q","side":"BUY"|"SELL","time":ISO} */
static void cb_trade(cur_t *c, coinbase_t *b, const bot4_parser_t *p, bot4_tick_t *t, const uint8_t **last, uint32_t *last_n) {
  double px = NAN, sz = NAN;
  uint64_t ts = 0, id = 0;
  int side = -1, has_t = 0;
  const uint8_t *sym = NULL;
  uint32_t sym_n = 0;
  if (!expect(c, '{')) return;
  if (peek(c) == '}') c->p++;
  else
    for (;;) {
      const uint8_t *k, *s;
      uint32_t kn, n;
      if (!string(c, &k, &kn) || !expect(c, ':')) return;
      if (lit(k, kn, "price", 5)) px = read_decimal(c, &b->bad);
      else if (lit(k, kn, "size", 4)) sz = read_decimal(c, &b->bad);
      else if (lit(k, kn, "side", 4) && peek(c) == '"') {
        if (string(c, &s, &n)) side = lit(s, n, "BUY", 3) ? 0 : lit(s, n, "SELL", 4) ? 1 : -1;
      } else if (lit(k, kn, "time", 4) && peek(c) == '"') {
        if (string(c, &s, &n)) has_t = iso_ns(s, n, &ts);
      } else if (lit(k, kn, "product_id", 10) && peek(c) == '"') {
        string(c, &sym, &sym_n);
      } else if (lit(k, kn, "trade_id", 8) && peek(c) == '"') {
        /* numeric ids of up to 15 digits become seq; others (UUIDs) 0 */
        if (string(c, &s, &n) && !(n >= 1 && n <= 15 && uint_of(s, n, &id))) id = 0;
      } else skip_value(c);
      if (BOT4_UNLIKELY(c->bad) || !obj_next(c)) break;
    }
  if (!sym || side < 0 || !has_t || !(px > 0) || !(sz >= 0)) b->bad = 1;
  if (sym && !(*last && *last_n == sym_n && memcmp(*last, sym, sym_n) == 0)) {
    const int64_t i = lookup(p, sym, sym_n);
    if (i < 0) b->unknown = 1;
    else b->inst = (uint32_t)i;
    *last = sym;
    *last_n = sym_n;
  }
  t->ts_exchange_ns = ts;
  t->price = px;
  t->size = sz;
  t->seq = id;
  t->instrument = b->inst;
  t->kind = BOT4_TICK_TRADE;
  t->flags = side == 0 ? BOT4_FLAG_SELL : 0; /* side is the maker's: a BUY maker means the aggressor sold */
}

/* {"type":"snapshot"|"update","trades":[...]}: snapshot events replay past trades and are dropped */
static void cb_trade_event(cur_t *c, coinbase_t *b, const bot4_parser_t *p, bot4_tick_t *out, uint32_t cap) {
  const uint32_t first = b->lv;
  int type = 0, has_trades = 0;
  const uint8_t *last = NULL;
  uint32_t last_n = 0;
  if (!expect(c, '{')) return;
  if (peek(c) == '}') c->p++;
  else
    for (;;) {
      const uint8_t *k, *s;
      uint32_t kn, n;
      if (!string(c, &k, &kn) || !expect(c, ':')) return;
      if (lit(k, kn, "trades", 6) && peek(c) == '[') {
        has_trades = 1;
        c->p++;
        if (peek(c) == ']') c->p++;
        else
          for (;;) {
            if (BOT4_UNLIKELY(b->lv >= cap)) {
              b->lv = UINT32_MAX;
              return;
            }
            cb_trade(c, b, p, &out[b->lv++], &last, &last_n);
            if (BOT4_UNLIKELY(c->bad)) return;
            const int ch = peek(c);
            if (ch == ',') {
              c->p++;
              continue;
            }
            if (ch != ']') c->bad = 1;
            else c->p++;
            break;
          }
      } else if (lit(k, kn, "type", 4) && peek(c) == '"') {
        if (string(c, &s, &n)) type = lit(s, n, "update", 6) ? 2 : 1;
      } else skip_value(c);
      if (BOT4_UNLIKELY(c->bad) || !obj_next(c)) break;
    }
  if (!has_trades) b->bad = 1;
  if (type != 2) b->lv = first; /* not an update: the trades were read (and checked), not kept */
}

static void cb_events(cur_t *c, coinbase_t *b, const bot4_parser_t *p, bot4_tick_t *out, uint32_t cap) {
  b->has_events = 1;
  if (b->chan != CB_L2 && b->chan != CB_TRADES) {
    skip_value(c);
    return;
  }
  if (peek(c) != '[') {
    skip_value(c);
    b->bad = 1;
    return;
  }
  c->p++;
  if (peek(c) == ']') {
    c->p++;
    return;
  }
  for (;;) {
    if (b->chan == CB_L2) cb_l2_event(c, b, p, out, cap);
    else cb_trade_event(c, b, p, out, cap);
    if (b->lv == UINT32_MAX || c->bad) return;
    const int ch = peek(c);
    if (ch == ',') {
      c->p++;
      continue;
    }
    if (ch != ']') c->bad = 1;
    else c->p++;
    return;
  }
}

static int32_t coinbase_parse(bot4_vfeed_t *f, coinbase_t *b, const uint8_t *buf, uint32_t len, uint64_t recv_ns, bot4_tick_t *out, uint32_t cap) {
  bot4_parser_t *p = f->parser;
  memset(b, 0, sizeof *b);
  b->inst = UINT32_MAX;
  cur_t c = {buf, buf + len, 0};
  if (!expect(&c, '{')) return bot4_parse_fail(p, BOT4_PARSE_MALFORMED);
  if (peek(&c) == '}') c.p++;
  else
    for (;;) {
      const uint8_t *k, *s;
      uint32_t kn, n;
      if (!string(&c, &k, &kn) || !expect(&c, ':')) break;
      if (lit(k, kn, "channel", 7) && peek(&c) == '"') {
        if (string(&c, &s, &n)) b->chan = coinbase_channel(s, n);
      } else if (lit(k, kn, "sequence_num", 12)) {
        ws(&c);
        b->has_seq = c.p < c.e && (unsigned)(*c.p - '0') < 10 && read_uint(&c, &b->seq);
        if (!b->has_seq) skip_value(&c);
      } else if (lit(k, kn, "events", 6)) {
        if (b->chan) cb_events(&c, b, p, out, cap);
        else {
          ws(&c);
          b->events = c.p;
          skip_value(&c);
        }
        if (b->lv == UINT32_MAX) return bot4_parse_fail(p, BOT4_PARSE_TOO_MANY);
      } else if (lit(k, kn, "timestamp", 9) && peek(&c) == '"') {
        if (string(&c, &s, &n)) b->has_ts = iso_ns(s, n, &b->ts);
      } else if (lit(k, kn, "type", 4) && peek(&c) == '"') {
        if (string(&c, &s, &n)) b->has_type = 1, b->is_error = lit(s, n, "error", 5);
      } else skip_value(&c);
      if (BOT4_UNLIKELY(c.bad) || !obj_next(&c)) break;
    }
  if (BOT4_UNLIKELY(c.bad || peek(&c) >= 0)) return bot4_parse_fail(p, BOT4_PARSE_MALFORMED);
  if (BOT4_UNLIKELY(b->events && b->chan)) {
    cur_t d = {b->events, buf + len, 0};
    cb_events(&d, b, p, out, cap);
    if (b->lv == UINT32_MAX) return bot4_parse_fail(p, BOT4_PARSE_TOO_MANY);
    if (d.bad) return bot4_parse_fail(p, BOT4_PARSE_MALFORMED);
  }
  (void)recv_ns;
  return 0; /* the verdict is the caller's (coinbase_frame): it needs the sequence check first */
}

static int32_t coinbase_frame(bot4_vfeed_t *f, const uint8_t *buf, uint32_t len, uint64_t recv_ns, bot4_tick_t *out, uint32_t cap) {
  bot4_parser_t *p = f->parser;
  coinbase_t b;
  const int32_t r = coinbase_parse(f, &b, buf, len, recv_ns, out, cap);
  if (r < 0) return r;
  if (!b.chan) return bot4_parse_fail(p, b.is_error ? BOT4_PARSE_VENUE_ERROR : BOT4_PARSE_UNKNOWN_TYPE);
  if (b.has_seq) {
    if (f->seq_started && b.seq < f->seq_next) {
      f->seq_stale++;
      p->last_status = BOT4_PARSE_STALE;
      return BOT4_PARSE_STALE;
    }
    if (f->seq_started && b.seq > f->seq_next) {
      f->gap = 1;
      f->seq_gaps++;
    }
    f->seq_started = 1;
    f->seq_next = b.seq + 1;
    f->seq_last = b.seq;
  }
  switch (b.chan) {
  case CB_HEARTBEATS: f->what = BOT4_VP_HEARTBEAT; return bot4_parse_fail(p, BOT4_PARSE_CONTROL);
  case CB_SUBS: f->what = BOT4_VP_SUBSCRIPTIONS; return bot4_parse_fail(p, BOT4_PARSE_CONTROL);
  case CB_TICKER: return bot4_parse_fail(p, BOT4_PARSE_DEFER);
  case CB_OTHER: return bot4_parse_fail(p, BOT4_PARSE_UNKNOWN_TYPE);
  default: break;
  }
  f->instrument = b.inst;
  if (!b.has_events || b.bad || (b.chan == CB_L2 && !b.has_seq)) return bot4_parse_fail(p, BOT4_PARSE_MISSING);
  if (b.unknown) return bot4_parse_fail(p, BOT4_PARSE_UNKNOWN_SYMBOL);
  const uint32_t n = b.lv;
  if (n == 0) {
    f->what = b.chan == CB_TRADES ? BOT4_VP_TRADES : BOT4_VP_DELTA;
    p->last_status = 0;
    return 0;
  }
  const uint16_t venue = p->venue;
  if (b.chan == CB_TRADES) {
    for (uint32_t i = 0; i < n; i++) {
      bot4_tick_t *t = &out[i];
      t->ts_recv_ns = recv_ns;
      t->price2 = 0;
      t->size2 = 0;
      t->venue = venue;
    }
    out[n - 1].flags |= BOT4_FLAG_LAST;
    f->what = BOT4_VP_TRADES;
    p->trades += n;
    p->last_status = (int32_t)n;
    return (int32_t)n;
  }
  const uint64_t env_ts = b.has_ts ? b.ts : 0;
  uint32_t levels = 0;
  int snap = 0;
  for (uint32_t i = 0; i < n; i++) {
    bot4_tick_t *t = &out[i];
    if (t->flags & BOT4_FLAG_NOLEVEL) t->ts_exchange_ns = env_ts;
    else levels++;
    t->ts_recv_ns = recv_ns;
    t->price2 = 0;
    t->size2 = 0;
    t->seq = b.seq;
    t->venue = venue;
    snap |= t->flags & BOT4_FLAG_SNAPSHOT;
  }
  f->what = snap ? BOT4_VP_SNAPSHOT : BOT4_VP_DELTA;
  if (snap) p->snapshots++;
  else p->depth++;
  p->levels += levels;
  p->last_status = (int32_t)n;
  return (int32_t)n;
}

/* ---- OKX v5 -------------------------------------------------------------------------------- */

/* CRC-32 as zlib computes it (reflected 0xEDB88320), slicing by 8. The tables are built once. */
static uint32_t okx_crc_tab[8][256];
static int okx_crc_ready;
static int okx_crc_clmul; /* PCLMULQDQ and SSE4.1 present */

static void okx_crc_init(void) {
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    okx_crc_tab[0][n] = c;
  }
  for (uint32_t n = 0; n < 256; n++)
    for (int t = 1; t < 8; t++) okx_crc_tab[t][n] = (okx_crc_tab[t - 1][n] >> 8) ^ okx_crc_tab[0][okx_crc_tab[t - 1][n] & 0xff];
  __builtin_cpu_init();
  okx_crc_clmul = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
  okx_crc_ready = 1;
}

/* The same CRC by carry-less multiplication (PCLMULQDQ, where the CPU has it): the text folded 16
 * bytes at a time with x^(128+64) and x^128 mod P, then 128 -> 32 bits and a Barrett reduction
 * (Intel's "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ", the constants for the
 * reflected polynomial 0x1DB710641); the bytes past the last 16 through the table. ~3x the table's
 * speed on a checksum's 200-400 bytes. Held to the table version by the tests. */
__attribute__((target("pclmul,sse4.1"))) static uint32_t crc32_fold(const uint8_t *p, uint32_t n, uint32_t c) {
  const __m128i k34 = _mm_set_epi64x(0x00000000ccaa009eLL, 0x00000001751997d0LL);
  __m128i x = _mm_xor_si128(_mm_loadu_si128((const __m128i *)p), _mm_cvtsi32_si128((int)c));
  p += 16;
  n -= 16;
  while (n >= 16) {
    const __m128i lo = _mm_clmulepi64_si128(x, k34, 0x00), hi = _mm_clmulepi64_si128(x, k34, 0x11);
    x = _mm_xor_si128(_mm_xor_si128(lo, hi), _mm_loadu_si128((const __m128i *)p));
    p += 16;
    n -= 16;
  }
  const __m128i mask32 = _mm_set_epi32(0, 0, 0, -1);
  __m128i t = _mm_clmulepi64_si128(x, k34, 0x10); /* 128 -> 96 bits */
  x = _mm_xor_si128(t, _mm_srli_si128(x, 8));
  const __m128i k5 = _mm_set_epi64x(0, 0x0000000163cd6124LL); /* 96 -> 64 */
  t = _mm_clmulepi64_si128(_mm_and_si128(x, mask32), k5, 0x00);
  x = _mm_xor_si128(t, _mm_srli_si128(x, 4));
  const __m128i pu = _mm_set_epi64x(0x00000001F7011641LL, 0x00000001DB710641LL); /* Barrett: u, P */
  t = _mm_clmulepi64_si128(_mm_and_si128(x, mask32), pu, 0x10);
  t = _mm_clmulepi64_si128(_mm_and_si128(t, mask32), pu, 0x00);
  x = _mm_xor_si128(x, t);
  c = (uint32_t)_mm_extract_epi32(x, 1);
  while (n--) c = okx_crc_tab[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return c;
}

static uint32_t okx_crc32(const uint8_t *p, uint32_t n) {
  if (okx_crc_clmul && n >= 32) return crc32_fold(p, n, 0xffffffffu) ^ 0xffffffffu;
  uint32_t c = 0xffffffffu;
  while (n >= 8) {
    uint32_t a, b;
    memcpy(&a, p, 4);
    memcpy(&b, p + 4, 4);
    a ^= c;
    c = okx_crc_tab[7][a & 0xff] ^ okx_crc_tab[6][(a >> 8) & 0xff] ^ okx_crc_tab[5][(a >> 16) & 0xff] ^ okx_crc_tab[4][a >> 24] ^
        okx_crc_tab[3][b & 0xff] ^ okx_crc_tab[2][(b >> 8) & 0xff] ^ okx_crc_tab[1][(b >> 16) & 0xff] ^ okx_crc_tab[0][b >> 24];
    p += 8;
    n -= 8;
  }
  while (n--) c = okx_crc_tab[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

BOT4_API uint32_t bot4_crc32(const uint8_t *p, uint32_t n) {
  if (!okx_crc_ready) okx_crc_init();
  return okx_crc32(p, n);
}

static void okx_clear(bot4_okx_book_t *o) {
  o->n[0] = o->n[1] = 0;
  o->head[0] = o->head[1] = BOT4_OKX_SLOTS; /* the middle of each side's room */
  o->nfree = o->nused = 0;
  o->dirty = 1;
}

/* first index whose key is >= key (levels ascending by key); updates cluster at the top */
static inline uint32_t okx_lower(const okx_level_t *l, uint32_t n, double key) {
  if (n && key >= l[n - 1].key) return key > l[n - 1].key ? n : n - 1;
  uint32_t lo = 0, hi = n;
  while (lo < hi) {
    const uint32_t mid = (lo + hi) >> 1;
    if (l[mid].key < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static inline void okx_text_set(okx_text_t *t, const uint8_t *ps, uint32_t pn, const uint8_t *ss, uint32_t sn) {
  t->len = (uint8_t)(pn + 1 + sn);
  memcpy(t->t, ps, pn);
  t->t[pn] = ':';
  memcpy(t->t + pn + 1, ss, sn);
}

/* One level of a push (size 0 removes) with its received texts. 0 when a text is longer than a
 * slot holds or the side is past its room. */
static int okx_set(bot4_okx_book_t *o, uint32_t s, double price, double size, const uint8_t *ps, uint32_t pn, const uint8_t *ss, uint32_t sn) {
  if (pn + 1 + sn > sizeof o->slot[0].t) return 0;
  const double key = s ? -price : price;
  okx_level_t *l = o->lv[s] + o->head[s];
  const uint32_t n = o->n[s];
  const uint32_t i = okx_lower(l, n, key);
  if (i < n && l[i].key == key) {
    if (n - 1 - i < BOT4_OKX_CHECK_LEVELS) o->dirty = 1;
    if (size > 0) {
      okx_text_set(&o->slot[l[i].tx], ps, pn, ss, sn);
      return 1;
    }
    o->freel[o->nfree++] = l[i].tx;
    if (i < n - 1 - i) { /* the worse part moves up one, the head with it */
      memmove(l + 1, l, (size_t)i * sizeof *l);
      o->head[s]++;
    } else {
      memmove(&l[i], &l[i + 1], (size_t)(n - 1 - i) * sizeof *l);
    }
    o->n[s] = n - 1;
    return 1;
  }
  if (!(size > 0)) return 1; /* a level the book does not hold */
  if (n >= BOT4_OKX_SLOTS) return 0;
  const int down = i < n - i;
  if (BOT4_UNLIKELY(down ? o->head[s] == 0 : o->head[s] + n >= BOT4_OKX_ROOM)) {
    const uint32_t h = (BOT4_OKX_ROOM - n) / 2;
    memmove(o->lv[s] + h, l, (size_t)n * sizeof *l);
    o->head[s] = h;
    l = o->lv[s] + h;
  }
  const uint32_t tx = o->nfree ? o->freel[--o->nfree] : o->nused++;
  okx_text_set(&o->slot[tx], ps, pn, ss, sn);
  if (down) {
    memmove(l - 1, l, (size_t)i * sizeof *l);
    o->head[s]--;
    l--;
  } else if (i < n) {
    memmove(&l[i + 1], &l[i], (size_t)(n - i) * sizeof *l);
  }
  l[i].key = key;
  l[i].tx = tx;
  o->n[s] = n + 1;
  if (n - i < BOT4_OKX_CHECK_LEVELS) o->dirty = 1;
  return 1;
}

/* OKX's checksum of a book: the first 25 bids and asks interleaved bid, ask, ... as
 * price:size joined by ':', the shorter side's missing levels left out; CRC-32 as signed.
 * Computed again only when one of those levels changed. */
static int32_t okx_checksum(bot4_okx_book_t *o) {
  if (!o->dirty) return o->crc;
  uint8_t text[2 * BOT4_OKX_CHECK_LEVELS * (sizeof o->slot[0].t + 1) + 64];
  uint32_t w = 0;
  const okx_level_t *l[2] = {o->lv[0] + o->head[0], o->lv[1] + o->head[1]};
  uint32_t n[2];
  for (uint32_t s = 0; s < 2; s++) n[s] = o->n[s] < BOT4_OKX_CHECK_LEVELS ? o->n[s] : BOT4_OKX_CHECK_LEVELS;
  const uint32_t m = n[0] > n[1] ? n[0] : n[1];
  for (uint32_t i = 0; i < m; i++)
    for (uint32_t s = 0; s < 2; s++) {
      if (i >= n[s]) continue;
      const okx_text_t *t = &o->slot[l[s][o->n[s] - 1 - i].tx];
      /* ':' then the whole field (a fixed size: vector moves, no call); its length keeps what
       * counts. The text starts at text + 1: the first level has no ':' before it. */
      text[w++] = ':';
      memcpy(text + w, t, sizeof *t); /* 64 bytes: two vector moves; the length byte after t is overwritten next */
      w += t->len;
    }
  if (!okx_crc_ready) okx_crc_init();
  o->crc = (int32_t)(w ? okx_crc32(text + 1, w - 1) : okx_crc32(text, 0));
  o->dirty = 0;
  return o->crc;
}

enum { OK_NONE = 0, OK_BOOK = 1, OK_BOOKS5 = 2, OK_TRADES = 3, OK_OTHER = 4 };

typedef struct {
  int chan, action; /* action: 0 absent, 1 snapshot, 2 update, 3 other */
  int has_event, is_error, has_arg;
  const uint8_t *inst;
  uint32_t inst_n;
  const uint8_t *data;
  int has_data, ndata;
  uint64_t ts;
  int has_ts;
  int64_t seq, prev, checksum;
  int has_seq, has_prev, has_checksum;
  int has_bids, has_asks, asks_first;
  uint32_t bids_at, asks_at; /* first record of each side */
  uint32_t lv;
  int bad;
} okx_t;

static inline int okx_channel(const uint8_t *s, uint32_t n) {
  if (lit(s, n, "trades", 6) || lit(s, n, "trades-all", 10)) return OK_TRADES;
  if (lit(s, n, "books5", 6) || lit(s, n, "bbo-tbt", 7)) return OK_BOOKS5;
  if (n >= 5 && memcmp(s, "books", 5) == 0) return OK_BOOK;
  return OK_OTHER;
}

/* A signed integer (bare or quoted); anything else is skipped and reads as absent. */
static inline int read_int(cur_t *c, int64_t *v) {
  ws(c);
  int neg = 0;
  if (c->p < c->e && *c->p == '-') neg = 1, c->p++;
  uint64_t u = 0;
  if (!read_uint(c, &u) || u > (1ull << 53)) return 0;
  *v = neg ? -(int64_t)u : (int64_t)u;
  return 1;
}

/* A millisecond time string of 1 to 16 digits. */
static inline int read_ms(cur_t *c, uint64_t *v) {
  const uint8_t *s;
  uint32_t n;
  if (peek(c) != '"') {
    skip_value(c);
    return 0;
  }
  if (!string(c, &s, &n)) return 0;
  return n >= 1 && n <= 16 && uint_of(s, n, v);
}

/* [["p","s",...],...] into LEVEL records, the texts' offsets into spans */
/* ["p","s" at p: both plain decimals read, their texts' spans; the cursor after the size's closing
 * quote, or NULL (nothing decided) on any other form. */
static inline const uint8_t *okx_quick_level(const uint8_t *p, const uint8_t *e, dshape_t sh[2], double *px, double *sz, const uint8_t **ps, uint32_t *pn, const uint8_t **ss, uint32_t *sn) {
  if (e - p < 8 || p[0] != '[' || p[1] != '"') return NULL;
  const uint8_t *a = p + 2, *q = shaped_decimal(a, e, &sh[0], px);
  if (BOT4_UNLIKELY(!q)) q = quick_decimal(a, e, px);
  if (!q || e - q < 3 || q[0] != ',' || q[1] != '"') return NULL;
  const uint8_t *b = q + 2, *r = shaped_decimal(b, e, &sh[1], sz);
  if (BOT4_UNLIKELY(!r)) r = quick_decimal(b, e, sz);
  if (!r) return NULL;
  *ps = a;
  *pn = (uint32_t)(q - 1 - a);
  *ss = b;
  *sn = (uint32_t)(r - 1 - b);
  return r;
}

static void okx_levels(cur_t *c, okx_t *o, const uint8_t *base, bot4_tick_t *out, uint32_t cap, uint32_t *spans, uint8_t flags) {
  if (!expect(c, '[')) return;
  if (peek(c) == ']') {
    c->p++;
    return;
  }
  dshape_t sh[2];
  memset(sh, 0, sizeof sh);
  for (;;) {
    if (BOT4_UNLIKELY(o->lv >= cap)) {
      o->lv = UINT32_MAX;
      return;
    }
    double px = NAN, sz = NAN;
    const uint8_t *ps = NULL, *ss = NULL;
    uint32_t pn = 0, sn = 0;
    const uint8_t *q = okx_quick_level(c->p, c->e, sh, &px, &sz, &ps, &pn, &ss, &sn);
    if (BOT4_LIKELY(q != NULL)) {
      /* the form OKX sends, ["p","s",...]: both numbers read in one pass, the rest skipped */
      c->p = q;
      while (peek(c) == ',') {
        c->p++;
        skip_value(c);
      }
      if (!expect(c, ']')) return;
    } else if (peek(c) != '[') {
      px = sz = NAN;
      ps = ss = NULL;
      skip_value(c);
      o->bad = 1;
    } else {
      px = sz = NAN;
      ps = ss = NULL;
      pn = sn = 0;
      c->p++;
      if (peek(c) == '"' && string(c, &ps, &pn) && pn > 0) px = decimal(ps, pn);
      else if (!c->bad) skip_value(c), o->bad = 1;
      if (!expect(c, ',')) return;
      if (peek(c) == '"' && string(c, &ss, &sn) && sn > 0) sz = decimal(ss, sn);
      else if (!c->bad) skip_value(c), o->bad = 1;
      while (peek(c) == ',') {
        c->p++;
        skip_value(c);
      }
      if (!expect(c, ']')) return;
    }
    if (BOT4_UNLIKELY(c->bad)) return;
    if (!(px > 0) || !(sz >= 0) || px == INFINITY || sz == INFINITY) o->bad = 1;
    const uint32_t i = o->lv++;
    bot4_tick_t *t = &out[i];
    t->price = px;
    t->size = sz;
    t->kind = BOT4_TICK_LEVEL;
    t->flags = flags;
    if (spans && ps && ss) {
      spans[4 * i] = (uint32_t)(ps - base);
      spans[4 * i + 1] = pn;
      spans[4 * i + 2] = (uint32_t)(ss - base);
      spans[4 * i + 3] = sn;
    }
    const int ch = peek(c);
    if (ch == ',') {
      c->p++;
      continue;
    }
    if (ch == ']') c->p++;
    else c->bad = 1;
    return;
  }
}

static void okx_book_data(cur_t *c, okx_t *o, const uint8_t *base, bot4_tick_t *out, uint32_t cap, uint32_t *spans) {
  if (!expect(c, '{')) return;
  if (peek(c) == '}') {
    c->p++;
    return;
  }
  for (;;) {
    const uint8_t *k;
    uint32_t kn;
    if (!string(c, &k, &kn) || !expect(c, ':')) return;
    if (lit(k, kn, "bids", 4) && peek(c) == '[') {
      o->has_bids = 1;
      o->bids_at = o->lv;
      okx_levels(c, o, base, out, cap, spans, 0);
    } else if (lit(k, kn, "asks", 4) && peek(c) == '[') {
      o->has_asks = 1;
      o->asks_at = o->lv;
      o->asks_first = !o->has_bids;
      okx_levels(c, o, base, out, cap, spans, BOT4_FLAG_ASK);
    } else if (lit(k, kn, "seqId", 5)) {
      o->has_seq = read_int(c, &o->seq);
    } else if (lit(k, kn, "prevSeqId", 9)) {
      o->has_prev = read_int(c, &o->prev);
    } else if (lit(k, kn, "checksum", 8)) {
      o->has_checksum = read_int(c, &o->checksum);
    } else if (lit(k, kn, "ts", 2)) {
      o->has_ts = read_ms(c, &o->ts);
    } else {
      skip_value(c);
    }
    if (o->lv == UINT32_MAX || BOT4_UNLIKELY(c->bad) || !obj_next(c)) return;
  }
}

static void okx_trade(cur_t *c, okx_t *o, bot4_tick_t *t) {
  double px = NAN, sz = NAN;
  uint64_t ts = 0, id = 0;
  int side = -1, has_t = 0, has_id = 0;
  if (!expect(c, '{')) return;
  if (peek(c) == '}') c->p++;
  else
    for (;;) {
      const uint8_t *k, *s;
      uint32_t kn, n;
      if (!string(c, &k, &kn) || !expect(c, ':')) return;
      if (lit(k, kn, "px", 2)) px = peek(c) == '"' ? read_decimal(c, &o->bad) : (skip_value(c), NAN);
      else if (lit(k, kn, "sz", 2)) sz = peek(c) == '"' ? read_decimal(c, &o->bad) : (skip_value(c), NAN);
      else if (lit(k, kn, "side", 4) && peek(c) == '"') {
        if (string(c, &s, &n)) side = lit(s, n, "buy", 3) ? 0 : lit(s, n, "sell", 4) ? 1 : -1;
      } else if (lit(k, kn, "ts", 2)) has_t = read_ms(c, &ts);
      else if (lit(k, kn, "tradeId", 7) && peek(c) == '"') {
        if (string(c, &s, &n)) has_id = n >= 1 && n <= 16 && uint_of(s, n, &id) && id <= (1ull << 53) - 1;
      } else skip_value(c);
      if (BOT4_UNLIKELY(c->bad) || !obj_next(c)) break;
    }
  if (side < 0 || !has_t || !has_id || !(px > 0) || !(sz > 0) || px == INFINITY || sz == INFINITY) o->bad = 1;
  t->ts_exchange_ns = ts * 1000000ull;
  t->price = px;
  t->size = sz;
  t->seq = id;
  t->kind = BOT4_TICK_TRADE;
  t->flags = side == 1 ? BOT4_FLAG_SELL : 0;
}

static void okx_data(cur_t *c, okx_t *o, const uint8_t *base, bot4_tick_t *out, uint32_t cap, uint32_t *spans) {
  o->has_data = 1;
  if (o->chan != OK_BOOK && o->chan != OK_BOOKS5 && o->chan != OK_TRADES) {
    skip_value(c);
    return;
  }
  if (peek(c) != '[') {
    skip_value(c);
    o->bad = 1;
    return;
  }
  c->p++;
  if (peek(c) == ']') {
    c->p++;
    return;
  }
  for (;;) {
    o->ndata++;
    if (o->chan == OK_TRADES) {
      if (BOT4_UNLIKELY(o->lv >= cap)) {
        o->lv = UINT32_MAX;
        return;
      }
      okx_trade(c, o, &out[o->lv++]);
    } else if (o->ndata == 1) {
      okx_book_data(c, o, base, out, cap, spans);
    } else {
      skip_value(c); /* OKX sends one book per push; more cannot be checked */
      o->bad = 1;
    }
    if (o->lv == UINT32_MAX || c->bad) return;
    const int ch = peek(c);
    if (ch == ',') {
      c->p++;
      continue;
    }
    if (ch == ']') c->p++;
    else c->bad = 1;
    return;
  }
}

static void okx_arg(cur_t *c, okx_t *o) {
  if (peek(c) != '{') {
    skip_value(c);
    return;
  }
  c->p++;
  o->has_arg = 1;
  if (peek(c) == '}') {
    c->p++;
    return;
  }
  for (;;) {
    const uint8_t *k, *s;
    uint32_t kn, n;
    if (!string(c, &k, &kn) || !expect(c, ':')) return;
    if (lit(k, kn, "channel", 7) && peek(c) == '"') {
      if (string(c, &s, &n)) o->chan = okx_channel(s, n);
    } else if (lit(k, kn, "instId", 6) && peek(c) == '"') {
      string(c, &o->inst, &o->inst_n);
    } else skip_value(c);
    if (BOT4_UNLIKELY(c->bad) || !obj_next(c)) return;
  }
}

static void reverse_range(bot4_tick_t *r, uint32_t *sp, uint32_t a, uint32_t b) {
  while (a + 1 < b) {
    b--;
    bot4_tick_t t = r[a];
    r[a] = r[b];
    r[b] = t;
    if (sp)
      for (int k = 0; k < 4; k++) {
        const uint32_t x = sp[4 * a + k];
        sp[4 * a + k] = sp[4 * b + k];
        sp[4 * b + k] = x;
      }
    a++;
  }
}

/* A signed integer of up to 16 digits at p, bare; its end, or NULL. */
static inline const uint8_t *okx_quick_int(const uint8_t *p, const uint8_t *e, int64_t *v) {
  const int neg = p < e && *p == '-';
  const uint8_t *b = p + neg;
  uint64_t u = 0;
  p = c_int(b, e, &u); /* eight digits at a time */
  if (!p || p - b > 16 || u > (1ull << 53)) return NULL;
  *v = neg ? -(int64_t)u : (int64_t)u;
  return p;
}

/* One side of the usual push: [["p","s","0","n"],...] from p (at '['); the end, or NULL. */
static inline const uint8_t *okx_quick_side(const uint8_t *p, const uint8_t *e, okx_t *o, const uint8_t *base, bot4_tick_t *out, uint32_t cap, uint32_t *spans, uint8_t flags) {
  if (p >= e || *p != '[') return NULL;
  p++;
  if (p < e && *p == ']') return p + 1;
  dshape_t sh[2];
  memset(sh, 0, sizeof sh);
  for (;;) {
    if (o->lv >= cap) return NULL;
    double px, sz;
    const uint8_t *ps, *ss;
    uint32_t pn, sn;
    const uint8_t *q = okx_quick_level(p, e, sh, &px, &sz, &ps, &pn, &ss, &sn);
    if (!q) return NULL;
    while (q < e && *q == ',') { /* the level's other fields: short strings */
      if (++q >= e || *q != '"') return NULL;
      q++;
      while (q < e && *q != '"' && *q != '\\') q++;
      if (q >= e || *q != '"') return NULL;
      q++;
    }
    if (q >= e || *q != ']') return NULL;
    if (!(px > 0) || !(sz >= 0) || px == INFINITY || sz == INFINITY) o->bad = 1;
    const uint32_t i = o->lv++;
    bot4_tick_t *t = &out[i];
    t->price = px;
    t->size = sz;
    t->kind = BOT4_TICK_LEVEL;
    t->flags = flags;
    if (spans) {
      spans[4 * i] = (uint32_t)(ps - base);
      spans[4 * i + 1] = pn;
      spans[4 * i + 2] = (uint32_t)(ss - base);
      spans[4 * i + 3] = sn;
    }
    p = q + 1;
    if (p < e && *p == ',') {
      p++;
      continue;
    }
    if (p < e && *p == ']') return p + 1;
    return NULL;
  }
}

/* The push OKX sends for a books channel, compact and in its key order, read in one pass:
 * {"arg":{"channel":"books","instId":".."},"action":"snapshot"|"update","data":[{"asks":[..],
 * "bids":[..],"ts":"..","checksum":n,"prevSeqId":n,"seqId":n}]}. 0 (nothing decided) on any
 * other form: the general reader then reads the frame from its start. */
static int okx_fast_book(okx_t *o, const uint8_t *buf, uint32_t len, bot4_tick_t *out, uint32_t cap, uint32_t *spans) {
  const uint8_t *e = buf + len, *q = CB_LIT(buf, e, "{\"arg\":{\"channel\":\"books\",\"instId\":\"");
  if (!q) return 0;
  const uint8_t *inst = q;
  while (q < e && *q != '"' && *q != '\\') q++;
  if (q >= e || *q != '"') return 0;
  o->inst = inst;
  o->inst_n = (uint32_t)(q - inst);
  if (!(q = CB_LIT(q + 1, e, "},\"action\":\""))) return 0;
  if (CB_LIT(q, e, "update\"")) o->action = 2, q += 7;
  else if (CB_LIT(q, e, "snapshot\"")) o->action = 1, q += 9;
  else return 0;
  if (!(q = CB_LIT(q, e, ",\"data\":[{\"asks\":"))) return 0;
  /* asks come first: they are read into the upper half of the records and moved after the bids
   * (the normaliser's order), which is cheaper than turning the whole push around */
  const uint32_t half = cap / 2;
  o->lv = half;
  if (!(q = okx_quick_side(q, e, o, buf, out, cap, spans, BOT4_FLAG_ASK))) return 0;
  const uint32_t na = o->lv - half;
  if (!(q = CB_LIT(q, e, ",\"bids\":"))) return 0;
  o->lv = 0;
  if (!(q = okx_quick_side(q, e, o, buf, out, half, spans, 0))) return 0;
  const uint32_t nb = o->lv;
  if (na) {
    memmove(out + nb, out + half, (size_t)na * sizeof *out);
    if (spans) memmove(spans + 4 * nb, spans + 4 * half, (size_t)na * 4 * sizeof *spans);
  }
  o->lv = nb + na;
  o->bids_at = 0;
  o->asks_at = nb;
  o->asks_first = 0;
  if (!(q = CB_LIT(q, e, ",\"ts\":\""))) return 0;
  const uint8_t *tb = q;
  uint64_t ts = 0;
  if (!(q = c_int(tb, e, &ts)) || q - tb > 16 || !(q = CB_LIT(q, e, "\",\"checksum\":"))) return 0;
  if (!(q = okx_quick_int(q, e, &o->checksum)) || !(q = CB_LIT(q, e, ",\"prevSeqId\":"))) return 0;
  if (!(q = okx_quick_int(q, e, &o->prev)) || !(q = CB_LIT(q, e, ",\"seqId\":"))) return 0;
  if (!(q = okx_quick_int(q, e, &o->seq)) || !(q = CB_LIT(q, e, "}]}")) || q != e) return 0;
  o->ts = ts;
  o->chan = OK_BOOK;
  o->has_arg = o->has_data = 1;
  o->ndata = 1;
  o->has_bids = o->has_asks = o->has_ts = o->has_seq = o->has_prev = o->has_checksum = 1;
  return 1;
}

static int32_t okx_parse(bot4_vfeed_t *f, const uint8_t *buf, uint32_t len, uint64_t recv_ns, bot4_tick_t *out, uint32_t cap) {
  bot4_parser_t *p = f->parser;
  okx_t o;
  memset(&o, 0, sizeof o);
  uint32_t *spans = f->okx ? f->okx->spans : NULL;
  if (spans && cap > BOT4_OKX_SPANS) cap = BOT4_OKX_SPANS;
  if (BOT4_LIKELY(okx_fast_book(&o, buf, len, out, cap, spans))) goto decided;
  memset(&o, 0, sizeof o);
  cur_t c = {buf, buf + len, 0};
  if (!expect(&c, '{')) return bot4_parse_fail(p, BOT4_PARSE_MALFORMED);
  if (peek(&c) == '}') c.p++;
  else
    for (;;) {
      const uint8_t *k, *s;
      uint32_t kn, n;
      if (!string(&c, &k, &kn) || !expect(&c, ':')) break;
      if (lit(k, kn, "arg", 3)) okx_arg(&c, &o);
      else if (lit(k, kn, "data", 4)) {
        if (o.chan) okx_data(&c, &o, buf, out, cap, spans);
        else {
          ws(&c);
          o.data = c.p;
          o.has_data = 1;
          skip_value(&c);
        }
        if (o.lv == UINT32_MAX) return bot4_parse_fail(p, BOT4_PARSE_TOO_MANY);
      } else if (lit(k, kn, "action", 6) && peek(&c) == '"') {
        if (string(&c, &s, &n)) o.action = lit(s, n, "snapshot", 8) ? 1 : lit(s, n, "update", 6) ? 2 : 3;
      } else if (lit(k, kn, "event", 5)) {
        o.has_event = 1;
        if (peek(&c) == '"' && string(&c, &s, &n)) o.is_error = lit(s, n, "error", 5);
        else skip_value(&c);
      } else skip_value(&c);
      if (BOT4_UNLIKELY(c.bad) || !obj_next(&c)) break;
    }
  if (BOT4_UNLIKELY(c.bad || peek(&c) >= 0)) return bot4_parse_fail(p, BOT4_PARSE_MALFORMED);
decided:
  if (o.has_event) return bot4_parse_fail(p, o.is_error ? BOT4_PARSE_VENUE_ERROR : BOT4_PARSE_CONTROL);
  if (BOT4_UNLIKELY(o.data && o.chan)) {
    cur_t d = {o.data, buf + len, 0};
    okx_data(&d, &o, buf, out, cap, spans);
    if (o.lv == UINT32_MAX) return bot4_parse_fail(p, BOT4_PARSE_TOO_MANY);
    if (d.bad) return bot4_parse_fail(p, BOT4_PARSE_MALFORMED);
  }
  if (!o.has_arg || !o.inst || !o.has_data) return bot4_parse_fail(p, o.chan == OK_OTHER || !o.chan ? BOT4_PARSE_UNKNOWN_TYPE : BOT4_PARSE_MISSING);
  if (o.chan == OK_OTHER) return bot4_parse_fail(p, BOT4_PARSE_UNKNOWN_TYPE);
  const int book = o.chan == OK_BOOK || o.chan == OK_BOOKS5;
  if (o.chan == OK_BOOK && o.action != 1 && o.action != 2) return bot4_parse_fail(p, BOT4_PARSE_UNKNOWN_TYPE);
  const int64_t id = lookup(p, o.inst, o.inst_n);
  if (id >= 0) f->instrument = (uint32_t)id;
  if (o.bad || (book && o.ndata > 0 && (!o.has_bids || !o.has_asks || !o.has_ts || (o.has_seq && o.seq < 0))) || (book && o.ndata == 0)) {
    if (book) f->what = BOT4_VP_DELTA; /* an unreadable book push: the feed fails that book */
    return bot4_parse_fail(p, BOT4_PARSE_MISSING);
  }
  if (id < 0) return bot4_parse_fail(p, BOT4_PARSE_UNKNOWN_SYMBOL);
  const uint32_t n = o.lv;
  const uint16_t venue = p->venue;
  if (!book) {
    for (uint32_t i = 0; i < n; i++) {
      bot4_tick_t *t = &out[i];
      t->ts_recv_ns = recv_ns;
      t->price2 = 0;
      t->size2 = 0;
      t->instrument = (uint32_t)id;
      t->venue = venue;
    }
    if (n) out[n - 1].flags |= BOT4_FLAG_LAST;
    f->what = BOT4_VP_TRADES;
    p->trades += n;
    p->last_status = (int32_t)n;
    return (int32_t)n;
  }
  /* bids first, then asks, as the normaliser writes them */
  if (o.asks_first && o.bids_at > 0) {
    reverse_range(out, spans, 0, o.bids_at);
    reverse_range(out, spans, o.bids_at, n);
    reverse_range(out, spans, 0, n);
  }
  const uint8_t snap = (o.chan == OK_BOOKS5 && o.action != 2) || o.action == 1 ? BOT4_FLAG_SNAPSHOT : 0;
  const uint64_t ts = o.ts * 1000000ull;
  const uint64_t seq = o.has_seq ? (uint64_t)o.seq : 0;
  for (uint32_t i = 0; i < n; i++) {
    bot4_tick_t *t = &out[i];
    t->ts_exchange_ns = ts;
    t->ts_recv_ns = recv_ns;
    t->price2 = 0;
    t->size2 = 0;
    t->seq = seq;
    t->instrument = (uint32_t)id;
    t->venue = venue;
    t->flags |= snap;
  }
  if (n) out[n - 1].flags |= BOT4_FLAG_LAST;
  f->what = snap ? BOT4_VP_SNAPSHOT : BOT4_VP_DELTA;
  f->okx_seq = o.has_seq ? o.seq : -1;
  f->okx_prev = o.has_prev ? o.prev : INT64_MIN;
  f->okx_checksum = o.has_checksum ? o.checksum : 0;
  f->okx_checksum_ok = o.has_checksum && o.checksum >= INT32_MIN && o.checksum <= INT32_MAX;
  if (snap) p->snapshots++;
  else p->depth++;
  p->levels += n;
  p->last_status = (int32_t)n;
  return (int32_t)n;
}


/* ---- the feed step ------------------------------------------------------------------------- */

BOT4_API uint64_t bot4_vfeed_bytes(void) { return sizeof(bot4_vfeed_t); }

static void kr_clear(bot4_kraken_book_t *b, uint32_t lim);

BOT4_API void bot4_vfeed_reset(bot4_vfeed_t *f) {
  if (f->okx)
    for (uint32_t i = 0; i < f->nbooks; i++) okx_clear(&f->okx->book[i]);
  if (f->kraken)
    for (uint32_t i = 0; i < f->kraken->nbooks; i++) {
      bot4_kraken_book_t *b = &f->kraken->book[i];
      kr_clear(b, f->kraken->lim);
      b->state = BOT4_BOOK_NEED_SNAPSHOT;
    }
  f->seq_started = 0;
  f->seq_next = 0;
  f->gap = 0;
  for (uint32_t i = 0; i < f->nbooks; i++) {
    bot4_book_t *b = f->books[i];
    if (!b) continue;
    bot4_book_reset(b);
    b->state = BOT4_BOOK_NEED_SNAPSHOT;
  }
}

BOT4_API int32_t bot4_vfeed_init(bot4_vfeed_t *f, bot4_parser_t *p, uint32_t venue_kind, bot4_book_t **books,
                                 uint32_t nbooks, bot4_ring_t *ring) {
  if (!f || ((uintptr_t)f & (BOT4_CACHELINE - 1)) || !p || p->magic != BOT4_PARSER_MAGIC) return -1;
  if (venue_kind < BOT4_VP_BYBIT || venue_kind > BOT4_VP_KRAKEN) return -1;
  memset(f, 0, sizeof *f);
  f->parser = p;
  f->books = books;
  f->nbooks = books ? nbooks : 0;
  f->ring = ring;
  f->venue_kind = venue_kind;
  f->instrument = UINT32_MAX;
  f->scratch = p->scratch;
  f->scratch_cap = BOT4_PARSE_SCRATCH;
  return 0;
}

BOT4_API int32_t bot4_vfeed_scratch(bot4_vfeed_t *f, bot4_tick_t *recs, uint32_t cap) {
  if (!recs) {
    f->scratch = f->parser->scratch;
    f->scratch_cap = BOT4_PARSE_SCRATCH;
    return 0;
  }
  if (((uintptr_t)recs & (BOT4_CACHELINE - 1)) || cap == 0) return -1;
  f->scratch = recs;
  f->scratch_cap = cap;
  return 0;
}

static int32_t kraken_parse(bot4_vfeed_t *f, const uint8_t *buf, uint32_t len, uint64_t recv_ns, bot4_tick_t *out, uint32_t cap);

static int32_t vparse(bot4_vfeed_t *f, const uint8_t *buf, uint32_t len, uint64_t recv_ns, bot4_tick_t *out, uint32_t cap);

BOT4_API int32_t bot4_vparse(bot4_vfeed_t *f, const uint8_t *buf, uint32_t len, double recv_ns, bot4_tick_t *out,
                             uint32_t cap) {
  return vparse(f, buf, len, bot4_ns_of(recv_ns), out, cap);
}

static int32_t vparse(bot4_vfeed_t *f, const uint8_t *buf, uint32_t len, uint64_t recv_ns, bot4_tick_t *out, uint32_t cap) {
  f->parser->frames++;
  f->instrument = UINT32_MAX;
  f->what = BOT4_VP_NONE;
  f->resyncs = 0;
  f->pushed = 0;
  f->gap = 0;
  const int32_t r = f->venue_kind == BOT4_VP_COINBASE ? coinbase_frame(f, buf, len, recv_ns, out, cap)
                    : f->venue_kind == BOT4_VP_OKX    ? okx_parse(f, buf, len, recv_ns, out, cap)
                    : f->venue_kind == BOT4_VP_KRAKEN ? kraken_parse(f, buf, len, recv_ns, out, cap)
                                                      : bybit_parse(f, buf, len, recv_ns, out, cap);
  f->status = r;
  return r;
}

/* A book the feed can no longer trust: cleared, NEED_SNAPSHOT (whatever its rule), the problem
 * recorded, a resync asked for. Returns 1. */
static int32_t vbook_fail(bot4_book_t *b, uint32_t problem, uint64_t seq) {
  bot4_book_reset(b);
  b->state = BOT4_BOOK_NEED_SNAPSHOT;
  b->problem = problem;
  b->problem_seq = seq;
  b->resync_requests++;
  if (problem == BOT4_BOOK_GAP) b->gaps++;
  return 1;
}

static inline void status_record(bot4_tick_t *t, uint32_t instrument, uint16_t venue, uint64_t recv_ns, uint64_t seq) {
  memset(t, 0, sizeof *t);
  t->ts_recv_ns = recv_ns;
  t->price = BOT4_STATUS_DISCONNECTED;
  t->seq = seq;
  t->instrument = instrument;
  t->venue = venue;
  t->kind = BOT4_TICK_STATUS;
  t->flags = BOT4_FLAG_LAST;
}

static void vpush(bot4_vfeed_t *f, const bot4_tick_t *r, uint32_t n) {
  const int32_t put = bot4_ring_push_drop(f->ring, r, n);
  f->pushed += (uint32_t)(put > 0 ? put : 0);
  if (put < (int32_t)n) {
    const uint64_t lost = (uint64_t)((int32_t)n - (put > 0 ? put : 0));
    f->parser->ring_drops += lost;
    f->ring_drops += lost;
  }
}

/* A book the feed can no longer trust: failed here, and a STATUS record tells the ring. */
static void vfail_book(bot4_vfeed_t *f, uint32_t inst, uint32_t problem, uint64_t seq, uint64_t recv_ns) {
  bot4_book_t *b = inst < f->nbooks ? f->books[inst] : NULL;
  if (!b) return;
  f->resyncs += vbook_fail(b, problem, seq);
  if (f->ring) {
    BOT4_ALIGNED(BOT4_CACHELINE) bot4_tick_t t;
    status_record(&t, inst, f->parser->venue, recv_ns, seq);
    vpush(f, &t, 1);
  }
}

/* Coinbase: records applied run by run (one product's event each); the runs of books that are not
 * SYNCED afterwards leave the ring (a STATUS record instead where the book desynced on them). */
static uint32_t coinbase_apply(bot4_vfeed_t *f, bot4_tick_t *r, uint32_t n) {
  uint32_t w = 0, i = 0;
  while (i < n) {
    if (r[i].kind != BOT4_TICK_LEVEL || r[i].instrument >= f->nbooks || !f->books[r[i].instrument]) {
      if (w != i) r[w] = r[i];
      w++, i++;
      continue;
    }
    const uint32_t inst = r[i].instrument;
    uint32_t j = i + 1;
    while (j < n && r[j].kind == BOT4_TICK_LEVEL && r[j].instrument == inst) j++;
    const int32_t res = bot4_books_apply(f->books, f->nbooks, r + i, UINT32_MAX, 0, j - i);
    const bot4_book_t *b = f->books[inst];
    if (b->state == BOT4_BOOK_SYNCED) {
      if (w != i) memmove(&r[w], &r[i], (size_t)(j - i) * sizeof *r);
      w += j - i;
    } else if (res > 0) {
      f->resyncs += res;
      status_record(&r[w++], inst, f->parser->venue, r[i].ts_recv_ns, r[i].seq);
    }
    i = j;
  }
  return w;
}

/* The OKX book procedure for one parsed book push (records rec[0..n)), after which only what the
 * engine's book may take stays in rec: returns how many records to push. */
static uint32_t okx_book_step(bot4_vfeed_t *f, const uint8_t *buf, bot4_tick_t *rec, uint32_t n, uint64_t recv_ns) {
  const uint32_t inst = f->instrument;
  bot4_book_t *b = inst < f->nbooks ? f->books[inst] : NULL;
  if (!b || !f->okx) return n;
  bot4_okx_book_t *o = &f->okx->book[inst];
  const uint32_t *sp = f->okx->spans;
  const int snap = f->what == BOT4_VP_SNAPSHOT;
  const int64_t seq = f->okx_seq, prev = f->okx_prev;
  uint32_t problem = 0;
  if (snap) {
    okx_clear(o);
    int32_t res = n ? bot4_books_apply(f->books, f->nbooks, rec, UINT32_MAX, 0, n) : 0;
    if (!n) {
      bot4_book_reset(b); /* an empty snapshot: an empty book */
      b->snapshots++;
    }
    b->last_seq = seq >= 0 ? (uint64_t)seq : 0;
    if (res > 0) {
      f->resyncs += res;
      o->crossed++;
      goto status;
    }
  } else {
    if (b->state != BOT4_BOOK_SYNCED) {
      o->withheld++;
      return 0;
    }
    if (seq < 0 || prev == INT64_MIN || (uint64_t)prev != b->last_seq) {
      problem = BOT4_BOOK_GAP; /* counted in the book's gaps by vbook_fail */
      goto fail;
    }
    if (n == 0 && seq == prev) o->heartbeats++;
    else if (seq < prev) o->resets++;
    if (n) {
      const int32_t res = bot4_books_apply(f->books, f->nbooks, rec, UINT32_MAX, 0, n);
      if (res > 0) {
        f->resyncs += res;
        o->crossed++;
        okx_clear(o);
        goto status;
      }
    }
    b->last_seq = (uint64_t)seq;
    b->last_recv_ns = recv_ns;
  }
  /* the levels' received text, for the checksum */
  for (uint32_t i = 0; i < n; i++) {
    const uint32_t side = rec[i].flags & BOT4_FLAG_ASK ? 1 : 0;
    if (!okx_set(o, side, rec[i].price, rec[i].size, buf + sp[4 * i], sp[4 * i + 1], buf + sp[4 * i + 2], sp[4 * i + 3])) {
      problem = BOT4_BOOK_BAD_LEVEL; /* a text longer than a slot, or a side past its room */
      goto fail;
    }
  }
  if (f->okx_checksum_ok && f->okx_checksum != 0) {
    o->checked++;
    const int32_t got = okx_checksum(o);
    if (got != (int32_t)f->okx_checksum) {
      o->mismatches++;
      problem = BOT4_BOOK_CHECKSUM;
      goto fail;
    }
  } else {
    o->unchecked++;
  }
  return n;
fail:
  okx_clear(o);
  f->resyncs += vbook_fail(b, problem, seq >= 0 ? (uint64_t)seq : 0);
status:
  okx_clear(o);
  status_record(&rec[0], inst, f->parser->venue, recv_ns, seq >= 0 ? (uint64_t)seq : 0);
  return 1;
}

/* ---- Kraken spot v2 ------------------------------------------------------------------------ */

/* A bare number at p (digits, one '.') up to ',' or '}': its value and end; NULL on any other form. */
static inline const uint8_t *kr_quick_num(const uint8_t *p, const uint8_t *e, double *v) {
  plain_dec_t d;
  const uint8_t *q = plain_scan(p, e, &d);
  if (BOT4_UNLIKELY(q >= e || (*q != ',' && *q != '}') || !plain_exact(&d) || *p == '.')) return NULL;
  *v = (double)d.m / POW10[d.frac];
  return q;
}

/* A bare JSON number's span and value: digits with an optional fraction read in one pass, anything
 * else (exponent, sign) through the exact general conversion. NaN (and *bad) when it does not read. */
static inline double kr_number(cur_t *c, const uint8_t **s, uint32_t *n, int *bad) {
  ws(c);
  const uint8_t *b = c->p, *e = c->e;
  double v;
  const uint8_t *p = kr_quick_num(b, e, &v);
  if (BOT4_LIKELY(p != NULL)) {
    *s = b;
    *n = (uint32_t)(p - b);
    c->p = p;
    return v;
  }
  if (b < e && *b == '"') { /* v2 sends numbers, not strings */
    skip_value(c);
    *bad = 1;
    *s = NULL;
    *n = 0;
    return NAN;
  }
  token(c, s, n);
  if (c->bad) return NAN;
  v = decimal(*s, *n);
  if (!(v == v)) *bad = 1;
  return v;
}

/* The checksum digits of a decimal's text: integer and fraction digits, the fraction padded with
 * zeros to `prec`, leading zeros removed. -1 when the text is not a plain decimal. */
static inline int32_t kr_text_digits(const uint8_t *s, uint32_t n, uint32_t prec, uint8_t *out, uint32_t cap) {
  uint32_t w = 0, frac = 0;
  int dot = 0, lead = 1;
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t ch = s[i];
    if ((unsigned)(ch - '0') < 10) {
      frac += (uint32_t)dot;
      if (lead && ch == '0') continue;
      lead = 0;
      if (w >= cap) return -1;
      out[w++] = ch;
    } else if (ch == '.' && !dot) {
      dot = 1;
    } else {
      return -1;
    }
  }
  if (n == 0 || (n == 1 && dot)) return -1;
  if (!lead)
    for (; frac < prec; frac++) {
      if (w >= cap) return -1;
      out[w++] = '0';
    }
  return (int32_t)w;
}

/* The same digits from the value when its text is not a plain decimal (an exponent): x * 10^prec
 * rounded half up, exact while below 2^53. -1 otherwise. */
static int32_t kr_value_digits(double x, uint32_t prec, uint8_t *out, uint32_t cap) {
  if (prec > 22 || !(x >= 0)) return -1;
  const double v = x * POW10[prec];
  double r = floor(v);
  if (v - r >= 0.5) r += 1;
  if (!(r <= 9007199254740992.0)) return -1;
  uint64_t u = (uint64_t)r;
  uint8_t tmp[24];
  uint32_t k = 0;
  while (u) {
    tmp[k++] = (uint8_t)('0' + u % 10);
    u /= 10;
  }
  if (k > cap) return -1;
  for (uint32_t i = 0; i < k; i++) out[i] = tmp[k - 1 - i];
  return (int32_t)k;
}

BOT4_API int32_t bot4_kraken_digits(const uint8_t *s, uint32_t n, uint32_t prec, uint8_t *out) {
  return kr_text_digits(s, n, prec, out, BOT4_KR_DIGITS);
}

/* An RFC 3339 time as iso_ns reads it; the hour of the last one is kept (timestamps of a stream
 * share it), so most need only their minutes, seconds and fraction read. */
static inline int kr_iso(bot4_kraken_t *kr, const uint8_t *s, uint32_t n, uint64_t *out) {
  if (BOT4_LIKELY(kr && n >= 20 && n <= 30 && memcmp(s, kr->ts_key, 13) == 0 && s[13] == ':' && s[16] == ':' && s[n - 1] == 'Z')) {
    const unsigned m1 = (unsigned)(s[14] - '0'), m0 = (unsigned)(s[15] - '0'), s1 = (unsigned)(s[17] - '0'), s0 = (unsigned)(s[18] - '0');
    if (m1 > 5 || m0 > 9 || s1 > 6 || s0 > 9 || s1 * 10 + s0 > 60) return iso_ns(s, n, out);
    uint64_t frac = 0;
    if (n > 20) {
      if (s[19] != '.' || n < 22) return 0;
      uint32_t digits = 0;
      for (uint32_t i = 20; i < n - 1; i++) {
        const unsigned d = (unsigned)(s[i] - '0');
        if (d > 9) return 0;
        frac = frac * 10 + d;
        digits++;
      }
      for (; digits < 9; digits++) frac *= 10;
    }
    *out = kr->ts_base + (uint64_t)((m1 * 10 + m0) * 60 + s1 * 10 + s0) * 1000000000ull + frac;
    return 1;
  }
  if (!iso_ns(s, n, out)) return 0;
  if (kr) {
    uint8_t hour[20];
    memcpy(hour, s, 13);
    memcpy(hour + 13, ":00:00Z", 7);
    uint64_t base;
    if (iso_ns(hour, 20, &base)) {
      memcpy(kr->ts_key, s, 13);
      kr->ts_base = base;
    }
  }
  return 1;
}

enum { KR_NONE = 0, KR_BOOK = 1, KR_TRADE = 2, KR_HEARTBEAT = 3, KR_STATUS = 4, KR_OTHER = 5 };

typedef struct {
  int chan, type; /* type: 0 absent, 1 snapshot, 2 update, 3 other */
  int has_method, success; /* success: -1 absent, 0 false, 1 true */
  const uint8_t *data;
  int has_data;
  uint32_t lv;
  int bad;      /* trades: a value did not read */
  int unknown;  /* trades: an unregistered pair */
  int shape;    /* book: data is not an array */
  uint32_t inst;
} kraken_t;

static inline int kraken_channel(const uint8_t *s, uint32_t n) {
  if (lit(s, n, "book", 4)) return KR_BOOK;
  if (lit(s, n, "trade", 5)) return KR_TRADE;
  if (lit(s, n, "heartbeat", 9)) return KR_HEARTBEAT;
  if (lit(s, n, "status", 6)) return KR_STATUS;
  return KR_OTHER;
}

/* [{"price":p,"qty":q},...] into LEVEL records with `flags`, the texts' offsets into spans */
static void kr_levels(cur_t *c, kraken_t *k, const uint8_t *base, bot4_tick_t *out, uint32_t cap, uint32_t *spans, uint8_t flags, uint32_t *bad) {
  if (peek(c) != '[') {
    skip_value(c);
    *bad = 1;
    return;
  }
  c->p++;
  if (peek(c) == ']') {
    c->p++;
    return;
  }
  for (;;) {
    if (BOT4_UNLIKELY(k->lv >= cap)) {
      k->lv = UINT32_MAX;
      return;
    }
    double px = NAN, sz = NAN;
    const uint8_t *ps = NULL, *ss = NULL;
    uint32_t pn = 0, sn = 0;
    int b = 0;
    const uint8_t *q = CB_LIT(c->p, c->e, "{\"price\":");
    if (BOT4_LIKELY(q != NULL)) {
      /* the form Kraken sends: {"price":p,"qty":q} */
      c->p = q;
      px = kr_number(c, &ps, &pn, &b);
      if (c->bad) return;
      if (BOT4_LIKELY((q = CB_LIT(c->p, c->e, ",\"qty\":")) != NULL)) {
        c->p = q;
        sz = kr_number(c, &ss, &sn, &b);
        if (c->bad) return;
        if (!expect(c, '}')) return;
        goto level;
      }
      if (peek(c) == '}') {
        c->p++;
        b = 1;
        goto level;
      }
      if (!expect(c, ',')) return;
    } else {
      if (peek(c) != '{') {
        skip_value(c);
        b = 1;
        goto level;
      }
      c->p++;
      if (peek(c) == '}') {
        c->p++;
        b = 1;
        goto level;
      }
    }
    for (;;) {
      const uint8_t *key;
      uint32_t kn;
      if (!string(c, &key, &kn) || !expect(c, ':')) return;
      if (lit(key, kn, "price", 5)) px = kr_number(c, &ps, &pn, &b);
      else if (lit(key, kn, "qty", 3)) sz = kr_number(c, &ss, &sn, &b);
      else skip_value(c);
      if (BOT4_UNLIKELY(c->bad) || !obj_next(c)) break;
    }
  level:
    if (BOT4_UNLIKELY(c->bad)) return;
    if (b || !ps || !ss || !(px > 0) || !(sz >= 0) || px == INFINITY || sz == INFINITY) *bad = 1;
    const uint32_t i = k->lv++;
    bot4_tick_t *t = &out[i];
    t->price = px;
    t->size = sz;
    t->kind = BOT4_TICK_LEVEL;
    t->flags = flags;
    if (spans) {
      spans[4 * i] = ps ? (uint32_t)(ps - base) : 0;
      spans[4 * i + 1] = pn;
      spans[4 * i + 2] = ss ? (uint32_t)(ss - base) : 0;
      spans[4 * i + 3] = sn;
    }
    const int ch = peek(c);
    if (ch == ',') {
      c->p++;
      continue;
    }
    if (ch == ']') c->p++;
    else c->bad = 1;
    return;
  }
}

/* {"symbol":..,"bids":[..],"asks":[..],"checksum":n,"timestamp":".."}: records bids then asks (as
 * the normaliser writes them); the element's outcome in *el. */
static void kr_book_elem(cur_t *c, kraken_t *k, const bot4_parser_t *p, bot4_kraken_t *f_kr, const uint8_t *base, bot4_tick_t *out, uint32_t cap, uint32_t *spans, bot4_kr_elem_t *el) {
  const uint8_t *sym = NULL, *bids = NULL, *asks = NULL;
  int bids_done = 0, asks_done = 0;
  uint32_t sym_n = 0;
  uint64_t ts = 0;
  el->first = k->lv;
  el->bad = 0;
  el->checksum = -1;
  if (peek(c) != '{') {
    skip_value(c);
    el->bad = 1;
    el->end = k->lv;
    el->inst = UINT32_MAX;
    return;
  }
  c->p++;
  if (peek(c) == '}') c->p++;
  else
    for (;;) {
      const uint8_t *key, *s;
      uint32_t kn, n;
      if (!string(c, &key, &kn) || !expect(c, ':')) return;
      if (lit(key, kn, "bids", 4) && !bids) {
        ws(c);
        bids = c->p;
        kr_levels(c, k, base, out, cap, spans, 0, &el->bad);
        if (k->lv == UINT32_MAX) return;
        bids_done = 1;
      } else if (lit(key, kn, "asks", 4) && !asks) {
        ws(c);
        asks = c->p;
        if (bids_done) {
          kr_levels(c, k, base, out, cap, spans, BOT4_FLAG_ASK, &el->bad);
          if (k->lv == UINT32_MAX) return;
          asks_done = 1;
        } else skip_value(c); /* asks before bids: read after them, in the normaliser's order */
      } else if (lit(key, kn, "symbol", 6) && peek(c) == '"') {
        string(c, &sym, &sym_n);
      } else if (lit(key, kn, "checksum", 8)) {
        uint64_t v;
        ws(c);
        const int num = c->p < c->e && (unsigned)(*c->p - '0') < 10;
        if (num && read_uint(c, &v) && v <= 0xffffffffull) el->checksum = (int64_t)v;
        else {
          if (!num) skip_value(c);
          el->bad = 1;
        }
      } else if (lit(key, kn, "timestamp", 9)) {
        if (peek(c) == '"' && string(c, &s, &n)) {
          if (!kr_iso(f_kr, s, n, &ts)) el->bad = 1;
        } else {
          skip_value(c);
          el->bad = 1;
        }
      } else skip_value(c);
      if (BOT4_UNLIKELY(c->bad) || !obj_next(c)) break;
    }
  if (c->bad) return;
  if (!sym || !bids || !asks) el->bad = 1;
  if (asks && !asks_done) {
    cur_t d = {asks, c->e, 0};
    kr_levels(&d, k, base, out, cap, spans, BOT4_FLAG_ASK, &el->bad);
    if (k->lv == UINT32_MAX) return;
    if (d.bad) c->bad = 1;
  }
  el->end = k->lv;
  const int64_t id = sym ? lookup(p, sym, sym_n) : -1;
  el->inst = id >= 0 ? (uint32_t)id : UINT32_MAX;
  for (uint32_t i = el->first; i < el->end; i++) {
    out[i].ts_exchange_ns = ts;
    out[i].instrument = el->inst;
  }
}

/* {"symbol":..,"side":"buy"|"sell","price":p,"qty":q,"ord_type":..,"trade_id":n,"timestamp":".."} */
static void kr_trade(cur_t *c, kraken_t *k, const bot4_parser_t *p, bot4_kraken_t *f_kr, bot4_tick_t *t, const uint8_t **last, uint32_t *last_n) {
  double px = NAN, sz = NAN;
  uint64_t ts = 0, id = 0;
  int side = -1, has_t = 0, b = 0;
  const uint8_t *sym = NULL;
  uint32_t sym_n = 0;
  if (!expect(c, '{')) return;
  if (peek(c) == '}') c->p++;
  else
    for (;;) {
      const uint8_t *key, *s;
      uint32_t kn, n;
      if (!string(c, &key, &kn) || !expect(c, ':')) return;
      if (lit(key, kn, "price", 5)) px = kr_number(c, &s, &n, &b);
      else if (lit(key, kn, "qty", 3)) sz = kr_number(c, &s, &n, &b);
      else if (lit(key, kn, "side", 4) && peek(c) == '"') {
        if (string(c, &s, &n)) side = lit(s, n, "buy", 3) ? 0 : lit(s, n, "sell", 4) ? 1 : -1;
      } else if (lit(key, kn, "timestamp", 9) && peek(c) == '"') {
        if (string(c, &s, &n)) has_t = kr_iso(f_kr, s, n, &ts);
      } else if (lit(key, kn, "symbol", 6) && peek(c) == '"') {
        string(c, &sym, &sym_n);
      } else if (lit(key, kn, "trade_id", 8)) {
        /* a safe integer becomes seq; anything else 0 */
        ws(c);
        if (!(c->p < c->e && (unsigned)(*c->p - '0') < 10)) {
          skip_value(c);
          id = 0;
        } else if (!read_uint(c, &id) || id > (1ull << 53) - 1) {
          id = 0;
        }
      } else skip_value(c);
      if (BOT4_UNLIKELY(c->bad) || !obj_next(c)) break;
    }
  if (b || !sym || side < 0 || !has_t || !(px > 0) || !(sz > 0) || px == INFINITY || sz == INFINITY) k->bad = 1;
  if (sym && !(*last && *last_n == sym_n && memcmp(*last, sym, sym_n) == 0)) {
    const int64_t i = lookup(p, sym, sym_n);
    if (i < 0) k->unknown = 1;
    else k->inst = (uint32_t)i;
    *last = sym;
    *last_n = sym_n;
  }
  t->ts_exchange_ns = ts;
  t->price = px;
  t->size = sz;
  t->seq = id;
  t->instrument = k->inst;
  t->kind = BOT4_TICK_TRADE;
  t->flags = side == 1 ? BOT4_FLAG_SELL : 0;
}

static void kraken_data(cur_t *c, kraken_t *k, bot4_vfeed_t *f, const uint8_t *base, bot4_tick_t *out, uint32_t cap) {
  const bot4_parser_t *p = f->parser;
  k->has_data = 1;
  if (k->chan != KR_BOOK && k->chan != KR_TRADE) {
    skip_value(c);
    return;
  }
  if (peek(c) != '[') {
    skip_value(c);
    k->shape = 1;
    return;
  }
  c->p++;
  if (peek(c) == ']') {
    c->p++;
    return;
  }
  bot4_kraken_t *kr = f->kraken;
  uint32_t *spans = kr ? kr->spans : NULL;
  const uint8_t *last = NULL;
  uint32_t last_n = 0;
  uint32_t ne = 0;
  for (;;) {
    if (k->chan == KR_TRADE) {
      if (BOT4_UNLIKELY(k->lv >= cap)) {
        k->lv = UINT32_MAX;
        return;
      }
      kr_trade(c, k, p, kr, &out[k->lv++], &last, &last_n);
    } else {
      if (BOT4_UNLIKELY(ne >= BOT4_KR_ELEMS)) {
        k->lv = UINT32_MAX;
        return;
      }
      bot4_kr_elem_t scratch_el, *el = kr ? &kr->elem[ne] : &scratch_el;
      kr_book_elem(c, k, p, kr, base, out, cap, spans, el);
      ne++;
      if (kr) kr->nelem = ne;
    }
    if (k->lv == UINT32_MAX || c->bad) return;
    const int ch = peek(c);
    if (ch == ',') {
      c->p++;
      continue;
    }
    if (ch == ']') c->p++;
    else c->bad = 1;
    return;
  }
}

/* The form Kraken sends a book message in, compact and in its key order, read in one pass:
 * {"channel":"book","type":"snapshot"|"update","data":[{"symbol":"..","bids":[{"price":p,"qty":q},..],
 * "asks":[..],"checksum":n,"timestamp":".."},..]}. 0 (nothing decided) on any other form: the general
 * reader then reads the frame from its start. */
static int kraken_fast_book(bot4_vfeed_t *f, kraken_t *k, const uint8_t *buf, uint32_t len, bot4_tick_t *out, uint32_t cap) {
  bot4_kraken_t *kr = f->kraken;
  if (!kr) return 0;
  const uint8_t *p = buf, *e = buf + len;
  const uint8_t *q = CB_LIT(p, e, "{\"channel\":\"book\",\"type\":\"");
  if (!q) return 0;
  if (CB_LIT(q, e, "update\"")) k->type = 2, q += 7;
  else if (CB_LIT(q, e, "snapshot\"")) k->type = 1, q += 9;
  else return 0;
  if (!(q = CB_LIT(q, e, ",\"data\":["))) return 0;
  const bot4_parser_t *ps = f->parser;
  uint32_t *spans = kr->spans;
  uint32_t ne = 0, lv = 0;
  for (;;) {
    if (ne >= BOT4_KR_ELEMS || !(q = CB_LIT(q, e, "{\"symbol\":\""))) return 0;
    const uint8_t *sym = q;
    while (q < e && *q != '"' && *q != '\\') q++;
    if (q >= e || *q != '"') return 0;
    const uint32_t sym_n = (uint32_t)(q - sym);
    bot4_kr_elem_t *el = &kr->elem[ne];
    el->first = lv;
    el->bad = 0;
    for (int side = 0; side < 2; side++) {
      /* bids after the symbol's closing quote, asks after the bids' ']' */
      if (!(q = side == 0 ? CB_LIT(q + 1, e, ",\"bids\":[") : CB_LIT(q, e, ",\"asks\":["))) return 0;
      if (q < e && *q == ']') {
        q++;
        continue;
      }
      for (;;) {
        if (lv >= cap || !(q = CB_LIT(q, e, "{\"price\":"))) return 0;
        double px, sz;
        const uint8_t *pb = q;
        if (!(q = kr_quick_num(q, e, &px))) return 0;
        const uint8_t *pe = q;
        if (!(q = CB_LIT(q, e, ",\"qty\":"))) return 0;
        const uint8_t *sb = q;
        if (!(q = kr_quick_num(q, e, &sz)) || *q != '}') return 0;
        if (!(px > 0)) el->bad = 1;
        bot4_tick_t *t = &out[lv];
        t->price = px;
        t->size = sz;
        t->kind = BOT4_TICK_LEVEL;
        t->flags = side ? BOT4_FLAG_ASK : 0;
        spans[4 * lv] = (uint32_t)(pb - buf);
        spans[4 * lv + 1] = (uint32_t)(pe - pb);
        spans[4 * lv + 2] = (uint32_t)(sb - buf);
        spans[4 * lv + 3] = (uint32_t)(q - sb);
        lv++;
        q++;
        if (q < e && *q == ',') {
          q++;
          continue;
        }
        if (q < e && *q == ']') break;
        return 0;
      }
      q++; /* past the side's ']' */
    }
    if (!(q = CB_LIT(q, e, ",\"checksum\":"))) return 0;
    uint64_t cs = 0;
    const uint8_t *cb = q;
    while (q < e && (unsigned)(*q - '0') < 10 && q - cb < 11) cs = cs * 10 + (unsigned)(*q++ - '0');
    if (q == cb || q - cb > 10 || cs > 0xffffffffull) return 0;
    if (!(q = CB_LIT(q, e, ",\"timestamp\":\""))) return 0;
    const uint8_t *tb = q;
    q = e - tb > 20 ? tb + 19 : tb; /* an RFC 3339 time has 20 characters at least */
    while (q < e && *q != '"' && q - tb < 32) q++;
    uint64_t ts;
    if (q >= e || *q != '"' || !kr_iso(kr, tb, (uint32_t)(q - tb), &ts)) return 0;
    if (!(q = CB_LIT(q + 1, e, "}"))) return 0;
    el->end = lv;
    el->checksum = (int64_t)cs;
    const int64_t id = lookup(ps, sym, sym_n);
    el->inst = id >= 0 ? (uint32_t)id : UINT32_MAX;
    for (uint32_t i = el->first; i < lv; i++) {
      out[i].ts_exchange_ns = ts;
      out[i].instrument = el->inst;
    }
    ne++;
    if (q < e && *q == ',') {
      q++;
      continue;
    }
    if (!(q = CB_LIT(q, e, "]}")) || q != e) return 0;
    break;
  }
  kr->nelem = ne;
  k->chan = KR_BOOK;
  k->has_data = 1;
  k->lv = lv;
  return 1;
}

static int32_t kraken_parse(bot4_vfeed_t *f, const uint8_t *buf, uint32_t len, uint64_t recv_ns, bot4_tick_t *out, uint32_t cap) {
  bot4_parser_t *p = f->parser;
  kraken_t k;
  memset(&k, 0, sizeof k);
  k.success = -1;
  k.inst = UINT32_MAX;
  if (f->kraken) {
    f->kraken->nelem = 0;
    if (cap > BOT4_KR_SPANS) cap = BOT4_KR_SPANS;
  }
  if (BOT4_LIKELY(kraken_fast_book(f, &k, buf, len, out, cap))) goto decided;
  k.type = 0;
  if (f->kraken) f->kraken->nelem = 0;
  cur_t c = {buf, buf + len, 0};
  if (!expect(&c, '{')) return bot4_parse_fail(p, BOT4_PARSE_MALFORMED);
  if (peek(&c) == '}') c.p++;
  else
    for (;;) {
      const uint8_t *key, *s;
      uint32_t kn, n;
      if (!string(&c, &key, &kn) || !expect(&c, ':')) break;
      if (lit(key, kn, "channel", 7)) {
        if (peek(&c) == '"' && string(&c, &s, &n)) k.chan = kraken_channel(s, n);
        else skip_value(&c);
      } else if (lit(key, kn, "data", 4)) {
        if (k.chan) kraken_data(&c, &k, f, buf, out, cap);
        else {
          ws(&c);
          k.data = c.p;
          k.has_data = 1;
          skip_value(&c);
        }
        if (k.lv == UINT32_MAX) return bot4_parse_fail(p, BOT4_PARSE_TOO_MANY);
      } else if (lit(key, kn, "type", 4)) {
        if (peek(&c) == '"' && string(&c, &s, &n)) k.type = lit(s, n, "snapshot", 8) ? 1 : lit(s, n, "update", 6) ? 2 : 3;
        else skip_value(&c);
      } else if (lit(key, kn, "method", 6)) {
        k.has_method = peek(&c) == '"';
        skip_value(&c);
      } else if (lit(key, kn, "success", 7)) {
        const int ch = peek(&c);
        if (ch == 't' || ch == 'f') k.success = ch == 't';
        skip_value(&c);
      } else skip_value(&c);
      if (BOT4_UNLIKELY(c.bad) || !obj_next(&c)) break;
    }
  if (BOT4_UNLIKELY(c.bad || peek(&c) >= 0)) return bot4_parse_fail(p, BOT4_PARSE_MALFORMED);
  if (BOT4_UNLIKELY(k.data && k.chan)) {
    cur_t d = {k.data, buf + len, 0};
    kraken_data(&d, &k, f, buf, out, cap);
    if (k.lv == UINT32_MAX) return bot4_parse_fail(p, BOT4_PARSE_TOO_MANY);
    if (d.bad) return bot4_parse_fail(p, BOT4_PARSE_MALFORMED);
  }
decided:
  switch (k.chan) {
  case KR_NONE:
    if (k.has_method) {
      f->what = BOT4_VP_REPLY;
      return bot4_parse_fail(p, k.success == 0 ? BOT4_PARSE_VENUE_ERROR : BOT4_PARSE_CONTROL);
    }
    return bot4_parse_fail(p, BOT4_PARSE_UNKNOWN_TYPE);
  case KR_HEARTBEAT: f->what = BOT4_VP_HEARTBEAT; return bot4_parse_fail(p, BOT4_PARSE_CONTROL);
  case KR_STATUS: f->what = BOT4_VP_STATUS; return bot4_parse_fail(p, BOT4_PARSE_CONTROL);
  case KR_OTHER: return bot4_parse_fail(p, BOT4_PARSE_UNKNOWN_TYPE);
  default: break;
  }
  const uint16_t venue = p->venue;
  const uint32_t n = k.lv;
  if (k.chan == KR_TRADE) {
    f->what = BOT4_VP_TRADES;
    if (!k.has_data || k.shape || (k.type != 1 && k.type != 2)) return bot4_parse_fail(p, BOT4_PARSE_MISSING);
    f->instrument = k.inst;
    if (k.bad) return bot4_parse_fail(p, BOT4_PARSE_MISSING);
    if (k.unknown) return bot4_parse_fail(p, BOT4_PARSE_UNKNOWN_SYMBOL);
    for (uint32_t i = 0; i < n; i++) {
      bot4_tick_t *t = &out[i];
      t->ts_recv_ns = recv_ns;
      t->price2 = 0;
      t->size2 = 0;
      t->venue = venue;
    }
    if (n) out[n - 1].flags |= BOT4_FLAG_LAST;
    p->trades += n;
    p->last_status = (int32_t)n;
    return (int32_t)n;
  }
  /* book: the verdict per element is the book step's (bot4_vfeed_frame) */
  f->what = k.type == 1 ? BOT4_VP_SNAPSHOT : BOT4_VP_DELTA;
  if (!k.has_data || k.shape || (k.type != 1 && k.type != 2)) return bot4_parse_fail(p, BOT4_PARSE_MISSING);
  const uint8_t snap = k.type == 1 ? BOT4_FLAG_SNAPSHOT : 0;
  for (uint32_t i = 0; i < n; i++) {
    bot4_tick_t *t = &out[i];
    t->ts_recv_ns = recv_ns;
    t->price2 = 0;
    t->size2 = 0;
    t->seq = 0;
    t->venue = venue;
    t->flags |= snap;
  }
  if (n) out[n - 1].flags |= BOT4_FLAG_LAST;
  if (snap) p->snapshots++;
  else p->depth++;
  p->levels += n;
  p->last_status = (int32_t)n;
  return (int32_t)n;
}

/* -- the book -- */

static inline bot4_kr_level_t *kr_side(bot4_kraken_book_t *b, uint32_t s) { return b->lv[s] + b->head[s]; }

static void kr_clear(bot4_kraken_book_t *b, uint32_t lim) {
  b->dirty = 1;
  b->n[0] = b->n[1] = 0;
  b->head[0] = b->head[1] = lim; /* the middle of each side's array: room both ways */
  (void)lim;
  b->nfree = b->nused = 0;
}

static inline void kr_remove(bot4_kraken_book_t *b, uint32_t s, uint32_t i) {
  bot4_kr_level_t *l = kr_side(b, s);
  const uint32_t n = b->n[s];
  b->freel[b->nfree++] = l[i].tx;
  if (n - 1 - i < BOT4_KR_CHECK_LEVELS) b->dirty = 1;
  if (i < n - 1 - i) { /* the worse part moves up one, the head with it */
    memmove(l + 1, l, (size_t)i * sizeof *l);
    b->head[s]++;
  } else {
    memmove(&l[i], &l[i + 1], (size_t)(n - i - 1) * sizeof *l);
  }
  b->n[s]--;
}

/* first index whose key is >= key (levels ascending by key) */
static inline uint32_t kr_find(const bot4_kr_level_t *l, uint32_t n, double key) {
  /* updates cluster at the top; a snapshot comes best first, each level below the others */
  if (n && key >= l[n - 1].key) return key > l[n - 1].key ? n : n - 1;
  if (n && key < l[0].key) return 0;
  uint32_t lo = 0, hi = n;
  while (lo < hi) {
    const uint32_t mid = (lo + hi) >> 1;
    if (l[mid].key < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* One level of a message (size 0 removes); the qty text's digits replace the level's. 0 when a
 * text does not give digits. */
static int kr_set(bot4_kraken_book_t *b, const bot4_kraken_t *kr, uint32_t s, double price, double size, const uint8_t *ps, uint32_t pn, const uint8_t *ss, uint32_t sn) {
  const double key = s ? -price : price;
  bot4_kr_level_t *l = kr_side(b, s);
  uint32_t n = b->n[s];
  uint32_t i = kr_find(l, n, key);
  if (i < n && l[i].key == key) {
    if (size == 0) {
      kr_remove(b, s, i);
      return 1;
    }
    bot4_kr_text_t *t = &b->tx[l[i].tx];
    int32_t w = kr_text_digits(ss, sn, b->qprec, t->s, sizeof t->s);
    if (BOT4_UNLIKELY(w < 0)) w = kr_value_digits(size, b->qprec, t->s, sizeof t->s);
    if (w < 0) return 0;
    t->slen = (uint8_t)w;
    l[i].size = size;
    if (n - 1 - i < BOT4_KR_CHECK_LEVELS) b->dirty = 1;
    return 1;
  }
  if (size == 0) return 1; /* a level the book does not hold */
  if (BOT4_UNLIKELY(n >= kr->lim)) {
    /* full: a level worse than all is out of scope; a better one displaces the worst */
    if (i == 0) {
      b->truncated++;
      return 1;
    }
    kr_remove(b, s, 0);
    b->truncated++;
    l = kr_side(b, s);
    n--;
    i--;
  }
  /* the side moves its smaller part: the worse levels down (the head moves) or the better ones up */
  const int down = i < n - i;
  if (BOT4_UNLIKELY(down ? b->head[s] == 0 : b->head[s] + n >= kr->cap)) {
    /* no room that way: centre the side in its array */
    const uint32_t h = (kr->cap - n) / 2;
    memmove(b->lv[s] + h, l, (size_t)n * sizeof *l);
    b->head[s] = h;
    l = b->lv[s] + h;
  }
  const uint32_t tx = b->nfree ? b->freel[--b->nfree] : b->nused++;
  bot4_kr_text_t *t = &b->tx[tx];
  int32_t pw = kr_text_digits(ps, pn, b->pprec, t->p, sizeof t->p);
  if (BOT4_UNLIKELY(pw < 0)) pw = kr_value_digits(price, b->pprec, t->p, sizeof t->p);
  int32_t sw = kr_text_digits(ss, sn, b->qprec, t->s, sizeof t->s);
  if (BOT4_UNLIKELY(sw < 0)) sw = kr_value_digits(size, b->qprec, t->s, sizeof t->s);
  if (pw < 0 || sw < 0) {
    b->freel[b->nfree++] = tx;
    return 0;
  }
  t->plen = (uint8_t)pw;
  t->slen = (uint8_t)sw;
  if (down) {
    memmove(l - 1, l, (size_t)i * sizeof *l);
    b->head[s]--;
    l--;
  } else if (i < n) {
    memmove(&l[i + 1], &l[i], (size_t)(n - i) * sizeof *l);
  }
  l[i].key = key;
  l[i].size = size;
  l[i].tx = tx;
  b->n[s] = n + 1;
  if (n - i < BOT4_KR_CHECK_LEVELS) b->dirty = 1;
  return 1;
}

static void kr_truncate(bot4_kraken_book_t *b, uint32_t depth) {
  for (uint32_t s = 0; s < 2; s++)
    while (b->n[s] > depth) {
      b->freel[b->nfree++] = kr_side(b, s)[0].tx;
      b->head[s]++;
      b->n[s]--;
      b->truncated++;
    }
}

/* Kraken's checksum of the book; computed again only when a top-10 level changed since the last
 * time (updates deep in a 1000-level book leave it as it was). */
static uint32_t kr_checksum(bot4_kraken_book_t *b) {
  if (!b->dirty) return (uint32_t)b->crc;
  uint8_t text[2 * BOT4_KR_CHECK_LEVELS * (2 * BOT4_KR_DIGITS + 2) + 64];
  uint32_t w = 0;
  for (int s = 1; s >= 0; s--) { /* asks low to high, then bids high to low: best first both */
    const bot4_kr_level_t *l = kr_side(b, (uint32_t)s);
    const uint32_t n = b->n[s], m = n < BOT4_KR_CHECK_LEVELS ? n : BOT4_KR_CHECK_LEVELS;
    for (uint32_t i = 0; i < m; i++) {
      const bot4_kr_text_t *t = &b->tx[l[n - 1 - i].tx];
      memcpy(text + w, t->p, sizeof t->p); /* whole fields: the lengths below keep what counts */
      w += t->plen;
      memcpy(text + w, t->s, sizeof t->s);
      w += t->slen;
    }
  }
  b->crc = okx_crc32(text, w);
  b->dirty = 0;
  return (uint32_t)b->crc;
}

static inline int kr_crossed(bot4_kraken_book_t *b) {
  if (!b->n[0] || !b->n[1]) return 0;
  return kr_side(b, 0)[b->n[0] - 1].key >= -kr_side(b, 1)[b->n[1] - 1].key;
}

static void kr_fail(bot4_kraken_book_t *b, const bot4_kraken_t *kr, uint32_t problem) {
  kr_clear(b, kr->lim);
  b->state = BOT4_BOOK_NEED_SNAPSHOT;
  b->problem = problem;
  b->flags |= BOT4_KR_RESYNC;
  b->resyncs++;
}

/* Kraken's procedure for each data element of a parsed book frame (records rec[0..n)); what the
 * engine's book may take stays in rec, compacted: returns how many records to push. */
static uint32_t kraken_book_step(bot4_vfeed_t *f, const uint8_t *buf, bot4_tick_t *rec, uint32_t n, uint64_t recv_ns) {
  bot4_kraken_t *kr = f->kraken;
  const uint32_t *sp = kr->spans;
  const int snap = f->what == BOT4_VP_SNAPSHOT;
  uint32_t w = 0;
  (void)n;
  for (uint32_t e = 0; e < kr->nelem; e++) {
    const bot4_kr_elem_t *el = &kr->elem[e];
    if (el->inst >= kr->nbooks || !kr->book[el->inst].configured) {
      kr->unknown++;
      continue;
    }
    bot4_kraken_book_t *b = &kr->book[el->inst];
    f->instrument = el->inst;
    uint32_t problem = 0;
    if (!snap) {
      b->updates++;
      if (b->state != BOT4_BOOK_SYNCED) {
        b->skipped++;
        if (el->bad) b->malformed++;
        continue;
      }
    } else {
      kr_clear(b, kr->lim);
    }
    if (el->bad) {
      b->malformed++;
      problem = BOT4_BOOK_BAD_LEVEL;
      goto fail;
    }
    for (uint32_t i = el->first; i < el->end; i++) {
      const bot4_tick_t *t = &rec[i];
      if (snap && t->size == 0) continue;
      if (!kr_set(b, kr, t->flags & BOT4_FLAG_ASK ? 1 : 0, t->price, t->size, buf + sp[4 * i], sp[4 * i + 1], buf + sp[4 * i + 2], sp[4 * i + 3])) {
        b->malformed++;
        problem = BOT4_BOOK_BAD_LEVEL;
        goto fail;
      }
    }
    b->levels += el->end - el->first;
    kr_truncate(b, kr->depth);
    if (kr_crossed(b)) {
      b->crossed++;
      problem = BOT4_BOOK_CROSSED;
      goto fail;
    }
    if (el->checksum >= 0) {
      b->checked++;
      const uint32_t got = kr_checksum(b);
      if (got != (uint32_t)el->checksum) {
        b->mismatches++;
        b->last_venue = (uint64_t)el->checksum;
        b->last_book = got;
        problem = BOT4_BOOK_CHECKSUM;
        goto fail;
      }
    } else {
      b->missing++;
    }
    if (snap) {
      b->state = BOT4_BOOK_SYNCED;
      b->snapshots++;
      b->flags |= BOT4_KR_SNAPPED;
    } else {
      b->applied++;
    }
    if (w != el->first) memmove(&rec[w], &rec[el->first], (size_t)(el->end - el->first) * sizeof *rec);
    w += el->end - el->first;
    continue;
  fail:
    kr_fail(b, kr, problem);
    f->resyncs++;
    status_record(&rec[w++], el->inst, f->parser->venue, recv_ns, 0);
  }
  if (w) rec[w - 1].flags |= BOT4_FLAG_LAST;
  return w;
}

BOT4_API uint64_t bot4_kraken_bytes(uint32_t nbooks, uint32_t depth) {
  const uint64_t lim = (uint64_t)depth + BOT4_KR_SLACK, cap = 2 * lim;
  const uint64_t per = 2 * cap * sizeof(bot4_kr_level_t) + 2 * lim * sizeof(bot4_kr_text_t) + ((2 * lim * 4 + 63) & ~63ull);
  return sizeof(bot4_kraken_t) + (uint64_t)nbooks * (sizeof(bot4_kraken_book_t) + per);
}

BOT4_API int32_t bot4_vfeed_kraken(bot4_vfeed_t *f, bot4_kraken_t *mem, uint32_t nbooks, uint32_t depth) {
  if (f->venue_kind != BOT4_VP_KRAKEN || !mem || ((uintptr_t)mem & (BOT4_CACHELINE - 1)) || depth < BOT4_KR_CHECK_LEVELS || depth > 100000) return -1;
  memset(mem, 0, bot4_kraken_bytes(nbooks, depth));
  if (!okx_crc_ready) okx_crc_init();
  mem->nbooks = nbooks;
  mem->depth = depth;
  mem->lim = depth + BOT4_KR_SLACK;
  mem->cap = 2 * mem->lim;
  uint8_t *at = (uint8_t *)&mem->book[nbooks];
  for (uint32_t i = 0; i < nbooks; i++) {
    bot4_kraken_book_t *b = &mem->book[i];
    for (uint32_t s = 0; s < 2; s++) {
      b->lv[s] = (bot4_kr_level_t *)at;
      at += (uint64_t)mem->cap * sizeof(bot4_kr_level_t);
    }
    b->tx = (bot4_kr_text_t *)at;
    at += 2ull * mem->lim * sizeof(bot4_kr_text_t);
    b->freel = (uint32_t *)at;
    at += (2ull * mem->lim * 4 + 63) & ~63ull;
    kr_clear(b, mem->lim);
    b->state = BOT4_BOOK_NEED_SNAPSHOT;
  }
  f->kraken = mem;
  return 0;
}

BOT4_API int32_t bot4_vfeed_kraken_pair(bot4_vfeed_t *f, uint32_t instrument, uint32_t price_precision, uint32_t qty_precision) {
  if (!f->kraken || instrument >= f->kraken->nbooks || price_precision > 18 || qty_precision > 18) return -1;
  bot4_kraken_book_t *b = &f->kraken->book[instrument];
  b->pprec = price_precision;
  b->qprec = qty_precision;
  b->configured = 1;
  return 0;
}

BOT4_API uint32_t bot4_kraken_levels(bot4_vfeed_t *f, uint32_t instrument, uint32_t side, double *out, uint32_t n) {
  if (!f->kraken || instrument >= f->kraken->nbooks) return 0;
  bot4_kraken_book_t *b = &f->kraken->book[instrument];
  side &= 1;
  const bot4_kr_level_t *l = kr_side(b, side);
  const uint32_t have = b->n[side], m = have < n ? have : n;
  for (uint32_t i = 0; i < m; i++) {
    out[2 * i] = side ? -l[have - 1 - i].key : l[have - 1 - i].key;
    out[2 * i + 1] = l[have - 1 - i].size;
  }
  return m;
}

BOT4_API uint32_t bot4_kraken_checksum(bot4_vfeed_t *f, uint32_t instrument) {
  if (!f->kraken || instrument >= f->kraken->nbooks) return 0;
  return kr_checksum(&f->kraken->book[instrument]);
}

static int32_t vfeed_frame(bot4_vfeed_t *f, const uint8_t *buf, uint32_t len, uint64_t recv_ns);

BOT4_API int32_t bot4_vfeed_frame(bot4_vfeed_t *f, const uint8_t *buf, uint32_t len, double recv_ns) {
  return vfeed_frame(f, buf, len, bot4_ns_of(recv_ns));
}

static int32_t vfeed_frame(bot4_vfeed_t *f, const uint8_t *buf, uint32_t len, uint64_t recv_ns) {
  bot4_tick_t *const rec = f->scratch;
  const int32_t n = vparse(f, buf, len, recv_ns, rec, f->scratch_cap);
  if (f->venue_kind == BOT4_VP_COINBASE) {
    if (BOT4_UNLIKELY(f->gap)) /* sequence_num is connection-wide: no book can be trusted */
      for (uint32_t i = 0; i < f->nbooks; i++) vfail_book(f, i, BOT4_BOOK_GAP, f->seq_last, recv_ns);
    if (BOT4_UNLIKELY(n == BOT4_PARSE_MISSING && f->instrument != UINT32_MAX))
      vfail_book(f, f->instrument, BOT4_BOOK_BAD_LEVEL, f->seq_last, recv_ns);
    if (n <= 0) return n;
    const uint32_t m = f->nbooks && (f->what == BOT4_VP_DELTA || f->what == BOT4_VP_SNAPSHOT) ? coinbase_apply(f, rec, (uint32_t)n) : (uint32_t)n;
    if (f->ring && m) vpush(f, rec, m);
    return n;
  }
  if (f->venue_kind == BOT4_VP_OKX) {
    if (BOT4_UNLIKELY(n == BOT4_PARSE_MISSING && f->what == BOT4_VP_DELTA && f->instrument != UINT32_MAX)) {
      if (f->okx && f->instrument < f->nbooks) okx_clear(&f->okx->book[f->instrument]);
      vfail_book(f, f->instrument, BOT4_BOOK_BAD_LEVEL, 0, recv_ns);
    }
    if (n < 0) return n;
    const uint32_t m = f->nbooks && (f->what == BOT4_VP_DELTA || f->what == BOT4_VP_SNAPSHOT) ? okx_book_step(f, buf, rec, (uint32_t)n, recv_ns) : (uint32_t)n;
    if (f->ring && m) vpush(f, rec, m);
    return n;
  }
  if (f->venue_kind == BOT4_VP_KRAKEN) {
    if (n < 0) return n;
    const uint32_t m = f->kraken && (f->what == BOT4_VP_DELTA || f->what == BOT4_VP_SNAPSHOT) ? kraken_book_step(f, buf, rec, (uint32_t)n, recv_ns) : (uint32_t)n;
    if (f->ring && m) vpush(f, rec, m);
    return n;
  }
  if (n <= 0) return n;
  if (f->nbooks && (f->what == BOT4_VP_DELTA || f->what == BOT4_VP_SNAPSHOT)) f->resyncs = bot4_books_apply(f->books, f->nbooks, rec, UINT32_MAX, 0, (uint32_t)n);
  if (f->ring) vpush(f, rec, (uint32_t)n);
  return n;
}

BOT4_API int32_t bot4_vfeed_frame_now(bot4_vfeed_t *f, const uint8_t *buf, uint32_t len) {
  return vfeed_frame(f, buf, len, bot4_clock_now_ns());
}

BOT4_API int32_t bot4_vfeed_fail(bot4_vfeed_t *f, uint32_t instrument, uint64_t recv_ns) {
  if (f->kraken) {
    if (instrument >= f->kraken->nbooks || !f->kraken->book[instrument].configured) return 0;
    f->pushed = 0;
    f->resyncs = 1;
    kr_fail(&f->kraken->book[instrument], f->kraken, BOT4_BOOK_INTERRUPTED);
    if (f->ring) {
      BOT4_ALIGNED(BOT4_CACHELINE) bot4_tick_t t;
      status_record(&t, instrument, f->parser->venue, recv_ns, 0);
      vpush(f, &t, 1);
    }
    return 1;
  }
  if (instrument >= f->nbooks || !f->books[instrument]) return 0;
  f->pushed = 0;
  f->resyncs = 0;
  vfail_book(f, instrument, BOT4_BOOK_INTERRUPTED, f->seq_last, recv_ns);
  return 1;
}

BOT4_API uint64_t bot4_okx_bytes(uint32_t nbooks) { return sizeof(bot4_okx_t) + (uint64_t)nbooks * sizeof(bot4_okx_book_t); }

BOT4_API int32_t bot4_vfeed_okx(bot4_vfeed_t *f, bot4_okx_t *mem, uint32_t nbooks) {
  if (f->venue_kind != BOT4_VP_OKX || !mem || ((uintptr_t)mem & (BOT4_CACHELINE - 1)) || nbooks < f->nbooks) return -1;
  memset(mem, 0, bot4_okx_bytes(nbooks));
  if (!okx_crc_ready) okx_crc_init();
  for (uint32_t i = 0; i < nbooks; i++) okx_clear(&mem->book[i]);
  f->okx = mem;
  return 0;
}

BOT4_API int32_t bot4_vfeed_okx_checksum(bot4_vfeed_t *f, uint32_t instrument) {
  if (!f->okx || instrument >= f->nbooks || !f->books[instrument]) return 0;
  return okx_checksum(&f->okx->book[instrument]);
}

BOT4_API int32_t bot4_vfeed_frames(bot4_vfeed_t *f, const uint8_t *buf, const uint32_t *offs, uint32_t n,
                                   const uint64_t *recv_ns) {
  int32_t w = 0;
  for (uint32_t i = 0; i < n; i++) {
    const int32_t r = vfeed_frame(f, buf + offs[i], offs[i + 1] - offs[i], recv_ns[i]);
    if (r > 0) w += r;
  }
  return w;
}

BOT4_API int bot4_layout_vparse(char *buf, int cap) {
  int n = 0;
  BOT4_L_SIZE(bot4_vfeed_t);
  BOT4_L_OFF(bot4_vfeed_t, status);
  BOT4_L_OFF(bot4_vfeed_t, resyncs);
  BOT4_L_OFF(bot4_vfeed_t, instrument);
  BOT4_L_OFF(bot4_vfeed_t, what);
  BOT4_L_OFF(bot4_vfeed_t, pushed);
  BOT4_L_OFF(bot4_vfeed_t, ring_drops);
  BOT4_L_OFF(bot4_vfeed_t, seq_next);
  BOT4_L_OFF(bot4_vfeed_t, seq_gaps);
  BOT4_L_OFF(bot4_vfeed_t, seq_stale);
  BOT4_L_OFF(bot4_vfeed_t, seq_last);
  BOT4_L_OFF(bot4_vfeed_t, seq_started);
  BOT4_L_OFF(bot4_vfeed_t, gap);
  BOT4_L_OFF(bot4_vfeed_t, scratch);
  BOT4_L_OFF(bot4_vfeed_t, scratch_cap);
  BOT4_L_OFF(bot4_vfeed_t, okx);
  BOT4_L_SIZE(bot4_okx_book_t);
  BOT4_L_OFF(bot4_okx_book_t, checked);
  BOT4_L_OFF(bot4_okx_book_t, mismatches);
  BOT4_L_OFF(bot4_okx_book_t, unchecked);
  BOT4_L_OFF(bot4_okx_book_t, heartbeats);
  BOT4_L_OFF(bot4_okx_book_t, resets);
  BOT4_L_OFF(bot4_okx_book_t, withheld);
  BOT4_L_OFF(bot4_okx_book_t, crossed);
  BOT4_L_OFF(bot4_okx_t, book);
  BOT4_L_OFF(bot4_vfeed_t, kraken);
  BOT4_L_SIZE(bot4_kraken_book_t);
  BOT4_L_OFF(bot4_kraken_book_t, state);
  BOT4_L_OFF(bot4_kraken_book_t, problem);
  BOT4_L_OFF(bot4_kraken_book_t, flags);
  BOT4_L_OFF(bot4_kraken_book_t, n);
  BOT4_L_OFF(bot4_kraken_book_t, last_venue);
  BOT4_L_OFF(bot4_kraken_book_t, last_book);
  BOT4_L_OFF(bot4_kraken_book_t, snapshots);
  BOT4_L_OFF(bot4_kraken_book_t, updates);
  BOT4_L_OFF(bot4_kraken_book_t, applied);
  BOT4_L_OFF(bot4_kraken_book_t, levels);
  BOT4_L_OFF(bot4_kraken_book_t, truncated);
  BOT4_L_OFF(bot4_kraken_book_t, checked);
  BOT4_L_OFF(bot4_kraken_book_t, mismatches);
  BOT4_L_OFF(bot4_kraken_book_t, missing);
  BOT4_L_OFF(bot4_kraken_book_t, skipped);
  BOT4_L_OFF(bot4_kraken_book_t, crossed);
  BOT4_L_OFF(bot4_kraken_book_t, malformed);
  BOT4_L_OFF(bot4_kraken_book_t, resyncs);
  BOT4_L_OFF(bot4_kraken_t, unknown);
  BOT4_L_OFF(bot4_kraken_t, book);
  BOT4_L_OFF(bot4_parser_t, deferred);
  return n;
}
