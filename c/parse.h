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
  BOT4_PARSE_DEFER = -8,     /* a frame a C parser leaves to the cold path (counted in deferred) */
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
  uint64_t deferred;   /* frames a C parser hands to the cold path (vparse.h: BOT4_PARSE_DEFER) */
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
BOT4_API int32_t bot4_binance_parse(bot4_parser_t *p, const uint8_t *buf, uint32_t len, double recv_ns,
                                    uint32_t default_inst, bot4_tick_t *out, uint32_t cap);
/* Parses one Binance frame and pushes its records into an SPSC ring (whole frame or, when the
 * ring is full, as many as fit: the rest are counted in ring_drops and in the ring's drops; the
 * book's sequence check then sees the gap and resyncs). Returns records pushed or a status. */
BOT4_API int32_t bot4_binance_to_ring(bot4_parser_t *p, const uint8_t *buf, uint32_t len, double recv_ns,
                                      bot4_ring_t *ring);
/* Parses many frames in one call: frames laid end to end in buf, offs[i]..offs[i+1) is frame i,
 * recv_ns[i] its receive time; records go to out (cap). Returns records written; per-frame
 * statuses are counted. Used by replay and benchmarks (one FFI call per batch). */
BOT4_API int32_t bot4_binance_parse_many(bot4_parser_t *p, const uint8_t *buf, const uint32_t *offs, uint32_t n,
                                         const uint64_t *recv_ns, bot4_tick_t *out, uint32_t cap);
/* Exact decimal conversion as JavaScript's Number(); exported for tests. NaN on bad input. */
BOT4_API double bot4_parse_decimal(const uint8_t *s, uint32_t len);
BOT4_API int bot4_layout_parse(char *buf, int cap);

#ifdef BOT4_PARSE_INTERNALS
/* The scanning primitives shared by the venue parsers (parse.c: Binance; vparse.c: Bybit, OKX,
 * Coinbase, Kraken): exact decimals, a bounds-checked JSON cursor, one-pass quoted decimals and
 * levels, SWAR integers and string ends, and the symbol table's lookup. static inline so each
 * parser inlines them into its own loops; defined only for the files that ask. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#ifdef __SSSE3__
#include <tmmintrin.h>
#endif

/* ---- exact decimal conversion ------------------------------------------------------------- */

static const double POW10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static inline double slow_decimal(const uint8_t *s, uint32_t len) {
  char tmp[128];
  if (len == 0 || len >= sizeof tmp) return NAN;
  memcpy(tmp, s, len);
  tmp[len] = 0;
  char *end = NULL;
  double v = strtod(tmp, &end);
  return end == tmp + len ? v : NAN;
}

/* Clinger's fast path: an integer m < 2^53 and 10^k with k <= 22 are both exact doubles, and IEEE
 * division rounds once, so m / 10^k is the correctly rounded value of the decimal — the same
 * double JavaScript's Number() gives. Everything else (exponents, > 19 digits) goes to strtod. */
static inline double decimal(const uint8_t *s, uint32_t len) {
  const uint8_t *p = s, *e = s + len;
  int neg = 0;
  if (p < e && *p == '-') neg = 1, p++;
  uint64_t m = 0;
  int digits = 0, frac = 0, seen_dot = 0, any = 0;
  if (p == e) return NAN;
  for (; p < e; p++) {
    unsigned d = (unsigned)(*p - '0');
    if (d < 10) {
      any = 1;
      if (digits < 19) {
        m = m * 10 + d;
        if (m) digits++;
        frac += seen_dot;
      } else {
        return slow_decimal(s, len); /* more than 19 significant digits: exactness needs strtod */
      }
    } else if (*p == '.' && !seen_dot) {
      seen_dot = 1;
    } else {
      return slow_decimal(s, len);
    }
  }
  if (BOT4_UNLIKELY(!any)) return NAN;
  if (BOT4_UNLIKELY(m > (1ull << 53) || frac > 22)) return slow_decimal(s, len);
  double v = (double)m / POW10[frac];
  return neg ? -v : v;
}


