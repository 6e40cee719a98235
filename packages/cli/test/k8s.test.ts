/**
 * `obs k8s`: the probes validate against the Kubernetes API schema (kubernetes-models, offline),
 * their timeouts cover the per-check timeout, and bad settings exit 2.
 */
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { obs } from './helpers.js';

interface Probe {
  httpGet: { path: string; port: string | number; scheme: 'HTTP' | 'HTTPS' };
  periodSeconds: number;
  timeoutSeconds: number;
  failureThreshold: number;
}
type Container = { name: string; livenessProbe: Probe; readinessProbe: Probe; startupProbe: Probe };

function patchContainer(stdout: string): Container {
  const patch = parse(stdout) as { spec: { template: { spec: { containers: Container[] } } } };
  return patch.spec.template.spec.containers[0] as Container;
}

function validDeployment(container: Container): void {
  const deployment = new Deployment({
    metadata: { name: 'shop' },
    spec: {
      selector: { matchLabels: { app: 'shop' } },
      template: {
        metadata: { labels: { app: 'shop' } },
        spec: { containers: [{ image: 'shop:1', ports: [{ name: 'http', containerPort: 3000 }], ...container }] },
      },
    },
  });
  deployment.validate();
}

describe('obs k8s', () => {
  it('writes a Deployment patch with the default health routes and a 1 s check timeout', () => {
    const res = obs('k8s');
    expect(res.code, res.stderr).toBe(0);
    const c = patchContainer(res.stdout);
    expect(c.name).toBe('app');
    expect(c.livenessProbe.httpGet).toEqual({ path: '/health/live', port: 'http', scheme: 'HTTP' });
    expect(c.readinessProbe.httpGet.path).toBe('/health/ready');
    expect(c.startupProbe.httpGet.path).toBe('/health/started');
    for (const p of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
      expect(p.timeoutSeconds).toBe(2); // the 1 s check timeout plus slack
      expect(p.periodSeconds).toBeGreaterThan(p.timeoutSeconds);
    }
    expect(c.startupProbe.failureThreshold * c.startupProbe.periodSeconds).toBeGreaterThanOrEqual(60);
    expect(() => validDeployment(c)).not.toThrow();
  });

  it('follows the health settings', () => {
    const res = obs(
      'k8s',
      '--container',
      'shop',
      '--port',
      '3000',
      '--check-timeout',
      '2500ms',
      '--liveness-period',
      '15s',
      '--readiness-period',
      '10s',
      '--startup-period',
      '5s',
      '--startup-budget',
      '2m',
      '--ready-path',
      '/ready',
    );
    expect(res.code, res.stderr).toBe(0);
    const c = patchContainer(res.stdout);
    expect(c.name).toBe('shop');
    expect(c.readinessProbe.httpGet).toEqual({ path: '/ready', port: 3000, scheme: 'HTTP' });
    expect(c.livenessProbe.timeoutSeconds).toBe(4);
    expect(c.startupProbe.failureThreshold).toBe(24);
    expect(() => validDeployment(c)).not.toThrow();
  });

  it('the schema check is real: a fractional timeout is rejected', () => {
    const c = patchContainer(obs('k8s').stdout);
    c.livenessProbe.timeoutSeconds = 1.5;
    expect(() => validDeployment(c)).toThrow(/timeoutSeconds must be integer/);
  });

  it('can print the container fields alone', () => {
    const res = obs('k8s', '--format', 'container');
    expect(res.code).toBe(0);
    expect((parse(res.stdout) as Container).readinessProbe.httpGet.path).toBe('/health/ready');
  });

  it.each([
    [['--port', 'Not_A_Name'], '--port'],
    [['--port', '70000'], '--port'],
    [['--live-path', 'health'], 'must start with /'],
    [['--check-timeout', '5s'], 'must be longer than the probe timeout'],
    [['--liveness-period', '1500ms'], 'whole seconds'],
    [['--format', 'json'], '--format'],
    [['--liveness-failure-threshold', '0'], 'integer >= 1'],
  ])('exits 2 on %j', (args, message) => {
    const res = obs('k8s', ...args);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(message);
    expect(res.stdout).toBe('');
  });
});
