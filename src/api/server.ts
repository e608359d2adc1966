/**
 * The control API of a running fleet, on fastify. Bound to 127.0.0.1 unless told otherwise;
 * bound to anything else it requires a bearer token on /api and /metrics (auth.ts). Every body,
 * param and query is checked by the route's JSON schema and every failure is
 * `{error: {code, message}}`. The dashboard (/) and the docs (/docs, /openapi.json) carry no
 * fleet data and are served without a token; the page asks for it when the API wants one.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Clock } from '../clock/clock.js';
import type { VirtualClock } from '../clock/virtual-clock.js';
import type { Emulator } from '../fleet/emulator.js';
import type { FaultRules } from '../scenario/faults.js';
import { presentedToken, tokenMatches, tokenPolicy, type TokenPolicy } from './auth.js';
import { registerDashboard } from './dashboard.js';
import type { ApiDeps } from './deps.js';
import { ApiError, errorHandler, toErrorReply } from './errors.js';
import { FleetObserver } from './observer.js';
import { DOCS_HTML, OpenApiCollector } from './openapi.js';
import { registerControlRoutes } from './routes/control.js';
import { registerDeviceRoutes } from './routes/devices.js';
import { registerObserveRoutes } from './routes/observe.js';
import { registerSetupRoutes } from './routes/setup.js';
import { SnapshotStore } from './snapshots.js';
import { DEFAULT_SSE, EventStreams, type SseOptions } from './sse.js';

export interface ApiOptions {
  emu: Emulator;
  clock: Clock;
  virtual?: VirtualClock | undefined;
  faults: FaultRules;
  name?: string;
  /** Where it will listen; decides whether a token is required. Default 127.0.0.1. */
  host?: string;
  token?: string;
  sse?: Partial<SseOptions>;
  version?: string;
}

export interface ControlApi {
  app: FastifyInstance;
  policy: TokenPolicy;
  deps: ApiDeps;
  /** Listen on host:port (0 = any free port); resolves to the bound port. */
  listen(port: number): Promise<number>;
  close(): Promise<void>;
}

const OPEN_PATHS = /^\/($|docs$|openapi\.json$|dashboard\/|favicon\.ico$)/;

export async function buildApi(opts: ApiOptions): Promise<ControlApi> {
  const host = opts.host ?? '127.0.0.1';
  const policy = tokenPolicy(host, opts.token);
  const deps: ApiDeps = {
    name: opts.name ?? 'amtemu',
    emu: opts.emu,
    clock: opts.clock,
    virtual: opts.virtual,
    faults: opts.faults,
    observer: new FleetObserver(opts.emu.timeline),
    streams: new EventStreams(opts.emu.timeline, { ...DEFAULT_SSE, ...opts.sse }),
    snapshots: new SnapshotStore(opts.emu, opts.clock),
  };
  const app = Fastify({
    logger: false,
    bodyLimit: 1024 * 1024,
    // Bad input is refused, never silently cleaned: no removeAdditional; types coerce only in query strings.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false, allowUnionTypes: true } },
    return503OnClosing: false,
  });
  const openapi = new OpenApiCollector();
  openapi.attach(app);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((req, reply) => {
    const { status, body } = toErrorReply(new ApiError(404, 'NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`));
    void reply.status(status).send(body);
  });
  app.addHook('onRequest', async (req) => {
    if (!policy.required || OPEN_PATHS.test(req.url.split('?')[0] ?? '')) return;
    const q = req.query as Record<string, unknown> | undefined;
    if (!tokenMatches(presentedToken(req.headers.authorization, q?.['access_token']), policy.token!)) {
      throw new ApiError(401, 'UNAUTHORIZED', 'this API needs "Authorization: Bearer <token>" (printed by amtemu serve at start-up)');
    }
  });
  // setup.bin uploads (POST /api/devices/:id/usb-setup) arrive as raw bytes.
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  // RFC 7396's own media type for the NVRAM merge patch is JSON too; fastify's JSON parser (with
  // its prototype-poisoning protection) reads it.
  app.addContentTypeParser('application/merge-patch+json', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));
  // POST/PATCH without a body validate as {} so a command with no arguments needs none.
  app.addHook('preValidation', async (req) => {
    if ((req.method === 'POST' || req.method === 'PATCH') && req.body === undefined) req.body = {};
  });

  registerDeviceRoutes(app, deps);
  registerControlRoutes(app, deps);
  registerObserveRoutes(app, deps);
  registerSetupRoutes(app, deps);
  registerDashboard(app, { tokenRequired: policy.required });
  app.get('/openapi.json', { schema: { hide: true } }, async () =>
    openapi.document({ title: 'amtemu control API', version: opts.version ?? '1', tokenRequired: policy.required }),
  );
  app.get('/docs', { schema: { hide: true } }, async (_req, reply) => reply.type('text/html; charset=utf-8').send(DOCS_HTML));
  await app.ready();

  return {
    app,
    policy,
    deps,
    listen: async (port) => {
      await app.listen({ host, port });
      const addr = app.server.address();
      return typeof addr === 'object' && addr ? addr.port : port;
    },
    close: async () => {
      deps.streams.closeAll();
      deps.observer.close();
      await app.close();
    },
  };
}
