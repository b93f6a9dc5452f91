/*
 * order.c — Binance `order.place` text + HMAC signature + masked client frame in one call.
 * See order.h for the guarantees; the TypeScript reference is BinanceWsGateway.encodePlaceInto.
 * The number formatting is exact only without FMA contraction (the Makefile's -ffp-contract=off):
 * `m - hi * 1e9` fused would not round like the TypeScript expression.
 */
#include "order.h"

#include <math.h>
#include <string.h>

/* 10^i, exact doubles (the TypeScript POW10 table: 10 ** i) */
static const double POW10[19] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8, 1e9,
                                 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18};

/* ECMAScript ToInt32 (what `x | 0` gives): in range a plain truncation, else modulo 2^32 */
static inline int32_t js_i32(double x) {
  if (BOT4_LIKELY(x > -2147483649.0 && x < 2147483648.0)) return (int32_t)x;
  if (!isfinite(x)) return 0;
  double m = fmod(trunc(x), 4294967296.0);
  if (m < 0) m += 4294967296.0;
  return (int32_t)(uint32_t)m;
}

/* ECMAScript Math.round for the positive finite values it gets here (ties toward +inf) */
static inline double js_round(double v) {
  double r = floor(v);
  return v - r >= 0.5 ? r + 1 : r;
}

/* 0 <= v < 10^n as exactly n digits (leading zeros); int32 arithmetic as putPadded */
static inline uint8_t *put_padded(uint8_t *b, int32_t v, int n) {
  for (int i = n - 1; i >= 0; i--) {
    int32_t q = v / 10;
    b[i] = (uint8_t)(48 + v - q * 10);
    v = q;
  }
  return b + n;
}

/*
 * putUint: a whole number 0 <= m < 2^53 (every caller passes one: ids and timestamps are checked,
 * the formatter's values are floors and rounds below 9e15). For such m the TypeScript steps —
 * floor(m / 1e9), then m - hi * 1e9 — are exact (m / 1e9 is at least 1e-9 from the next whole
 * number, more than half an ulp below 2^53 / 1e9), so integer digits are the same digits.
 */
static uint8_t *put_uint(uint8_t *b, double m) {
  uint64_t v = (uint64_t)m;
  uint8_t tmp[20];
  int n = 0;
  do {
    uint64_t q = v / 10;
    tmp[19 - n++] = (uint8_t)('0' + (v - q * 10));
    v = q;
  } while (v != 0);
  memcpy(b, tmp + 20 - n, (size_t)n);
  return b + n;
}

/* putScaled: m / 10^d with exactly d decimals */
static uint8_t *put_scaled(uint8_t *b, double m, int d) {
  if (d == 0) return put_uint(b, m);
  double p = POW10[d];
  double ip = floor(m / p);
  b = put_uint(b, ip);
  *b++ = '.';
  double f = m - ip * p;
  if (d <= 9) return put_padded(b, js_i32(f), d);
  double low_p = POW10[d - 9];
  double fh = floor(f / low_p);
  b = put_padded(b, js_i32(fh), 9);
  return put_padded(b, js_i32(f - fh * low_p), d - 9);
}

/* putDecimal: the end of the text, or NULL where the TypeScript one returns -1 */
static uint8_t *put_decimal(uint8_t *b, double x, int32_t decimals) {
  if (!(x > 0 && x < 1e15)) return NULL;
  if (decimals != BOT4_ORDER_SHORTEST) {
    if (!(decimals >= 0 && decimals <= 15)) return NULL;
    double y = x * POW10[decimals];
    if (!(y < 9e15)) return NULL;
    double fl = floor(y);
    /* toFixed rounds the exact binary value; this close to a tie the product may be an ulp off */
    if (fabs(y - fl - 0.5) < 1e-6) return NULL;
    return put_scaled(b, y - fl > 0.5 ? fl + 1 : fl, decimals);
  }
  for (int d = 0; d <= 15; d++) {
    double p = POW10[d];
    double m = js_round(x * p);
    if (m > 9e15) return NULL;
    if (m / p == x) return put_scaled(b, m, d);
  }
  return NULL;
}

BOT4_API int bot4_order_decimal(double x, int32_t decimals, uint8_t *out) {
  uint8_t *e = put_decimal(out, x, decimals);
  return e ? (int)(e - out) : BOT4_ORDER_NUMBER;
}

static inline int whole(double v) { return v >= 0 && v < 9007199254740992.0 && v == floor(v); }

#define LIT(p, s) (__builtin_memcpy((p), (s), sizeof(s) - 1), (p) + sizeof(s) - 1)
static inline uint8_t *put(uint8_t *p, const uint8_t *src, size_t n) {
  memcpy(p, src, n);
  return p + n;
}

BOT4_API uint32_t bot4_order_ctx_bytes(void) { return (uint32_t)sizeof(bot4_order_ctx_t); }

