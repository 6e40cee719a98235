/**
 * SLO math for multi-window, multi-burn-rate alerts (Google SRE workbook, "Alerting on SLOs").
 *
 * The burn rate is how fast the error budget is spent: 1 spends exactly the budget over the SLO
 * period. An alert condition spends a given fraction of the budget within its long window, so its
 * burn rate is `fraction × period / window`; for a 30-day period that gives the workbook's factors:
 * page at 14.4 (2 % in 1 h) and 6 (5 % in 6 h), ticket at 3 (10 % in 1 d) and 1 (10 % in 3 d). Each
 * condition also checks a short window (1/12 of the long one) so the alert resolves soon after the
 * burn stops.
 */
import { formatDuration, round } from './units.js';

/** An SLO: the share of good events to keep over a rolling period. */
export interface Slo {
  /** Target share of good events, in (0, 1), e.g. 0.999. */
  objective: number;
  /** Rolling period in seconds, e.g. 30 days. */
  periodSeconds: number;
}

/** One multi-window condition of the workbook's table. */
export interface BurnRateWindow {
  /** `critical` pages, `warning` opens a ticket. */
  severity: 'critical' | 'warning';
  /** Long window, Prometheus duration. */
  long: string;
  /** Short window, Prometheus duration (1/12 of the long one). */
  short: string;
  /** Share of the period's error budget the condition allows to be spent within the long window. */
  budgetFraction: number;
}

/** The workbook's four conditions, in order: two that page and two that open a ticket. */
export const BURN_RATE_WINDOWS: readonly BurnRateWindow[] = Object.freeze([
  { severity: 'critical', long: '1h', short: '5m', budgetFraction: 0.02 },
  { severity: 'critical', long: '6h', short: '30m', budgetFraction: 0.05 },
  { severity: 'warning', long: '1d', short: '2h', budgetFraction: 0.1 },
  { severity: 'warning', long: '3d', short: '6h', budgetFraction: 0.1 },
]);

const WINDOW_SECONDS: Record<string, number> = {
  '5m': 300,
  '30m': 1800,
  '1h': 3600,
  '2h': 7200,
  '6h': 21600,
  '1d': 86400,
  '3d': 259200,
};

/** Seconds in one of the burn-rate windows. */
export function windowSeconds(window: string): number {
  const seconds = WINDOW_SECONDS[window];
  if (seconds === undefined) throw new Error(`unknown burn-rate window ${window}`);
  return seconds;
}

/** The default SLO period: 30 days, the period the workbook's factors are quoted for. */
export const DEFAULT_PERIOD_SECONDS = 30 * 86400;

/**
 * The error budget: the share of events allowed to be bad.
 * @throws RangeError unless 0 < objective < 1
 */
export function errorBudget(objective: number): number {
  if (!(objective > 0 && objective < 1)) throw new RangeError(`an SLO objective must be in (0, 1), got ${objective}`);
  return round(1 - objective);
}

/** The burn rate at which `budgetFraction` of the budget is spent within `windowSecs` of a `periodSecs` period. */
export function burnRate(budgetFraction: number, periodSecs: number, windowSecs: number): number {
  return round((budgetFraction * periodSecs) / windowSecs);
}

/** A condition resolved for one SLO: its burn rate and the bad-event ratio both windows must exceed. */
export interface BurnRateCondition extends BurnRateWindow {
  burnRate: number;
  /** `burnRate × errorBudget`: the bad-event ratio above which the condition holds. */
  threshold: number;
}

/** The workbook's conditions for an SLO, in the order of {@link BURN_RATE_WINDOWS}. */
export function burnRateConditions(slo: Slo): BurnRateCondition[] {
  const budget = errorBudget(slo.objective);
  return BURN_RATE_WINDOWS.map((w) => {
    const rate = burnRate(w.budgetFraction, slo.periodSeconds, windowSeconds(w.long));
    return { ...w, burnRate: rate, threshold: round(rate * budget) };
  });
}

/** Every window the conditions read, shortest first (each needs a ratio recording rule). */
export function sloWindows(): string[] {
  const all = new Set<string>();
  for (const w of BURN_RATE_WINDOWS) {
    all.add(w.short);
    all.add(w.long);
  }
  return [...all].sort((a, b) => windowSeconds(a) - windowSeconds(b));
}

/**
 * The share of the error budget left after a period whose bad-event ratio was `badRatio`
 * (1 untouched, 0 spent, negative overspent).
 */
export function budgetRemaining(badRatio: number, objective: number): number {
  return round(1 - badRatio / errorBudget(objective));
}

/** A period for prose: `30d`. */
export function formatPeriod(seconds: number): string {
  return formatDuration(seconds);
}