/* ---- JSON scanning ------------------------------------------------------------------------ */

typedef struct {
  const uint8_t *p, *e;
  int bad;
} cur_t;

static inline void ws(cur_t *c) {
  while (c->p < c->e && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t')) c->p++;
}

static inline int peek(cur_t *c) {
  ws(c);
  return c->p < c->e ? *c->p : -1;
}

static inline int expect(cur_t *c, uint8_t ch) {
  ws(c);
  if (BOT4_LIKELY(c->p < c->e && *c->p == ch)) {
    c->p++;
    return 1;
  }
  c->bad = 1;
  return 0;
}

/* A string's body (without quotes); escapes are skipped over, not decoded (Binance's fields
 * never carry them; a field that does is compared byte for byte and fails to match). Fields are
 * short, so a plain loop beats a memchr call. */
static inline int string(cur_t *c, const uint8_t **s, uint32_t *n) {
  if (!expect(c, '"')) return 0;
  const uint8_t *b = c->p, *p = b, *e = c->e;
  for (;;) {
    if (BOT4_UNLIKELY(p >= e)) {
      c->bad = 1;
      return 0;
    }
    const uint8_t ch = *p;
    if (ch == '"') break;
    p += (ch == '\\') ? 2 : 1;
  }
  *s = b;
  *n = (uint32_t)(p - b);
  c->p = p + 1;
  return 1;
}

/* A JSON number token (or a literal): its span. */
static inline void token(cur_t *c, const uint8_t **s, uint32_t *n) {
  ws(c);
  const uint8_t *b = c->p;
  while (c->p < c->e) {
    uint8_t ch = *c->p;
    if (ch == ',' || ch == '}' || ch == ']' || ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t') break;
    c->p++;
  }
  *s = b;
  *n = (uint32_t)(c->p - b);
  if (*n == 0) c->bad = 1;
}

static inline int uint_of(const uint8_t *s, uint32_t n, uint64_t *out) {
  if (n == 0 || n > 20) return 0;
  uint64_t v = 0;
  for (uint32_t i = 0; i < n; i++) {
    unsigned d = (unsigned)(s[i] - '0');
    if (d > 9) return 0;
    v = v * 10 + d;
  }
  *out = v;
  return 1;
}

static inline void skip_value(cur_t *c);

static inline void skip_container(cur_t *c, uint8_t open, uint8_t close) {
  c->p++; /* the opener */
  if (peek(c) == close) {
    c->p++;
    return;
  }
  for (;;) {
    if (open == '{') {
      const uint8_t *s;
      uint32_t n;
      if (!string(c, &s, &n) || !expect(c, ':')) return;
    }
    skip_value(c);
    if (c->bad) return;
    int ch = peek(c);
    if (ch == ',') {
      c->p++;
      continue;
    }
    if (ch == close) {
      c->p++;
      return;
    }
    c->bad = 1;
    return;
  }
}

static inline void skip_value(cur_t *c) {
  int ch = peek(c);
  if (ch == '"') {
    const uint8_t *s;
    uint32_t n;
    string(c, &s, &n);
  } else if (ch == '{') {
    skip_container(c, '{', '}');
  } else if (ch == '[') {
    skip_container(c, '[', ']');
  } else if (ch < 0) {
    c->bad = 1;
  } else {
    const uint8_t *s;
    uint32_t n;
    token(c, &s, &n);
  }
}

/* A plain decimal's text from p: digits and at most one '.', read in one pass into the integer
 * mantissa, the digit count and the fraction digits. Returns where the text stops. */
typedef struct {
  uint64_t m;
  int digits, frac;
} plain_dec_t;

static inline const uint8_t *plain_scan(const uint8_t *p, const uint8_t *e, plain_dec_t *d) {
  uint64_t m = 0;
  int digits = 0, frac = 0, dot = 0;
  for (; p < e; p++) {
    const unsigned x = (unsigned)(*p - '0');
    if (x < 10) {
      m = m * 10 + x;
      digits++;
      frac += dot;
    } else if (*p == '.' && !dot) {
      dot = 1;
    } else {
      break;
    }
  }
  d->m = m;
  d->digits = digits;
  d->frac = frac;
  return p;
}

/* the scanned decimal converts exactly by one division (mantissa <= 2^53, power of ten exact) */
static inline int plain_exact(const plain_dec_t *d) {
  return d->digits > 0 && d->digits <= 19 && d->frac <= 22 && d->m <= (1ull << 53);
}

/* A plain decimal's digits from p up to the closing quote, converted; NULL on anything else. */
static inline const uint8_t *quick_decimal(const uint8_t *p, const uint8_t *e, double *out) {
  plain_dec_t d;
  p = plain_scan(p, e, &d);
  if (BOT4_UNLIKELY(p >= e || *p != '"' || !plain_exact(&d))) return NULL;
  *out = (double)d.m / POW10[d.frac];
  return p + 1;
}

/* k (<= 8) digits at s as an integer, without a loop: eight bytes loaded, '0' taken from each
 * (a byte past the digits may borrow, but only from the bytes above it, which the shift drops),
 * the digits shifted to the top so the missing leading ones read as zeros, then pairs, quads and
 * the eight combined (little-endian: the first digit is the lowest byte). Needs s + 8 readable. */
static inline uint64_t swar_digits(const uint8_t *s, uint32_t k) {
  if (k == 0) return 0;
  uint64_t w;
  memcpy(&w, s, 8);
  w = (w - 0x3030303030303030ull) << (8 * (8 - k));
  w = (w * 10 + (w >> 8)) & 0x00ff00ff00ff00ffull;
  w = (w * 100 + (w >> 16)) & 0x0000ffff0000ffffull;
  return (w * 10000 + (w >> 32)) & 0xffffffffull;
}

static const uint64_t POW10_U[9] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};

/* The shape of a quoted decimal's text: `a` integer digits, `f` fraction digits (0: no dot), and
 * its length through the closing quote. Levels of one message mostly repeat the shapes of the
 * one before (a venue writes prices with a fixed number of decimals), so each number is first
 * tried against the last shape seen in its column: one 16-byte compare says whether the digits
 * and the dot and quote sit where the shape puts them. The cursor then moves by the shape's
 * length, which the branch predicts, instead of by a length read out of the data, so the next
 * number's scan does not wait for this one. */
typedef struct {
  uint32_t a, f, len, mask;
#ifdef __SSSE3__
  __m128i shuf; /* gathers the a + f digits, dot left out, right-aligned behind zeros */
#endif
} dshape_t;

#ifdef __SSE2__
/* the 16 bytes at p less '0' (a digit byte becomes its value 0..9), and which of them are digits */
static inline __m128i digit_values16(const uint8_t *p) {
  return _mm_sub_epi8(_mm_loadu_si128((const __m128i *)p), _mm_set1_epi8('0'));
}
static inline uint32_t digit_mask_of(__m128i d) {
  return (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d));
}
static inline uint32_t digit_mask16(const uint8_t *p) { return digit_mask_of(digit_values16(p)); }
#endif

