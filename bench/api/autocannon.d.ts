// The part of autocannon 9's programmatic API that bench/api uses (the package ships no types).
declare module 'autocannon' {
  namespace autocannon {
    type RequestParams = { method?: string; path?: string; headers?: Record<string, string>; body?: string };
    interface Options extends RequestParams {
      url: string;
      connections?: number;
      /** Seconds, as `timeout`. */
      duration?: number;
      timeout?: number;
      /** `setupRequest` is called before each request and returns it. */
      requests?: { method?: string; setupRequest?: (request: RequestParams) => RequestParams }[];
    }
    /** Latency in ms; requests: `mean` is the mean of the per-second counts. */
    interface Result {
      errors: number;
      timeouts: number;
      non2xx: number;
      statusCodeStats: Record<string, { count: number }>;
      latency: { p50: number; p99: number };
      requests: { mean: number; sent: number };
      /** Bytes a second received (the mean of the per-second counts). */
      throughput: { mean: number };
    }
    type Instance = { stop(): void };
  }
  function autocannon(
    options: autocannon.Options,
    done: (e: Error | null, r: autocannon.Result) => void,
  ): autocannon.Instance;
  export default autocannon;
}
