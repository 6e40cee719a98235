/**
 * The `obs` command line: help on every command, exit status 2 with a clear message on bad usage,
 * output to stdout or a file, config files (top level, command sections, `slo:` block) under flags.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { AlertingRule, RuleFile } from '../src/commands/alerts.js';
import { COMMANDS } from '../src/main.js';
import { obs, tempDir } from './helpers.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'bin.js');
let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir();
});
afterAll(() => tmp?.remove());

const alertRules = (text: string) =>
  (parse(text) as RuleFile).groups.flatMap((g) => g.rules).filter((r): r is AlertingRule => 'alert' in r);

describe('obs', () => {
  it('prints the command list on --help and exits 2 without a command', () => {
    const help = obs('--help');
    expect(help.code).toBe(0);
    for (const name of ['alerts', 'alertmanager', 'dashboard', 'k8s']) expect(help.stdout).toContain(name);
    const none = obs();
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Usage: obs <command>');
    const unknown = obs('alert');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "alert"');
  });

  it.each(Object.keys(COMMANDS))('%s --help lists every option and exits 0', (name) => {
    const res = obs(name, '--help');
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`Usage: obs ${name} [options]`);
    for (const option of COMMANDS[name]?.spec.options ?? []) expect(res.stdout).toContain(`--${option.name}`);
    expect(obs(name, '-h').stdout).toBe(res.stdout);
  });

  it.each([
    [['alerts'], '--job is required'],
    [['alerts', '--job'], "Option '--job <value>' argument missing"],
    [['alerts', '--job', 'shop', '--bogus'], "Unknown option '--bogus'"],
    [['alerts', '--job', 'shop', 'extra'], 'Unexpected argument'],
    [['alerts', '--job', 'shop', '--error-ratio-window', '5 minutes'], 'is not a Prometheus duration'],
    [['alerts', '--job', 'shop', '--error-ratio', '5'], 'is not a ratio'],
    [['alerts', '--job', 'shop', '--availability-objective', '100%'], 'must be below 1'],
    [
      ['alerts', '--job', 'shop', '--latency-slo-threshold', '300ms'],
      'must be a bucket bound of http.server.request.duration',
    ],
    [['alerts', '--job', 'shop', '--memory-limit', 'lots'], 'is not a size'],
    [['alerts', '--job', 'shop', '--selector', 'bad-label=x'], 'LABEL=VALUE'],
    [['alerts', '--job', 'shop', '--runbook-url-base', 'runbooks'], 'absolute http(s) URL'],
    [['dashboard', '--refresh', 'often'], 'is not a Prometheus duration'],
    [['alerts', '--job', 'shop', '--config', '/nonexistent/obs.yml'], 'cannot read config file'],
  ])('exits 2 with a clear message: %j', (args, message) => {
    const res = obs(...args);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(message);
    expect(res.stderr).toContain(`Run 'obs ${args[0]} --help'`);
    expect(res.stdout).toBe('');
  });

  it('prints its version and builds runbook links from --runbook-url-base', () => {
    expect(obs('--version').stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
    const anchors = obs(
      'alerts',
      '--job',
      'shop',
      '--runbook-url-base',
      'https://git.example.com/obs/docs/alerting.md#',
    );
    expect(anchors.stdout).toContain('runbook_url: https://git.example.com/obs/docs/alerting.md#obs-high-error-ratio');
    const paths = obs('alerts', '--job', 'shop', '--runbook-url-base', 'https://runbooks.example.com/');
    expect(paths.stdout).toContain('runbook_url: https://runbooks.example.com/obs-target-absent');
  });

  it('writes to --output (creating directories) and prints nothing', () => {
    const file = join(tmp.dir, 'out', 'rules.yml');
    const res = obs('alerts', '--job', 'shop', '-o', file);
    expect(res).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(readFileSync(file, 'utf8')).toBe(obs('alerts', '--job', 'shop').stdout);
  });

  it('exits 1 when the output cannot be written', () => {
    const blocker = join(tmp.dir, 'file');
    writeFileSync(blocker, '');
    const res = obs('k8s', '-o', join(blocker, 'probes.yaml'));
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('cannot write');
  });

  it('reads a config file: top level, command section and slo block, with flags on top', () => {
    const config = join(tmp.dir, 'obs.yml');
    writeFileSync(
      config,
      [
        'job: shop',
        'service: shop-api',
        'selector: { namespace: prod }',
        'memory-limit: 1Gi',
        'slo:',
        '  period: 28d',
        '  availability: { objective: 99.5% }',
        '  latency: { objective: 0.95, threshold: 1s }',
        'alerts:',
        '  error-ratio: 2%',
        '  error-ratio-window: 10m',
        'k8s:',
        '  container: shop',
        'alertmanager:',
        '  email-to: oncall@example.com',
      ].join('\n'),
    );
    const res = obs('alerts', '--config', config, '--error-ratio-window', '15m');
    expect(res.code, res.stderr).toBe(0);
    const rules = alertRules(res.stdout);
    const high = rules.find((r) => r.alert === 'ObsHighErrorRatio') as AlertingRule;
    expect(high.expr).toContain('job_service_namespace:http_server_requests_5xx:ratio_rate15m > 0.02');
    expect(res.stdout).toContain('job="shop",service="shop-api",namespace="prod"');
    expect(res.stdout).toContain('le=~"1|1\\\\.0"');
    expect(res.stdout).toContain('/ 1073741824 > 0.9');
    const page = rules.find((r) => r.alert === 'ObsAvailabilityBudgetBurn' && r.labels.severity === 'critical');
    // 28-day period: 2% of the budget in 1h is a 13.44x burn; x 0.5% budget = 0.0672.
    expect(page?.expr).toContain('ratio_rate1h > 0.0672');
    const k8s = obs('k8s', '--config', config);
    expect(k8s.code, k8s.stderr).toBe(0);
    expect(k8s.stdout).toContain('name: shop');
  });

  it('refuses unknown config keys and bad YAML with exit 2', () => {
    const typo = join(tmp.dir, 'typo.yml');
    writeFileSync(typo, 'job: shop\nalerts:\n  error-ration: 0.1\n');
    const res = obs('alerts', '-c', typo);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('unknown key alerts.error-ration');
    const top = join(tmp.dir, 'top.yml');
    writeFileSync(top, 'jbo: shop\n');
    expect(obs('alerts', '-c', top).stderr).toContain('unknown key jbo');
    const bad = join(tmp.dir, 'bad.yml');
    writeFileSync(bad, 'job: [shop\n');
    const yaml = obs('alerts', '-c', bad);
    expect(yaml.code).toBe(2);
    expect(yaml.stderr).toContain('is not valid YAML');
    const value = join(tmp.dir, 'value.yml');
    writeFileSync(value, 'job: shop\nslo: { period: soon }\n');
    expect(obs('alerts', '-c', value).stderr).toContain('config file, slo-period: "soon" is not a Prometheus duration');
  });

  it('the installed bin exits with the same statuses', () => {
    expect(existsSync(BIN), 'build the package first (pnpm --filter @obs/cli build)').toBe(true);
    const ok = spawnSync(process.execPath, [BIN, 'k8s', '--format', 'container'], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('livenessProbe');
    const bad = spawnSync(process.execPath, [BIN, 'alerts', '--nope'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("Unknown option '--nope'");
    expect(readFileSync(BIN, 'utf8').startsWith('#!/usr/bin/env node')).toBe(true);
  });
});
