/**
 * The live event stream (server-sent events) of the timeline. Each client gets `timeline`
 * events matching its filter, a comment line as heartbeat so proxies and browsers keep the
 * connection, and a bounded buffer: when a slow client stops draining, the oldest queued events
 * are dropped and a `gap` event says how many, rather than the server's memory growing.
 */
import type { ServerResponse } from 'node:http';
import { matches, type Timeline, type TimelineEvent, type TimelineQuery } from '../common/timeline.js';

export interface SseOptions {
  /** Real milliseconds between heartbeats (the API runs on wall time, not the fleet's clock). */
  heartbeatMs: number;
  /** Events queued per client while its socket is backed up. */
  maxBuffered: number;
}

export const DEFAULT_SSE: SseOptions = { heartbeatMs: 15_000, maxBuffered: 1000 };

export class EventStreams {
  private readonly clients = new Set<() => void>();
  private seq = 0;

  constructor(
    private readonly timeline: Timeline,
    private readonly opts: SseOptions = DEFAULT_SSE,
  ) {}

  get size(): number {
    return this.clients.size;
  }

  /** Take over a raw response and stream until the client goes away or close() is called. */
  open(res: ServerResponse, filter: TimelineQuery): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 2000\n: amtemu live timeline\n\n`);
    const queue: string[] = [];
    let dropped = 0;
    let blocked = false;
    const send = (chunk: string): void => {
      if (blocked) {
        queue.push(chunk);
        if (queue.length > this.opts.maxBuffered) {
          queue.shift();
          dropped++;
        }
        return;
      }
      blocked = !res.write(chunk);
    };
    const onDrain = (): void => {
      blocked = false;
      if (dropped > 0) {
        blocked = !res.write(`event: gap\ndata: ${JSON.stringify({ dropped })}\n\n`);
        dropped = 0;
      }
      while (!blocked && queue.length > 0) blocked = !res.write(queue.shift()!);
    };
    res.on('drain', onDrain);
    const unsubscribe = this.timeline.subscribe((e: TimelineEvent) => {
      if (!matches(e, filter)) return;
      send(`event: timeline\nid: ${++this.seq}\ndata: ${JSON.stringify(e)}\n\n`);
    });
    const heartbeat = setInterval(() => send(`: heartbeat\n\n`), this.opts.heartbeatMs);
    heartbeat.unref();
    const close = (): void => {
      if (!this.clients.delete(close)) return;
      clearInterval(heartbeat);
      unsubscribe();
      res.off('drain', onDrain);
      if (!res.writableEnded) res.end();
    };
    this.clients.add(close);
    res.on('close', close);
    res.on('error', close);
  }

  closeAll(): void {
    for (const c of [...this.clients]) c();
  }
}
