/**
 * What the Debian OP helpers share: a temporary directory per OP, its processes run as an unprivileged user
 * (`nobody` when the tests run as root, as on CI), their output kept for the error message when start-up fails, and
 * a clean stop (SIGTERM, then SIGKILL) that removes the directory. Nothing is written outside the directory and
 * nothing keeps running after `close()`.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The uid/gid the OP processes run as: `nobody` when we are root (the OPs must not run as root), else ourselves. */
export function unprivilegedIds(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('nobody:'));
  const [, , uid = '65534', gid = '65534'] = line?.split(':') ?? [];
  return { uid: Number(uid), gid: Number(gid) };
}

/** Fails with what to install when a binary the helper needs is missing (tests never skip silently). */
export function assertInstalled(binaries: string[], packages: string): void {
  const missing = binaries.filter((b) => spawnSync('sh', ['-c', `command -v ${b}`], { stdio: 'ignore' }).status !== 0);
  if (missing.length) {
    throw new Error(`${missing.join(', ')} not found: run \`npm run setup\` as root (or apt-get install -y ${packages}).`);
  }
}

/** A temporary directory for one OP, and the processes started in it. */
export class OpSandbox {
  readonly dir: string;
  private readonly children: { name: string; child: ChildProcess; output: string[] }[] = [];

  constructor(prefix: string) {
    this.dir = mkdtempSync(join(tmpdir(), `eol-${prefix}-`));
  }

  path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  /** Hands the directory to the unprivileged user the processes run as (they write their databases and logs there). */
  handOver(): void {
    const ids = unprivilegedIds();
    if (!ids) return;
    const walk = (p: string) => {
      chownSync(p, ids.uid, ids.gid);
      if (statSync(p).isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
    };
    walk(this.dir);
  }

  /** Starts a process in the directory as the unprivileged user, keeping the last lines of its output. */
  start(name: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
    const child = spawn(command, args, {
      cwd: this.dir,
      env: { PATH: process.env.PATH, LANG: 'C.UTF-8', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...unprivilegedIds(),
    });
    const output: string[] = [];
    const keep = (d: Buffer) => {
      output.push(...d.toString().split('\n').filter(Boolean));
      output.splice(0, Math.max(0, output.length - 200));
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.children.push({ name, child, output });
    return child;
  }

  /** The last lines each process printed (for error messages). */
  output(lines = 40): string {
    return this.children
      .map(({ name, child, output }) => `--- ${name} (pid ${child.pid}, exit ${child.exitCode ?? 'running'}):\n${output.slice(-lines).join('\n')}`)
      .join('\n');
  }

  /** Throws with the processes' output when one of them has exited. */
  assertRunning(): void {
    const dead = this.children.find(({ child }) => child.exitCode !== null || child.signalCode !== null);
    if (dead) throw new Error(`${dead.name} exited during start-up\n${this.output()}`);
  }

  /**
   * Polls `url` until `ready(response)` holds (default: HTTP 200), the deadline passes, or a process exits.
   * @returns the last response's body.
   */
  async waitFor(url: string, deadlineMs = 30_000, ready: (res: Response) => boolean = (r) => r.status === 200): Promise<string> {
    const started = Date.now();
    let last = 'no answer';
    for (;;) {
      this.assertRunning();
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
        const body = await res.text();
        if (ready(res)) return body;
        last = `HTTP ${res.status}`;
      } catch (err) {
        last = String(err);
      }
      if (Date.now() - started > deadlineMs) throw new Error(`${url} did not answer in time (${last})\n${this.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Stops every process (SIGTERM, SIGKILL after 5 s) and removes the directory. */
  async close(): Promise<void> {
    await Promise.all(
      this.children.reverse().map(async ({ child }) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }
}
