/**
 * Command-line and config-file options, shared by every command: each command declares its options
 * once ({@link OptionSpec}); flags (parsed with `util.parseArgs`), the config file and the defaults are
 * resolved from that one list, and `--help` is printed from it.
 *
 * The config file is YAML (or JSON). Top-level keys are the long flag names and apply to every
 * command that has that option; a section named after a command (`alerts:`, `dashboard:`, ...) applies
 * to that command only and wins over the top level; flags win over both. An `slo:` block may hold the
 * SLO spec: `{ period, availability: { objective }, latency: { objective, threshold } }`.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { METRICS } from '@obs/core';
import { parse as parseYaml } from 'yaml';
import { parseBytes, parseDuration, parseRatio } from './units.js';

/** A bad flag, option value or config file: reported on stderr, exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** How an option's text is read. */
export type OptionType =
  | 'string'
  | 'number'
  | 'integer'
  | 'ratio'
  | 'duration'
  | 'bytes'
  | 'boolean'
  | 'list'
  | 'labels'
  | 'path'
  | 'url';

/** The value an option type resolves to. */
export type OptionValue = string | number | boolean | string[] | Record<string, string>;

/** One option of a command. */
export interface OptionSpec {
  /** Long flag name without dashes; also its config-file key. */
  name: string;
  type: OptionType;
  /** Placeholder in the help, e.g. `SECONDS`. */
  arg?: string;
  description: string;
  /** Default (already resolved, e.g. seconds for durations). */
  default?: OptionValue;
  /** Shown in the help instead of the default's printed value. */
  defaultText?: string;
  required?: boolean;
  short?: string;
  /** Extra check on the resolved value; returns an error message, or undefined when fine. */
  check?: (value: OptionValue) => string | undefined;
}

/** A command: name, summary, options and what it does with them. */
export interface CommandSpec {
  name: string;
  /** One line for `obs --help`. */
  short: string;
  summary: string;
  /** Paragraphs printed under the usage line. */
  details?: string;
  options: readonly OptionSpec[];
  /** Further lines printed at the end of the help (examples). */
  examples?: readonly string[];
}

/** Options every command has. */
export const COMMON_OPTIONS: readonly OptionSpec[] = [
  {
    name: 'config',
    short: 'c',
    type: 'path',
    arg: 'FILE',
    description: 'YAML or JSON config file (flags win over it)',
  },
  { name: 'output', short: 'o', type: 'path', arg: 'FILE', description: 'write to FILE instead of stdout' },
  { name: 'help', short: 'h', type: 'boolean', description: 'show this help' },
];

/** The options every command shares for choosing the service's series. */
export const SELECTION_OPTIONS: readonly OptionSpec[] = [
  { name: 'job', type: 'string', arg: 'NAME', description: 'Prometheus job label of the service' },
  {
    name: 'service',
    type: 'string',
    arg: 'NAME',
    description: 'also match a `service` target label (e.g. set by prometheus-operator)',
  },
  {
    name: 'selector',
    type: 'labels',
    arg: 'LABEL=VALUE',
    description: 'also match this target label exactly (repeatable)',
    default: {},
    defaultText: 'none',
  },
];

/** The SLO spec options, shared by `alerts` and `dashboard`. */
export const SLO_OPTIONS: readonly OptionSpec[] = [
  { name: 'slo-period', type: 'duration', arg: 'DURATION', description: 'SLO period', default: 30 * 86400 },
  {
    name: 'availability-objective',
    type: 'ratio',
    arg: 'RATIO',
    description: 'availability SLO: share of requests answered without a 5xx',
    default: 0.999,
    check: objectiveCheck,
  },
  {
    name: 'latency-objective',
    type: 'ratio',
    arg: 'RATIO',
    description: 'latency SLO: share of requests faster than --latency-slo-threshold',
    default: 0.99,
    check: objectiveCheck,
  },
  {
    name: 'latency-slo-threshold',
    type: 'duration',
    arg: 'DURATION',
    description: 'latency SLO threshold; must be a bucket bound of http.server.request.duration',
    default: 0.5,
    check: (value) =>
      METRICS.httpServerRequestDuration.buckets?.includes(value as number)
        ? undefined
        : `must be a bucket bound of ${METRICS.httpServerRequestDuration.name} (seconds: ${METRICS.httpServerRequestDuration.buckets?.join(', ')})`,
  },
];

function objectiveCheck(value: OptionValue): string | undefined {
  return typeof value === 'number' && value < 1 ? undefined : 'must be below 1 (100% leaves no error budget)';
}

/** Names of the commands, for config sections. */
export const COMMAND_NAMES = ['alerts', 'alertmanager', 'dashboard', 'k8s', 'dev'] as const;