/* Learns the shape of the quoted decimal at p from its digit mask; 0 when it has no plain shape
 * of at most 8 + 8 digits closed by a quote within 16 bytes. */
static inline int learn_shape(const uint8_t *p, uint32_t dm, dshape_t *sh) {
  const uint32_t nd = ~dm & 0xffffu;
  if (nd == 0) return 0;
  const uint32_t a = (uint32_t)__builtin_ctz(nd);
  uint32_t f = 0, len = a + 1;
  if (p[a] == '.') {
    const uint32_t rest = nd & (nd - 1);
    if (rest == 0) return 0;
    const uint32_t b = (uint32_t)__builtin_ctz(rest);
    f = b - a - 1;
    len = b + 1;
    /* "1." is left to the byte-wise path: a shape with a dot and no fraction digits would let
     * the next number's check skip the byte where its dot should be */
    if (f == 0) return 0;
  }
  if (p[len - 1] != '"' || a > 8 || f > 8 || a + f == 0) return 0;
  sh->a = a;
  sh->f = f;
  sh->len = len;
  sh->mask = ((1u << a) - 1) | (((1u << f) - 1) << (a + 1));
#ifdef __SSSE3__
  uint8_t idx[16];
  const uint32_t n = a + f;
  for (uint32_t i = 0; i < 16; i++) {
    const uint32_t j = i - (16 - n); /* the j-th digit of the number (wraps for the padding) */
    idx[i] = i < 16 - n ? 0x80 : (uint8_t)(j < a ? j : j + 1);
  }
  memcpy(&sh->shuf, idx, 16);
#endif
  return 1;
}

