/**
 * Bundles the UI (ui/main.js: Preact + htm + uPlot) into dist/ui/app.js and the styles (ours and
 * uPlot's) into dist/ui/app.css with esbuild, and copies index.html: the viewer serves these files
 * itself, nothing is loaded from elsewhere.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { build } from 'esbuild';

const out = new URL('../dist/ui/', import.meta.url);
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [new URL('../ui/main.js', import.meta.url).pathname],
  bundle: true,
  format: 'esm',
  minify: true,
  target: ['chrome110', 'firefox110', 'safari16'],
  outfile: new URL('app.js', out).pathname,
  legalComments: 'linked',
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
