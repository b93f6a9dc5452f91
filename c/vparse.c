/* vparse.c — JSON venue frames to tick records, and the feed step after them (see vparse.h). */
#define BOT4_PARSE_INTERNALS
#include "vparse.h"

/* ---- shared pieces ------------------------------------------------------------------------- */

static inline int32_t vfail(bot4_parser_t *p, int32_t status) {
  switch (status) {
  case BOT4_PARSE_MALFORMED: p->malformed++; break;
  case BOT4_PARSE_UNKNOWN_SYMBOL: p->unknown_symbol++; break;
  case BOT4_PARSE_TOO_MANY: p->too_many++; break;
  case BOT4_PARSE_UNKNOWN_TYPE: p->unknown_type++; break;
  case BOT4_PARSE_CONTROL: p->control++; break;
  case BOT4_PARSE_VENUE_ERROR: p->venue_errors++; break;
  case BOT4_PARSE_MISSING: p->missing++; break;
  case BOT4_PARSE_DEFER: p->deferred++; break;
  }
  p->last_status = status;
  return status;
}

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
  for (;;) {
    double px, sz;
    const uint8_t *q = quick_level(c->p, c->e, &px, &sz);
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
  if (!expect(&c, '{')) return vfail(p, BOT4_PARSE_MALFORMED);
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
          if (b.lv == UINT32_MAX) return vfail(p, BOT4_PARSE_TOO_MANY);
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
  if (BOT4_UNLIKELY(c.bad || peek(&c) >= 0)) return vfail(p, BOT4_PARSE_MALFORMED);
  if (BOT4_UNLIKELY(b.data && b.family)) {
    /* data came before topic: read it now */
    cur_t d = {b.data, buf + len, 0};
    bybit_data(&d, &b, p, out, cap, recv_ns);
    if (b.lv == UINT32_MAX) return vfail(p, BOT4_PARSE_TOO_MANY);
    if (d.bad) return vfail(p, BOT4_PARSE_MALFORMED);
  }
  switch (b.family) {
  case BB_NONE:
    if (b.has_success) return vfail(p, b.success ? BOT4_PARSE_CONTROL : BOT4_PARSE_VENUE_ERROR);
    if (b.has_op) return vfail(p, BOT4_PARSE_CONTROL);
    return vfail(p, BOT4_PARSE_UNKNOWN_TYPE);
  case BB_TICKERS: return vfail(p, BOT4_PARSE_DEFER);
  case BB_OTHER: return vfail(p, BOT4_PARSE_UNKNOWN_TYPE);
  case BB_TRADE: {
    if (!b.has_data || b.lv == 0) return vfail(p, BOT4_PARSE_MISSING);
    f->instrument = b.inst;
    if (b.bad) return vfail(p, BOT4_PARSE_MISSING);
    if (b.unknown) return vfail(p, BOT4_PARSE_UNKNOWN_SYMBOL);
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
  if (b.bad || !b.has_u || b.u < 1 || !b.has_b || !b.has_a || (b.type != 1 && b.type != 2)) return vfail(p, BOT4_PARSE_MISSING);
  if (id < 0) return vfail(p, BOT4_PARSE_UNKNOWN_SYMBOL);
  const uint32_t inst = (uint32_t)id;
  uint32_t n = b.lv;
  const uint8_t snap = b.type == 1 ? BOT4_FLAG_SNAPSHOT : 0;
  if (n == 0) {
    if (cap < 1) return vfail(p, BOT4_PARSE_TOO_MANY);
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

/* ---- the feed step ------------------------------------------------------------------------- */

BOT4_API uint64_t bot4_vfeed_bytes(void) { return sizeof(bot4_vfeed_t); }

BOT4_API int32_t bot4_vfeed_init(bot4_vfeed_t *f, bot4_parser_t *p, uint32_t venue_kind, bot4_book_t **books,
                                 uint32_t nbooks, bot4_ring_t *ring) {
  if (!f || ((uintptr_t)f & (BOT4_CACHELINE - 1)) || !p || p->magic != BOT4_PARSER_MAGIC) return -1;
  if (venue_kind != BOT4_VP_BYBIT) return -1;
  memset(f, 0, sizeof *f);
  f->parser = p;
  f->books = books;
  f->nbooks = books ? nbooks : 0;
  f->ring = ring;
  f->venue_kind = venue_kind;
  f->instrument = UINT32_MAX;
  return 0;
}

BOT4_API int32_t bot4_vparse(bot4_vfeed_t *f, const uint8_t *buf, uint32_t len, uint64_t recv_ns, bot4_tick_t *out,
                             uint32_t cap) {
  f->parser->frames++;
  f->instrument = UINT32_MAX;
  f->what = BOT4_VP_NONE;
  f->resyncs = 0;
  f->pushed = 0;
  const int32_t r = bybit_parse(f, buf, len, recv_ns, out, cap);
  f->status = r;
  return r;
}

BOT4_API int32_t bot4_vfeed_frame(bot4_vfeed_t *f, const uint8_t *buf, uint32_t len, uint64_t recv_ns) {
  bot4_parser_t *p = f->parser;
  const int32_t n = bot4_vparse(f, buf, len, recv_ns, p->scratch, BOT4_PARSE_SCRATCH);
  if (n <= 0) return n;
  if (f->nbooks && f->what >= BOT4_VP_DELTA) f->resyncs = bot4_books_apply(f->books, f->nbooks, p->scratch, UINT32_MAX, 0, (uint32_t)n);
  if (f->ring) {
    const int32_t put = bot4_ring_push_drop(f->ring, p->scratch, n);
    f->pushed = (uint32_t)(put > 0 ? put : 0);
    if (put < n) {
      p->ring_drops += (uint64_t)(n - put);
      f->ring_drops += (uint64_t)(n - put);
    }
  }
  return n;
}

BOT4_API int32_t bot4_vfeed_frames(bot4_vfeed_t *f, const uint8_t *buf, const uint32_t *offs, uint32_t n,
                                   const uint64_t *recv_ns) {
  int32_t w = 0;
  for (uint32_t i = 0; i < n; i++) {
    const int32_t r = bot4_vfeed_frame(f, buf + offs[i], offs[i + 1] - offs[i], recv_ns[i]);
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
  BOT4_L_OFF(bot4_parser_t, deferred);
  return n;
}