#ifdef __SSSE3__
/* Up to 16 digit values (0..9), most significant first and right-aligned behind zeros, as one
 * integer: pairs, quads and eights by multiply-adds across lanes, then the two eights joined. */
static inline uint64_t sse_digits16(__m128i d) {
  const __m128i pairs = _mm_maddubs_epi16(d, _mm_set_epi8(1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10));
  const __m128i quads = _mm_madd_epi16(pairs, _mm_set_epi16(1, 100, 1, 100, 1, 100, 1, 100));
  const __m128i q16 = _mm_packs_epi32(quads, quads); /* each quad <= 9999 */
  const __m128i eights = _mm_madd_epi16(q16, _mm_set_epi16(1, 10000, 1, 10000, 1, 10000, 1, 10000));
  const uint64_t hi = (uint32_t)_mm_cvtsi128_si32(eights);
  const uint64_t lo = (uint32_t)_mm_cvtsi128_si32(_mm_srli_si128(eights, 4));
  return hi * 100000000ull + lo;
}
#endif

/* A quoted decimal's digits from p (after the opening quote) through the closing quote, by its
 * shape; NULL when neither the last shape nor a new one fits (the caller's byte-wise path then
 * reads it). The value is the same double either way: m / 10^f with m <= 2^53, one rounding. */
static inline const uint8_t *shaped_decimal(const uint8_t *p, const uint8_t *e, dshape_t *sh, double *out) {
#ifdef __SSE2__
  if (BOT4_UNLIKELY(e - p < 24)) return NULL;
  const __m128i dv = digit_values16(p);
  const uint32_t dm = digit_mask_of(dv);
  const uint32_t span = (1u << sh->len) - 1;
  if (BOT4_UNLIKELY(sh->len == 0 || (dm & span) != sh->mask || p[sh->len - 1] != '"' || (sh->f && p[sh->a] != '.'))) {
    if (!learn_shape(p, dm, sh)) {
      sh->len = 0;
      return NULL;
    }
  }
  const uint32_t f = sh->f;
#ifdef __SSSE3__
  const uint64_t m = sse_digits16(_mm_shuffle_epi8(dv, sh->shuf));
#else
  const uint32_t a = sh->a;
  const uint64_t m = swar_digits(p, a) * POW10_U[f] + swar_digits(p + a + 1, f);
#endif
  if (BOT4_UNLIKELY(m > (1ull << 53))) return NULL;
  *out = (double)m / POW10[f];
  return p + sh->len;
#else
  (void)p, (void)e, (void)sh, (void)out;
  return NULL;
#endif
}

/* The compact form every venue's encoder writes, ["61659.70","1.486"], in one pass with no
 * whitespace handling; NULL sends the caller to the general path. */
