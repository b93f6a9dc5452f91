/**
 * Metrics in the Prometheus text exposition format (version 0.0.4) and the `/metrics`, `/health`
 * and `/ready` endpoints. Pull-based: families are registered once with a collector that reads
 * live state (shared counters, the engine's latest status) when scraped, so the hot path pays
 * nothing for metrics. Latency histograms are exposed as summaries (quantile labels, _sum,
 * _count), the percentiles coming from our log-linear histograms (0.39 % bound).
 *
 * The server binds 127.0.0.1 unless configured otherwise: metrics reveal positions and PnL.
 */

export type MetricType = "counter" | "gauge" | "summary";
export type Labels = Readonly<Record<string, string | number>>;

export interface Sample {
  labels?: Labels;
  value: number;
}

export interface SummarySample {
  labels?: Labels;
  /** quantile (0..1) -> value */
  quantiles: ReadonlyArray<readonly [number, number]>;
  sum: number;
  count: number;
}

interface Family {
  name: string;
  help: string;
  type: MetricType;
  collect: () => ReadonlyArray<Sample | SummarySample>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export class MetricsError extends Error {
  override name = "MetricsError";
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}
function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}
function fmtValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}
function fmtLabels(labels: Labels | undefined, extra?: [string, string]): string {
  const parts: string[] = [];
  if (labels) {
    for (const [k, v] of Object.entries(labels)) {
      if (!LABEL.test(k) || k.startsWith("__")) throw new MetricsError(`label name \`${k}\` is not a valid Prometheus label name`);
      parts.push(`${k}="${escapeLabel(String(v))}"`);
    }
  }
  if (extra) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

export class MetricsRegistry {
  private readonly families = new Map<string, Family>();

  /** Registers a family whose samples `collect` returns at scrape time. */
  register(name: string, type: MetricType, help: string, collect: Family["collect"]): void {
    if (!NAME.test(name)) throw new MetricsError(`metric name \`${name}\` is not a valid Prometheus name`);
    if (type === "counter" && !name.endsWith("_total")) throw new MetricsError(`counter \`${name}\` should end in _total`);
    if (this.families.has(name)) throw new MetricsError(`metric \`${name}\` is registered twice`);
    this.families.set(name, { name, help, type, collect });
  }

  /** A counter kept here (for cold-path events: reconnects, rejects by reason). */
  counter(name: string, help: string): { inc: (labels?: Labels, by?: number) => void } {
    const values = new Map<string, { labels?: Labels; value: number }>();
    this.register(name, "counter", help, () => [...values.values()]);
    return {
      inc: (labels?: Labels, by = 1) => {
        if (!(by >= 0)) throw new MetricsError(`counter ${name} cannot go down (inc by ${by})`);
        const key = labels ? JSON.stringify(labels) : "";
        const s = values.get(key);
        if (s) s.value += by;
        else values.set(key, { labels, value: by });
      },
    };
  }

  /** The exposition text of every family, in registration order. */
  render(): string {
    const out: string[] = [];
    for (const f of this.families.values()) {
      const lines = [`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`];
      try {
        for (const s of f.collect()) {
          if ("quantiles" in s) {
            for (const [q, v] of s.quantiles) lines.push(`${f.name}${fmtLabels(s.labels, ["quantile", String(q)])} ${fmtValue(v)}`);
            lines.push(`${f.name}_sum${fmtLabels(s.labels)} ${fmtValue(s.sum)}`, `${f.name}_count${fmtLabels(s.labels)} ${fmtValue(s.count)}`);
          } else {
            lines.push(`${f.name}${fmtLabels(s.labels)} ${fmtValue(s.value)}`);
          }
        }
      } catch (e) {
        // one broken collector must not take the whole scrape down; say so in the output
        out.push(`# collector of ${f.name} failed: ${escapeHelp((e as Error).message)}`);
        continue;
      }
      out.push(...lines);
    }
    return out.join("\n") + "\n";
  }
}

export interface HealthState {
  /** the process is alive and its engine loop is turning */
  live: boolean;
  /** ready to trade: feeds connected, books in sync, kill switch not tripped */
  ready: boolean;
  detail: Record<string, unknown>;
}

export interface MetricsServer {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * Serves `/metrics` (text format), `/health` (200 while live, else 503) and `/ready` (200 when
 * ready, else 503), each health answer with its detail as JSON. Port 0 picks a free port.
 */
export function serveMetrics(reg: MetricsRegistry, health: () => HealthState, opts: { host?: string; port: number }): MetricsServer {
  const host = opts.host ?? "127.0.0.1";
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({
      hostname: host,
      port: opts.port,
      fetch(req) {
        const path = new URL(req.url).pathname;
        if (req.method !== "GET" && req.method !== "HEAD") return new Response("only GET\n", { status: 405, headers: { allow: "GET, HEAD" } });
        if (path === "/metrics") return new Response(reg.render(), { headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" } });
        if (path === "/health" || path === "/ready") {
          const h = health();
          const ok = path === "/health" ? h.live : h.ready;
          return Response.json({ status: ok ? "ok" : "unavailable", live: h.live, ready: h.ready, ...h.detail }, { status: ok ? 200 : 503 });
        }
        return new Response("not found: try /metrics, /health or /ready\n", { status: 404 });
      },
    });
  } catch (e) {
    throw new MetricsError(`cannot serve metrics on ${host}:${opts.port}: ${(e as Error).message}; set BOT4_METRICS_PORT to a free port (0 = off)`);
  }
  return {
    url: `http://${host}:${server.port}`,
    port: server.port!,
    stop: async () => {
      await server.stop(true);
    },
  };
}

/** A latency summary (ns) from a histogram summary object, exposed in seconds as Prometheus prefers. */
export function latencySummary(s: { count: number; mean: number; p50: number; p90: number; p99: number; p999: number }, labels?: Labels): SummarySample {
  return {
    labels,
    quantiles: [
      [0.5, s.p50 / 1e9],
      [0.9, s.p90 / 1e9],
      [0.99, s.p99 / 1e9],
      [0.999, s.p999 / 1e9],
    ],
    sum: (s.mean * s.count) / 1e9,
    count: s.count,
  };
}
