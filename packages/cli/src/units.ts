/**
 * Parsing and formatting of the values the commands take: Prometheus durations (`5m`, `1h30m`),
 * byte sizes (`512Mi`), ratios (`0.05` or `5%`), and numbers printed without floating-point noise.
 */

const DURATION_UNITS: Record<string, number> = {
  ms: 0.001,
  s: 1,
  m: 60,
  h: 3600,
  d: 86400,
  w: 604800,
  y: 31536000,
};

const DURATION = /^(?:\d+(?:ms|s|m|h|d|w|y))+$/;
const DURATION_PART = /(\d+)(ms|s|m|h|d|w|y)/g;

/**
 * Seconds in a Prometheus duration (`30s`, `5m`, `1h30m`, `3d`).
 * @returns undefined when `text` is not a Prometheus duration or is zero
 */
export function parseDuration(text: string): number | undefined {
  const value = text.trim();
  if (!DURATION.test(value)) return undefined;
  let seconds = 0;
  for (const [, amount, unit] of value.matchAll(DURATION_PART)) {
    seconds += Number(amount) * (DURATION_UNITS[unit as string] as number);
  }
  return seconds > 0 ? round(seconds) : undefined;
}

/** A Prometheus duration for a number of seconds, in the largest units that divide it (`90` → `1m30s`). */
export function formatDuration(seconds: number): string {
  let ms = Math.round(seconds * 1000);
  if (ms <= 0) return '0s';
  let out = '';
  for (const [unit, size] of [
    ['d', 86400000],
    ['h', 3600000],
    ['m', 60000],
    ['s', 1000],
    ['ms', 1],
  ] as const) {
    const n = Math.floor(ms / size);
    if (n > 0) {
      out += `${n}${unit}`;
      ms -= n * size;
    }
  }
  return out;
}

const BYTE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  ki: 1024,
  kib: 1024,
  mi: 1024 ** 2,
  mib: 1024 ** 2,
  gi: 1024 ** 3,
  gib: 1024 ** 3,
  ti: 1024 ** 4,
  tib: 1024 ** 4,
};

/**
 * Bytes in a size written as Kubernetes writes memory limits (`512Mi`, `1Gi`, `500M`, `1073741824`).
 * @returns undefined when `text` is not such a size or is zero
 */
export function parseBytes(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(text.trim());
  if (!match) return undefined;
  const factor = BYTE_UNITS[(match[2] as string).toLowerCase()];
  if (factor === undefined) return undefined;
  const bytes = Math.round(Number(match[1]) * factor);
  return bytes > 0 ? bytes : undefined;
}

/**
 * A ratio written as a fraction (`0.05`) or a percentage (`5%`).
 * @returns undefined unless it is a number in (0, 1]
 */
export function parseRatio(text: string): number | undefined {
  const value = text.trim();
  const percent = value.endsWith('%');
  const n = Number(percent ? value.slice(0, -1) : value);
  if (value === '' || value === '%' || !Number.isFinite(n)) return undefined;
  const ratio = round(percent ? n / 100 : n);
  return ratio > 0 && ratio <= 1 ? ratio : undefined;
}

/** `n` rounded to 12 significant digits, so that `14.4 * (1 - 0.999)` prints as `0.0144`. */
export function round(n: number): number {
  return Number(n.toPrecision(12));
}

/** `n` as PromQL and YAML print it: shortest form, no floating-point noise, no exponent for common sizes. */
export function formatNumber(n: number): string {
  const r = round(n);
  if (Number.isInteger(r)) return String(r);
  const text = String(r);
  if (!text.includes('e')) return text;
  return r.toFixed(20).replace(/0+$/, '');
}

/** A ratio as a percentage for prose (`0.001` → `0.1%`). */
export function formatPercent(ratio: number): string {
  return `${formatNumber(ratio * 100)}%`;
}

/** A byte size for prose, in binary units when exact (`536870912` → `512 MiB`). */
export function formatBytes(bytes: number): string {
  for (const [unit, size] of [
    ['TiB', 1024 ** 4],
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (bytes >= size && Number.isInteger(bytes / size)) return `${bytes / size} ${unit}`;
  }
  return `${bytes} bytes`;
}
