/**
 * The viewer's embedded store: spans, log records and metric points in SQLite through Node's built-in
 * `node:sqlite` (`DatabaseSync`; no flag needed from Node 22.13 / 23.4, stable in 24), in a file or in
 * memory, bounded by age and size.
 *
 * Times are stored as integer microseconds since the Unix epoch (nanoseconds do not fit a JS number);
 * durations as fractional microseconds. Writes are batched: one transaction per export request,
 * prepared statements, and a per-trace summary row (`traces`) updated once per batch, so that the
 * trace list reads one small indexed table however many spans are stored.
 */
import { EventEmitter } from 'node:events';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import type { Attributes, ReceivedLog, ReceivedMetric, ReceivedSpan } from '@obs/otlp-decode';
import { ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_HTTP_ROUTE, ATTR_REQUEST_ID, ATTR_SERVICE_NAME } from './semconv.js';

/** Options of {@link TelemetryStore}. */
export interface StoreOptions {
  /** SQLite database file; `':memory:'` (the default) keeps everything in memory. */
  path?: string;
  /** Data older than this is deleted, milliseconds. Default 24 hours. */
  maxAgeMs?: number;
  /**
   * Upper bound of the database's used size, bytes (SQLite pages in use). When exceeded, the oldest
   * data is deleted until it fits (see {@link TelemetryStore.prune}). Default 256 MiB.
   */
  maxBytes?: number;
}

/** Default of {@link StoreOptions.maxAgeMs}: 24 hours. */
export const DEFAULT_MAX_AGE_MS = 24 * 3600 * 1000;
/** Default of {@link StoreOptions.maxBytes}: 256 MiB. */
export const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;

/** A row of the trace list. */
export interface TraceSummary {
  traceId: string;
  /** Service of the root span (or of the earliest span when the root has not arrived). */
  service: string;
  /** Name of the root span. */
  name: string;
  /** `http.route` of the root span, if any. */
  route: string | null;
  /** `http.response.status_code` of the root span, if any. */
  httpStatus: number | null;
  /** Start, milliseconds since the Unix epoch. */
  startMs: number;
  /** End of the latest span minus start of the earliest, milliseconds. */
  durationMs: number;
  spanCount: number;
  /** Spans with status ERROR. */
  errorCount: number;
  /** Every service with a span in the trace. */
  services: string[];
}

/** Filters of {@link TelemetryStore.listTraces}; all optional, combined with AND. */
export interface TraceFilter {
  /** Traces with at least one span of this service. */
  service?: string;
  /** Traces with at least one span with this `http.route`. */
  route?: string;
  /** `error`: traces with an ERROR span; `ok`: traces without one. */
  status?: 'error' | 'ok';
  /** Minimum trace duration, milliseconds. */
  minDurationMs?: number;
  /** Traces with a span whose attribute `key` equals `value` (compared as text). */
  attribute?: { key: string; value: string };
  /** Start time range, milliseconds since the Unix epoch. */
  fromMs?: number;
  toMs?: number;
  /** This trace id (lowercase hex). */
  traceId?: string;
  /** The trace whose log records carry `request_id` = this value. */
  requestId?: string;
  /** Most rows returned, newest first. Default 100, at most 1000. */
  limit?: number;
}

/** A span as the UI reads it. */
export interface StoredSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  service: string;
  name: string;
  /** OTLP SpanKind number. */
  kind: number;
  /** Start, microseconds since the Unix epoch. */
  startUs: number;
  /** Duration, microseconds. */
  durationUs: number;
  /** 0 unset, 1 ok, 2 error. */
  statusCode: number;
  statusMessage: string | null;
  attributes: Attributes;
  events: { name: string; timeUs: number; attributes: Attributes }[];
  links: { traceId: string; spanId: string; attributes: Attributes }[];
  resource: Attributes;
  scope: string;
}

/** A log record as the UI reads it. */
export interface StoredLog {
  id: number;
  /** Microseconds since the Unix epoch. */
  timeUs: number;
  service: string;
  severityNumber: number | null;
  severityText: string | null;
  /** The body: a string as sent, anything else as JSON text. */
  body: string;
  attributes: Attributes;
  traceId: string | null;
  spanId: string | null;
  requestId: string | null;
}

