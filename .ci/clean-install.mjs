#!/usr/bin/env node
/**
 * Clean installs, as a user gets them: pack @obs/core, @obs/register and each adapter (`pnpm pack`),
 * install them from the tarballs into a fresh app beside that adapter's framework (each supported
 * major), with npm, pnpm and yarn, from the registry. Fails on any peer-dependency warning, any
 * notice about dependencies' build scripts (pnpm's "Ignored build scripts" box, npm's and yarn's
 * equivalents), anything `npm ls --all` reports (invalid, missing, extraneous), and an app that
 * cannot import its adapter.
 *
 *   node .ci/clean-install.mjs                  # every app with npm, pnpm and yarn
 *   CLEAN_INSTALL_PMS=npm,pnpm node .ci/clean-install.mjs
 *   CLEAN_INSTALL_APPS=previous node .ci/clean-install.mjs
 *
 * Needs the registry (npm's configured one) and the built workspace (`pnpm run build`). yarn is
 * Yarn 4, run through corepack, which fetches it from the same registry.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const YARN_VERSION = '4.18.1';
/** Every step installs from the registry: generous for a busy machine, bounded for a hung one. */
const STEP_TIMEOUT_MS = 300_000;
/**
 * A connection the registry (or the path to it) dropped: the install is tried again, up to twice.
 * What the check is about (peer warnings, build-script notices, the tree) is never retried.
 */
const NETWORK_ERROR =
  /ERR_SOCKET_CLOSED|ECONNRESET|ECONNREFUSED|ETIMEDOUT|EAI_AGAIN|ENOTFOUND|EPIPE|socket hang up|network timeout|ERR_PNPM_META_FETCH_FAIL|ERR_PNPM_FETCH_/;
const NETWORK_RETRIES = 2;

const readJson = (file) => JSON.parse(readFileSync(join(ROOT, file), 'utf8'));
/** The version of `name` an example (reference service) pins. */
const pin = (example, name) => {
  const version = readJson(`examples/${example}/package.json`).dependencies?.[name];
  if (!version) throw new Error(`examples/${example}/package.json has no dependency ${name}`);
  return version;
};
const pins = (example, names) => Object.fromEntries(names.map((name) => [name, pin(example, name)]));

const NEST = ['@nestjs/common', '@nestjs/core', 'reflect-metadata', 'rxjs'];

/**
 * Two apps, each with every adapter of its set beside its framework, at the versions of the reference
 * services: the current majors, and the previous ones the adapters support too.
 */
const APPS = {
  current: {
    adapters: ['express', 'fastify', 'koa', 'nestjs'],
    dependencies: {
      ...pins('express', ['express']),
      ...pins('fastify', ['fastify']),
      ...pins('koa', ['koa', '@koa/router']),
      ...pins('nestjs', [...NEST, '@nestjs/platform-express', '@nestjs/platform-fastify']),
    },
  },
  previous: {
    adapters: ['express', 'nestjs'],
    dependencies: {
      ...pins('express4', ['express']),
      ...pins('nestjs11', [...NEST, '@nestjs/platform-express', '@nestjs/platform-fastify']),
    },
  },
};

/** What each package manager must not print. */
const FORBIDDEN = {
  npm: [/peer/i, /ERESOLVE/, /install script/i, /allow-scripts|approve-scripts|install-scripts/i],
  pnpm: [/peer/i, /Ignored build scripts/i, /approve-builds/i],
  // YN0002 missing peer, YN0060 incompatible peer, YN0086 peer summary; YN0007/YN0004/YN0005 build scripts
  yarn: [/peer/i, /YN0002|YN0060|YN0086/, /YN0004|YN0005|YN0007/, /build script/i],
};

const only = (variable, all) => {
  const list = process.env[variable]
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return list ? all.filter((x) => list.includes(x)) : all;
};
const apps = only('CLEAN_INSTALL_APPS', Object.keys(APPS));
const managers = only('CLEAN_INSTALL_PMS', ['npm', 'pnpm', 'yarn']);

/** Run a command; its combined output, and whether it succeeded. */
async function run(command, args, cwd, env = {}) {
  try {
    const { stdout, stderr } = await execFileAsync(command, args, {
      cwd,
      encoding: 'utf8',
      timeout: STEP_TIMEOUT_MS,
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, npm_config_update_notifier: 'false', ...env },
    });
    return { ok: true, output: `${stdout}${stderr}` };
  } catch (error) {
    return { ok: false, output: `${error.message}\n${error.stdout ?? ''}${error.stderr ?? ''}` };
  }
}

