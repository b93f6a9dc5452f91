/**
 * JournalStore: the sqlite side of the order journal — schema and migrations, the refusal of
 * files that are not ours, and the one place where records change rows (used by the journal
 * worker for ring records, and by the engine thread at start-up for replay and reconciliation).
 *
 * Durability settings (WAL): synchronous=NORMAL (default) commits with a write() to the WAL and
 * no fsync: a committed transaction survives the process being killed, not a power loss (the last
 * transactions before the loss may roll back). synchronous=FULL adds an fsync of the WAL per
 * commit: committed rows survive power loss too. The ring in front of sqlite (ring.ts) has the
 * kill-safe, not power-safe, guarantee either way; bench/journal.bench.ts measures both settings.
 *
 * Rules the rows keep:
 *  - a fill is stored once: its key is (venue, symbol, trade_id), a duplicate is refused by the
 *    database and moves nothing (orders.filled, positions);
 *  - a terminal order (filled, cancelled, rejected, expired) never goes back to a live status;
 *  - positions are a snapshot kept in the same transaction as the fills that move them, and can
 *    always be recomputed from the fills (recovery compares both).
 *
 * Orders and fills are WITHOUT ROWID tables keyed by what identifies them (one b-tree per insert
 * instead of table + key index), and there is no index of live orders: it cost each order two
 * more b-tree writes (in, then out when it ends) for a query that runs once per start. Measured on
 * the 2-core box: ~14 µs → ~5 µs per order insert.
 */
import { Database } from "bun:sqlite";
import { existsSync, readFileSync } from "node:fs";
import type { ExecReport, OrderRequest, OrderStatus, Side, TimeInForce, OrderType } from "../domain/order.ts";
import { TERMINAL } from "../domain/order.ts";

/** PRAGMA application_id of a Bot4 journal ("B4JL") */
export const APPLICATION_ID = 0x42344a4c;
export const SCHEMA_VERSION = 1;