/** Filters of {@link TelemetryStore.searchLogs}. */
export interface LogFilter {
  service?: string;
  /** Minimum OTLP severity number (9 info, 13 warn, 17 error). */
  minSeverity?: number;
  /** Substring of the body, case-insensitive for ASCII. */
  text?: string;
  /** Records whose attribute `key` equals `value` (compared as text). */
  attribute?: { key: string; value: string };
  traceId?: string;
  /** Only records stored after this id (live tail). */
  afterId?: number;
  fromMs?: number;
  toMs?: number;
  /** Most rows returned, newest first. Default 200, at most 2000. */
  limit?: number;
}

/** One stored metric data point. */
export interface StoredPoint {
  service: string;
  name: string;
  type: ReceivedMetric['type'];
  unit: string | null;
  temporality: 'delta' | 'cumulative' | null;
  /** Series key: resource and point attributes; points of one series are comparable over time. */
  series: string;
  attributes: Attributes;
  /** End of the interval, microseconds since the Unix epoch. */
  timeUs: number;
  /** Start of the interval, microseconds. */
  startUs: number;
  value: number | null;
  count: number | null;
  sum: number | null;
  bucketCounts: number[] | null;
  bounds: number[] | null;
  exemplars: { timeUs: number; value: number; traceId?: string; spanId?: string }[] | null;
}

