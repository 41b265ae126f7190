import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 that a test can take down and bring back: down() closes the
 * listener and cuts every open connection (clients get resets, then refused connections),
 * up() listens again on the same port. Lets a test make a shared server unavailable to one
 * service without stopping it for everybody else. cutAfter() cuts a request midway instead.
 */
export interface TcpProxy {
  /** http://127.0.0.1:<port>, the address to give the service instead of the target's. */
  url: string;
  port: number;
  down(): Promise<void>;
  up(): Promise<void>;
  /**
   * Cuts the client→server stream once `bytes` more bytes have gone through (from now, over any
   * connection): the target gets exactly that prefix (extended to the end of the first `at` that
   * ends at or past `bytes`, when given; with `before`, to the start of the first `at` that starts
   * there), then `end` (a FIN, as when the client process is killed)
   * or `reset` (an RST once the prefix is handed to the kernel); the client's socket is destroyed.
   * One-shot. Resolves once the target's side of the cut connection is closed too.
   */
  cutAfter(bytes: number, options?: { at?: string; before?: boolean; how?: 'end' | 'reset' }): Promise<{ forwarded: number }>;
  close(): Promise<void>;
}

interface Cut {
  bytes: number;
  at: Buffer | undefined;
  /** Cut where `at` starts instead of where it ends. */
  before: boolean;
  how: 'end' | 'reset';
  /** Client→server bytes forwarded since the cut was armed. */
  seen: number;
  /** The tail of what was forwarded, to find `at` across chunk boundaries. */
  tail: Buffer;
  done(result: { forwarded: number }): void;
}

/** Where in `chunk` the cut falls (bytes of it to forward), or undefined if not in this chunk. */
function cutPoint(cut: Cut, chunk: Buffer): number | undefined {
  if (!cut.at) return cut.seen + chunk.length >= cut.bytes ? cut.bytes - cut.seen : undefined;
  const window = Buffer.concat([cut.tail, chunk]);
  const base = cut.seen - cut.tail.length;
  // The first `at` that ends at or past `bytes`: it may start before this chunk.
  let from = Math.max(0, cut.bytes - cut.at.length - base);
  for (;;) {
    const i = window.indexOf(cut.at, from);
    if (i < 0) return undefined;
    const end = base + i + (cut.before ? 0 : cut.at.length);
    // Never a point already forwarded (an `at` that starts in the previous chunk, with `before`).
    if (end >= cut.bytes && end >= cut.seen) return end - cut.seen;
    from = i + 1;
  }
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let cut: Cut | undefined;
  const track = (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
  };
  const makeServer = (): Server =>
    createServer((client) => {
      const upstream = createConnection(target);
      let cutHere = false;
      track(client);
      track(upstream);
      client.on('data', (chunk: Buffer) => {
        const c = cut;
        const n = c ? cutPoint(c, chunk) : undefined;
        if (!c || n === undefined) {
          if (c) {
            c.seen += chunk.length;
            c.tail = Buffer.concat([c.tail, chunk]).subarray(-Math.max(1, c.at?.length ?? 1));
          }
          if (!upstream.write(chunk)) client.pause();
          return;
        }
        cut = undefined;
        cutHere = true;
        client.pause();
        // A reset drops what the kernel has not sent yet: wait until the prefix is handed over.
        upstream.write(chunk.subarray(0, n), () => {
          if (c.how === 'reset') upstream.resetAndDestroy();
        });
        if (c.how === 'end') upstream.end();
        client.destroy();
        // The target's answer has nowhere to go: drain it, so its FIN (and so 'close') is seen.
        upstream.unpipe(client);
        upstream.resume();
        // Settled once the target is done with the connection (it answered a FIN-cut request and closed).
        upstream.once('close', () => c.done({ forwarded: c.seen + n }));
      });
      upstream.on('drain', () => client.resume());
      client.on('end', () => {
        if (!cutHere) upstream.end();
      });
      upstream.pipe(client);
      // After a FIN cut the target still answers (or not) on its own: only then is upstream closed.
      client.once('close', () => {
        if (!cutHere) upstream.destroy();
      });
      upstream.once('close', () => client.destroy());
    });
  const listen = (server: Server, port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
    });
  let server: Server | undefined = makeServer();
  const port = await listen(server, 0);
  const stop = async () => {
    const s = server;
    server = undefined;
    if (!s) return;
    const closed = new Promise<void>((r) => s.close(() => r()));
    for (const sock of sockets) sock.destroy();
    await closed;
  };
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    down: stop,
    async up() {
      if (server) return;
      server = makeServer();
      await listen(server, port);
    },
    close: stop,
    cutAfter(bytes, options = {}) {
      return new Promise((resolve) => {
        cut = {
          bytes,
          at: options.at === undefined ? undefined : Buffer.from(options.at),
          before: options.before ?? false,
          how: options.how ?? 'end',
          seen: 0,
          tail: Buffer.alloc(0),
          done: resolve,
        };
      });
    },
  };
}
