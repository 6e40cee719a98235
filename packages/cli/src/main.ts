/**
 * The `obs` command line: dispatches to the commands, writes their output to stdout or a file, and
 * turns usage errors into a message on stderr and exit status 2.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { type CommandSpec, helpText, type Options, resolveOptions, UsageError } from './args.js';
import { alertmanagerCommand, runAlertmanager } from './commands/alertmanager.js';
import { alertsCommand, runAlerts } from './commands/alerts.js';
import { dashboardCommand, runDashboard } from './commands/dashboard.js';
import { type DevIo, devCommand, runDev } from './commands/dev.js';
import { k8sCommand, runK8s } from './commands/k8s.js';

/** A command and what runs it. */
interface Command {
  spec: CommandSpec;
  run: (options: Options) => string;
}

/** Every command of `obs`, by name. */
export const COMMANDS: Readonly<Record<string, Command>> = {
  alerts: { spec: alertsCommand, run: runAlerts },
  alertmanager: { spec: alertmanagerCommand, run: runAlertmanager },
  dashboard: { spec: dashboardCommand, run: runDashboard },
  k8s: { spec: k8sCommand, run: runK8s },
};

/** Option names of every command, `dev` included: one config file may serve them all. */
const ALL_OPTION_NAMES: ReadonlySet<string> = new Set(
  [...Object.values(COMMANDS).map((c) => c.spec), devCommand].flatMap((spec) => spec.options.map((o) => o.name)),
);

/** The top-level `obs --help` text. */
export function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length)) + 2;
  return [
    'Usage: obs <command> [options]',
    '',
    'Generate alerting, dashboards and probes for services instrumented with @obs, from the metric',
    'definitions the SDK records with; look at their telemetry locally with `obs dev`.',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}${c.spec.short}`),
    `  ${'dev'.padEnd(width)}${devCommand.short}`,
    '',
    "Run 'obs <command> --help' for a command's options.",
    '',
  ].join('\n');
}

/** Where `main` writes; the defaults are the process's streams. */
export interface MainIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const processIo: MainIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/**
 * Runs `obs` with the arguments after the program name.
 * @returns the exit status: 0 done, 1 failed (e.g. the output file cannot be written), 2 bad usage
 */
export function main(argv: readonly string[], io: MainIo = processIo): number {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout)(mainHelp());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    io.stdout(`${(createRequire(import.meta.url)('../package.json') as { version: string }).version}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.stderr(`obs: unknown command ${JSON.stringify(name)}\n\n${mainHelp()}`);
    return 2;
  }
  let options: Options;
  let text: string;
  try {
    options = resolveOptions(command.spec, rest, ALL_OPTION_NAMES);
    if (options.help) {
      io.stdout(helpText(command.spec));
      return 0;
    }
    text = command.run(options);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`obs ${name}: ${err.message}\nRun 'obs ${name} --help' for the options.\n`);
      return 2;
    }
    io.stderr(`obs ${name}: ${(err as Error).message}\n`);
    return 1;
  }
  const output = options.output as string | undefined;
  if (output === undefined || output === '-') {
    io.stdout(text);
    return 0;
  }
  try {
    mkdirSync(dirname(output), { recursive: true });
    writeFileSync(output, text);
  } catch (err) {
    io.stderr(`obs ${name}: cannot write ${output}: ${(err as Error).message}\n`);
    return 1;
  }
  return 0;
}

/**
 * Runs `obs dev` with the arguments after `dev`: the long-running viewer (see {@link runDev}).
 * @returns the exit status: 0 after SIGINT/SIGTERM, 1 when it cannot start, 2 bad usage
 */
export async function mainDev(argv: readonly string[], io: DevIo = processIo): Promise<number> {
  let options: Options;
  try {
    options = resolveOptions(devCommand, argv, ALL_OPTION_NAMES);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.stderr(`obs dev: ${err.message}\nRun 'obs dev --help' for the options.\n`);
    return 2;
  }
  if (options.help) {
    io.stdout(helpText(devCommand));
    return 0;
  }
  return runDev(options, io);
}
