/* parse.c — Binance frames to tick records (see parse.h for the contract). */
#define BOT4_PARSE_INTERNALS
#include "parse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

BOT4_API double bot4_parse_decimal(const uint8_t *s, uint32_t len) { return decimal(s, len); }

/* ---- Binance fields ------------------------------------------------------------------------ */

enum { F_E_STR, F_SYM, F_P, F_Q, F_B, F_BQ, F_A, F_AQ, F_STREAM, F_MSG, F_N_SPANS };
enum { N_E, N_T, N_TID, N_U_FIRST, N_U, N_PU, N_LAST_ID, N_AGG, N_CODE, N_ID, N_N_INTS };

typedef struct {
  const uint8_t *s[F_N_SPANS];
  uint32_t n[F_N_SPANS];
  uint64_t v[N_N_INTS];
  uint32_t have; /* bit per span field | (bit per int field << 16) */
  int m;         /* -1 absent, 0/1 */
  int has_result;
  uint32_t lv; /* LEVEL records written (UINT32_MAX: more than the output holds) */
  int has_levels;
} fields_t;

#define HAVE_S(f) (1u << (f))
#define HAVE_N(f) (1u << (16 + (f)))

/* The common case in one pass: a quoted plain decimal ("61820.10") converted while it is scanned,
 * no separate search for the closing quote. Returns 0 (cursor untouched) for anything else —
 * signs, exponents, escapes, more than 19 digits — which then takes the general path. */
static inline int fast_quoted(cur_t *c, double *out) {
  if (c->p >= c->e || *c->p != '"') return 0;
  const uint8_t *q = quick_decimal(c->p + 1, c->e, out);
  if (!q) return 0;
  c->p = q;
  return 1;
}

static inline double level_number(cur_t *c) {
  double v;
  ws(c);
  if (BOT4_LIKELY(fast_quoted(c, &v))) return v;
  const uint8_t *s;
  uint32_t n;
  if (c->p < c->e && *c->p == '"') {
    if (!string(c, &s, &n)) return NAN;
  } else {
    token(c, &s, &n);
  }
  return decimal(s, n);
}

/* Parses [["p","q"(,...)], ...] into LEVEL records (price/size/flags only). */
static void levels(cur_t *c, bot4_tick_t *out, uint32_t cap, fields_t *f, uint8_t flags) {
  f->has_levels = 1;
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
      if (!expect(c, '[')) return;
      px = level_number(c);
      if (BOT4_UNLIKELY(c->p >= c->e || *c->p != ',')) {
        if (!expect(c, ',')) return;
      } else {
        c->p++;
      }
      sz = level_number(c);
      if (BOT4_UNLIKELY(c->bad)) return;
      if (BOT4_LIKELY(c->p < c->e && *c->p == ']')) {
        c->p++;
      } else {
        /* extra elements (some venues add order counts) are skipped */
        while (peek(c) == ',') {
          c->p++;
          skip_value(c);
          if (c->bad) return;
        }
        if (!expect(c, ']')) return;
      }
    }
    if (BOT4_UNLIKELY(f->lv >= cap)) {
      f->lv = UINT32_MAX; /* too many: remembered, parsing continues for well-formedness */
    } else {
      bot4_tick_t *t = &out[f->lv++];
      t->price = px;
      t->size = sz;
      t->kind = BOT4_TICK_LEVEL;
      t->flags = flags;
      if (BOT4_UNLIKELY(!(px > 0) || !(sz >= 0))) c->bad = 1;
    }
    if (BOT4_LIKELY(c->p < c->e && *c->p == ',')) {
      c->p++;
      continue;
    }
    int nx = peek(c);
    if (nx == ',') {
      c->p++;
      continue;
    }
    if (nx == ']') {
      c->p++;
      return;
    }
    c->bad = 1;
    return;
  }
}

/* The key of an object member, classified. Keys are compared by length + bytes. */
static inline int key_is(const uint8_t *s, uint32_t n, const char *k, uint32_t kn) {
  return n == kn && memcmp(s, k, kn) == 0;
}