BOT4_API int bot4_order_ctx_init(bot4_order_ctx_t *c, const uint8_t *secret, uint32_t secret_len,
                                 const uint8_t *head, uint32_t head_len, const uint8_t *rw, uint32_t rw_len,
                                 const uint8_t *keypart, uint32_t keypart_len, const uint8_t *rwq, uint32_t rwq_len) {
  if (head_len > BOT4_ORDER_PIECE || rw_len > BOT4_ORDER_PIECE || keypart_len > BOT4_ORDER_PIECE || rwq_len > BOT4_ORDER_PIECE) return BOT4_ORDER_FIELD;
  memset(c, 0, sizeof *c);
  memcpy(c->head, head, head_len);
  memcpy(c->rw, rw, rw_len);
  c->head_len = (uint16_t)head_len;
  c->rw_len = (uint16_t)rw_len;
  c->sign = secret != NULL;
  if (c->sign) {
    memcpy(c->keypart, keypart, keypart_len);
    memcpy(c->rwq, rwq, rwq_len);
    c->keypart_len = (uint16_t)keypart_len;
    c->rwq_len = (uint16_t)rwq_len;
    bot4_hmac_key_init(&c->key, secret, secret_len);
    memcpy(c->pre, c->key.inner, sizeof c->pre);
    c->pre_bytes = keypart_len & ~63u;
    bot4_sha256_blocks(c->pre, c->keypart, c->pre_bytes >> 6);
  }
  c->magic = BOT4_ORDER_MAGIC;
  return 0;
}

/* a number: formatted from the double, or the caller's text */
static inline uint8_t *put_number(uint8_t *p, const bot4_order_in_t *in, double x, int32_t dec, const uint8_t *txt, uint32_t len) {
  if (in->flags & BOT4_ORDER_TEXT_NUMBERS) return put(p, txt, len);
  return put_decimal(p, x, dec);
}

/* The masked client text frame of the text at text[0, len) (text - 8 must be writable): header
 * and mask key before it, payload XORed; moved to out[0]. Returns the frame's length. */
static int frame_text(uint8_t *out, uint8_t *text, uint32_t len, uint32_t m) {
  uint8_t *h;
  if (BOT4_UNLIKELY(len < 126)) {
    h = text - 6;
    h[1] = (uint8_t)(0x80 | len);
  } else {
    h = text - 8;
    h[1] = 0x80 | 126;
    h[2] = (uint8_t)(len >> 8);
    h[3] = (uint8_t)len;
  }
  h[0] = 0x81;
  text[-4] = (uint8_t)m;
  text[-3] = (uint8_t)(m >> 8);
  text[-2] = (uint8_t)(m >> 16);
  text[-1] = (uint8_t)(m >> 24);
  const uint8_t mb[4] = {(uint8_t)m, (uint8_t)(m >> 8), (uint8_t)(m >> 16), (uint8_t)(m >> 24)};
  const uint64_t m64 = (uint64_t)m | ((uint64_t)m << 32);
  uint32_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w;
    memcpy(&w, text + i, 8);
    w ^= m64;
    memcpy(text + i, &w, 8);
  }
  for (; i < len; i++) text[i] ^= mb[i & 3];
  const uint32_t total = (uint32_t)(text - h) + len;
  if (h != out) memmove(out, h, total);
  return (int)total;
}

/* `,"signature":"<hex>"` at p: HMAC-SHA256 of the payload q[0, n) after the context's pre-absorbed
 * prefix; returns the end */
static uint8_t *put_signature(const bot4_order_ctx_t *c, uint8_t *p, const uint8_t *q, size_t n) {
  uint32_t st[8];
  uint8_t d[32];
  memcpy(st, c->pre, sizeof st);
  bot4_sha256_finish(st, 64 + c->pre_bytes, q, n, d);
  bot4_hmac_outer(&c->key, d, d);
  p = LIT(p, ",\"signature\":\"");
  bot4_hex32(d, p);
  p += 64;
  *p++ = '"';
  return p;
}

/* closes the params and the request (`}}`), then frames text[0, p - text) (RFC 6455 5.2: FIN +
 * text, MASK bit + length, the mask key, the payload XORed with it) at out[0] */
static int close_frame(uint8_t *out, uint8_t *text, uint8_t *p, uint32_t mask) {
  *p++ = '}';
  *p++ = '}';
  return frame_text(out, text, (uint32_t)(p - text), mask);
}

