/**
 * Installs @obs packages the way users get them: `pnpm pack` each workspace package, then install
 * the tarballs into a fresh app outside the workspace. Broken `exports` maps, files missing from
 * `files`, or dependencies used but not declared fail there, not for users.
 *
 * The install never asks the registry: a fresh app has no lockfile, so pnpm must resolve every
 * version range, and resolving needs registry metadata that a `--frozen-lockfile` install never
 * downloaded. The helper writes that metadata itself, into a private cache, from the workspace's
 * lockfile (only the versions the workspace resolved, each with its integrity), then installs with
 * `--offline` from the store the workspace install used. A range the workspace cannot satisfy fails
 * at once with pnpm's ERR_PNPM_NO_MATCHING_VERSION rather than after a registry timeout.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { type OtlpReceiver, startOtlpReceiver } from './otlp-receiver.js';
import { type Service, startService } from './service.js';

const WORKSPACE_DIR = fileURLToPath(new URL('../../../', import.meta.url));
const PACKAGES_DIR = join(WORKSPACE_DIR, 'packages');
/** The registry the synthetic metadata is written for; pnpm is pointed at it and never reaches it. */
const REGISTRY = 'https://registry.npmjs.org/';
/** pnpm's folder name for that registry's metadata inside its cache (`metadata-v1.3/<host>/<name>.json`). */
const METADATA_DIR = join('metadata-v1.3', 'registry.npmjs.org');
/** pnpm calls are local (pack, offline install): this bounds a machine that is very busy, not the network. */
const PNPM_TIMEOUT_MS = 240_000;

/** What to install. */
export interface PackedAppOptions {
  /** Workspace package folders to pack, e.g. `['core', 'register', 'koa']`. */
  packages: string[];
  /** Registry dependencies of the app at versions the workspace lockfile holds, e.g. `{ koa: '3.3.0' }`. */
  dependencies: Record<string, string>;
  /** Files of the app: name to contents. */
  files: Record<string, string>;
}

/** An installed app. */
export interface PackedApp {
  /** The app's folder (outside the workspace). */
  dir: string;
  /** Remove the folder. */
  remove(): void;
}

/**
 * Run the `pnpm` on PATH (the one `.ci/env.sh` provisions). Not `npm_execpath`: under
 * `npx vitest run` that is npm's CLI, which does not take pnpm's arguments.
 * @throws with pnpm's output when it fails or runs past {@link PNPM_TIMEOUT_MS}
 */
