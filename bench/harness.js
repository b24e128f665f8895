/**
 * What every bench script shares: a redis-server on a free port, forked children that report over IPC (their CPU
 * time, heap, IdP counters), INFO commandstats deltas, medians and a log line with the time.
 */
import { fork, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';

const here = dirname(fileURLToPath(import.meta.url));
export const resultsDir = join(here, 'results');
export const PROFILE = process.env.BENCH_PROFILE === '1';
export const CLIENT_ID = 'bench-client';
export const CLIENT_SECRET = 'bench-client-secret-0123456789abcdef0123456789abcdef';

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
/** The value at quantile `q` (0..1) of `xs`, nearest rank. */
export const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
};
export const log = (...args) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...args);

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export async function startRedis() {
  const port = await freePort();
  const dir = mkdtempSync(join(os.tmpdir(), 'eol-bench-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  child.on('error', (err) => {
    console.error(`redis-server could not start (${err.message}): run \`npm run setup\` first.`);
    process.exit(1);
  });
  // Not lazy: ioredis retries the connection until redis-server listens, and queues the PING meanwhile.
  const client = new Redis({ port, host: '127.0.0.1', retryStrategy: (n) => (n > 100 ? null : 50) });
  client.on('error', () => {});
  await client.ping();
  return { url: `redis://127.0.0.1:${port}`, client, stop: () => (client.disconnect(), child.kill(), rmSync(dir, { recursive: true, force: true })) };
}

/**
 * Forks a child that reports `{ port, ... }` first and then answers `{ cmd }` messages one at a time:
 * `cpu()` (user + system µs), `ask(cmd)` for anything else (`heap`, the IdP's `stats`).
 */
export function startChild(script, env, name, extraExecArgv = []) {
  const execArgv = [...extraExecArgv, ...(PROFILE ? ['--cpu-prof', '--cpu-prof-dir', join(resultsDir, 'profiles'), '--cpu-prof-name', `${name}.cpuprofile`] : [])];
  const child = fork(join(here, script), [], { env: { ...process.env, ...env, NODE_NO_WARNINGS: '1' }, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (info) => {
      const ask = (cmd) =>
        new Promise((res) => {
          child.once('message', res);
          child.send({ cmd });
        });
      const cpu = async () => {
        const m = await ask('cpu');
        return m.cpu.user + m.cpu.system;
      };
      resolve({ ...info, name, child, cpu, ask });
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with code ${code}`)));
  });
}

/**
 * The Redis commands clients sent while `action` ran, per name, from MONITOR: unlike INFO commandstats it leaves
 * out the commands a Lua script runs inside Redis (they are one round trip, the EVAL that started them).
 */
export async function sentCommands(redis, action) {
  const monitor = await redis.monitor();
  const seen = {};
  monitor.on('monitor', (_time, args, source) => {
    const cmd = String(args[0]).toLowerCase();
    if (String(source).includes('lua') || cmd === 'info' || cmd === 'monitor' || cmd.startsWith('config')) return;
    seen[cmd] = (seen[cmd] ?? 0) + 1;
  });
  try {
    await action();
    await new Promise((resolve) => setTimeout(resolve, 150)); // MONITOR lines arrive asynchronously
  } finally {
    monitor.disconnect();
  }
  return { delta: seen, total: Object.values(seen).reduce((a, b) => a + b, 0) };
}

/** Redis commands per name since the last call (INFO commandstats), without our own INFO. */
export async function commandDelta(redis, previous) {
  const info = await redis.info('commandstats');
  const now = {};
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) now[m[1]] = Number(m[2]);
  const delta = {};
  for (const [cmd, calls] of Object.entries(now)) {
    const d = calls - (previous?.[cmd] ?? 0);
    if (d > 0 && cmd !== 'info' && !cmd.startsWith('config')) delta[cmd] = d;
  }
  return { now, delta, total: Object.values(delta).reduce((a, b) => a + b, 0) };
}