/** The steps that install `app` with `manager` in `dir` and check what they print; the problems found. */
async function installAndCheck(manager, app, dir, tarballs, registry, corepackEnv) {
  const { adapters, dependencies } = APPS[app];
  mkdirSync(dir);
  const obs = Object.fromEntries(
    ['@obs/core', '@obs/register', ...adapters.map((a) => `@obs/${a}`)].map((name) => [name, tarballs[name]]),
  );
  // The tarballs depend on each other by version (`^0.1.0`): point those at the tarballs too.
  const pointers =
    manager === 'npm'
      ? { overrides: Object.fromEntries(Object.keys(obs).map((name) => [name, `$${name}`])) }
      : manager === 'pnpm'
        ? { pnpm: { overrides: obs } }
        : { resolutions: obs };
  const manifest = { name: `clean-${app}`, private: true, type: 'module', dependencies: { ...obs, ...dependencies } };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ ...manifest, ...pointers }, null, 2)}\n`);
  const steps = [];
  if (manager === 'npm') {
    steps.push(['npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], {}]);
    steps.push(['npm', ['ls', '--all'], {}]);
  } else if (manager === 'pnpm') {
    steps.push([
      'pnpm',
      ['install', '--no-frozen-lockfile', '--prefer-offline', '--config.confirmModulesPurge=false'],
      {},
    ]);
  } else {
    writeFileSync(join(dir, 'yarn.lock'), '');
    writeFileSync(
      join(dir, '.yarnrc.yml'),
      `nodeLinker: node-modules\nenableTelemetry: false\nnpmRegistryServer: "${registry}"\n`,
    );
    steps.push(['corepack', [`yarn@${YARN_VERSION}`, 'install', '--no-immutable'], corepackEnv]);
  }
  const imports = ['register', ...adapters].map((a) => `await import('@obs/${a}');`).join(' ');
  steps.push(['node', ['--input-type=module', '-e', imports], { OTEL_SDK_DISABLED: 'true' }]);

  const problems = [];
  for (const [command, args, env] of steps) {
    const label = `${command} ${args.join(' ')}`;
    let { ok, output } = await run(command, args, dir, env);
    for (let retry = 1; !ok && command !== 'node' && NETWORK_ERROR.test(output) && retry <= NETWORK_RETRIES; retry++) {
      console.log(
        `retry ${manager} ${app} (${retry}/${NETWORK_RETRIES}): ${NETWORK_ERROR.exec(output)[0]} in ${label}`,
      );
      ({ ok, output } = await run(command, args, dir, env));
    }
    if (!ok) {
      // the error lines (npm ls prints the whole tree before them), else the end of the output
      const lines = output.split('\n');
      const errors = lines.filter((line) => /npm (error|warn)|ERR_PNPM|WARN|YN0[0-9]+|invalid:/.test(line));
      problems.push(`${label} failed:\n${(errors.length > 0 ? errors : lines.slice(-40)).join('\n')}`);
      break;
    }
    if (command === 'npm' && args[0] === 'ls') {
      // not "UNMET OPTIONAL DEPENDENCY": optional peers (pg, @sentry/node, ...) the app does not use
      const bad = output.split('\n').filter((line) => /invalid|UNMET DEPENDENCY|missing|extraneous/i.test(line));
      if (bad.length > 0) problems.push(`${label} reports:\n${bad.join('\n')}`);
    } else if (command !== 'node') {
      const hits = output.split('\n').filter((line) => FORBIDDEN[manager].some((re) => re.test(line)));
      if (hits.length > 0) problems.push(`${label} printed:\n${hits.join('\n')}`);
    }
  }
  return problems;
}

const work = mkdtempSync(join(tmpdir(), 'obs-clean-install-'));
let failures = 0;
const started = Date.now();
try {
  console.log(`packing @obs packages into ${work}`);
  // The tarballs, once: @obs/core and @obs/register for every app, and the adapters.
  const packDir = join(work, 'tarballs');
  mkdirSync(packDir);
  const packed = ['core', 'register', ...new Set(apps.flatMap((app) => APPS[app].adapters))];
  await Promise.all(
    packed.map(async (name) => {
      const pack = await run('pnpm', ['pack', '--pack-destination', packDir], join(ROOT, 'packages', name));
      if (!pack.ok) throw new Error(`pnpm pack of packages/${name} failed:\n${pack.output}`);
    }),
  );
  const tarballs = {};
  for (const file of readdirSync(packDir)) {
    const match = /^obs-([a-z-]+)-\d+\.\d+\.\d+.*\.tgz$/.exec(file);
    if (match) tarballs[`@obs/${match[1]}`] = `file:${join(packDir, file)}`;
  }
  const registry = (await run('npm', ['config', 'get', 'registry'], work)).output.trim().replace(/\/$/, '');
  const corepackEnv = {
    COREPACK_HOME: join(work, 'corepack'),
    COREPACK_ENABLE_DOWNLOAD_PROMPT: '0',
    COREPACK_ENABLE_STRICT: '0',
    COREPACK_NPM_REGISTRY: registry,
  };

  console.log(`packed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  // The package managers side by side (installs wait on the network more than on the CPU); each
  // one's apps in turn.
  await Promise.all(
    managers.map(async (manager) => {
      for (const app of apps) {
        const t0 = Date.now();
        const problems = await installAndCheck(
          manager,
          app,
          join(work, `${manager}-${app}`),
          tarballs,
          registry,
          corepackEnv,
        );
        const seconds = ((Date.now() - t0) / 1000).toFixed(1);
        const report = problems.map((problem) => `\n${problem.replace(/^/gm, '    ')}`).join('');
        console.log(`${problems.length === 0 ? 'ok  ' : 'FAIL'} ${manager} ${app} (${seconds} s)${report}`);
        if (problems.length > 0) failures++;
      }
    }),
  );
  console.log(`installed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
} finally {
  // six node_modules trees take a minute or more to delete on a busy machine: in the background
  spawn('rm', ['-rf', work], { detached: true, stdio: 'ignore' }).unref();
}
const total = ((Date.now() - started) / 1000).toFixed(0);
console.log(`clean installs: ${failures === 0 ? 'all clean' : `${failures} failed`} in ${total} s`);
process.exitCode = failures === 0 ? 0 : 1;