BOT4_API int bot4_order_place_frame(const bot4_order_ctx_t *c, const bot4_order_in_t *in, uint8_t *out, uint32_t cap) {
  if (BOT4_UNLIKELY(c == NULL || c->magic != BOT4_ORDER_MAGIC)) return BOT4_ORDER_CTX;
  if (BOT4_UNLIKELY(in->cid_len > BOT4_ORDER_CID || in->sym_len > BOT4_ORDER_SYM || in->tif_len > BOT4_ORDER_TIF ||
                    in->price_len > BOT4_ORDER_NUM || in->qty_len > BOT4_ORDER_NUM || in->side > BOT4_ORDER_SELL ||
                    in->type > BOT4_ORDER_LIMIT_MAKER || !whole(in->id) || !whole(in->ts_ms)))
    return BOT4_ORDER_FIELD;
  /* the longest text: fixed pieces + fields + 32-byte numbers + 64 hex; checked once up front */
  uint32_t most = 8 + 400 + c->head_len + c->rw_len + in->cid_len + in->sym_len + in->tif_len + in->price_len + in->qty_len;
  if (BOT4_UNLIKELY(cap < most)) return BOT4_ORDER_ROOM;

  const int limit = in->type != BOT4_ORDER_MARKET;
  const int has_tif = in->type == BOT4_ORDER_LIMIT && in->tif_len > 0;
  uint8_t *const text = out + 8; /* room for the 8-byte header of a 126..65535-byte payload */
  uint8_t *p = text;
  p = LIT(p, "{\"id\":");
  p = put_uint(p, in->id);
  p = put(p, c->head, c->head_len);
  p = put(p, in->cid, in->cid_len);
  p = LIT(p, "\",\"newOrderRespType\":\"RESULT\",");
  uint8_t *price_at = p, *price_end = p;
  if (limit) {
    p = LIT(p, "\"price\":\"");
    price_at = p;
    p = put_number(p, in, in->price, in->price_dec, in->price_txt, in->price_len);
    if (BOT4_UNLIKELY(p == NULL)) return BOT4_ORDER_NUMBER;
    price_end = p;
    p = LIT(p, "\",");
  }
  p = LIT(p, "\"quantity\":\"");
  uint8_t *qty_at = p;
  p = put_number(p, in, in->amount, in->amount_dec, in->qty_txt, in->qty_len);
  if (BOT4_UNLIKELY(p == NULL)) return BOT4_ORDER_NUMBER;
  uint8_t *qty_end = p;
  p = put(p, c->rw, c->rw_len);
  p = in->side == BOT4_ORDER_BUY ? LIT(p, "BUY") : LIT(p, "SELL");
  p = LIT(p, "\",\"symbol\":\"");
  p = put(p, in->sym, in->sym_len);
  p = LIT(p, "\",");
  if (has_tif) {
    p = LIT(p, "\"timeInForce\":\"");
    p = put(p, in->tif, in->tif_len);
    p = LIT(p, "\",");
  }
  p = LIT(p, "\"timestamp\":");
  uint8_t *ts_at = p;
  p = put_uint(p, in->ts_ms);
  uint8_t *ts_end = p;
  p = LIT(p, ",\"type\":\"");
  switch (in->type) {
    case BOT4_ORDER_MARKET: p = LIT(p, "MARKET"); break;
    case BOT4_ORDER_LIMIT: p = LIT(p, "LIMIT"); break;
    default: p = LIT(p, "LIMIT_MAKER"); break;
  }
  *p++ = '"';
  if (c->sign) {
    /* the payload: the same params in the same (sorted) order, k=v joined by & — after the
     * part of the fixed prefix already absorbed into c->pre */
    uint8_t q[BOT4_ORDER_TEXT_MAX] BOT4_ALIGNED(16);
    uint8_t *k = q;
    k = put(k, c->keypart + c->pre_bytes, c->keypart_len - c->pre_bytes);
    k = put(k, in->cid, in->cid_len);
    k = LIT(k, "&newOrderRespType=RESULT");
    if (limit) {
      k = LIT(k, "&price=");
      k = put(k, price_at, (size_t)(price_end - price_at));
    }
    k = LIT(k, "&quantity=");
    k = put(k, qty_at, (size_t)(qty_end - qty_at));
    k = put(k, c->rwq, c->rwq_len);
    k = in->side == BOT4_ORDER_BUY ? LIT(k, "BUY&symbol=") : LIT(k, "SELL&symbol=");
    k = put(k, in->sym, in->sym_len);
    if (has_tif) {
      k = LIT(k, "&timeInForce=");
      k = put(k, in->tif, in->tif_len);
    }
    k = LIT(k, "&timestamp=");
    k = put(k, ts_at, (size_t)(ts_end - ts_at));
    k = LIT(k, "&type=");
    switch (in->type) {
      case BOT4_ORDER_MARKET: k = LIT(k, "MARKET"); break;
      case BOT4_ORDER_LIMIT: k = LIT(k, "LIMIT"); break;
      default: k = LIT(k, "LIMIT_MAKER"); break;
    }
    p = put_signature(c, p, q, (size_t)(k - q));
  }
  return close_frame(out, text, p, in->mask);
}

