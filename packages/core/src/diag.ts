/**
 * The one place @obs reports its own problems (bad configuration, an exporter that failed, a port in
 * use). Messages go to stderr as plain text, never through the app's logger, so a failing log exporter
 * cannot feed itself. Identical messages are printed once: a collector that stays down costs one line,
 * not one line per export. Every message, the OpenTelemetry SDK's included, goes through the string
 * redaction of ./logging/redact-text.ts first: a URL's password or a token in an error text is not
 * printed (@obs's own messages never hold one; the SDK's may).
 */
import { createTextRedaction } from './logging/redact-text.js';

const { redactString } = createTextRedaction();
const seen = new Set<string>();
const MAX_REMEMBERED = 1000;

/** Severity of an @obs diagnostic. */
export type DiagnosticLevel = 'warn' | 'error' | 'info' | 'debug';

let sink: (line: string) => void = (line) => {
  try {
    process.stderr.write(line);
  } catch {
    // stderr closed: nothing sensible left to do
  }
};

/**
 * Print a diagnostic once per distinct message.
 * @param message one line, naming the variable or component concerned
 */
export function diagnose(level: DiagnosticLevel, message: string): void {
  // "Dropped 12 spans" and "Dropped 13 spans" are one problem: numbers do not make a message new.
  const key = `${level}:${message.replace(/\d+/g, 'N')}`;
  if (seen.has(key)) return;
  if (seen.size >= MAX_REMEMBERED) seen.clear();
  seen.add(key);
  sink(`@obs ${level}: ${redactString(message)}\n`);
}

/**
 * Print a diagnostic every time (no deduplication): for reports whose numbers are the news, such as
 * the periodic telemetry drop report. The caller bounds how often.
 */
export function report(level: DiagnosticLevel, message: string): void {
  sink(`@obs ${level}: ${message}\n`);
}

/** Warn once (see {@link diagnose}). */
export function warn(message: string): void {
  diagnose('warn', message);
}

/** Test seam: capture diagnostics instead of writing them to stderr. Returns a restore function. */
export function captureDiagnostics(into: string[]): () => void {
  const previous = sink;
  seen.clear();
  sink = (line) => into.push(line.trimEnd());
  return () => {
    sink = previous;
    seen.clear();
  };
}
