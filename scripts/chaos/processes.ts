import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import path from 'node:path';

export type ProcessKind = 'line-provider' | 'api' | 'worker';

/** The entry point of each kind, and the log line that says it is ready. */
const ENTRY: Record<ProcessKind, { script: string; ready: string }> = {
  'line-provider': { script: 'services/line-provider/src/main.ts', ready: 'line-provider listening' },
  api: { script: 'services/score-maker/src/main-api.ts', ready: 'score-maker API listening' },
  worker: { script: 'services/score-maker/src/main-worker.ts', ready: 'score-maker worker started' },
};

/** A process that exited without being told to (it must never happen: the run fails). */
export interface UnexpectedExit {
  name: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** ms since the run began */
  at: number;
}

/** All the children take from this process's environment: where binaries are, and the home folder. */
const inherited = Object.fromEntries(['PATH', 'HOME'].map((name) => [name, process.env[name] ?? '']));

const live = new Set<ChildProcess>();
// Whatever way this script ends, no child outlives it.
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/**
 * One production process (`node --import tsx <entry point>`), started from the repository root with
 * exactly the environment given (plus PATH and HOME), its output appended to `<logDir>/<name>.log`.
 * It can be killed with SIGKILL and started again on the same ports, and paused with SIGSTOP.
 */
export class ManagedProcess {
  private child: ChildProcess | undefined;
  private expectExit = false;
  private isReady = false;
  private exit: Promise<void> = Promise.resolve();
  /** Set while a fault works on this process, so that no other fault picks it meanwhile. */
  busy = false;
  private readonly log: WriteStream;
  readonly logFile: string;
  /** How many times it has been started. */
  starts = 0;

  constructor(
    readonly name: string,
    readonly kind: ProcessKind,
    private readonly env: Record<string, string>,
    private readonly options: {
      root: string;
      logDir: string;
      began: number;
      onUnexpectedExit: (proc: ManagedProcess, exit: UnexpectedExit) => void;
    },
  ) {
    this.logFile = path.join(options.logDir, `${name}.log`);
    this.log = createWriteStream(this.logFile, { flags: 'a' });
  }

  /** Spawned and not yet exited. */
  get running(): boolean {
    return this.child !== undefined;
  }

  /** Running and ready, and no fault is working on it. */
  get available(): boolean {
    return this.running && this.isReady && !this.busy;
  }

  /** Resolves when the current child exits (at once if none runs). */
  exited(): Promise<void> {
    return this.exit;
  }

  /**
   * Spawns the process and resolves once it has logged that it is ready. `crashAt` arms named crash
   * points (SCORELINE_CRASH_AT) in this run of it: its death there is expected, not a failure.
   */
  async start(options: { crashAt?: string; timeoutMs?: number } = {}): Promise<void> {
    const { script, ready } = ENTRY[this.kind];
    const timeoutMs = options.timeoutMs ?? 120_000;
    this.log.write(
      `--- start ${++this.starts} at ${new Date().toISOString()}${options.crashAt ? ` with SCORELINE_CRASH_AT=${options.crashAt}` : ''}\n`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: this.options.root,
      env: {
        ...inherited,
        ...this.env,
        ...(options.crashAt ? { SCORELINE_CRASH_AT: options.crashAt } : {}),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(child);
    this.child = child;
    this.expectExit = false;
    this.isReady = false;
    let seen = '';
    let crashed = false;
    let markReady!: () => void;
    let failStart!: (error: Error) => void;
    const readyNow = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failStart = reject;
    });
    this.exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.stdout.on('data', (chunk: Buffer) => {
      this.log.write(chunk);
      if (this.isReady || this.child !== child) return;
      seen = (seen + chunk.toString()).slice(-4096);
      if (seen.includes(ready)) {
        this.isReady = true;
        markReady();
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      this.log.write(chunk);
      if (options.crashAt && chunk.toString().includes('crash point ')) crashed = true;
    });
    child.once('exit', (code, signal) => {
      live.delete(child);
      if (this.child !== child) return;
      this.child = undefined;
      const wasReady = this.isReady;
      this.isReady = false;
      if (!wasReady)
        failStart(
          new Error(`${this.name} exited (${code ?? signal}) before it was ready: see ${this.logFile}`),
        );
      if (!this.expectExit && !crashed) {
        this.options.onUnexpectedExit(this, {
          name: this.name,
          code,
          signal,
          at: Date.now() - this.options.began,
        });
      }
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${this.name} not ready after ${timeoutMs} ms: see ${this.logFile}`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([readyNow, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** kill -9, and wait for the exit. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.expectExit = true;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  /** SIGTERM (after SIGCONT, in case it is paused); SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.expectExit = true;
    const exited = once(child, 'exit');
    child.kill('SIGCONT');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  async closeLog(): Promise<void> {
    await new Promise<void>((resolve) => this.log.end(resolve));
  }
}
