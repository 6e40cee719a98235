/**
 * What the database instrumentations leave out, added where their spans are made: each one gets a
 * tracer that wraps the spans it starts.
 *
 * - SQL text (`db.query.text`) sanitised of literal values: instrumentation-pg records it as written.
 * - `db.operation.name`, `db.collection.name` (when the statement names one table) and
 *   `db.query.summary` from the SQL text; the span renamed to the summary (`SELECT users`), as the
 *   stable database conventions name query spans. Redis operation names are upper-cased (`GET`).
 * - `db.client.operation.duration` for every operation span, also when the span is not sampled or
 *   no tracer provider is installed: mysql2, ioredis and redis record no metrics, and pg's own
 *   histogram lacks the collection (it is dropped by a view, so every driver reports the same labels).
 *
 * Spans without an operation (`pg.connect`, `pg-pool.connect`, redis `connect`) are not measured.
 *
 * Two rules about what is recorded at all (docs/configuration.md, `OBS_ROOT_CLIENT_SPANS`):
 * - Operations @obs runs itself (its health checks run with tracing suppressed, as the SDK's exports
 *   do) are neither traced nor measured.
 * - An operation outside any span (a poller, a start-up migration, a timer) is measured but, unless
 *   root client spans are kept, not traced: its span is a non-recording one, so it makes no root trace
 *   and nothing below it is traced either. The instrumentations' own `requireParentSpan` (pg, ioredis,
 *   redis; mysql2 has none) skips such an operation entirely, its duration too, so it stays off here
 *   and this tracer applies the one rule to every driver alike.
 */
import type {
  Attributes,
  AttributeValue,
  Context,
  Exception,
  Link,
  Span,
  SpanAttributes,
  SpanContext,
  SpanOptions,
  SpanStatus,
  TimeInput,
  Tracer,
  TracerOptions,
  TracerProvider,
} from '@opentelemetry/api';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { opentelemetry, otelCore } from '../otel.js';
import { histogram, METRICS } from './meter.js';
import { type SqlDialect, sanitizeSql, summarizeSql } from './sql.js';

const { context, INVALID_SPAN_CONTEXT, SpanStatusCode, trace } = opentelemetry;
const { isTracingSuppressed } = otelCore;

/** Which kind of database an instrumentation talks to. */
export type DbKind = { sql: SqlDialect } | { redis: true };

const QUERY_TEXT = 'db.query.text';
const OPERATION = 'db.operation.name';
/** Attributes copied onto `db.client.operation.duration` (semconv's list, without the high-cardinality ones). */
const METRIC_KEYS = [
  'db.system.name',
  'db.namespace',
  OPERATION,
  'db.collection.name',
  'error.type',
  'server.address',
  'server.port',
] as const;

/** `error.type` from what an instrumentation recorded: a driver code (SQLSTATE, ER_...), else the error's name. */
export function errorType(exception: unknown): string {
  if (typeof exception === 'string') {
    // instrumentation-pg records "PostgreSQL error of type 'error' occurred (code: 42P01)"
    const code = /\(code: ([A-Za-z0-9_]{1,32})\)/.exec(exception)?.[1];
    return code && code !== 'UNKNOWN' ? code : '_OTHER';
  }
  if (exception && typeof exception === 'object') {
    const { code, name } = exception as { code?: unknown; name?: unknown };
    if (typeof code === 'string' && /^[A-Za-z0-9_]{1,32}$/.test(code)) return code;
    if (typeof name === 'string' && /^[A-Za-z0-9_.$]{1,64}$/.test(name)) return name;
  }
  return '_OTHER';
}

/** Rewrite one attribute an instrumentation sets: the attributes the span should carry instead, and its new name. */
function rewrite(kind: DbKind, key: string, value: AttributeValue): { attrs: Attributes; name?: string } {
  if (key === QUERY_TEXT && 'sql' in kind && typeof value === 'string') {
    const text = sanitizeSql(value, kind.sql);
    const { operation, tables, summary } = summarizeSql(text, kind.sql);
    const attrs: Attributes = { [QUERY_TEXT]: text };
    if (operation) attrs[OPERATION] = operation;
    if (tables.length === 1) attrs['db.collection.name'] = tables[0];
    if (summary) attrs['db.query.summary'] = summary;
    return { attrs, name: summary };
  }
  if (key === OPERATION && 'redis' in kind && typeof value === 'string') {
    const op = value.toUpperCase();
    return { attrs: { [OPERATION]: op }, name: op };
  }
  return { attrs: { [key]: value } };
}

class MeasuredSpan implements Span {
  private readonly started = performance.now();
  private readonly attrs: Attributes;
  private ended = false;

  constructor(
    private readonly inner: Span,
    private readonly kind: DbKind,
    /** The start attributes, already rewritten. */
    attributes: Attributes,
  ) {
    this.attrs = { ...attributes };
  }

