export interface StreamHandlers {
  onMessage(event: string, data: unknown): void;
  /** The stream could not replay what was missed: reload the list. */
  onReset?(): void;
  /** Connected (again): a good moment to load the list. */
  onReady?(): void;
  /** The API refused the request (401 and such): the stream stops. */
  onRefused?(status: number): void;
  onStateChange?(connected: boolean): void;
}

/**
 * A Server-Sent Events stream read with fetch (EventSource cannot send the Authorization header),
 * reconnecting with Last-Event-ID after the delay the server's `retry` asks for. Returns `close`.
 */
export function openStream(path: string, token: string | undefined, handlers: StreamHandlers): () => void {
  const controller = new AbortController();
  let lastId: string | undefined;
  let retryMs = 2000;

  const dispatch = (block: string) => {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      const colon = line.indexOf(':');
      if (colon === 0) continue;
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') lastId = value;
      else if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'retry' && /^\d+$/.test(value)) retryMs = Number(value);
    }
    if (data.length === 0) return;
    if (event === 'ready') handlers.onReady?.();
    else if (event === 'reset') handlers.onReset?.();
    else handlers.onMessage(event, JSON.parse(data.join('\n')) as unknown);
  };

  const run = async () => {
    while (!controller.signal.aborted) {
      try {
        const headers: Record<string, string> = { accept: 'text/event-stream' };
        if (token) headers.authorization = `Bearer ${token}`;
        if (lastId !== undefined) headers['last-event-id'] = lastId;
        const res = await fetch(path, { headers, signal: controller.signal });
        if (res.status >= 400 && res.status < 500 && res.status !== 429) {
          handlers.onRefused?.(res.status);
          return;
        }
        if (res.ok && res.body) {
          handlers.onStateChange?.(true);
          const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
          let buffer = '';
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buffer += value.replace(/\r\n?/g, '\n');
            let end: number;
            while ((end = buffer.indexOf('\n\n')) >= 0) {
              dispatch(buffer.slice(0, end));
              buffer = buffer.slice(end + 2);
            }
          }
        }
      } catch {
        // Dropped or refused connection: try again below.
      }
      if (controller.signal.aborted) return;
      handlers.onStateChange?.(false);
      await new Promise((resolve) => setTimeout(resolve, retryMs));
    }
  };
  void run();
  return () => controller.abort();
}