static void object(cur_t *c, fields_t *f, bot4_tick_t *out, uint32_t cap, int depth);

static inline void int_field(cur_t *c, fields_t *f, int which) {
  const uint8_t *s;
  uint32_t n;
  ws(c);
  {
    /* the common case: a bare run of digits, converted while scanned */
    const uint8_t *p = c->p, *e = c->e;
    uint64_t v = 0;
    int k = 0;
    while (p < e && (unsigned)(*p - '0') < 10 && k < 20) v = v * 10 + (unsigned)(*p++ - '0'), k++;
    if (k > 0 && k < 20 && p < e && (*p == ',' || *p == '}' || *p == ']')) {
      c->p = p;
      f->v[which] = v;
      f->have |= HAVE_N(which);
      return;
    }
  }
  if (peek(c) == '"') {
    if (!string(c, &s, &n)) return;
  } else {
    token(c, &s, &n);
  }
  if (uint_of(s, n, &f->v[which])) f->have |= HAVE_N(which);
}

static inline void span_field(cur_t *c, fields_t *f, int which) {
  if (peek(c) != '"') {
    skip_value(c);
    return;
  }
  if (string(c, &f->s[which], &f->n[which])) f->have |= HAVE_S(which);
}

static void member(cur_t *c, fields_t *f, const uint8_t *k, uint32_t kn, bot4_tick_t *out, uint32_t cap, int depth) {
  if (kn == 1) {
    switch (k[0]) {
    case 'e': span_field(c, f, F_E_STR); return;
    case 's': span_field(c, f, F_SYM); return;
    case 'p': span_field(c, f, F_P); return;
    case 'q': span_field(c, f, F_Q); return;
    case 'E': int_field(c, f, N_E); return;
    case 'T': int_field(c, f, N_T); return;
    case 't': int_field(c, f, N_TID); return;
    case 'U': int_field(c, f, N_U_FIRST); return;
    case 'u': int_field(c, f, N_U); return;
    case 'B': span_field(c, f, F_BQ); return;
    case 'A': span_field(c, f, F_AQ); return;
    case 'm': {
      int ch = peek(c);
      if (ch == 't') f->m = 1;
      else if (ch == 'f') f->m = 0;
      skip_value(c);
      return;
    }
    case 'b':
    case 'a': {
      int ch = peek(c);
      if (ch == '[') {
        levels(c, out, cap, f, k[0] == 'a' ? BOT4_FLAG_ASK : 0);
      } else if (ch == '"') {
        span_field(c, f, k[0] == 'b' ? F_B : F_A);
      } else if (k[0] == 'a') {
        int_field(c, f, N_AGG); /* aggTrade id */
      } else {
        skip_value(c);
      }
      return;
    }
    default: skip_value(c); return;
    }
  }
  if (key_is(k, kn, "pu", 2)) { int_field(c, f, N_PU); return; }
  if (key_is(k, kn, "data", 4) && depth == 0 && peek(c) == '{') { object(c, f, out, cap, depth + 1); return; }
  if (key_is(k, kn, "stream", 6)) { span_field(c, f, F_STREAM); return; }
  if (key_is(k, kn, "lastUpdateId", 12)) { int_field(c, f, N_LAST_ID); return; }
  if (key_is(k, kn, "bids", 4) && peek(c) == '[') { levels(c, out, cap, f, BOT4_FLAG_SNAPSHOT); return; }
  if (key_is(k, kn, "asks", 4) && peek(c) == '[') {
    levels(c, out, cap, f, BOT4_FLAG_SNAPSHOT | BOT4_FLAG_ASK);
    return;
  }
  if (key_is(k, kn, "result", 6)) { f->has_result = 1; skip_value(c); return; }
  if (key_is(k, kn, "id", 2)) { int_field(c, f, N_ID); return; }
  if (key_is(k, kn, "code", 4)) { f->have |= HAVE_N(N_CODE); skip_value(c); return; }
  if (key_is(k, kn, "msg", 3)) { span_field(c, f, F_MSG); return; }
  skip_value(c);
}