BOT4_API int bot4_order_cancel_frame(const bot4_order_ctx_t *c, const bot4_order_in_t *in, uint8_t *out, uint32_t cap) {
  if (BOT4_UNLIKELY(c == NULL || c->magic != BOT4_ORDER_MAGIC)) return BOT4_ORDER_CTX;
  if (BOT4_UNLIKELY(in->cid_len > BOT4_ORDER_CID || in->sym_len > BOT4_ORDER_SYM || !whole(in->id) || !whole(in->ts_ms))) return BOT4_ORDER_FIELD;
  const uint32_t most = 8 + 200 + c->head_len + c->rw_len + in->cid_len + in->sym_len;
  if (BOT4_UNLIKELY(cap < most)) return BOT4_ORDER_ROOM;
  uint8_t *const text = out + 8;
  uint8_t *p = text;
  p = LIT(p, "{\"id\":");
  p = put_uint(p, in->id);
  p = put(p, c->head, c->head_len); /* ,"method":"order.cancel","params":{["apiKey":"K",]"origClientOrderId":" */
  p = put(p, in->cid, in->cid_len);
  p = put(p, c->rw, c->rw_len); /* ","recvWindow":W,"symbol":" */
  p = put(p, in->sym, in->sym_len);
  p = LIT(p, "\",\"timestamp\":");
  uint8_t *ts_at = p;
  p = put_uint(p, in->ts_ms);
  uint8_t *ts_end = p;
  if (c->sign) {
    /* [apiKey=K&]origClientOrderId=C&recvWindow=W&symbol=S&timestamp=T: sorted by name */
    uint8_t q[BOT4_ORDER_TEXT_MAX] BOT4_ALIGNED(16);
    uint8_t *k = q;
    k = put(k, c->keypart + c->pre_bytes, c->keypart_len - c->pre_bytes);
    k = put(k, in->cid, in->cid_len);
    k = put(k, c->rwq, c->rwq_len); /* &recvWindow=W&symbol= */
    k = put(k, in->sym, in->sym_len);
    k = LIT(k, "&timestamp=");
    k = put(k, ts_at, (size_t)(ts_end - ts_at));
    p = put_signature(c, p, q, (size_t)(k - q));
  }
  return close_frame(out, text, p, in->mask);
}

BOT4_API int bot4_layout_order(char *buf, int cap) {
  int n = 0;
  BOT4_L_SIZE(bot4_order_ctx_t);
  BOT4_L_SIZE(bot4_order_in_t);
  BOT4_L_OFF(bot4_order_in_t, id);
  BOT4_L_OFF(bot4_order_in_t, ts_ms);
  BOT4_L_OFF(bot4_order_in_t, price);
  BOT4_L_OFF(bot4_order_in_t, amount);
  BOT4_L_OFF(bot4_order_in_t, price_dec);
  BOT4_L_OFF(bot4_order_in_t, amount_dec);
  BOT4_L_OFF(bot4_order_in_t, mask);
  BOT4_L_OFF(bot4_order_in_t, side);
  BOT4_L_OFF(bot4_order_in_t, type);
  BOT4_L_OFF(bot4_order_in_t, flags);
  BOT4_L_OFF(bot4_order_in_t, cid_len);
  BOT4_L_OFF(bot4_order_in_t, sym_len);
  BOT4_L_OFF(bot4_order_in_t, tif_len);
  BOT4_L_OFF(bot4_order_in_t, price_len);
  BOT4_L_OFF(bot4_order_in_t, qty_len);
  BOT4_L_OFF(bot4_order_in_t, cid);
  BOT4_L_OFF(bot4_order_in_t, sym);
  BOT4_L_OFF(bot4_order_in_t, tif);
  BOT4_L_OFF(bot4_order_in_t, price_txt);
  BOT4_L_OFF(bot4_order_in_t, qty_txt);
  BOT4_L_CONST(BOT4_ORDER_MAGIC);
  BOT4_L_CONST(BOT4_ORDER_PIECE);
  BOT4_L_CONST(BOT4_ORDER_CID);
  BOT4_L_CONST(BOT4_ORDER_SYM);
  BOT4_L_CONST(BOT4_ORDER_TIF);
  BOT4_L_CONST(BOT4_ORDER_NUM);
  BOT4_L_CONST(BOT4_ORDER_TEXT_MAX);
  BOT4_L_CONST(BOT4_ORDER_BUY);
  BOT4_L_CONST(BOT4_ORDER_SELL);
  BOT4_L_CONST(BOT4_ORDER_MARKET);
  BOT4_L_CONST(BOT4_ORDER_LIMIT);
  BOT4_L_CONST(BOT4_ORDER_LIMIT_MAKER);
  BOT4_L_CONST(BOT4_ORDER_TEXT_NUMBERS);
  return n;
}
