import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';

/**
 * The bench's child processes. Each one is registered here so that every way out (done, error, Ctrl-C,
 * SIGTERM) stops all of them. Their output goes to our stderr so stdout carries only the figures.
 */
const children = new Set<ChildProcess>();

process.on('exit', () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

export function spawnChild(name: string, args: string[], env: Record<string, string>, cwd: string) {
  const child = spawn(process.execPath, args, { cwd, env, stdio: ['pipe', 2, 2] });
  children.add(child);
  child.on('error', (error) => console.error(`${name}: ${error.message}`));
  child.on('exit', () => children.delete(child));
  return child;
}

/** SIGTERM, then SIGKILL for whatever is still running after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.stdin?.end();
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export async function stopAllChildren(): Promise<void> {
  await Promise.all([...children].map((child) => stopChild(child)));
}

/** A TCP port free right now on 127.0.0.1 (the OS picks it). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** Retries `probe` until it succeeds; fails early if the child exits first. */
export async function waitUntilReady(
  name: string,
  child: ChildProcess,
  probe: () => Promise<unknown>,
  timeoutMs = 60_000,
): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `${name} exited (${child.exitCode ?? child.signalCode}) before it was ready; see its output above`,
      );
    }
    try {
      await probe();
      return;
    } catch (error) {
      if (Date.now() > giveUpAt) {
        throw new Error(`${name} not ready after ${timeoutMs} ms: ${(error as Error).message}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
