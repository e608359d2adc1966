/** Timeline queries, the live event stream (SSE) and Prometheus /metrics. */
import type { FastifyInstance } from 'fastify';
import type { TimelineQuery } from '../../common/timeline.js';
import type { ApiDeps } from '../deps.js';
import { renderMetrics } from '../metrics.js';

const FILTER_PROPS = {
  deviceId: { type: 'string', maxLength: 64 },
  type: { type: 'string', maxLength: 100, description: 'exact type, or a prefix ending in "." (hello.)' },
  code: { type: 'string', maxLength: 64, description: 'only events carrying this error code' },
} as const;

function toQuery(q: { deviceId?: string; type?: string; code?: string; since?: number; until?: number }): TimelineQuery {
  return {
    ...(q.deviceId ? { deviceId: q.deviceId } : {}),
    ...(q.type ? { type: q.type } : {}),
    ...(q.code ? { code: q.code } : {}),
    ...(q.since !== undefined ? { since: q.since } : {}),
    ...(q.until !== undefined ? { until: q.until } : {}),
  };
}

export function registerObserveRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get('/api/timeline', {
    schema: {
      tags: ['timeline'],
      summary: 'Timeline events, oldest first; the last `limit` that match. `dropped` > 0: the oldest events were dropped at `capacity` (fleet file `timeline.capacity`)',
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          ...FILTER_PROPS,
          since: { type: 'number', minimum: 0, description: 'clock ms, inclusive' },
          until: { type: 'number', minimum: 0, description: 'clock ms, inclusive' },
          limit: { type: 'integer', minimum: 1, maximum: 10000, default: 500 },
        },
      },
    },
  }, async (req) => {
    const q = req.query as { deviceId?: string; type?: string; code?: string; since?: number; until?: number; limit: number };
    const events = deps.emu.timeline.query(toQuery(q));
    const { dropped, capacity } = deps.emu.timeline;
    return { total: events.length, dropped, capacity, events: events.slice(-q.limit) };
  });

  app.get('/api/events', {
    schema: {
      tags: ['timeline'],
      summary: 'Live timeline as server-sent events (`event: timeline`, heartbeat comments, `event: gap` after drops)',
      querystring: { type: 'object', additionalProperties: false, properties: { ...FILTER_PROPS, access_token: { type: 'string' } } },
    },
  }, async (req, reply) => {
    reply.hijack();
    deps.streams.open(reply.raw, toQuery(req.query as { deviceId?: string; type?: string; code?: string }));
  });

  app.get('/metrics', { schema: { tags: ['metrics'], summary: 'Prometheus text format' } }, async (_req, reply) => {
    return reply.type('text/plain; version=0.0.4; charset=utf-8').send(renderMetrics(deps.emu, deps.clock, deps.observer, { sseClients: deps.streams.size }));
  });
}
