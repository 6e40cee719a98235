/** The SLO math and the value parsers. */
import { describe, expect, it } from 'vitest';
import {
  BURN_RATE_WINDOWS,
  budgetRemaining,
  burnRateConditions,
  DEFAULT_PERIOD_SECONDS,
  errorBudget,
  sloWindows,
} from '../src/slo.js';
import { formatDuration, formatNumber, parseBytes, parseDuration, parseRatio } from '../src/units.js';

describe('multi-window, multi-burn-rate conditions', () => {
  it("are the SRE workbook's for a 30-day period", () => {
    const c = burnRateConditions({ objective: 0.999, periodSeconds: DEFAULT_PERIOD_SECONDS });
    expect(c.map((x) => [x.severity, x.long, x.short, x.burnRate, x.threshold])).toEqual([
      ['critical', '1h', '5m', 14.4, 0.0144],
      ['critical', '6h', '30m', 6, 0.006],
      ['warning', '1d', '2h', 3, 0.003],
      ['warning', '3d', '6h', 1, 0.001],
    ]);
  });

  it('spend the same budget fractions over another period', () => {
    const c = burnRateConditions({ objective: 0.99, periodSeconds: 28 * 86400 });
    expect(c.map((x) => x.burnRate)).toEqual([13.44, 5.6, 2.8, 0.933333333333]);
    expect(c[0]?.threshold).toBe(0.1344);
  });

  it('short windows are 1/12 of the long ones', () => {
    const s = { '5m': 300, '30m': 1800, '2h': 7200, '6h': 21600 } as Record<string, number>;
    const l = { '1h': 3600, '6h': 21600, '1d': 86400, '3d': 259200 } as Record<string, number>;
    for (const w of BURN_RATE_WINDOWS) expect((l[w.long] as number) / (s[w.short] as number)).toBe(12);
    expect(sloWindows()).toEqual(['5m', '30m', '1h', '2h', '6h', '1d', '3d']);
  });

  it('error budget and budget left', () => {
    expect(errorBudget(0.999)).toBe(0.001);
    expect(() => errorBudget(1)).toThrow(RangeError);
    expect(budgetRemaining(0.0005, 0.999)).toBe(0.5);
    expect(budgetRemaining(0.002, 0.999)).toBe(-1);
  });
});

describe('value parsers', () => {
  it('durations', () => {
    expect(parseDuration('1h30m')).toBe(5400);
    expect(parseDuration('500ms')).toBe(0.5);
    expect(parseDuration('3d')).toBe(259200);
    expect(parseDuration('5')).toBeUndefined();
    expect(parseDuration('0s')).toBeUndefined();
    expect(formatDuration(5400)).toBe('1h30m');
    expect(formatDuration(86400)).toBe('1d');
    expect(formatDuration(0.5)).toBe('500ms');
  });

  it('sizes, ratios and numbers', () => {
    expect(parseBytes('512Mi')).toBe(536870912);
    expect(parseBytes('1G')).toBe(1e9);
    expect(parseBytes('12 parsecs')).toBeUndefined();
    expect(parseRatio('99.9%')).toBe(0.999);
    expect(parseRatio('0.05')).toBe(0.05);
    expect(parseRatio('1.5')).toBeUndefined();
    expect(parseRatio('0')).toBeUndefined();
    expect(formatNumber(14.4 * (1 - 0.999))).toBe('0.0144');
    expect(formatNumber(1e-7)).toBe('0.0000001');
  });
});
