/**
 * `obs alertmanager` with the real amtool (Debian 0.25): `amtool check-config` accepts the file, and
 * `amtool config routes test` sends each severity of every generated alert to the intended receivers.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { AlertingRule, RuleFile } from '../src/commands/alerts.js';
import { obs, requireTool, run, tempDir } from './helpers.js';

let tmp: ReturnType<typeof tempDir>;
let configPath: string;
const SECRETS = {
  pagerduty: 'pd-routing-key-SECRET',
  opsgenie: 'og-api-key-SECRET',
  slack: 'https://hooks.slack.test/SECRET',
};
const REQUIRED = [
  '--email-to',
  'oncall@example.com',
  '--email-from',
  'alertmanager@example.com',
  '--smtp-smarthost',
  'smtp.example.com:587',
];

beforeAll(() => {
  requireTool('amtool');
  tmp = tempDir();
  for (const [name, value] of Object.entries(SECRETS)) writeFileSync(join(tmp.dir, name), value);
  configPath = join(tmp.dir, 'alertmanager.yml');
  const res = obs(
    'alertmanager',
    ...REQUIRED,
    '--pagerduty-routing-key-file',
    join(tmp.dir, 'pagerduty'),
    '--opsgenie-api-key-file',
    join(tmp.dir, 'opsgenie'),
    '--slack-api-url-file',
    join(tmp.dir, 'slack'),
    '-o',
    configPath,
  );
  expect(res.code, res.stderr).toBe(0);
  expect(res.stdout).toBe('');
});
afterAll(() => tmp?.remove());

function routes(labels: string[]): string {
  const res = run('amtool', ['config', 'routes', 'test', `--config.file=${configPath}`, ...labels]);
  expect(res.code, res.stderr).toBe(0);
  return res.stdout.trim();
}

describe('obs alertmanager', () => {
  it('passes amtool check-config', () => {
    const res = run('amtool', ['check-config', configPath]);
    expect(res.code, `${res.stdout}${res.stderr}`).toBe(0);
    expect(res.stdout).toContain('SUCCESS');
    expect(res.stdout).toContain('4 receivers');
  });

  it('routes critical to PagerDuty and OpsGenie, warning to Slack, the rest to email', () => {
    expect(routes(['severity=critical', 'alertname=ObsHighErrorRatio', 'job=shop'])).toBe('pagerduty,opsgenie');
    expect(routes(['severity=warning', 'alertname=ObsHighLatencyP95', 'job=shop'])).toBe('slack');
    expect(routes(['severity=info', 'alertname=Other'])).toBe('email');
    expect(routes(['alertname=NoSeverity'])).toBe('email');
    const verify = run('amtool', [
      'config',
      'routes',
      'test',
      `--config.file=${configPath}`,
      '--verify.receivers=pagerduty,opsgenie',
      'severity=critical',
    ]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });

  it('routes every alert obs alerts writes by its severity', () => {
    const rules = parse(obs('alerts', '--job', 'shop').stdout) as RuleFile;
    const alerts = rules.groups.flatMap((g) => g.rules).filter((r): r is AlertingRule => 'alert' in r);
    expect(alerts.length).toBeGreaterThan(10);
    for (const a of alerts) {
      const want = a.labels.severity === 'critical' ? 'pagerduty,opsgenie' : 'slack';
      const labels = Object.entries({ alertname: a.alert, job: 'shop', ...a.labels }).map(([k, v]) => `${k}=${v}`);
      expect(routes(labels), `${a.alert} (${a.labels.severity})`).toBe(want);
    }
  });

  it('reads every secret from a file and writes none into the config', () => {
    const text = run('cat', [configPath]).stdout;
    for (const value of Object.values(SECRETS)) expect(text).not.toContain(value);
    type Receiver = { name: string } & Record<string, Record<string, string>[]>;
    const config = parse(text) as { receivers: Receiver[] };
    const receiver = (name: string) => config.receivers.find((r) => r.name === name) as Receiver;
    expect(receiver('pagerduty').pagerduty_configs?.[0]?.routing_key_file).toBe(join(tmp.dir, 'pagerduty'));
    expect(receiver('opsgenie').opsgenie_configs?.[0]?.api_key_file).toBe(join(tmp.dir, 'opsgenie'));
    expect(receiver('slack').slack_configs?.[0]?.api_url_file).toBe(join(tmp.dir, 'slack'));
  });

  it('with SMTP auth, custom endpoints and grouping, still passes amtool', () => {
    writeFileSync(join(tmp.dir, 'smtp'), 'smtp-SECRET');
    const file = join(tmp.dir, 'custom.yml');
    const res = obs(
      'alertmanager',
      ...REQUIRED,
      '--smtp-auth-username',
      'alerts',
      '--smtp-auth-password-file',
      join(tmp.dir, 'smtp'),
      '--opsgenie-api-url',
      'https://api.eu.opsgenie.com/',
      '--pagerduty-url',
      'https://events.eu.pagerduty.com/v2/enqueue',
      '--group-by',
      'alertname,job,service',
      '--group-wait',
      '10s',
      '-o',
      file,
    );
    expect(res.code, res.stderr).toBe(0);
    const check = run('amtool', ['check-config', file]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
  });

  it('refuses incomplete settings with exit 2', () => {
    const missing = obs('alertmanager', '--email-from', 'a@example.com', '--smtp-smarthost', 'smtp:25');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--email-to is required');
    const auth = obs('alertmanager', ...REQUIRED, '--smtp-auth-username', 'u');
    expect(auth.code).toBe(2);
    expect(auth.stderr).toContain('--smtp-auth-password-file');
  });
});
