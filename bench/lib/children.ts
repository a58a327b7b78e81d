import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

/**
 * The benches' child processes. Each is registered so that every way out (done, error, Ctrl-C, SIGTERM)
 * stops all of them; on a hard exit they get SIGKILL. Node children write to our stderr, so that stdout
 * carries only the figures; tools (psql, pgbench, scripts) run in a process group of their own, which a
 * stop ends as a whole, and their output is returned.
 */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const children = new Set<ChildProcess>();
const groups = new WeakSet<ChildProcess>();
const isRunning = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

function signal(child: ChildProcess, name: NodeJS.Signals) {
  try {
    if (groups.has(child)) process.kill(-child.pid!, name);
    else child.kill(name);
  } catch {
    // already gone
  }
}

process.on('exit', () => {
  for (const child of children) if (isRunning(child)) signal(child, 'SIGKILL');
});

function register(name: string, child: ChildProcess) {
  children.add(child);
  child.on('error', (error) => console.error(`${name}: ${error.message}`));
  child.on('exit', () => children.delete(child));
  return child;
}

/** `node <args>` in the repository with exactly `env` (nothing inherited but what the caller passes). */
export function spawnNode(name: string, args: string[], env: Record<string, string>) {
  return register(name, spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['pipe', 2, 2] }));
}

/** Runs a tool to its end in a process group of its own; its stdout, or an Error with what it said. */
export async function run(command: string, args: string[], env: Record<string, string>): Promise<string> {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  groups.add(child);
  register(command, child);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`${command} exited ${code}: ${err.trim() || out.trim() || 'no output'}`);
  return out;
}

/** SIGTERM (and stdin closed), then SIGKILL for whatever still runs after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (!isRunning(child)) return;
  const exited = once(child, 'exit');
  child.stdin?.end();
  signal(child, 'SIGTERM');
  const timer = setTimeout(() => signal(child, 'SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export const stopAllChildren = () => Promise.all([...children].map((child) => stopChild(child)));

/** A TCP port free right now on 127.0.0.1 (the OS picks it). */
export async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** Retries `probe` until it resolves; fails at once if the child exits first. */
export async function waitUntilReady(
  name: string,
  child: ChildProcess,
  probe: () => Promise<unknown>,
  timeoutMs = 60_000,
): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  for (;;) {
    if (!isRunning(child))
      throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before it was ready`);
    try {
      return void (await probe());
    } catch (error) {
      if (Date.now() > giveUpAt) throw new Error(`${name} not ready after ${timeoutMs} ms: ${String(error)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}