static inline const uint8_t *quick_level(const uint8_t *p, const uint8_t *e, double *px, double *sz) {
  if (BOT4_UNLIKELY(e - p < 8 || p[0] != '[' || p[1] != '"')) return NULL;
  p = quick_decimal(p + 2, e, px);
  if (BOT4_UNLIKELY(!p || e - p < 4 || p[0] != ',' || p[1] != '"')) return NULL;
  p = quick_decimal(p + 2, e, sz);
  if (BOT4_UNLIKELY(!p || p >= e || *p != ']')) return NULL;
  return p + 1;
}

/* decimal() of the span s[0..n) when the bytes up to `end` may be read (the span's closing quote
 * and what follows in the frame): the plain form, at most 8 integer and 8 fraction digits, by one
 * 16-byte compare and SWAR — no loop per digit, so no mispredicted exit where lengths vary (trade
 * sizes do) — anything else (signs, exponents, longer numbers, a short tail) by decimal(). Same
 * double either way: m / 10^f with m <= 2^53, one rounding. */
static inline double span_decimal(const uint8_t *s, uint32_t n, const uint8_t *end) {
#ifdef __SSE2__
  if (BOT4_LIKELY(n >= 1 && n <= 16 && end - s >= 24)) {
    const uint32_t nd = ~digit_mask16(s) & (uint32_t)((1ull << n) - 1); /* non-digits inside the span */
    uint32_t a = n, f = 0;
    if (nd != 0) {
      a = (uint32_t)__builtin_ctz(nd);
      f = n - a - 1;
      if ((nd & (nd - 1)) != 0 || s[a] != '.') return decimal(s, n);
    }
    if (BOT4_LIKELY(a <= 8 && f <= 8 && a + f > 0)) {
      const uint64_t m = swar_digits(s, a) * POW10_U[f] + swar_digits(s + a + 1, f);
      if (BOT4_LIKELY(m <= (1ull << 53))) return (double)m / POW10[f];
    }
  }
#else
  (void)end;
#endif
  return decimal(s, n);
}

/* quick_level with a shape per column (price, size) carried from level to level by the caller. */
static inline const uint8_t *quick_level_shaped(const uint8_t *p, const uint8_t *e, dshape_t sh[2], double *px, double *sz) {
  if (BOT4_UNLIKELY(e - p < 8 || p[0] != '[' || p[1] != '"')) return NULL;
  const uint8_t *q = shaped_decimal(p + 2, e, &sh[0], px);
  if (BOT4_UNLIKELY(!q)) return quick_level(p, e, px, sz);
  if (BOT4_UNLIKELY(e - q < 4 || q[0] != ',' || q[1] != '"')) return NULL;
  const uint8_t *r = shaped_decimal(q + 2, e, &sh[1], sz);
  if (BOT4_UNLIKELY(!r)) {
    r = quick_decimal(q + 2, e, sz);
    if (!r) return NULL;
  }
  if (BOT4_UNLIKELY(r >= e || *r != ']')) return NULL;
  return r + 1;
}

static inline const uint8_t *c_int(const uint8_t *p, const uint8_t *e, uint64_t *v) {
#ifdef __SSE2__
  /* up to 15 digits (timestamps, ids) measured by one 16-byte compare and converted by SWAR:
   * no loop per digit for the tail past a multiple of eight */
  if (BOT4_LIKELY(e - p >= 24)) {
    const uint32_t nd = ~digit_mask16(p) & 0xffffu;
    if (BOT4_LIKELY(nd != 0)) {
      const uint32_t n = (uint32_t)__builtin_ctz(nd);
      if (n == 0) return NULL;
      *v = n <= 8 ? swar_digits(p, n) : swar_digits(p, n - 8) * 100000000ull + swar_digits(p + n - 8, 8);
      return p + n;
    }
  }
#endif
  uint64_t x = 0;
  const uint8_t *b = p;
  /* eight digits at a time where the buffer allows (timestamps and ids are 10-19 digits) */
  while (e - p >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    const uint64_t d = w - 0x3030303030303030ull;
    if (((d | ((d + 0x7676767676767676ull) )) & 0x8080808080808080ull) != 0) break; /* not 8 digits */
    /* SWAR: pairs, then quads, then the eight (little-endian: first digit in the low byte) */
    uint64_t t = (d * 10 + (d >> 8)) & 0x00ff00ff00ff00ffull;
    t = (t * 100 + (t >> 16)) & 0x0000ffff0000ffffull;
    t = (t * 10000 + (t >> 32)) & 0xffffffffull;
    x = x * 100000000ull + t;
    p += 8;
  }
  while (p < e && (unsigned)(*p - '0') < 10) x = x * 10 + (unsigned)(*p++ - '0');
  if (p == b || p - b > 19) return NULL;
  *v = x;
  return p;
}

