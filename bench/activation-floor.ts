/**
 * (d)'s wire floor: what one activation's traffic costs node itself when neither the firmware
 * nor the provisioning server does any work. It replays, byte for byte, the HTTP exchanges one
 * real activation made (captured from the device's HTTP server while it ran) over the same kind
 * of connection — one hello TCP connect + write to a sink, one mutual-TLS handshake with the
 * device's secure context and the server's client chain, `getPeerCertificate(true)` as the
 * listener does before PKI-CH, then the same requests answered with the same responses by a
 * bare node:http server on that TLS socket and read by node's own keep-alive HTTP client.
 *
 * Why: the target (ratio ≥ 0.5 against bare handshakes) allows an activation twice a
 * handshake's cost; the floor says how much of that the wire alone already spends here, so the
 * figure can be read as "device + server logic" on top of an honest minimum (as (b) reports its
 * raw floor).
 */
import diagnostics from 'node:diagnostics_channel';
import http, { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls, { type SecureContext } from 'node:tls';

export interface CapturedExchange {
  method: string;
  url: string;
  headers: OutgoingHttpHeaders;
  body: Buffer;
  status: number;
  responseHeaders: OutgoingHttpHeaders;
  responseBody: Buffer;
}

/** Hop-by-hop or length headers node sets itself when it frames the replayed message. */
const FRAMING = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive', 'date']);

function replayable(h: OutgoingHttpHeaders | IncomingMessage['headers']): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !FRAMING.has(k.toLowerCase())) out[k] = v;
  return out;
}

/**
 * Record every HTTP exchange the process's node:http servers answer while `run` runs, through
 * node's documented `http.server.request.start` diagnostics channel (no change to the device
 * code). Request bodies are copied as the parser pushes them; response bodies as they are
 * written. `run` may settle before the last response is written (an activation counts when the
 * device enters Post, which CommitChanges does before it answers), so the capture also waits
 * for every started response to end or close.
 */
export async function captureExchanges(run: () => Promise<void>): Promise<CapturedExchange[]> {
  const out: CapturedExchange[] = [];
  const pending = new Set<Promise<void>>();
  const onStart = (message: unknown): void => {
    const { request, response } = message as { request: IncomingMessage; response: ServerResponse };
    pending.add(new Promise<void>((resolve) => response.once('close', resolve).once('finish', resolve)));
    const body: Buffer[] = [];
    const resBody: Buffer[] = [];
    const push = request.push.bind(request);
    request.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
      if (Buffer.isBuffer(chunk)) body.push(Buffer.from(chunk));
      return push(chunk, encoding);
    };
    const keep = (chunk: unknown): void => {
      if (typeof chunk === 'string') resBody.push(Buffer.from(chunk));
      else if (chunk instanceof Uint8Array) resBody.push(Buffer.from(chunk));
    };
    const write = response.write.bind(response) as (...a: unknown[]) => boolean;
    response.write = ((chunk: unknown, ...rest: unknown[]) => {
      keep(chunk);
      return write(chunk, ...rest);
    }) as ServerResponse['write'];
    const end = response.end.bind(response) as (...a: unknown[]) => ServerResponse;
    response.end = ((chunk?: unknown, ...rest: unknown[]) => {
      if (typeof chunk !== 'function') keep(chunk);
      out.push({
        method: request.method ?? 'POST',
        url: request.url ?? '/',
        headers: replayable(request.headers),
        body: Buffer.concat(body),
        status: response.statusCode,
        responseHeaders: replayable(response.getHeaders()),
        responseBody: Buffer.concat(resBody),
      });
      return end(chunk, ...rest);
    }) as ServerResponse['end'];
  };
  diagnostics.subscribe('http.server.request.start', onStart);
  try {
    await run();
  } finally {
    diagnostics.unsubscribe('http.server.request.start', onStart);
  }
  await Promise.all(pending);
  return out;
}

export interface WireFloor {
  /** One replayed activation: hello + handshake + every captured exchange, in order. */
  replay(i: number): Promise<void>;
  close(): Promise<void>;
}

/** Start the bare servers (hello sink, TLS + node:http) and return the replaying client. */
export async function startWireFloor(opts: {
  exchanges: CapturedExchange[];
  deviceContext: SecureContext;
  clientContext: SecureContext;
  hello: Buffer;
  helloSource: (i: number) => string;
  tlsSource: (i: number) => string;
}): Promise<WireFloor> {
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
  };
  const sink = net.createServer((s) => {
    track(s);
    s.resume();
    s.on('end', () => s.end());
  });
  // The k-th request on a connection gets the k-th captured response.
  const served = new WeakMap<net.Socket, number>();
  const httpServer = http.createServer((req, res) => {
    const k = served.get(req.socket) ?? 0;
    served.set(req.socket, k + 1);
    const x = opts.exchanges[Math.min(k, opts.exchanges.length - 1)]!;
    req.resume();
    req.on('end', () => {
      res.writeHead(x.status, x.responseHeaders);
      res.end(x.responseBody);
    });
  });
  const tlsServer = net.createServer((raw) => {
    track(raw);
    // Wrapped as the fleet listener wraps accepted sockets, asking for the client chain.
    const t = new tls.TLSSocket(raw, { isServer: true, secureContext: opts.deviceContext, requestCert: true, rejectUnauthorized: false });
    t.on('error', () => t.destroy());
    t.once('secure', () => {
      t.getPeerCertificate(true);
      httpServer.emit('connection', t);
    });
  });
  await Promise.all([sink, tlsServer].map((s) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))));
  const sinkPort = (sink.address() as net.AddressInfo).port;
  const tlsPort = (tlsServer.address() as net.AddressInfo).port;

  const hello = (i: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port: sinkPort, localAddress: opts.helloSource(i) }, () => s.end(opts.hello));
      s.on('error', reject);
      s.on('close', () => resolve());
    });
  const exchange = (agent: https.Agent, i: number, x: CapturedExchange): Promise<void> =>
    new Promise((resolve, reject) => {
      const options: https.RequestOptions & { localAddress: string } = { host: '127.0.0.1', port: tlsPort, localAddress: opts.tlsSource(i), method: x.method, path: x.url, headers: x.headers, agent };
      const r = https.request(options, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => {
          Buffer.concat(parts).toString('utf8');
          resolve();
        });
        res.on('error', reject);
      });
      r.on('error', reject);
      r.end(x.body);
    });

  return {
    async replay(i: number): Promise<void> {
      await hello(i);
      // One connection per activation, as the provisioning server opens one per device.
      const agent = new https.Agent({ keepAlive: true, maxSockets: 1, secureContext: opts.clientContext, rejectUnauthorized: false });
      try {
        for (const x of opts.exchanges) await exchange(agent, i, x);
      } finally {
        agent.destroy();
      }
    },
    async close(): Promise<void> {
      for (const s of sockets) s.destroy();
      await Promise.all([sink, tlsServer].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}