function pnpm(args: string[], cwd: string): string {
  try {
    return execFileSync('pnpm', args, {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: PNPM_TIMEOUT_MS,
      env: { ...process.env, npm_config_update_notifier: 'false' },
    });
  } catch (error) {
    const e = error as Error & { stdout?: string; stderr?: string };
    throw new Error(`pnpm ${args.join(' ')} (in ${cwd}) failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/** The store the workspace install used, as recorded in node_modules/.modules.yaml. */
function workspaceStoreDir(): string {
  const modules = parseYaml(readFileSync(join(WORKSPACE_DIR, 'node_modules', '.modules.yaml'), 'utf8')) as {
    storeDir?: string;
  };
  if (!modules.storeDir) throw new Error('node_modules/.modules.yaml names no storeDir: run `pnpm install` first');
  return modules.storeDir;
}

interface LockfilePackage {
  resolution?: { integrity?: string };
  engines?: Record<string, string>;
  cpu?: string[];
  os?: string[];
  libc?: string[];
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

interface LockfileSnapshot {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

/** `name@1.2.3(peer@4.5.6)` -> [`name`, `1.2.3`]. */
function splitKey(key: string): [string, string] {
  const plain = key.replace(/\(.*$/, '');
  const at = plain.lastIndexOf('@');
  return [plain.slice(0, at), plain.slice(at + 1)];
}

/** A resolved dependency version as a range: the peer suffix removed (`1.2.3(x@1)` -> `1.2.3`). */
function exactVersion(resolved: string): string {
  return resolved.replace(/\(.*$/, '');
}

/**
 * Write registry metadata (the abbreviated document pnpm caches) for every package version of the
 * workspace lockfile into `cacheDir`. Dependencies are pinned to the versions the workspace
 * resolved, so the app gets the tree the workspace tests with.
 */
function writeMetadataFromLockfile(cacheDir: string): void {
  const lockfile = parseYaml(readFileSync(join(WORKSPACE_DIR, 'pnpm-lock.yaml'), 'utf8')) as {
    packages?: Record<string, LockfilePackage>;
    snapshots?: Record<string, LockfileSnapshot>;
  };
  const snapshots = new Map<string, LockfileSnapshot>();
  for (const [key, snapshot] of Object.entries(lockfile.snapshots ?? {})) {
    const id = splitKey(key).join('@');
    if (!snapshots.has(id)) snapshots.set(id, snapshot ?? {});
  }
  const documents = new Map<string, { name: string; versions: Record<string, unknown> }>();
  for (const [key, pkg] of Object.entries(lockfile.packages ?? {})) {
    const integrity = pkg.resolution?.integrity;
    if (!integrity) continue; // git or tarball-URL resolutions: not from the registry
    const [name, version] = splitKey(key);
    const snapshot = snapshots.get(`${name}@${version}`) ?? {};
    const pin = (deps: Record<string, string> | undefined) =>
      deps && Object.fromEntries(Object.entries(deps).map(([dep, v]) => [dep, exactVersion(v)]));
    const document = documents.get(name) ?? { name, versions: {} };
    document.versions[version] = {
      name,
      version,
      dependencies: pin(snapshot.dependencies),
      optionalDependencies: pin(snapshot.optionalDependencies),
      peerDependencies: pkg.peerDependencies,
      peerDependenciesMeta: pkg.peerDependenciesMeta,
      engines: pkg.engines,
      cpu: pkg.cpu,
      os: pkg.os,
      libc: pkg.libc,
      dist: { integrity, tarball: `${REGISTRY}${name}/-/${name.split('/').pop()}-${version}.tgz` },
    };
    documents.set(name, document);
  }
  for (const document of documents.values()) {
    const file = join(cacheDir, METADATA_DIR, `${document.name}.json`);
    mkdirSync(dirname(file), { recursive: true });
    const latest = Object.keys(document.versions).sort(compareVersions).at(-1);
    writeFileSync(
      file,
      JSON.stringify({
        ...document,
        'dist-tags': { latest },
        modified: new Date().toISOString(),
        cachedAt: Date.now(),
      }),
    );
  }
}

/** Orders `major.minor.patch[-pre]` versions (prereleases before their release). */
function compareVersions(a: string, b: string): number {
  const parts = (v: string) => v.split(/[.-]/).map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  const [pa, pb] = [parts(a), parts(b)];
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const [x, y] = [pa[i], pb[i]];
    if (x === y) continue;
    if (x === undefined) return 1; // 1.0.0 after 1.0.0-rc
    if (y === undefined) return -1;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x) < String(y) ? -1 : 1;
  }
  return 0;
}

/**
 * Pack `packages`, write the app and install it offline: registry packages come from the
 * workspace's store at versions of the workspace's lockfile (see the module comment). Takes a few
 * seconds; no network.
 * @throws when packing or installing fails (the error carries pnpm's output)
 */
export function installPackedApp(options: PackedAppOptions): PackedApp {
  const dir = mkdtempSync(join(tmpdir(), 'obs-packed-'));
  const cacheDir = join(dir, '.pnpm-cache');
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    for (const name of options.packages) pnpm(['pack', '--pack-destination', dir], join(PACKAGES_DIR, name));
    const tarballs: Record<string, string> = {};
    for (const file of readdirSync(dir)) {
      const match = /^obs-([a-z-]+)-\d+\.\d+\.\d+.*\.tgz$/.exec(file);
      if (match) tarballs[`@obs/${match[1]}`] = `file:${join(dir, file)}`;
    }
    const missing = options.packages.filter((p) => !tarballs[`@obs/${p}`]);
    if (missing.length > 0) throw new Error(`pnpm pack produced no tarball for ${missing.join(', ')}`);
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({
        name: 'packed-app',
        private: true,
        type: 'module',
        dependencies: { ...tarballs, ...options.dependencies },
        // the tarballs depend on each other by version; point those at the tarballs too
        pnpm: { overrides: tarballs },
      }),
    );
    for (const [name, contents] of Object.entries(options.files)) writeFileSync(join(dir, name), contents);
    writeMetadataFromLockfile(cacheDir);
    pnpm(
      [
        'install',
        '--ignore-workspace',
        '--offline',
        `--store-dir=${workspaceStoreDir()}`,
        `--cache-dir=${cacheDir}`,
        `--registry=${REGISTRY}`,
        '--config.confirmModulesPurge=false',
        '--config.manage-package-manager-versions=false',
      ],
      dir,
    );
  } catch (error) {
    remove();
    throw error;
  }
  return { dir, remove };
}

/** Time for {@link startPackedApp} on a busy 2-core machine: packing three packages and an offline install. */
export const PACKED_APP_TIMEOUT_MS = 300_000;

/** Options for {@link startPackedApp}: the app, and the entry file among its `files`. */
export interface PackedServiceOptions extends PackedAppOptions {
  /** The file `node --import @obs/register` runs, e.g. `app.mjs`. */
  entry: string;
}

/** A packed app running under the preload, exporting to its own OTLP receiver. */
export interface PackedService {
  app: PackedApp;
  service: Service;
  receiver: OtlpReceiver;
  /** Kill the service, close the receiver, remove the app's folder. */
  stop(): Promise<void>;
}

/**
 * Install a packed app ({@link installPackedApp}) and start it with `node --import @obs/register`,
 * exporting over OTLP to a fresh receiver with a 100 ms span batch delay. Give the hook that calls
 * it {@link PACKED_APP_TIMEOUT_MS}.
 */
export async function startPackedApp(options: PackedServiceOptions): Promise<PackedService> {
  const app = installPackedApp(options);
  let receiver: OtlpReceiver | undefined;
  try {
    receiver = await startOtlpReceiver();
    const service = await startService({
      cwd: app.dir,
      entry: options.entry,
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100' },
    });
    const started = receiver;
    return {
      app,
      service,
      receiver: started,
      async stop() {
        await service.stop('SIGKILL');
        await started.close();
        app.remove();
      },
    };
  } catch (error) {
    await receiver?.close();
    app.remove();
    throw error;
  }
}
