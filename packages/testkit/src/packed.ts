/**
 * Installs @obs packages the way users get them: `pnpm pack` each workspace package, then install
 * the tarballs into a fresh app outside the workspace. Broken `exports` maps, files missing from
 * `files`, or dependencies used but not declared fail there, not for users.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGES_DIR = fileURLToPath(new URL('../../', import.meta.url));

/** What to install. */
export interface PackedAppOptions {
  /** Workspace package folders to pack, e.g. `['core', 'register', 'koa']`. */
  packages: string[];
  /** Registry dependencies of the app, e.g. `{ koa: '3.3.0' }`. */
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

function pnpm(args: string[], cwd: string): void {
  // The pnpm running the test suite (npm_execpath), else the one on PATH.
  const execPath = process.env.npm_execpath;
  const viaNode = execPath?.endsWith('.cjs') || execPath?.endsWith('.js');
  execFileSync(viaNode ? process.execPath : 'pnpm', [...(viaNode && execPath ? [execPath] : []), ...args], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 150_000, // a registry that never answers fails the test rather than hanging CI
  });
}

/**
 * Pack `packages`, write the app and install it with pnpm (`--prefer-offline`: the workspace
 * install already put every dependency in the store). Takes a few seconds.
 * @throws when packing or installing fails (the error carries pnpm's output)
 */
export function installPackedApp(options: PackedAppOptions): PackedApp {
  const dir = mkdtempSync(join(tmpdir(), 'obs-packed-'));
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
  pnpm(['install', '--ignore-workspace', '--prefer-offline', '--config.confirmModulesPurge=false'], dir);
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