  spanContext(): SpanContext {
    return this.inner.spanContext();
  }
  setAttribute(key: string, value: AttributeValue): this {
    if (value === undefined) return this;
    const { attrs, name } = rewrite(this.kind, key, value);
    Object.assign(this.attrs, attrs);
    this.inner.setAttributes(attrs);
    if (name) this.inner.updateName(name);
    return this;
  }
  setAttributes(attributes: SpanAttributes): this {
    for (const [k, v] of Object.entries(attributes)) if (v !== undefined) this.setAttribute(k, v);
    return this;
  }
  addEvent(name: string, attributesOrStartTime?: SpanAttributes | TimeInput, startTime?: TimeInput): this {
    this.inner.addEvent(name, attributesOrStartTime, startTime);
    return this;
  }
  addLink(link: Link): this {
    this.inner.addLink(link);
    return this;
  }
  addLinks(links: Link[]): this {
    this.inner.addLinks(links);
    return this;
  }
  setStatus(status: SpanStatus): this {
    if (status.code === SpanStatusCode.ERROR && this.attrs['error.type'] === undefined) {
      this.attrs['error.type'] = '_OTHER';
    }
    this.inner.setStatus(status);
    return this;
  }
  updateName(name: string): this {
    this.inner.updateName(name);
    return this;
  }
  isRecording(): boolean {
    return this.inner.isRecording();
  }
  recordException(exception: Exception, time?: TimeInput): void {
    this.attrs['error.type'] = errorType(exception);
    this.inner.recordException(exception, time);
  }
  end(endTime?: TimeInput): void {
    if (!this.ended) {
      this.ended = true;
      if (typeof this.attrs[OPERATION] === 'string') {
        const labels: Attributes = {};
        for (const key of METRIC_KEYS) if (this.attrs[key] !== undefined) labels[key] = this.attrs[key];
        histogram(METRICS.dbClientOperationDuration).record((performance.now() - this.started) / 1000, labels);
      }
    }
    this.inner.end(endTime);
  }
}

class MeasuringTracer implements Tracer {
  constructor(
    private readonly inner: Tracer,
    private readonly kind: DbKind,
    private readonly rootSpans: boolean,
  ) {}

  startSpan(name: string, options: SpanOptions = {}, ctx?: Context): Span {
    const parentContext = ctx ?? context.active();
    // @obs's own work (health checks): no span, no measurement
    if (isTracingSuppressed(parentContext)) return this.inner.startSpan(name, options, parentContext);
    const parent = trace.getSpan(parentContext);
    const hasParent = parent !== undefined && trace.isSpanContextValid(parent.spanContext());
    const attributes: Attributes = { ...options.attributes };
    let spanName = name;
    for (const key of [QUERY_TEXT, OPERATION]) {
      const value = attributes[key];
      if (value === undefined) continue;
      const rewritten = rewrite(this.kind, key, value);
      Object.assign(attributes, rewritten.attrs);
      if (rewritten.name) spanName = rewritten.name;
    }
    // outside any span: measured, and traced only when root client spans are kept
    const inner =
      hasParent || this.rootSpans
        ? this.inner.startSpan(spanName, { ...options, attributes }, ctx)
        : trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
    return new MeasuredSpan(inner, this.kind, attributes);
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, ...args: unknown[]): ReturnType<F> {
    const fn = args.pop() as F;
    const [options, ctx] = args as [SpanOptions | undefined, Context | undefined];
    const parent = ctx ?? context.active();
    const span = this.startSpan(name, options, parent);
    return context.with(trace.setSpan(parent, span), () => fn(span)) as ReturnType<F>;
  }
}

class MeasuringTracerProvider implements TracerProvider {
  constructor(
    private readonly inner: TracerProvider,
    private readonly kind: DbKind,
    private readonly rootSpans: boolean,
  ) {}
  getTracer(name: string, version?: string, options?: TracerOptions): Tracer {
    return new MeasuringTracer(this.inner.getTracer(name, version, options), this.kind, this.rootSpans);
  }
}

/**
 * Make an instrumentation's spans go through the measuring tracer, whatever tracer provider it is
 * given later (`registerInstrumentations` sets the SDK's; without one it keeps the global API's).
 * @param rootSpans `OBS_ROOT_CLIENT_SPANS`: trace operations made outside any span (default false:
 *   measured, not traced)
 */
export function measureDbOperations<T extends Instrumentation>(instrumentation: T, kind: DbKind, rootSpans = false): T {
  const set = instrumentation.setTracerProvider.bind(instrumentation);
  instrumentation.setTracerProvider = (provider: TracerProvider) =>
    set(new MeasuringTracerProvider(provider, kind, rootSpans));
  instrumentation.setTracerProvider(trace.getTracerProvider());
  return instrumentation;
}
