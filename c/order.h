/*
 * order.h — Binance WebSocket API `order.place`: text, signature and client frame in one call.
 *
 * Guarantees:
 *  - bot4_order_place_frame writes one complete masked RFC 6455 client text frame (FIN, opcode
 *    1, 16-bit length, the caller's 4-byte mask key, payload masked) at out[0], holding the
 *    order.place JSON text that BinanceWsGateway.encodePlaceInto (src/exec/gateway/binance-ws.ts)
 *    writes, byte for byte: params in sorted-name order and, for an HMAC key, `signature` =
 *    HMAC-SHA256 hex of the same params joined as `k=v&...` (Binance's WebSocket API rule:
 *    every param except signature, sorted by name). test/order-c.test.ts compares the two on
 *    many orders.
 *  - Numbers: the request id and timestamp as whole numbers, price and quantity with the
 *    symbol's fixed decimals or the shortest text that reads back as the same double — the same
 *    double arithmetic as the TypeScript putDecimal, so the same digits. Where putDecimal would
 *    decline (a toFixed tie too close to call, a number outside (0, 1e15)), this declines too
 *    (BOT4_ORDER_NUMBER) and the caller passes the numbers as text (BOT4_ORDER_TEXT_NUMBERS).
 *  - The context holds the fixed pieces of one gateway (apiKey, recvWindow) and its HMAC key,
 *    with the signature's fixed prefix `apiKey=<key>&newClientOrderId=` absorbed into the inner
 *    hash state as far as whole blocks go. It is only read by the per-order call.
 *  - No allocation, no OS call; the payload to sign is built on the stack.
 */
#ifndef BOT4_ORDER_H
#define BOT4_ORDER_H

#include "bot4.h"
#include "sign.h"

#define BOT4_ORDER_MAGIC 0x4f524452u /* "ORDR" */
#define BOT4_ORDER_PIECE 192         /* room for each fixed piece (apiKey up to ~100 bytes) */
#define BOT4_ORDER_CID 64            /* client order id: at most 64 bytes (Binance: 36) */
#define BOT4_ORDER_SYM 48
#define BOT4_ORDER_TIF 16
#define BOT4_ORDER_NUM 128           /* a number given as text */
#define BOT4_ORDER_TEXT_MAX 2048     /* longest order text; a frame adds 8 header bytes */

/* side / type codes of bot4_order_in_t */
#define BOT4_ORDER_BUY 0
#define BOT4_ORDER_SELL 1
#define BOT4_ORDER_MARKET 0
#define BOT4_ORDER_LIMIT 1
#define BOT4_ORDER_LIMIT_MAKER 2
/* decimals: the shortest text, or "do not format: decline" (decimals putDecimal cannot do) */
#define BOT4_ORDER_SHORTEST (-1)
#define BOT4_ORDER_NO_FORMAT (-2)
/* flags */
#define BOT4_ORDER_TEXT_NUMBERS 1 /* price_txt / qty_txt hold the numbers' text */

/* errors (negative returns of bot4_order_place_frame) */
#define BOT4_ORDER_NUMBER (-1) /* a number the byte path does not format: pass it as text */
#define BOT4_ORDER_FIELD (-2)  /* a field out of range (lengths, codes, id/timestamp not whole) */
#define BOT4_ORDER_ROOM (-3)   /* the output buffer is too small */
#define BOT4_ORDER_CTX (-4)    /* the context was never initialised */

typedef struct bot4_order_ctx {
  bot4_hmac_key_t key;
  uint32_t pre[8];      /* inner state after K ^ ipad and the first pre_bytes of keypart */
  uint32_t magic;
  uint32_t sign;        /* 1: HMAC-signed orders; 0: no signature (a logged-on session) */
  uint32_t pre_bytes;   /* a multiple of 64 */
  uint16_t head_len, rw_len, keypart_len, rwq_len;
  uint8_t head[BOT4_ORDER_PIECE];    /* ,"method":"order.place","params":{["apiKey":"K",]"newClientOrderId":" */
  uint8_t rw[BOT4_ORDER_PIECE];      /* ","recvWindow":W,"side":" */
  uint8_t keypart[BOT4_ORDER_PIECE]; /* apiKey=K&newClientOrderId= */
  uint8_t rwq[BOT4_ORDER_PIECE];     /* &recvWindow=W&side= */
} bot4_order_ctx_t;

/* The per-order fields, written by the caller into one reusable struct. */
typedef struct bot4_order_in {
  double id;          /* request id: a whole number in [0, 2^53) */
  double ts_ms;       /* timestamp, ms: a whole number in [0, 2^53) */
  double price;       /* limit orders */
  double amount;
  int32_t price_dec;  /* fixed decimals 0..15, BOT4_ORDER_SHORTEST or BOT4_ORDER_NO_FORMAT */
  int32_t amount_dec;
  uint32_t mask;      /* frame mask key: byte k is (mask >> 8k) & 0xff */
  uint8_t side, type, flags, cid_len;
  uint8_t sym_len, tif_len, price_len, qty_len;
  uint8_t reserved[12];
  uint8_t cid[BOT4_ORDER_CID];
  uint8_t sym[BOT4_ORDER_SYM];
  uint8_t tif[BOT4_ORDER_TIF];
  uint8_t price_txt[BOT4_ORDER_NUM];
  uint8_t qty_txt[BOT4_ORDER_NUM];
} bot4_order_in_t;
static_assert(offsetof(bot4_order_in_t, cid) == 64, "fixed fields fill one cache line");

BOT4_API uint32_t bot4_order_ctx_bytes(void);
/*
 * Prepares a context. secret NULL: orders are not signed (keypart / rwq unused). Returns 0, or
 * BOT4_ORDER_FIELD when a piece is longer than BOT4_ORDER_PIECE.
 */
BOT4_API int bot4_order_ctx_init(bot4_order_ctx_t *c, const uint8_t *secret, uint32_t secret_len,
                                 const uint8_t *head, uint32_t head_len, const uint8_t *rw, uint32_t rw_len,
                                 const uint8_t *keypart, uint32_t keypart_len, const uint8_t *rwq, uint32_t rwq_len);
/* The frame into out[0, cap): its length, or a BOT4_ORDER_* error (nothing usable written). */
BOT4_API int bot4_order_place_frame(const bot4_order_ctx_t *c, const bot4_order_in_t *in, uint8_t *out, uint32_t cap);
/*
 * order.cancel by client order id as a complete masked client frame, from a context prepared
 * with the cancel pieces (head `,"method":"order.cancel","params":{["apiKey":"K",]"origClientOrderId":"`,
 * rw `","recvWindow":W,"symbol":"`, keypart `[apiKey=K&]origClientOrderId=`, rwq
 * `&recvWindow=W&symbol=`). Reads id, ts_ms, mask, cid and sym of `in`. Params in sorted-name
 * order, the signature over the same params joined as k=v&... (as place). Its length, or a
 * BOT4_ORDER_* error.
 */
BOT4_API int bot4_order_cancel_frame(const bot4_order_ctx_t *c, const bot4_order_in_t *in, uint8_t *out, uint32_t cap);
/* putDecimal alone (tests): the text of x into out, its length, or BOT4_ORDER_NUMBER. */
BOT4_API int bot4_order_decimal(double x, int32_t decimals, uint8_t *out);
BOT4_API int bot4_layout_order(char *buf, int cap);

#endif