/** Migrations: index i takes the schema from version i to i+1. Never edit a shipped one; append. */
const MIGRATIONS: string[] = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE sessions (id INTEGER PRIMARY KEY, prefix TEXT NOT NULL UNIQUE, pid INTEGER NOT NULL,
     started_ms INTEGER NOT NULL, ended_ms INTEGER, clean INTEGER NOT NULL DEFAULT 0);
   CREATE TABLE routes (id INTEGER PRIMARY KEY, venue TEXT NOT NULL, symbol TEXT NOT NULL, strategy TEXT NOT NULL,
     UNIQUE (venue, symbol, strategy));
   CREATE TABLE orders (client_id TEXT PRIMARY KEY, venue TEXT NOT NULL, symbol TEXT NOT NULL,
     side TEXT NOT NULL, type TEXT NOT NULL, price REAL, amount REAL NOT NULL, tif TEXT NOT NULL,
     reduce_only INTEGER NOT NULL DEFAULT 0, strategy TEXT NOT NULL DEFAULT '', status TEXT NOT NULL,
     filled REAL NOT NULL DEFAULT 0, venue_id TEXT, reason TEXT, origin TEXT NOT NULL DEFAULT 'local',
     created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, cancel_ms INTEGER, seq INTEGER) WITHOUT ROWID;
   CREATE TABLE fills (venue TEXT NOT NULL, symbol TEXT NOT NULL, trade_id TEXT NOT NULL, client_id TEXT NOT NULL,
     side TEXT NOT NULL, amount REAL NOT NULL, price REAL NOT NULL, fee REAL NOT NULL, taker INTEGER NOT NULL,
     venue_ms INTEGER NOT NULL, seq INTEGER, PRIMARY KEY (venue, symbol, trade_id)) WITHOUT ROWID;
   CREATE TABLE positions (venue TEXT NOT NULL, symbol TEXT NOT NULL, qty REAL NOT NULL, cost REAL NOT NULL,
     fees REAL NOT NULL, last_fill_ms INTEGER NOT NULL, PRIMARY KEY (venue, symbol));
   CREATE TABLE events (id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, kind TEXT NOT NULL, client_id TEXT, detail TEXT);
   INSERT INTO meta (key, value) VALUES ('applied_seq', '0'), ('created_by', 'bot4');`,
];

export type Synchronous = "NORMAL" | "FULL";

export interface StoreOptions {
  synchronous?: Synchronous;
  readonly?: boolean;
}

export interface OrderRow {
  client_id: string;
  venue: string;
  symbol: string;
  side: Side;
  type: OrderType;
  price: number | null;
  amount: number;
  tif: TimeInForce;
  reduce_only: number;
  strategy: string;
  status: OrderStatus;
  filled: number;
  venue_id: string | null;
  reason: string | null;
  origin: "local" | "adopted";
  created_ms: number;
  updated_ms: number;
  cancel_ms: number | null;
  seq: number | null;
}

export interface PositionRow {
  venue: string;
  symbol: string;
  qty: number;
  cost: number;
  fees: number;
  last_fill_ms: number;
}

export interface StoreCounters {
  intents: number;
  duplicateIntents: number;
  reports: number;
  fills: number;
  duplicateFills: number;
  /** reports for client ids the journal does not know (kept as events) */
  unknownReports: number;
  /** reports that would move a terminal order back to a live status (ignored) */
  staleReports: number;
}

const SQLITE_MAGIC = "SQLite format 3\u0000";

/** Refuses a file that is not a sqlite database before sqlite gets to touch it. */
function checkFile(path: string): void {
  if (!existsSync(path)) return;
  const head = readFileSync(path).subarray(0, 16);
  if (head.length === 0) return; // an empty file: sqlite initialises it
  if (head.toString("latin1") !== SQLITE_MAGIC) {
    throw new Error(`journal ${path}: not a sqlite database (corrupt or a foreign file); move it away or point the journal at another path`);
  }
}

export class JournalStore {
  readonly path: string;
  readonly db: Database;
  readonly counters: StoreCounters = { intents: 0, duplicateIntents: 0, reports: 0, fills: 0, duplicateFills: 0, unknownReports: 0, staleReports: 0 };
  private readonly st: ReturnType<JournalStore["prepare"]>;

  constructor(path: string, opts: StoreOptions = {}) {
    this.path = path;
    checkFile(path);
    let db: Database;
    try {
      db = new Database(path, opts.readonly ? { readonly: true } : { create: true, readwrite: true });
    } catch (e) {
      throw new Error(`journal ${path}: cannot open (${(e as Error).message}); check the path and its permissions`);
    }
    this.db = db;
    try {
      db.exec("PRAGMA busy_timeout = 5000");
      const integrity = db.query("PRAGMA quick_check").get() as { quick_check: string } | null;
      if (integrity?.quick_check !== "ok") throw new Error(`journal ${path}: sqlite integrity check failed (${integrity?.quick_check}); the file is corrupt — move it away and recover state from the venue`);
      const appId = (db.query("PRAGMA application_id").get() as { application_id: number }).application_id;
      const version = (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
      const tables = (db.query("SELECT count(*) AS n FROM sqlite_master").get() as { n: number }).n;
      if (appId !== APPLICATION_ID && !(appId === 0 && version === 0 && tables === 0)) {
        throw new Error(`journal ${path}: a sqlite database that is not a Bot4 journal (application_id ${appId}, ${tables} schema objects); refusing to write into it — point the journal at another path`);
      }
      if (version > SCHEMA_VERSION) {
        throw new Error(`journal ${path}: schema version ${version} is newer than this Bot4 (${SCHEMA_VERSION}); run the Bot4 that wrote it, or move the file away`);
      }
      if (!opts.readonly) {
        db.exec("PRAGMA journal_mode = WAL");
        db.exec(`PRAGMA synchronous = ${opts.synchronous ?? "NORMAL"}`);
        for (let v = version; v < SCHEMA_VERSION; v++) {
          db.transaction(() => {
            db.exec(MIGRATIONS[v]!);
            db.exec(`PRAGMA application_id = ${APPLICATION_ID}`);
            db.exec(`PRAGMA user_version = ${v + 1}`);
          })();
        }
      } else if (version !== SCHEMA_VERSION) {
        throw new Error(`journal ${path}: schema version ${version}, expected ${SCHEMA_VERSION}; open it read-write once to migrate`);
      }
    } catch (e) {
      db.close();
      throw e;
    }
    this.st = this.prepare();
  }

  private prepare() {
    const db = this.db;
    return {
      insertOrder: db.prepare(`INSERT OR IGNORE INTO orders (client_id, venue, symbol, side, type, price, amount, tif, reduce_only, strategy, status, filled, venue_id, origin, created_ms, updated_ms, seq)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15, ?16)`),
      getOrder: db.prepare(`SELECT * FROM orders WHERE client_id = ?1`),
      setStatus: db.prepare(`UPDATE orders SET status = ?2, updated_ms = ?3, venue_id = coalesce(?4, venue_id), reason = coalesce(?5, reason), filled = max(filled, ?6) WHERE client_id = ?1`),
      setCancel: db.prepare(`UPDATE orders SET status = CASE WHEN status IN ('filled','cancelled','rejected','expired') THEN status ELSE 'pending_cancel' END, cancel_ms = ?2, updated_ms = ?2 WHERE client_id = ?1`),
      insertFill: db.prepare(`INSERT OR IGNORE INTO fills (venue, symbol, trade_id, client_id, side, amount, price, fee, taker, venue_ms, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)`),
      upsertPos: db.prepare(`INSERT INTO positions (venue, symbol, qty, cost, fees, last_fill_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
        ON CONFLICT (venue, symbol) DO UPDATE SET qty = qty + excluded.qty, cost = cost + excluded.cost, fees = fees + excluded.fees, last_fill_ms = max(last_fill_ms, excluded.last_fill_ms)`),
      insertRoute: db.prepare(`INSERT OR IGNORE INTO routes (id, venue, symbol, strategy) VALUES (?1, ?2, ?3, ?4)`),
      event: db.prepare(`INSERT INTO events (ts_ms, kind, client_id, detail) VALUES (?1, ?2, ?3, ?4)`),
      setApplied: db.prepare(`UPDATE meta SET value = ?1 WHERE key = 'applied_seq'`),
    };
  }

  close(): void {
    this.db.close();
  }

  get appliedSeq(): number {
    return Number((this.db.query(`SELECT value FROM meta WHERE key = 'applied_seq'`).get() as { value: string }).value);
  }
  setAppliedSeq(seq: number): void {
    this.st.setApplied.run(String(seq));
  }

  tx<T>(fn: () => T): T {
    // BEGIN IMMEDIATE: a read-then-write transaction under WAL cannot upgrade its lock while the
    // writer worker holds the write lock (SQLITE_BUSY at once, the busy timeout does not apply);
    // taking the write lock up front makes it wait its turn instead
    return this.db.transaction(fn).immediate();
  }

  event(kind: string, clientId: string | null, detail: unknown, tsMs = Date.now()): void {
    this.st.event.run(tsMs, kind, clientId, detail === undefined ? null : typeof detail === "string" ? detail : JSON.stringify(detail));
  }

  route(id: number, venue: string, symbol: string, strategy: string): void {
    this.st.insertRoute.run(id, venue, symbol, strategy);
  }

  /** An order intent (before it is sent) or an adopted venue order. False if the id was known. */
  intent(req: OrderRequest, tsMs: number, seq: number | null, origin: "local" | "adopted" = "local", status: OrderStatus = "pending_new", filled = 0, venueId: string | null = null): boolean {
    const r = this.st.insertOrder.run(req.clientOrderId, req.venue, req.symbol, req.side, req.type, req.price ?? null, req.amount, req.timeInForce,
      req.reduceOnly ? 1 : 0, req.strategy ?? "", status, filled, venueId, origin, tsMs, seq);
    if (r.changes === 0) {
      this.counters.duplicateIntents++;
      this.event("duplicate_intent", req.clientOrderId, { seq });
      return false;
    }
    this.counters.intents++;
    return true;
  }

  cancelIntent(clientId: string, tsMs: number): void {
    const r = this.st.setCancel.run(clientId, tsMs);
    if (r.changes === 0) {
      this.counters.unknownReports++;
      this.event("cancel_unknown", clientId, null, tsMs);
    }
  }

  order(clientId: string): OrderRow | null {
    return this.st.getOrder.get(clientId) as OrderRow | null;
  }

  /** Applies one execution report. Returns true if it changed anything. */
  report(r: ExecReport, seq: number | null, tsMs: number): boolean {
    this.counters.reports++;
    const o = this.order(r.clientOrderId);
    if (!o) {
      this.counters.unknownReports++;
      this.event("report_unknown_order", r.clientOrderId, r, tsMs);
      return false;
    }
    const terminal = TERMINAL.has(o.status);
    switch (r.kind) {
      case "ack":
        if (terminal || o.status !== "pending_new") {
          if (r.venueOrderId && !o.venue_id) this.st.setStatus.run(o.client_id, o.status, tsMs, r.venueOrderId, null, 0);
          return false;
        }
        this.st.setStatus.run(o.client_id, "open", tsMs, r.venueOrderId ?? null, null, r.filled);
        return true;
      case "fill": {
        if (!r.tradeId) {
          this.event("fill_without_trade_id", o.client_id, r, tsMs);
          return false;
        }
        const ins = this.st.insertFill.run(r.venue, r.symbol, r.tradeId, o.client_id, o.side, r.lastAmount, r.lastPrice, r.fee, r.taker ? 1 : 0, r.venueTimeMs, seq);
        if (ins.changes === 0) {
          this.counters.duplicateFills++;
          return false;
        }
        this.counters.fills++;
        const sgn = o.side === "buy" ? 1 : -1;
        this.st.upsertPos.run(r.venue, r.symbol, sgn * r.lastAmount, sgn * r.lastAmount * r.lastPrice, r.fee, r.venueTimeMs);
        const filled = Math.max(o.filled + r.lastAmount, r.filled);
        const done = r.remaining <= 1e-12 || filled >= o.amount - 1e-12;
        const status: OrderStatus = done ? "filled" : terminal ? o.status : o.status === "pending_cancel" ? "pending_cancel" : "partially_filled";
        this.st.setStatus.run(o.client_id, status, tsMs, r.venueOrderId ?? null, null, filled);
        return true;
      }
      case "cancelled":
      case "expired":
      case "rejected": {
        if (terminal) {
          this.counters.staleReports++;
          return false;
        }
        const status: OrderStatus = r.kind === "cancelled" ? "cancelled" : r.kind === "expired" ? "expired" : "rejected";
        this.st.setStatus.run(o.client_id, status, tsMs, r.venueOrderId ?? null, r.reason ?? null, r.filled);
        return true;
      }
      case "cancel_rejected":
        // the venue does not know the order as live: it was filled or ended; recovery (or the
        // fill/end report that follows) settles it. The order goes back to its live status.
        this.event("cancel_rejected", o.client_id, r.reason ?? null, tsMs);
        if (o.status === "pending_cancel") this.st.setStatus.run(o.client_id, o.filled > 0 ? "partially_filled" : "open", tsMs, null, null, 0);
        return true;
    }
  }

  liveOrders(): OrderRow[] {
    return this.db.query(`SELECT * FROM orders WHERE status NOT IN ('filled','cancelled','rejected','expired') ORDER BY created_ms, seq`).all() as OrderRow[];
  }
  allOrders(): OrderRow[] {
    return this.db.query(`SELECT * FROM orders ORDER BY created_ms, seq`).all() as OrderRow[];
  }
  positions(): PositionRow[] {
    return this.db.query(`SELECT * FROM positions ORDER BY venue, symbol`).all() as PositionRow[];
  }
  /** positions recomputed from the fills (the truth the snapshot is checked against) */
  positionsFromFills(): PositionRow[] {
    return this.db.query(`SELECT venue, symbol, sum(CASE side WHEN 'buy' THEN amount ELSE -amount END) AS qty,
      sum(CASE side WHEN 'buy' THEN amount * price ELSE -amount * price END) AS cost, sum(fee) AS fees, max(venue_ms) AS last_fill_ms
      FROM fills GROUP BY venue, symbol ORDER BY venue, symbol`).all() as PositionRow[];
  }
  /** replaces the snapshot by the positions recomputed from fills */
  rebuildPositions(): void {
    this.tx(() => {
      this.db.exec(`DELETE FROM positions`);
      for (const p of this.positionsFromFills()) this.st.upsertPos.run(p.venue, p.symbol, p.qty, p.cost, p.fees, p.last_fill_ms);
    });
  }
  lastFillMs(venue: string, symbol: string): number | null {
    const r = this.db.query(`SELECT max(venue_ms) AS t FROM fills WHERE venue = ?1 AND symbol = ?2`).get(venue, symbol) as { t: number | null };
    return r.t;
  }
  routes(): Array<{ id: number; venue: string; symbol: string; strategy: string }> {
    return this.db.query(`SELECT * FROM routes ORDER BY id`).all() as Array<{ id: number; venue: string; symbol: string; strategy: string }>;
  }
  newSession(prefix: (id: number) => string, tsMs: number): { id: number; prefix: string } {
    return this.tx(() => {
      const next = ((this.db.query(`SELECT max(id) AS m FROM sessions`).get() as { m: number | null }).m ?? 0) + 1;
      const p = prefix(next);
      this.db.query(`INSERT INTO sessions (id, prefix, pid, started_ms) VALUES (?1, ?2, ?3, ?4)`).run(next, p, process.pid, tsMs);
      return { id: next, prefix: p };
    });
  }
  endSession(id: number, clean: boolean, tsMs: number): void {
    this.db.query(`UPDATE sessions SET ended_ms = ?2, clean = ?3 WHERE id = ?1`).run(id, tsMs, clean ? 1 : 0);
  }
  sessionPrefixes(): string[] {
    return (this.db.query(`SELECT prefix FROM sessions`).all() as Array<{ prefix: string }>).map((r) => r.prefix);
  }
}
