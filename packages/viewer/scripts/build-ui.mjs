/**
 * Bundles the UI (ui/main.js: Preact + htm + uPlot) into dist/ui/app.js and the styles (ours and
 * uPlot's) into dist/ui/app.css with esbuild, and copies index.html: the viewer serves these files
 * itself, nothing is loaded from elsewhere.
 */
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const out = new URL('../dist/ui/', import.meta.url);
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [new URL('../ui/main.js', import.meta.url).pathname],
  bundle: true,
  format: 'esm',
  minify: true,
  target: ['chrome110', 'firefox110', 'safari16'],
  outfile: new URL('app.js', out).pathname,
  logLevel: 'warning',
});
await build({
  entryPoints: [new URL('../ui/app.css', import.meta.url).pathname],
  bundle: true,
  minify: true,
  outfile: new URL('app.css', out).pathname,
  logLevel: 'warning',
});
copyFileSync(new URL('../ui/index.html', import.meta.url), new URL('index.html', out));

// The bundle carries third-party code: ship its licences beside it.
const notices = ['preact', 'htm', 'uplot'].map((name) => {
  const dir = new URL(`../node_modules/${name}/`, import.meta.url).pathname;
  const { version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  return `${name}@${version}\n\n${readFileSync(join(dir, 'LICENSE'), 'utf8').trim()}\n`;
});
writeFileSync(
  new URL('THIRD-PARTY-LICENSES.txt', out),
  `The UI bundle (app.js, app.css) includes:\n\n${notices.join('\n---\n\n')}`,
);
