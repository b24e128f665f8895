/**
 * Summarises a V8 .cpuprofile (from BENCH_PROFILE=1): self time by function and by package, to see where an
 * operation's CPU goes. Usage: node bench/profile-summary.js bench/results/profiles/ours-memory.cpuprofile [top]
 */
import { readFileSync } from 'node:fs';

const [file, top = '25'] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = profile.timeDeltas;
for (let i = 0; i < profile.samples.length; i++) self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + (dt[i] ?? 0));
const total = [...self.values()].reduce((a, b) => a + b, 0);
const fn = new Map();
const pkg = new Map();
for (const [id, t] of self) {
  const { callFrame: f } = byId.get(id);
  const where = f.url.replace(/^file:\/\//, '').replace(/.*node_modules\//, 'nm:').replace(/.*\/dist\//, 'dist/');
  const key = `${f.functionName || '(anon)'} ${where}:${f.lineNumber + 1}`;
  fn.set(key, (fn.get(key) ?? 0) + t);
  const p = f.url === '' ? `(${f.functionName || 'native'})` : where.startsWith('nm:') ? where.split('/').slice(0, where.startsWith('nm:@') ? 2 : 1).join('/') : where.startsWith('node:') ? where : where.startsWith('dist/') ? 'dist (ours)' : where;
  pkg.set(p, (pkg.get(p) ?? 0) + t);
}
const show = (m, n) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).forEach(([k, t]) => console.log(`${((100 * t) / total).toFixed(1).padStart(5)}%  ${k}`));
console.log(`total ${(total / 1e6).toFixed(2)} s sampled\n-- by package/module`);
show(pkg, 20);
console.log('-- by function (self)');
show(fn, Number(top));

// Inclusive time of named functions (outermost frame of each name only, so recursion is not counted twice).
const children = new Map(profile.nodes.map((n) => [n.id, n.children ?? []]));
const inclusive = new Map();
function walk(id, active) {
  const node = byId.get(id);
  const name = `${node.callFrame.functionName || '(anon)'} ${node.callFrame.url.replace(/.*node_modules\//, 'nm:').replace(/.*\/dist\//, 'dist/').replace(/^file:\/\//, '')}`;
  let t = self.get(id) ?? 0;
  const fresh = !active.has(name);
  if (fresh) active.add(name);
  for (const c of children.get(id)) t += walk(c, active);
  if (fresh) {
    active.delete(name);
    inclusive.set(name, (inclusive.get(name) ?? 0) + t);
  }
  return t;
}
walk(profile.nodes[0].id, new Set());
const busy = total - [...self].filter(([id]) => byId.get(id).callFrame.functionName === '(idle)').reduce((a, [, t]) => a + t, 0);
console.log(`-- inclusive (share of busy time ${(busy / 1e6).toFixed(2)} s)`);
[...inclusive]
  .filter(([k]) => !/^\((root|idle|program)\)/.test(k))
  .sort((a, b) => b[1] - a[1])
  .slice(0, Number(top))
  .forEach(([k, t]) => console.log(`${((100 * t) / busy).toFixed(1).padStart(5)}%  ${k}`));