static void object(cur_t *c, fields_t *f, bot4_tick_t *out, uint32_t cap, int depth) {
  if (!expect(c, '{')) return;
  if (peek(c) == '}') {
    c->p++;
    return;
  }
  for (;;) {
    const uint8_t *k;
    uint32_t kn;
    if (!string(c, &k, &kn) || !expect(c, ':')) return;
    member(c, f, k, kn, out, cap, depth);
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

/* ---- compact fast path ------------------------------------------------------------------ */

/* Venues' encoders write JSON with no whitespace; this reads that form in one tight pass and
 * fills the same fields as the general walker. Anything it does not expect (whitespace, escapes,
 * nested values it does not know, a level not in the ["p","q"] form) returns NULL and the frame is
 * parsed again by the general walker, which accepts all JSON. */

static const uint8_t *c_levels(const uint8_t *p, const uint8_t *e, fields_t *f, bot4_tick_t *out, uint32_t cap, uint8_t flags) {
  f->has_levels = 1;
  if (p >= e || *p != '[') return NULL;
  p++;
  if (p < e && *p == ']') return p + 1;
  dshape_t sh[2];
  memset(sh, 0, sizeof sh); /* len 0: no shape yet, the first level teaches one */
  for (;;) {
    double px, sz;
    p = quick_level_shaped(p, e, sh, &px, &sz);
    if (!p || !(px > 0) || !(sz >= 0)) return NULL;
    if (BOT4_UNLIKELY(f->lv >= cap)) {
      f->lv = UINT32_MAX;
    } else {
      bot4_tick_t *t = &out[f->lv++];
      t->price = px;
      t->size = sz;
      t->kind = BOT4_TICK_LEVEL;
      t->flags = flags;
    }
    if (p >= e) return NULL;
    if (*p == ',') {
      p++;
      continue;
    }
    if (*p == ']') return p + 1;
    return NULL;
  }
}

enum { K_INT = 32, K_M = 64, K_LEVELS = 65 };
static const int8_t KEY1[128] = {
    ['e'] = F_E_STR + 1, ['s'] = F_SYM + 1, ['p'] = F_P + 1, ['q'] = F_Q + 1, ['B'] = F_BQ + 1, ['A'] = F_AQ + 1,
    ['E'] = K_INT + N_E + 1, ['T'] = K_INT + N_T + 1, ['t'] = K_INT + N_TID + 1, ['U'] = K_INT + N_U_FIRST + 1,
    ['u'] = K_INT + N_U + 1, ['m'] = K_M + 1, ['b'] = K_LEVELS + 1, ['a'] = K_LEVELS + 1,
};

static const uint8_t *c_object(const uint8_t *p, const uint8_t *e, fields_t *f, bot4_tick_t *out, uint32_t cap, int depth) {
  if (p >= e || *p != '{') return NULL;
  p++;
  if (p < e && *p == '}') return p + 1;
  for (;;) {
    const uint8_t *k;
    uint32_t kn;
    if (BOT4_LIKELY(e - p >= 4 && p[0] == '"' && p[2] == '"' && p[3] == ':' && p[1] != '\\' && p[1] != '"')) {
      /* a one-letter key (every member of Binance's events): checked in place, so the cursor
       * moves by a constant instead of by a search for the closing quote that the next member
       * would wait for */
      k = p + 1;
      kn = 1;
      p += 4;
    } else {
      p = c_str(p, e, &k, &kn);
      if (!p || p >= e || *p != ':') return NULL;
      p++;
    }
    if (p >= e) return NULL;
    const uint8_t ch = *p;
    int which = -1, is_int = 0;
    if (kn == 1) {
      /* a table, not a switch: the keys change every member, and an indirect jump per key
       * mispredicted often enough to be a fifth of the parse */
      const int code = KEY1[k[0] & 0x7f] - 1; /* entries hold code + 1: 0 is a key we do not read */
      if (code == K_M) {
        if (!(p = c_bool(p, e, &f->m))) return NULL;
        goto next;
      }
      if (code == K_LEVELS) {
        if (ch == '[') {
          p = c_levels(p, e, f, out, cap, k[0] == 'a' ? BOT4_FLAG_ASK : 0);
          if (!p) return NULL;
          goto next;
        }
        if (ch == '"') which = k[0] == 'b' ? F_B : F_A;
        else if (k[0] == 'a') which = N_AGG, is_int = 1;
      } else if (code >= K_INT) {
        which = code - K_INT, is_int = 1;
      } else {
        which = code; /* a span field, or -1: a key we do not read */
      }
    } else if (kn == 2 && k[0] == 'p' && k[1] == 'u') {
      which = N_PU, is_int = 1;
    } else if (kn == 4 && depth == 0 && memcmp(k, "data", 4) == 0 && ch == '{') {
      if (!(p = c_object(p, e, f, out, cap, 1))) return NULL;
      goto next;
    } else if (kn == 6 && memcmp(k, "stream", 6) == 0) {
      which = F_STREAM;
    } else if (kn == 12 && memcmp(k, "lastUpdateId", 12) == 0) {
      which = N_LAST_ID, is_int = 1;
    } else if (kn == 4 && (memcmp(k, "bids", 4) == 0 || memcmp(k, "asks", 4) == 0) && ch == '[') {
      p = c_levels(p, e, f, out, cap, (uint8_t)(BOT4_FLAG_SNAPSHOT | (k[0] == 'a' ? BOT4_FLAG_ASK : 0)));
      if (!p) return NULL;
      goto next;
    } else {
      return NULL; /* keys the general walker knows how to treat (result, id, code, msg, ...) */
    }
    if (ch == '"') {
      const uint8_t *vs;
      uint32_t vn;
      if (!(p = c_str(p, e, &vs, &vn))) return NULL;
      if (which >= 0 && !is_int) {
        f->s[which] = vs;
        f->n[which] = vn;
        f->have |= HAVE_S(which);
      } else if (which >= 0) {
        uint64_t v;
        if (c_int(vs, vs + vn, &v) == vs + vn) f->v[which] = v, f->have |= HAVE_N(which);
      }
    } else if ((unsigned)(ch - '0') < 10) {
      uint64_t v;
      if (!(p = c_int(p, e, &v))) return NULL;
      if (which >= 0 && is_int) f->v[which] = v, f->have |= HAVE_N(which);
    } else if (ch == 't' || ch == 'f') {
      int b;
      if (!(p = c_bool(p, e, &b))) return NULL;
    } else {
      return NULL; /* negative numbers, null, nested values: the general walker */
    }
  next:
    if (p >= e) return NULL;
    if (*p == ',') {
      p++;
      continue;
    }
    if (*p == '}') return p + 1;
    return NULL;
  }
}

/* ---- symbols ------------------------------------------------------------------------------- */

BOT4_API uint64_t bot4_parser_bytes(void) { return sizeof(bot4_parser_t); }

BOT4_API int32_t bot4_parser_init(bot4_parser_t *p, uint32_t venue) {
  if (!p || ((uintptr_t)p & (BOT4_CACHELINE - 1))) return -1;
  memset(p, 0, offsetof(bot4_parser_t, scratch));
  p->magic = BOT4_PARSER_MAGIC;
  p->venue = (uint16_t)venue;
  return 0;
}

BOT4_API int32_t bot4_parser_add_symbol(bot4_parser_t *p, const uint8_t *name, uint32_t len, uint32_t instrument) {
  if (!p || p->magic != BOT4_PARSER_MAGIC || len == 0 || len > BOT4_PARSE_SYMBOL_MAX) return -1;
  if (p->symbols >= BOT4_PARSE_SYMBOLS * 3 / 4) return -1;
  if (lookup(p, name, len) >= 0) return -1;
  uint32_t h = fnv(name, len);
  for (uint32_t i = 0; i < BOT4_PARSE_SYMBOLS; i++) {
    bot4_parse_symbol_t *e = &p->table[(h + i) & (BOT4_PARSE_SYMBOLS - 1)];
    if (e->len == 0) {
      e->len = (uint8_t)len;
      memcpy(e->name, name, len);
      e->instrument = instrument;
      e->hash = h;
      p->symbols++;
      return 0;
    }
  }
  return -1;
}

/* ---- frames -------------------------------------------------------------------------------- */

static inline int span_is(const fields_t *f, int which, const char *lit, uint32_t n) {
  if (!(f->have & HAVE_S(which)) || f->n[which] != n) return 0;
  /* byte by byte: n is a constant at every call, so this unrolls (memcmp stayed a libc call) */
  for (uint32_t i = 0; i < n; i++)
    if (f->s[which][i] != (uint8_t)lit[i]) return 0;
  return 1;
}

static inline int stream_ends(const fields_t *f, const char *suffix, uint32_t n) {
  return (f->have & HAVE_S(F_STREAM)) && f->n[F_STREAM] >= n && memcmp(f->s[F_STREAM] + f->n[F_STREAM] - n, suffix, n) == 0;
}


static inline void stamp(bot4_tick_t *t, const bot4_parser_t *p, uint32_t inst, uint64_t ts_ex, uint64_t recv_ns) {
  t->ts_exchange_ns = ts_ex;
  t->ts_recv_ns = recv_ns;
  t->instrument = inst;
  t->venue = p->venue;
}

static int32_t binance_parse(bot4_parser_t *p, const uint8_t *buf, uint32_t len, uint64_t recv_ns,
                             uint32_t default_inst, bot4_tick_t *out, uint32_t cap) {
  p->frames++;
  fields_t f;
  f.have = 0;
  f.m = -1;
  f.has_result = 0;
  f.lv = 0;
  f.has_levels = 0;
  if (BOT4_UNLIKELY(c_object(buf, buf + len, &f, out, cap, 0) != buf + len)) {
    /* not the compact form (or not valid): the general walker decides */
    f.have = 0;
    f.m = -1;
    f.has_result = 0;
    f.lv = 0;
    f.has_levels = 0;
    cur_t c = {buf, buf + len, 0};
    object(&c, &f, out, cap, 0);
    if (!c.bad && peek(&c) >= 0) c.bad = 1; /* trailing bytes after the object */
    if (BOT4_UNLIKELY(c.bad)) return bot4_parse_fail(p, BOT4_PARSE_MALFORMED);
  }
  if (BOT4_UNLIKELY(f.lv == UINT32_MAX)) return bot4_parse_fail(p, BOT4_PARSE_TOO_MANY);

  const uint32_t nv = f.have >> 16;
#define HAS(x) (nv & (1u << (x)))
  uint32_t inst = default_inst;
  if (f.have & HAVE_S(F_SYM)) {
    int64_t id = lookup(p, f.s[F_SYM], f.n[F_SYM]);
    if (id < 0) return bot4_parse_fail(p, BOT4_PARSE_UNKNOWN_SYMBOL);
    inst = (uint32_t)id;
  }
  const uint64_t ts_ms = HAS(N_T) ? f.v[N_T] : HAS(N_E) ? f.v[N_E] : 0;

  if (span_is(&f, F_E_STR, "trade", 5) || span_is(&f, F_E_STR, "aggTrade", 8)) {
    const int agg = f.n[F_E_STR] == 8;
    if (!(f.have & HAVE_S(F_P)) || !(f.have & HAVE_S(F_Q)) || !(agg ? HAS(N_AGG) : HAS(N_TID)) || f.m < 0 ||
        inst == UINT32_MAX)
      return bot4_parse_fail(p, BOT4_PARSE_MISSING);
    if (cap < 1) return bot4_parse_fail(p, BOT4_PARSE_TOO_MANY);
    bot4_tick_t *t = &out[0];
    stamp(t, p, inst, ts_ms * 1000000ull, recv_ns);
    t->price = span_decimal(f.s[F_P], f.n[F_P], buf + len);
    t->size = span_decimal(f.s[F_Q], f.n[F_Q], buf + len);
    if (!(t->price > 0) || !(t->size >= 0)) return bot4_parse_fail(p, BOT4_PARSE_MISSING);
    t->price2 = 0;
    t->size2 = 0;
    t->seq = agg ? f.v[N_AGG] : f.v[N_TID];
    t->kind = BOT4_TICK_TRADE;
    t->flags = (uint8_t)((f.m ? BOT4_FLAG_SELL : 0) | BOT4_FLAG_LAST);
    p->trades++;
    p->last_status = 1;
    return 1;
  }

  if (span_is(&f, F_E_STR, "depthUpdate", 11)) {
    if (!HAS(N_U_FIRST) || !HAS(N_U) || !f.has_levels || inst == UINT32_MAX) return bot4_parse_fail(p, BOT4_PARSE_MISSING);
    uint32_t n = f.lv;
    if (n == 0) {
      if (cap < 1) return bot4_parse_fail(p, BOT4_PARSE_TOO_MANY);
      out[0].price = 0;
      out[0].size = 0;
      out[0].kind = BOT4_TICK_LEVEL;
      out[0].flags = BOT4_FLAG_NOLEVEL;
      n = 1;
    }
    const uint64_t ts = ts_ms * 1000000ull;
    const double U = (double)f.v[N_U_FIRST], pu = HAS(N_PU) ? (double)f.v[N_PU] : -1.0;
    const uint64_t u = f.v[N_U];
    for (uint32_t i = 0; i < n; i++) {
      bot4_tick_t *t = &out[i];
      stamp(t, p, inst, ts, recv_ns);
      t->price2 = U;
      t->size2 = pu;
      t->seq = u;
    }
    out[n - 1].flags |= BOT4_FLAG_LAST;
    p->depth++;
    p->levels += f.lv;
    p->last_status = (int32_t)n;
    return (int32_t)n;
  }

  const int is_ticker = span_is(&f, F_E_STR, "bookTicker", 10) ||
                        (!(f.have & HAVE_S(F_E_STR)) && (stream_ends(&f, "@bookTicker", 11) ||
                                                         ((f.have & HAVE_S(F_B)) && (f.have & HAVE_S(F_A)) && HAS(N_U))));
  if (is_ticker) {
    if (!(f.have & HAVE_S(F_B)) || !(f.have & HAVE_S(F_A)) || !(f.have & HAVE_S(F_BQ)) || !(f.have & HAVE_S(F_AQ)) ||
        !HAS(N_U) || inst == UINT32_MAX)
      return bot4_parse_fail(p, BOT4_PARSE_MISSING);
    if (cap < 1) return bot4_parse_fail(p, BOT4_PARSE_TOO_MANY);
    bot4_tick_t *t = &out[0];
    stamp(t, p, inst, ts_ms * 1000000ull, recv_ns);
    t->price = span_decimal(f.s[F_B], f.n[F_B], buf + len);
    t->size = span_decimal(f.s[F_BQ], f.n[F_BQ], buf + len);
    t->price2 = span_decimal(f.s[F_A], f.n[F_A], buf + len);
    t->size2 = span_decimal(f.s[F_AQ], f.n[F_AQ], buf + len);
    if (!(t->price > 0) || !(t->price2 > 0) || !(t->size >= 0) || !(t->size2 >= 0)) return bot4_parse_fail(p, BOT4_PARSE_MISSING);
    t->seq = f.v[N_U];
    t->kind = BOT4_TICK_QUOTE;
    t->flags = BOT4_FLAG_LAST;
    p->quotes++;
    p->last_status = 1;
    return 1;
  }

  if (HAS(N_LAST_ID) && f.has_levels) {
    if (inst == UINT32_MAX) return bot4_parse_fail(p, BOT4_PARSE_MISSING);
    uint32_t n = f.lv;
    if (n == 0) {
      if (cap < 1) return bot4_parse_fail(p, BOT4_PARSE_TOO_MANY);
      out[0].price = 0;
      out[0].size = 0;
      out[0].kind = BOT4_TICK_LEVEL;
      out[0].flags = BOT4_FLAG_SNAPSHOT | BOT4_FLAG_NOLEVEL;
      n = 1;
    }
    const uint64_t ts = ts_ms * 1000000ull;
    for (uint32_t i = 0; i < n; i++) {
      bot4_tick_t *t = &out[i];
      stamp(t, p, inst, ts, recv_ns);
      t->price2 = 0;
      t->size2 = 0;
      t->seq = f.v[N_LAST_ID];
    }
    out[n - 1].flags |= BOT4_FLAG_LAST;
    p->snapshots++;
    p->levels += f.lv;
    p->last_status = (int32_t)n;
    return (int32_t)n;
  }

  if (f.has_result && HAS(N_ID)) return bot4_parse_fail(p, BOT4_PARSE_CONTROL);
  if (HAS(N_CODE) && (f.have & HAVE_S(F_MSG))) return bot4_parse_fail(p, BOT4_PARSE_VENUE_ERROR);
  return bot4_parse_fail(p, BOT4_PARSE_UNKNOWN_TYPE);
#undef HAS
}

BOT4_API int32_t bot4_binance_parse(bot4_parser_t *p, const uint8_t *buf, uint32_t len, double recv_ns,
                                    uint32_t default_inst, bot4_tick_t *out, uint32_t cap) {
  return binance_parse(p, buf, len, bot4_ns_of(recv_ns), default_inst, out, cap);
}

BOT4_API int32_t bot4_binance_to_ring(bot4_parser_t *p, const uint8_t *buf, uint32_t len, double recv_ns,
                                      bot4_ring_t *ring) {
  int32_t n = binance_parse(p, buf, len, bot4_ns_of(recv_ns), UINT32_MAX, p->scratch, BOT4_PARSE_SCRATCH);
  if (n <= 0) return n;
  int32_t put = bot4_ring_push_drop(ring, p->scratch, n);
  if (put < n) p->ring_drops += (uint64_t)(n - put);
  return put;
}

BOT4_API int32_t bot4_binance_parse_many(bot4_parser_t *p, const uint8_t *buf, const uint32_t *offs, uint32_t n,
                                         const uint64_t *recv_ns, bot4_tick_t *out, uint32_t cap) {
  uint32_t w = 0;
  for (uint32_t i = 0; i < n; i++) {
    int32_t r = binance_parse(p, buf + offs[i], offs[i + 1] - offs[i], recv_ns[i], UINT32_MAX, out + w, cap - w);
    if (r > 0) w += (uint32_t)r;
  }
  return (int32_t)w;
}

BOT4_API int bot4_layout_parse(char *buf, int cap) {
  int n = 0;
  BOT4_L_SIZE(bot4_parser_t);
  BOT4_L_OFF(bot4_parser_t, magic);
  BOT4_L_OFF(bot4_parser_t, venue);
  BOT4_L_OFF(bot4_parser_t, symbols);
  BOT4_L_OFF(bot4_parser_t, last_status);
  BOT4_L_OFF(bot4_parser_t, frames);
  BOT4_L_OFF(bot4_parser_t, trades);
  BOT4_L_OFF(bot4_parser_t, quotes);
  BOT4_L_OFF(bot4_parser_t, depth);
  BOT4_L_OFF(bot4_parser_t, snapshots);
  BOT4_L_OFF(bot4_parser_t, levels);
  BOT4_L_OFF(bot4_parser_t, control);
  BOT4_L_OFF(bot4_parser_t, venue_errors);
  BOT4_L_OFF(bot4_parser_t, malformed);
  BOT4_L_OFF(bot4_parser_t, unknown_symbol);
  BOT4_L_OFF(bot4_parser_t, unknown_type);
  BOT4_L_OFF(bot4_parser_t, missing);
  BOT4_L_OFF(bot4_parser_t, too_many);
  BOT4_L_OFF(bot4_parser_t, ring_drops);
  BOT4_L_OFF(bot4_parser_t, table);
  BOT4_L_OFF(bot4_parser_t, scratch);
  BOT4_L_CONST(BOT4_PARSE_SCRATCH);
  return n;
}
