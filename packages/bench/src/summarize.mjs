// Summarise a .cpuprofile: self time by package/file and the top functions.
// Usage: node summarize.mjs <file.cpuprofile> [topN]
import { readFileSync } from 'node:fs';

const [file, topN = 30] = process.argv.slice(2);
const p = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = p.timeDeltas;
for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (dt[i] ?? 0));
const total = [...self.values()].reduce((a, b) => a + b, 0);
const pkgOf = (url) => {
  if (!url) return '(native/vm)';
  const m = /node_modules\/\.pnpm\/[^/]+\/node_modules\/((@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1];
  if (url.startsWith('node:')) return url;
  const w = /packages\/([^/]+)\//.exec(url);
  return w ? `@obs/${w[1]}` : url;
};
const byPkg = new Map();
const byFn = new Map();
for (const [id, t] of self) {
  const n = byId.get(id);
  const cf = n.callFrame;
  const pkg =
    cf.functionName === '(garbage collector)' ? '(gc)' : cf.functionName === '(idle)' ? '(idle)' : pkgOf(cf.url);
  byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + t);
  const key = `${cf.functionName || '(anon)'} ${pkgOf(cf.url)}:${cf.lineNumber + 1}`;
  byFn.set(key, (byFn.get(key) ?? 0) + t);
}
const show = (m, n) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `${((v / total) * 100).toFixed(1).padStart(5)}%  ${k}`)
    .join('\n');
console.log(
  `total ${(total / 1e6).toFixed(1)} s\n-- self time by package --\n${show(byPkg, 25)}\n-- top functions --\n${show(byFn, Number(topN))}`,
);