/** Counts of what the store holds and what it dropped. */
export interface StoreStats {
  spans: number;
  traces: number;
  logs: number;
  points: number;
  /** Used bytes (SQLite pages in use times page size). */
  bytes: number;
  /** Rows deleted by the age and size bounds since start, per signal. */
  dropped: { spans: number; logs: number; points: number };
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS resources (id INTEGER PRIMARY KEY, json TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS spans (
  trace_id TEXT NOT NULL, span_id TEXT NOT NULL, parent_span_id TEXT, service TEXT NOT NULL,
  name TEXT NOT NULL, kind INTEGER NOT NULL, start_us INTEGER NOT NULL, duration_us REAL NOT NULL,
  status_code INTEGER NOT NULL, status_message TEXT, attributes TEXT NOT NULL, events TEXT, links TEXT,
  resource_id INTEGER NOT NULL, scope TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS spans_trace ON spans (trace_id, start_us);
CREATE INDEX IF NOT EXISTS spans_start ON spans (start_us);
CREATE TABLE IF NOT EXISTS traces (
  trace_id TEXT PRIMARY KEY, start_us INTEGER NOT NULL, end_us INTEGER NOT NULL,
  span_count INTEGER NOT NULL, error_count INTEGER NOT NULL,
  root_rank INTEGER NOT NULL, root_start_us INTEGER NOT NULL, root_service TEXT NOT NULL,
  root_name TEXT NOT NULL, route TEXT, http_status INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS traces_start ON traces (start_us);
CREATE TABLE IF NOT EXISTS trace_tags (
  key TEXT NOT NULL, value TEXT NOT NULL, trace_id TEXT NOT NULL, start_us INTEGER NOT NULL,
  PRIMARY KEY (key, value, trace_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS trace_tags_trace ON trace_tags (trace_id);
CREATE INDEX IF NOT EXISTS trace_tags_start ON trace_tags (start_us);
CREATE TABLE IF NOT EXISTS logs (
  id INTEGER PRIMARY KEY, time_us INTEGER NOT NULL, service TEXT NOT NULL, severity_number INTEGER,
  severity_text TEXT, body TEXT NOT NULL, attributes TEXT NOT NULL, trace_id TEXT, span_id TEXT,
  request_id TEXT, resource_id INTEGER NOT NULL, scope TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_time ON logs (time_us);
CREATE INDEX IF NOT EXISTS logs_trace ON logs (trace_id) WHERE trace_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS logs_request ON logs (request_id) WHERE request_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS points (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL, service TEXT NOT NULL, type TEXT NOT NULL, unit TEXT,
  temporality TEXT, series TEXT NOT NULL, attributes TEXT NOT NULL, time_us INTEGER NOT NULL,
  start_us INTEGER NOT NULL, value REAL, count REAL, sum REAL, bucket_counts TEXT, bounds TEXT,
  exemplars TEXT
);
CREATE INDEX IF NOT EXISTS points_name ON points (name, service, time_us);
CREATE INDEX IF NOT EXISTS points_time ON points (time_us);
`;

const NS_PER_US = 1000n;
const us = (ns: bigint): number => Number(ns / NS_PER_US);

/** Whether plain JSON.stringify is right for a value: flat, no bigint, no byte array. */
function isPlain(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return typeof value !== 'bigint';
  for (const v of Object.values(value))
    if (typeof v === 'bigint' || (typeof v === 'object' && v !== null)) return false;
  return !(value instanceof Uint8Array);
}

/** JSON that copes with bigints (as numbers) and byte arrays (as base64). */
function toJson(value: unknown): string {
  if (isPlain(value)) return JSON.stringify(value);
  return JSON.stringify(value, (_k, v) => {
    if (typeof v === 'bigint') return Number(v);
    if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
    return v;
  });
}

function serviceOf(resource: Attributes): string {
  const name = resource[ATTR_SERVICE_NAME];
  return typeof name === 'string' && name !== '' ? name : 'unknown_service';
}

function textOf(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  return typeof v === 'string' ? v : toJson(v);
}

/** Escapes `%`, `_` and `\` for a LIKE pattern with `ESCAPE '\'`. */
function likeEscape(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** A JSON path for one attribute key, safe for any key text. */
function jsonPath(key: string): string {
  return `$.${JSON.stringify(key)}`;
}

/** Per-trace facts of one batch, merged into `traces` with one upsert. */
interface TraceDelta {
  startUs: number;
  endUs: number;
  spans: number;
  errors: number;
  rootRank: number;
  rootStartUs: number;
  rootService: string;
  rootName: string;
  route: string | null;
  httpStatus: number | null;
  tags: Set<string>;
}

/**
 * The telemetry store. Every method is synchronous (node:sqlite is); an `ingest` event is emitted
 * after each write with the counts written.
 */
export class TelemetryStore extends EventEmitter<{ ingest: [{ spans: number; logs: number; points: number }] }> {
  readonly db: DatabaseSync;
  readonly maxAgeMs: number;
  readonly maxBytes: number;
  private readonly resourceIds = new Map<string, number>();
  private readonly resourceIdsByObject = new WeakMap<Attributes, number>();
  private readonly dropped = { spans: 0, logs: 0, points: 0 };
  private readonly stmt: Record<string, StatementSync>;

  constructor(opts: StoreOptions = {}) {
    super();
    this.maxAgeMs = opts.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
    this.maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
    const path = opts.path ?? ':memory:';
    this.db = new DatabaseSync(path);
    if (path !== ':memory:') this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;');
    this.db.exec('PRAGMA temp_store = MEMORY; PRAGMA cache_size = -65536;');
    this.db.exec(SCHEMA);
    for (const row of this.db.prepare('SELECT id, json FROM resources').all()) {
      this.resourceIds.set(row.json as string, row.id as number);
    }
    const p = (sql: string) => this.db.prepare(sql);
    this.stmt = {
      resource: p('INSERT INTO resources (json) VALUES (?) RETURNING id'),
      span: p('INSERT INTO spans VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      trace: p(`INSERT INTO traces VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (trace_id) DO UPDATE SET
          start_us = min(start_us, excluded.start_us), end_us = max(end_us, excluded.end_us),
          span_count = span_count + excluded.span_count, error_count = error_count + excluded.error_count,
          root_rank = iif((excluded.root_rank, excluded.root_start_us) < (root_rank, root_start_us), excluded.root_rank, root_rank),
          root_start_us = iif((excluded.root_rank, excluded.root_start_us) < (root_rank, root_start_us), excluded.root_start_us, root_start_us),
          root_service = iif((excluded.root_rank, excluded.root_start_us) < (root_rank, root_start_us), excluded.root_service, root_service),
          root_name = iif((excluded.root_rank, excluded.root_start_us) < (root_rank, root_start_us), excluded.root_name, root_name),
          route = iif((excluded.root_rank, excluded.root_start_us) < (root_rank, root_start_us), excluded.route, route),
          http_status = iif((excluded.root_rank, excluded.root_start_us) < (root_rank, root_start_us), excluded.http_status, http_status)`),
      tag: p('INSERT OR IGNORE INTO trace_tags VALUES (?, ?, ?, ?)'),
      log: p('INSERT INTO logs VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      point: p('INSERT INTO points VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      traceSpans: p('SELECT * FROM spans WHERE trace_id = ? ORDER BY start_us LIMIT ?'),
      traceSpanCount: p('SELECT count(*) AS n FROM spans WHERE trace_id = ?'),
      traceLogs: p('SELECT * FROM logs WHERE trace_id = ? ORDER BY time_us, id LIMIT ?'),
      resourceById: p('SELECT json FROM resources WHERE id = ?'),
    };
  }

  private resourceId(resource: Attributes): number {
    // The spans of one resource in a request share its object: serialise it once.
    const known = this.resourceIdsByObject.get(resource);
    if (known !== undefined) return known;
    const json = toJson(resource);
    let id = this.resourceIds.get(json);
    if (id === undefined) {
      id = (this.stmt.resource as StatementSync).get(json)?.id as number;
      this.resourceIds.set(json, id);
    }
    this.resourceIdsByObject.set(resource, id);
    return id;
  }

  private transaction(fn: () => void): void {
    this.db.exec('BEGIN');
    try {
      fn();
      this.db.exec('COMMIT');
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
  }

  /** Stores spans (one transaction) and updates their traces' summaries. */
  insertSpans(spans: readonly ReceivedSpan[]): void {
    if (spans.length === 0) return;
    const deltas = new Map<string, TraceDelta>();
    const { span: insertSpan, trace: upsertTrace, tag: insertTag } = this.stmt as Record<string, StatementSync>;
    this.transaction(() => {
      for (const s of spans) {
        const service = serviceOf(s.resource);
        const startUs = us(s.startTimeUnixNano);
        const durationUs = Math.max(0, Number(s.endTimeUnixNano - s.startTimeUnixNano) / 1000);
        insertSpan?.run(
          s.traceId,
          s.spanId,
          s.parentSpanId ?? null,
          service,
          s.name,
          s.kind,
          startUs,
          durationUs,
          s.status.code,
          s.status.message ?? null,
          toJson(s.attributes),
          s.events.length
            ? toJson(s.events.map((e) => ({ name: e.name, timeUs: us(e.timeUnixNano), attributes: e.attributes })))
            : null,
          s.links.length ? toJson(s.links) : null,
          this.resourceId(s.resource),
          s.scope.version ? `${s.scope.name}@${s.scope.version}` : s.scope.name,
        );
        const route =
          typeof s.attributes[ATTR_HTTP_ROUTE] === 'string' ? (s.attributes[ATTR_HTTP_ROUTE] as string) : null;
        const rootRank = s.parentSpanId === undefined ? 0 : s.kind === 2 ? 1 : 2;
        const status = s.attributes[ATTR_HTTP_RESPONSE_STATUS_CODE];
        let d = deltas.get(s.traceId);
        if (!d) {
          d = {
            startUs,
            endUs: startUs + Math.ceil(durationUs),
            spans: 0,
            errors: 0,
            rootRank,
            rootStartUs: startUs,
            rootService: service,
            rootName: s.name,
            route,
            httpStatus: typeof status === 'number' ? status : null,
            tags: new Set(),
          };
          deltas.set(s.traceId, d);
        } else if (rootRank < d.rootRank || (rootRank === d.rootRank && startUs < d.rootStartUs)) {
          Object.assign(d, { rootRank, rootStartUs: startUs, rootService: service, rootName: s.name, route });
          d.httpStatus = typeof status === 'number' ? status : null;
        }
        d.startUs = Math.min(d.startUs, startUs);
        d.endUs = Math.max(d.endUs, startUs + Math.ceil(durationUs));
        d.spans += 1;
        if (s.status.code === 2) d.errors += 1;
        d.tags.add(`service\u0000${service}`);
        if (route !== null) d.tags.add(`route\u0000${route}`);
      }
      for (const [traceId, d] of deltas) {
        upsertTrace?.run(
          traceId,
          d.startUs,
          d.endUs,
          d.spans,
          d.errors,
          d.rootRank,
          d.rootStartUs,
          d.rootService,
          d.rootName,
          d.route,
          d.httpStatus,
        );
        for (const tag of d.tags) {
          const [key, value] = tag.split('\u0000') as [string, string];
          insertTag?.run(key, value, traceId, d.startUs);
        }
      }
    });
    this.emit('ingest', { spans: spans.length, logs: 0, points: 0 });
  }

  /** Stores log records (one transaction). */
  insertLogs(logs: readonly ReceivedLog[]): void {
    if (logs.length === 0) return;
    const insert = this.stmt.log as StatementSync;
    this.transaction(() => {
      for (const l of logs) {
        const requestId = l.attributes[ATTR_REQUEST_ID];
        insert.run(
          us(l.timeUnixNano),
          serviceOf(l.resource),
          l.severityNumber ?? null,
          l.severityText ?? null,
          textOf(l.body) ?? '',
          toJson(l.attributes),
          l.traceId ?? null,
          l.spanId ?? null,
          typeof requestId === 'string' ? requestId : null,
          this.resourceId(l.resource),
          l.scope.name,
        );
      }
    });
    this.emit('ingest', { spans: 0, logs: logs.length, points: 0 });
  }

  /** Stores metric data points (one transaction). */
  insertMetrics(metrics: readonly ReceivedMetric[]): void {
    let points = 0;
    const insert = this.stmt.point as StatementSync;
    this.transaction(() => {
      for (const m of metrics) {
        const service = serviceOf(m.resource);
        const resourceId = this.resourceId(m.resource);
        for (const dp of m.dataPoints) {
          const attributes = toJson(dp.attributes);
          const values: SQLInputValue[] = [
            m.name,
            service,
            m.type,
            m.unit ?? null,
            m.temporality ?? null,
            `${resourceId}|${attributes}`,
            attributes,
            us(dp.timeUnixNano),
            us(dp.startTimeUnixNano),
            dp.value ?? null,
            dp.count ?? null,
            dp.sum ?? null,
            dp.bucketCounts ? toJson(dp.bucketCounts) : null,
            dp.explicitBounds ? toJson(dp.explicitBounds) : null,
            dp.exemplars?.length
              ? toJson(
                  dp.exemplars.map((e) => ({
                    timeUs: us(e.timeUnixNano),
                    value: e.value,
                    traceId: e.traceId,
                    spanId: e.spanId,
                  })),
                )
              : null,
          ];
          insert.run(...values);
          points += 1;
        }
      }
    });
    if (points > 0) this.emit('ingest', { spans: 0, logs: 0, points });
  }

  /** The trace list, newest first. */
  listTraces(f: TraceFilter = {}): TraceSummary[] {
    const where: string[] = [];
    const args: SQLInputValue[] = [];
    if (f.traceId) {
      where.push('t.trace_id = ?');
      args.push(f.traceId.toLowerCase());
    }
    if (f.requestId) {
      where.push('t.trace_id IN (SELECT trace_id FROM logs WHERE request_id = ?)');
      args.push(f.requestId);
    }
    if (f.service) {
      where.push("t.trace_id IN (SELECT trace_id FROM trace_tags WHERE key = 'service' AND value = ?)");
      args.push(f.service);
    }
    if (f.route) {
      where.push("t.trace_id IN (SELECT trace_id FROM trace_tags WHERE key = 'route' AND value = ?)");
      args.push(f.route);
    }
    if (f.status === 'error') where.push('t.error_count > 0');
    if (f.status === 'ok') where.push('t.error_count = 0');
    if (f.minDurationMs !== undefined) {
      where.push('t.end_us - t.start_us >= ?');
      args.push(Math.round(f.minDurationMs * 1000));
    }
    if (f.fromMs !== undefined) {
      where.push('t.start_us >= ?');
      args.push(Math.round(f.fromMs * 1000));
    }
    if (f.toMs !== undefined) {
      where.push('t.start_us <= ?');
      args.push(Math.round(f.toMs * 1000));
    }
    if (f.attribute) {
      where.push(
        'EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = t.trace_id AND CAST(json_extract(s.attributes, ?) AS TEXT) = ?)',
      );
      args.push(jsonPath(f.attribute.key), f.attribute.value);
    }
    const limit = Math.floor(Math.min(Math.max(1, f.limit ?? 100), 1000));
    const sql = `SELECT t.*, (SELECT group_concat(value, char(0)) FROM trace_tags g WHERE g.trace_id = t.trace_id AND g.key = 'service') AS services
      FROM traces t ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY t.start_us DESC LIMIT ${limit}`;
    return this.db
      .prepare(sql)
      .all(...args)
      .map((r) => ({
        traceId: r.trace_id as string,
        service: r.root_service as string,
        name: r.root_name as string,
        route: (r.route as string | null) ?? null,
        httpStatus: (r.http_status as number | null) ?? null,
        startMs: (r.start_us as number) / 1000,
        durationMs: ((r.end_us as number) - (r.start_us as number)) / 1000,
        spanCount: r.span_count as number,
        errorCount: r.error_count as number,
        services: String(r.services ?? '')
          .split('\u0000')
          .filter(Boolean),
      }));
  }

  /**
   * One trace: its spans by start time (at most `spanLimit`, default 20 000, at most 100 000), the
   * total count, and its log records (at most 5 000).
   */
  getTrace(traceId: string, spanLimit = 20_000): { spans: StoredSpan[]; spanCount: number; logs: StoredLog[] } {
    const id = traceId.toLowerCase();
    const limit = Math.floor(Math.min(Math.max(1, spanLimit), 100_000));
    const resources = new Map<number, Attributes>();
    const resourceOf = (rid: number): Attributes => {
      let r = resources.get(rid);
      if (!r) {
        r = JSON.parse(String((this.stmt.resourceById as StatementSync).get(rid)?.json ?? '{}')) as Attributes;
        resources.set(rid, r);
      }
      return r;
    };
    const spans = (this.stmt.traceSpans as StatementSync).all(id, limit).map(
      (r): StoredSpan => ({
        traceId: r.trace_id as string,
        spanId: r.span_id as string,
        parentSpanId: (r.parent_span_id as string | null) ?? null,
        service: r.service as string,
        name: r.name as string,
        kind: r.kind as number,
        startUs: r.start_us as number,
        durationUs: r.duration_us as number,
        statusCode: r.status_code as number,
        statusMessage: (r.status_message as string | null) ?? null,
        attributes: JSON.parse(r.attributes as string) as Attributes,
        events: r.events ? (JSON.parse(r.events as string) as StoredSpan['events']) : [],
        links: r.links ? (JSON.parse(r.links as string) as StoredSpan['links']) : [],
        resource: resourceOf(r.resource_id as number),
        scope: r.scope as string,
      }),
    );
    const spanCount =
      spans.length < limit ? spans.length : ((this.stmt.traceSpanCount as StatementSync).get(id)?.n as number);
    const logs = (this.stmt.traceLogs as StatementSync).all(id, 5000).map(logRow);
    return { spans, spanCount, logs };
  }

  /** Log search, newest first. */
  searchLogs(f: LogFilter = {}): StoredLog[] {
    const where: string[] = [];
    const args: SQLInputValue[] = [];
    if (f.service) {
      where.push('service = ?');
      args.push(f.service);
    }
    if (f.minSeverity !== undefined) {
      where.push('severity_number >= ?');
      args.push(f.minSeverity);
    }
    if (f.text) {
      where.push("body LIKE ? ESCAPE '\\'");
      args.push(`%${likeEscape(f.text)}%`);
    }
    if (f.attribute) {
      where.push('CAST(json_extract(attributes, ?) AS TEXT) = ?');
      args.push(jsonPath(f.attribute.key), f.attribute.value);
    }
    if (f.traceId) {
      where.push('trace_id = ?');
      args.push(f.traceId.toLowerCase());
    }
    if (f.afterId !== undefined) {
      where.push('id > ?');
      args.push(f.afterId);
    }
    if (f.fromMs !== undefined) {
      where.push('time_us >= ?');
      args.push(Math.round(f.fromMs * 1000));
    }
    if (f.toMs !== undefined) {
      where.push('time_us <= ?');
      args.push(Math.round(f.toMs * 1000));
    }
    const limit = Math.floor(Math.min(Math.max(1, f.limit ?? 200), 2000));
    const sql = `SELECT * FROM logs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY time_us DESC, id DESC LIMIT ${limit}`;
    return this.db
      .prepare(sql)
      .all(...args)
      .map(logRow);
  }

  /** Services seen in any signal, sorted. */
  services(): string[] {
    return this.db
      .prepare(
        "SELECT value AS s FROM trace_tags WHERE key = 'service' GROUP BY value UNION SELECT DISTINCT service FROM logs UNION SELECT DISTINCT service FROM points ORDER BY 1",
      )
      .all()
      .map((r) => r.s as string);
  }

  /** Routes (`http.route`) seen on spans, optionally of one service, sorted. */
  routes(service?: string): string[] {
    const rows = service
      ? this.db
          .prepare(
            "SELECT DISTINCT r.value AS v FROM trace_tags r JOIN trace_tags s ON s.trace_id = r.trace_id AND s.key = 'service' AND s.value = ? WHERE r.key = 'route' ORDER BY 1",
          )
          .all(service)
      : this.db.prepare("SELECT DISTINCT value AS v FROM trace_tags WHERE key = 'route' ORDER BY 1").all();
    return rows.map((r) => r.v as string);
  }

  /** Metric names with their type and unit, optionally of one service, sorted. */
  metricNames(service?: string): { name: string; type: string; unit: string | null }[] {
    const rows = service
      ? this.db
          .prepare('SELECT name, type, unit FROM points WHERE service = ? GROUP BY name ORDER BY name')
          .all(service)
      : this.db.prepare('SELECT name, type, unit FROM points GROUP BY name ORDER BY name').all();
    return rows.map((r) => ({
      name: r.name as string,
      type: r.type as string,
      unit: (r.unit as string | null) ?? null,
    }));
  }

  /** Data points of one metric in a time range (milliseconds), oldest first. */
  points(name: string, opts: { service?: string; fromMs?: number; toMs?: number } = {}): StoredPoint[] {
    const args: SQLInputValue[] = [name];
    let sql = 'SELECT * FROM points WHERE name = ?';
    if (opts.service) {
      sql += ' AND service = ?';
      args.push(opts.service);
    }
    if (opts.fromMs !== undefined) {
      sql += ' AND time_us >= ?';
      args.push(Math.round(opts.fromMs * 1000));
    }
    if (opts.toMs !== undefined) {
      sql += ' AND time_us <= ?';
      args.push(Math.round(opts.toMs * 1000));
    }
    sql += ' ORDER BY time_us LIMIT 200000';
    return this.db
      .prepare(sql)
      .all(...args)
      .map((r) => ({
        service: r.service as string,
        name: r.name as string,
        type: r.type as StoredPoint['type'],
        unit: (r.unit as string | null) ?? null,
        temporality: (r.temporality as StoredPoint['temporality']) ?? null,
        series: r.series as string,
        attributes: JSON.parse(r.attributes as string) as Attributes,
        timeUs: r.time_us as number,
        startUs: r.start_us as number,
        value: (r.value as number | null) ?? null,
        count: (r.count as number | null) ?? null,
        sum: (r.sum as number | null) ?? null,
        bucketCounts: r.bucket_counts ? (JSON.parse(r.bucket_counts as string) as number[]) : null,
        bounds: r.bounds ? (JSON.parse(r.bounds as string) as number[]) : null,
        exemplars: r.exemplars ? (JSON.parse(r.exemplars as string) as StoredPoint['exemplars']) : null,
      }));
  }

  /** What the store holds and has dropped. */
  stats(): StoreStats {
    const count = (table: string) => this.db.prepare(`SELECT count(*) AS n FROM ${table}`).get()?.n as number;
    return {
      spans: count('spans'),
      traces: count('traces'),
      logs: count('logs'),
      points: count('points'),
      bytes: this.usedBytes(),
      dropped: { ...this.dropped },
    };
  }

  /** Bytes in SQLite pages in use. */
  usedBytes(): number {
    const pragma = (name: string) => Number(Object.values(this.db.prepare(`PRAGMA ${name}`).get() ?? {})[0] ?? 0);
    return (pragma('page_count') - pragma('freelist_count')) * pragma('page_size');
  }

  /**
   * Applies the bounds: deletes data older than `maxAgeMs`; then, while the used size exceeds
   * `maxBytes`, the oldest rows of each signal, as many as should bring it to 80% of the bound
   * (deleted rows leave partly used pages, so it may take a few rounds). Counts what it deleted in
   * {@link StoreStats.dropped}.
   * @param nowMs the current time, milliseconds since the Unix epoch
   */
  prune(nowMs = Date.now()): void {
    this.deleteBefore((nowMs - this.maxAgeMs) * 1000);
    for (let round = 0; round < 10; round++) {
      const used = this.usedBytes();
      if (used <= this.maxBytes) break;
      const share = Math.min(1, Math.max(0.1, 1 - (0.8 * this.maxBytes) / used));
      this.transaction(() => {
        for (const [table, column, key] of [
          ['spans', 'start_us', 'spans'],
          ['logs', 'time_us', 'logs'],
          ['points', 'time_us', 'points'],
        ] as const) {
          const rows = this.db.prepare(`SELECT count(*) AS n FROM ${table}`).get()?.n as number;
          const cut = Math.ceil(rows * share);
          if (cut === 0) continue;
          const at = this.db
            .prepare(`SELECT ${column} AS t FROM ${table} ORDER BY ${column} LIMIT 1 OFFSET ?`)
            .get(Math.min(cut, rows - 1))?.t as number;
          const cutoff = cut >= rows ? at + 1 : at;
          this.dropped[key] += Number(this.db.prepare(`DELETE FROM ${table} WHERE ${column} < ?`).run(cutoff).changes);
          if (table === 'spans') {
            this.db.prepare('DELETE FROM trace_tags WHERE start_us < ?').run(cutoff);
            this.db.prepare('DELETE FROM traces WHERE start_us < ?').run(cutoff);
          }
        }
      });
    }
  }

  private deleteBefore(cutoffUs: number): void {
    this.transaction(() => {
      const del = (sql: string) => Number(this.db.prepare(sql).run(cutoffUs).changes);
      this.dropped.spans += del('DELETE FROM spans WHERE start_us < ?');
      del('DELETE FROM trace_tags WHERE start_us < ?');
      del('DELETE FROM traces WHERE start_us < ?');
      this.dropped.logs += del('DELETE FROM logs WHERE time_us < ?');
      this.dropped.points += del('DELETE FROM points WHERE time_us < ?');
    });
  }

  /** Closes the database. */
  close(): void {
    if (this.db.isOpen) this.db.close();
  }
}

function logRow(r: Record<string, unknown>): StoredLog {
  return {
    id: r.id as number,
    timeUs: r.time_us as number,
    service: r.service as string,
    severityNumber: (r.severity_number as number | null) ?? null,
    severityText: (r.severity_text as string | null) ?? null,
    body: r.body as string,
    attributes: JSON.parse(r.attributes as string) as Attributes,
    traceId: (r.trace_id as string | null) ?? null,
    spanId: (r.span_id as string | null) ?? null,
    requestId: (r.request_id as string | null) ?? null,
  };
}
