import { setTimeout as sleep } from 'node:timers/promises';

export interface SseMessage {
  id?: string;
  event: string;
  data: unknown;
}

/**
 * A Server-Sent Events client over fetch, as a browser app reads a stream that needs a header: every
 * message parsed (comments kept apart), `next` waits for the first one that matches.
 */
export async function openSse(url: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const res = await fetch(url, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: controller.signal,
  });
  const messages: SseMessage[] = [];
  const comments: string[] = [];
  let ended = false;
  let buffer = '';
  const pump = async () => {
    if (!res.body || !res.headers.get('content-type')?.startsWith('text/event-stream')) return;
    const decoder = new TextDecoder();
    try {
      const reader = res.body.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const message: Partial<SseMessage> & { lines: string[] } = { lines: [] };
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim());
            else if (line.startsWith('id: ')) message.id = line.slice(4);
            else if (line.startsWith('event: ')) message.event = line.slice(7);
            else if (line.startsWith('data: ')) message.lines.push(line.slice(6));
          }
          if (message.event) {
            messages.push({
              id: message.id,
              event: message.event,
              data: JSON.parse(message.lines.join('\n')) as unknown,
            });
          }
        }
      }
    } catch {
      // Aborted by close().
    } finally {
      ended = true;
    }
  };
  const pumped = pump();
  return {
    res,
    messages,
    comments,
    ended: () => ended,
    async next(match: (m: SseMessage) => boolean, timeoutMs = 15_000): Promise<SseMessage> {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const found = messages.find(match);
        if (found) return found;
        if (ended || Date.now() > until) {
          throw new Error(`no matching message; got ${JSON.stringify(messages)} (ended: ${ended})`);
        }
        await sleep(20);
      }
    },
    async close() {
      controller.abort();
      await pumped;
    },
  };
}