/** Resolved options of a command, by long name. */
export type Options = Record<string, OptionValue | undefined>;

function describeType(type: OptionType): string {
  switch (type) {
    case 'duration':
      return 'a Prometheus duration such as 30s, 5m or 1h30m';
    case 'bytes':
      return 'a size such as 536870912, 512Mi or 1Gi';
    case 'ratio':
      return 'a ratio in (0, 1], such as 0.05 or 5%';
    case 'number':
      return 'a number >= 0';
    case 'integer':
      return 'an integer >= 1';
    case 'labels':
      return 'LABEL=VALUE with a Prometheus label name';
    case 'url':
      return 'an absolute http(s) URL';
    default:
      return 'a non-empty value';
  }
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function convert(spec: OptionSpec, raw: unknown, where: string): OptionValue {
  const bad = (): never => {
    throw new UsageError(`${where}: ${JSON.stringify(raw)} is not ${describeType(spec.type)}`);
  };
  if (spec.type === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    if (raw === 'true' || raw === 'false') return raw === 'true';
    return bad();
  }
  if (spec.type === 'labels') {
    const out: Record<string, string> = {};
    const entries: [string, unknown][] =
      raw && typeof raw === 'object' && !Array.isArray(raw)
        ? Object.entries(raw)
        : (Array.isArray(raw) ? raw : [raw]).map((item) => {
            const text = String(item);
            const eq = text.indexOf('=');
            return eq > 0 ? [text.slice(0, eq), text.slice(eq + 1)] : ['', text];
          });
    for (const [name, value] of entries) {
      if (!LABEL_NAME.test(name) || typeof value !== 'string' || value === '') bad();
      out[name] = value as string;
    }
    return out;
  }
  if (spec.type === 'list') {
    const items = (Array.isArray(raw) ? raw : String(raw).split(',')).map((s) => String(s).trim()).filter(Boolean);
    return items.length ? items : bad();
  }
  if (typeof raw !== 'string' && typeof raw !== 'number') return bad();
  const text = String(raw).trim();
  switch (spec.type) {
    case 'duration': {
      // A bare number in a config file means seconds.
      const seconds = typeof raw === 'number' ? (raw > 0 ? raw : undefined) : parseDuration(text);
      return seconds ?? bad();
    }
    case 'bytes':
      return parseBytes(text) ?? bad();
    case 'ratio':
      return parseRatio(text) ?? bad();
    case 'number': {
      const n = Number(text);
      return text !== '' && Number.isFinite(n) && n >= 0 ? n : bad();
    }
    case 'integer': {
      const n = Number(text);
      return Number.isInteger(n) && n >= 1 ? n : bad();
    }
    case 'url':
      return /^https?:\/\/[^\s/]+/.test(text) ? text : bad();
    default:
      return text !== '' ? text : bad();
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Flattens an `slo:` block into the SLO option names. */
function flattenSlo(slo: unknown, where: string): Record<string, unknown> {
  if (!isRecord(slo)) throw new UsageError(`${where}: slo must be a mapping`);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(slo)) {
    if (key === 'period') out['slo-period'] = value;
    else if (key === 'availability' && isRecord(value)) {
      for (const [k, v] of Object.entries(value)) {
        if (k !== 'objective') throw new UsageError(`${where}: unknown key slo.availability.${k} (known: objective)`);
        out['availability-objective'] = v;
      }
    } else if (key === 'latency' && isRecord(value)) {
      for (const [k, v] of Object.entries(value)) {
        if (k === 'objective') out['latency-objective'] = v;
        else if (k === 'threshold') out['latency-slo-threshold'] = v;
        else throw new UsageError(`${where}: unknown key slo.latency.${k} (known: objective, threshold)`);
      }
    } else {
      throw new UsageError(
        `${where}: unknown key slo.${key} (known: period, availability.objective, latency.objective, latency.threshold)`,
      );
    }
  }
  return out;
}

/**
 * The values a config file sets for one command: top-level keys, then the command's section.
 * @param allNames option names of every command, so top-level keys meant for another command pass
 * @throws UsageError for an unreadable file, bad YAML or an unknown key
 */
export function readConfigFile(
  path: string,
  command: CommandSpec,
  allNames: ReadonlySet<string>,
): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new UsageError(`config file ${path} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (!isRecord(doc)) throw new UsageError(`config file ${path} must hold a mapping`);
  const own = new Set(command.options.map((o) => o.name));
  const values: Record<string, unknown> = {};
  const section: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(doc)) {
    if ((COMMAND_NAMES as readonly string[]).includes(key)) {
      if (!isRecord(value)) throw new UsageError(`config file ${path}: ${key} must be a mapping`);
      if (key !== command.name) continue;
      for (const [k, v] of Object.entries(value)) {
        if (k === 'slo') Object.assign(section, flattenSlo(v, `config file ${path}, ${key}`));
        else if (own.has(k)) section[k] = v;
        else throw new UsageError(`config file ${path}: unknown key ${key}.${k} (run 'obs ${key} --help')`);
      }
    } else if (key === 'slo') {
      for (const [k, v] of Object.entries(flattenSlo(value, `config file ${path}`))) if (own.has(k)) values[k] = v;
    } else if (own.has(key)) {
      values[key] = value;
    } else if (!allNames.has(key)) {
      throw new UsageError(`config file ${path}: unknown key ${key}`);
    }
  }
  for (const key of ['config', 'output', 'help']) {
    if (key in values || key in section)
      throw new UsageError(`config file ${path}: ${key} can only be given as a flag`);
  }
  return { ...values, ...section };
}

/**
 * Resolves a command's options: flags over the config file over defaults, each value parsed and
 * checked.
 * @param allNames option names of every command (config-file top-level keys may belong to others)
 * @throws UsageError on an unknown flag, a missing value, a bad value or a missing required option
 */
export function resolveOptions(command: CommandSpec, argv: readonly string[], allNames: ReadonlySet<string>): Options {
  const parseOptions: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const spec of command.options) {
    parseOptions[spec.name] = {
      type: spec.type === 'boolean' ? 'boolean' : 'string',
      ...(spec.short ? { short: spec.short } : {}),
      ...(spec.type === 'labels' || spec.type === 'list' ? { multiple: true } : {}),
    };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: parseOptions,
      strict: true,
      allowPositionals: false,
      allowNegative: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  const flags = parsed.values as Record<string, string | boolean | (string | boolean)[] | undefined>;
  if (flags.help === true) return { help: true };
  const fromFile =
    typeof flags.config === 'string'
      ? readConfigFile(flags.config, command, allNames)
      : ({} as Record<string, unknown>);
  const out: Options = {};
  for (const spec of command.options) {
    const flag = flags[spec.name];
    let value: OptionValue | undefined;
    if (flag !== undefined) {
      const raw = Array.isArray(flag) && spec.type === 'list' ? flag.join(',') : flag;
      value = convert(spec, raw, `--${spec.name}`);
    } else if (fromFile[spec.name] !== undefined && fromFile[spec.name] !== null) {
      value = convert(spec, fromFile[spec.name], `config file, ${spec.name}`);
    } else {
      value = spec.default;
    }
    if (value === undefined && spec.required) {
      throw new UsageError(`--${spec.name} is required: ${spec.description}`);
    }
    if (value !== undefined && spec.check) {
      const problem = spec.check(value);
      if (problem) throw new UsageError(`--${spec.name}: ${problem}`);
    }
    out[spec.name] = value;
  }
  return out;
}

function printDefault(spec: OptionSpec): string | undefined {
  if (spec.defaultText !== undefined) return spec.defaultText;
  const value = spec.default;
  if (value === undefined || spec.type === 'boolean') return undefined;
  if (spec.type === 'duration' && typeof value === 'number') {
    return formatSeconds(value);
  }
  if (Array.isArray(value)) return value.join(',');
  return String(value);
}

function formatSeconds(seconds: number): string {
  for (const [unit, size] of [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    if (seconds >= size && Number.isInteger(seconds / size)) return `${seconds / size}${unit}`;
  }
  return `${seconds * 1000}ms`;
}

/** The `--help` text of a command. */
export function helpText(command: CommandSpec): string {
  const lines = [`Usage: obs ${command.name} [options]`, '', command.summary];
  if (command.details) lines.push('', command.details);
  lines.push('', 'Options:');
  const rows = command.options.map((spec) => {
    const flag = `${spec.short ? `-${spec.short}, ` : '    '}--${spec.name}${spec.arg ? ` ${spec.arg}` : ''}`;
    const def = printDefault(spec);
    const text = `${spec.description}${spec.required ? ' (required)' : ''}${def !== undefined ? ` [default: ${def}]` : ''}`;
    return [flag, text] as const;
  });
  const width = Math.min(38, Math.max(...rows.map(([f]) => f.length)) + 2);
  for (const [flag, text] of rows) {
    lines.push(flag.length + 2 > width ? `  ${flag}\n  ${' '.repeat(width)}${text}` : `  ${flag.padEnd(width)}${text}`);
  }
  if (command.examples?.length) lines.push('', 'Examples:', ...command.examples.map((e) => `  ${e}`));
  return `${lines.join('\n')}\n`;
}
