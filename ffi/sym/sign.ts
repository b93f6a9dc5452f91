/**
 * Symbols of c/sign.c (SHA-256, HMAC-SHA256) and c/order.c (Binance order.place text + signature
 * + client frame in one call). Struct offsets in bytes, mirrored from c/sign.h and c/order.h.
 */
import type { LayoutSpec } from "./types.ts";

export const signSymbols = {
  bot4_sha256: { args: ["ptr", "u32", "ptr"], returns: "void" },
  bot4_hmac_key_init: { args: ["ptr", "ptr", "u32"], returns: "i32" },
  bot4_hmac_sha256: { args: ["ptr", "ptr", "u32", "ptr"], returns: "i32" },
  bot4_hmac_sha256_hex: { args: ["ptr", "ptr", "u32", "ptr"], returns: "i32" },
  bot4_sha256_use: { args: ["i32"], returns: "i32" },
  bot4_sha256_impl: { args: [], returns: "i32" },
  bot4_sha256_has_shani: { args: [], returns: "i32" },
  bot4_layout_sign: { args: ["ptr", "i32"], returns: "i32" },
  bot4_order_ctx_bytes: { args: [], returns: "u32" },
  bot4_order_ctx_init: { args: ["ptr", "ptr", "u32", "ptr", "u32", "ptr", "u32", "ptr", "u32", "ptr", "u32"], returns: "i32" },
  bot4_order_place_frame: { args: ["ptr", "ptr", "ptr", "u32"], returns: "i32" },
  bot4_order_cancel_frame: { args: ["ptr", "ptr", "ptr", "u32"], returns: "i32" },
  bot4_order_decimal: { args: ["f64", "i32", "ptr"], returns: "i32" },
  bot4_layout_order: { args: ["ptr", "i32"], returns: "i32" },
} as const;

/** bot4_sha256_use / bot4_sha256_impl */
export const Sha256Impl = { auto: 0, portable: 1, shani: 2 } as const;

/** bot4_hmac_key_t */
export const HMAC_KEY_BYTES = 72;
export const HMAC_MAGIC = 0x484d4143;

/** c/order.h constants */
export const OrderConst = {
  MAGIC: 0x4f524452,
  PIECE: 192,
  CID: 64,
  SYM: 48,
  TIF: 16,
  NUM: 128,
  TEXT_MAX: 2048,
  BUY: 0,
  SELL: 1,
  MARKET: 0,
  LIMIT: 1,
  LIMIT_MAKER: 2,
  TEXT_NUMBERS: 1,
  /** decimals codes (not in the layout export: it prints unsigned values) */
  SHORTEST: -1,
  NO_FORMAT: -2,
} as const;

/** negative returns of bot4_order_place_frame */
export const OrderError = { number: -1, field: -2, room: -3, ctx: -4 } as const;

/** bot4_order_ctx_t is opaque to TypeScript (filled by bot4_order_ctx_init): only its size */
export const ORDER_CTX_BYTES = 892;

/** bot4_order_in_t */
export const OrderInOffset = {
  id: 0,
  tsMs: 8,
  price: 16,
  amount: 24,
  priceDec: 32,
  amountDec: 36,
  mask: 40,
  side: 44,
  type: 45,
  flags: 46,
  cidLen: 47,
  symLen: 48,
  tifLen: 49,
  priceLen: 50,
  qtyLen: 51,
  cid: 64,
  sym: 128,
  tif: 176,
  priceTxt: 192,
  qtyTxt: 320,
} as const;
export const ORDER_IN_BYTES = 448;

const o = OrderInOffset;
const c = OrderConst;
export const signLayouts: LayoutSpec[] = [
  {
    family: "sign",
    fn: "bot4_layout_sign",
    expected: {
      bot4_hmac_key_t: HMAC_KEY_BYTES,
      "bot4_hmac_key_t.inner": 0,
      "bot4_hmac_key_t.outer": 32,
      "bot4_hmac_key_t.magic": 64,
      BOT4_HMAC_MAGIC: HMAC_MAGIC,
      BOT4_SHA256_PORTABLE: Sha256Impl.portable,
      BOT4_SHA256_SHANI: Sha256Impl.shani,
    },
  },
  {
    family: "order",
    fn: "bot4_layout_order",
    expected: {
      bot4_order_ctx_t: ORDER_CTX_BYTES,
      bot4_order_in_t: ORDER_IN_BYTES,
      "bot4_order_in_t.id": o.id,
      "bot4_order_in_t.ts_ms": o.tsMs,
      "bot4_order_in_t.price": o.price,
      "bot4_order_in_t.amount": o.amount,
      "bot4_order_in_t.price_dec": o.priceDec,
      "bot4_order_in_t.amount_dec": o.amountDec,
      "bot4_order_in_t.mask": o.mask,
      "bot4_order_in_t.side": o.side,
      "bot4_order_in_t.type": o.type,
      "bot4_order_in_t.flags": o.flags,
      "bot4_order_in_t.cid_len": o.cidLen,
      "bot4_order_in_t.sym_len": o.symLen,
      "bot4_order_in_t.tif_len": o.tifLen,
      "bot4_order_in_t.price_len": o.priceLen,
      "bot4_order_in_t.qty_len": o.qtyLen,
      "bot4_order_in_t.cid": o.cid,
      "bot4_order_in_t.sym": o.sym,
      "bot4_order_in_t.tif": o.tif,
      "bot4_order_in_t.price_txt": o.priceTxt,
      "bot4_order_in_t.qty_txt": o.qtyTxt,
      BOT4_ORDER_MAGIC: c.MAGIC,
      BOT4_ORDER_PIECE: c.PIECE,
      BOT4_ORDER_CID: c.CID,
      BOT4_ORDER_SYM: c.SYM,
      BOT4_ORDER_TIF: c.TIF,
      BOT4_ORDER_NUM: c.NUM,
      BOT4_ORDER_TEXT_MAX: c.TEXT_MAX,
      BOT4_ORDER_BUY: c.BUY,
      BOT4_ORDER_SELL: c.SELL,
      BOT4_ORDER_MARKET: c.MARKET,
      BOT4_ORDER_LIMIT: c.LIMIT,
      BOT4_ORDER_LIMIT_MAKER: c.LIMIT_MAKER,
      BOT4_ORDER_TEXT_NUMBERS: c.TEXT_NUMBERS,
    },
  },
];