static inline const uint8_t *c_str(const uint8_t *p, const uint8_t *e, const uint8_t **s, uint32_t *n) {
  if (p >= e || *p != '"') return NULL;
  const uint8_t *b = ++p;
#ifdef __SSE2__
  while (e - p >= 16) {
    const uint32_t q = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)p), _mm_set1_epi8('"')));
    if (q) {
      p += __builtin_ctz(q);
      goto found;
    }
    p += 16;
  }
#endif
  /* the closing quote, eight bytes at a time: one predictable exit instead of one per length */
  while (e - p >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    const uint64_t x = w ^ 0x2222222222222222ull;
    const uint64_t z = (x - 0x0101010101010101ull) & ~x & 0x8080808080808080ull;
    if (z) {
      p += __builtin_ctzll(z) >> 3;
      goto found;
    }
    p += 8;
  }
  while (p < e && *p != '"') p++;
found:
  /* a quote after a backslash may be escaped: the general walker sorts that out */
  if (p >= e || (p > b && BOT4_UNLIKELY(p[-1] == '\\'))) return NULL;
  *s = b;
  *n = (uint32_t)(p - b);
  return p + 1;
}

static inline const uint8_t *c_bool(const uint8_t *p, const uint8_t *e, int *v) {
  if (e - p >= 4 && memcmp(p, "true", 4) == 0) return *v = 1, p + 4;
  if (e - p >= 5 && memcmp(p, "false", 5) == 0) return *v = 0, p + 5;
  return NULL;
}

/* Symbol hash: the name's bytes as (at most three) little-endian words, multiplied and folded —
 * a few multiplies, not one dependent multiply per byte. Names are at most 23 bytes. */
static inline uint32_t fnv(const uint8_t *s, uint32_t n) {
  uint64_t w[3] = {0, 0, 0};
  memcpy(w, s, n < 24 ? n : 24);
  const uint64_t h = (w[0] * 0x9e3779b97f4a7c15ull) ^ (w[1] * 0xc2b2ae3d27d4eb4full) ^ (w[2] * 0x165667b19e3779f9ull) ^ n;
  return (uint32_t)(h >> 32) ^ (uint32_t)h;
}

static inline int64_t lookup(const bot4_parser_t *p, const uint8_t *s, uint32_t n) {
  if (n == 0 || n > BOT4_PARSE_SYMBOL_MAX) return -1;
  uint32_t h = fnv(s, n);
  for (uint32_t i = 0; i < BOT4_PARSE_SYMBOLS; i++) {
    const bot4_parse_symbol_t *e = &p->table[(h + i) & (BOT4_PARSE_SYMBOLS - 1)];
    if (e->len == 0) return -1;
    if (e->hash == h && e->len == n && memcmp(e->name, s, n) == 0) return e->instrument;
  }
  return -1;
}

/* Counts a frame's outcome in the parser's counters and remembers it: the one place every venue
 * parser (parse.c, vparse.c) classifies a status. */
static inline int32_t bot4_parse_fail(bot4_parser_t *p, int32_t status) {
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

#endif /* BOT4_PARSE_INTERNALS */

#endif
