/**
 * Fleet-wide control: the fleet at a glance, virtual time (advance/set; 409 on a scaled clock,
 * where wall time drives the timers), snapshot and revert, and fault rules.
 */
import type { FastifyInstance } from 'fastify';
import { MAX_DURATION_MS, tryParseDuration } from '../../scenario/duration.js';
import type { FaultRule } from '../../scenario/faults.js';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';

const FAULT_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['effect'],
  properties: {
    name: { type: 'string', maxLength: 100 },
    deviceId: { type: 'string', maxLength: 64 },
    // The port the client dialled as AMT names it (rules match the WS-Man listeners' wire ports).
    port: { type: 'integer', enum: [16992, 16993] },
    action: { type: 'string', maxLength: 300, description: 'WS-Man action URI or its last segment (AdminSetup, CommitChanges)' },
    firstN: { type: 'integer', minimum: 1 },
    probability: { type: 'number', minimum: 0, maximum: 1 },
    effect: {
      type: 'object',
      additionalProperties: false,
      required: ['kind'],
      properties: {
        kind: { type: 'string', enum: ['delay', 'drop', 'reset', 'hang', 'empty', 'fail'] },
        ms: { type: 'integer', minimum: 0, maximum: 3_600_000 },
        returnValue: { type: 'integer' },
      },
    },
  },
} as const;

export function registerControlRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { emu, clock, virtual } = deps;

  const timeInfo = (): Record<string, unknown> => ({
    kind: virtual ? 'virtual' : 'scaled',
    ...(virtual ? {} : { scale: (clock as { scale?: number }).scale ?? 1 }),
    now: Math.round(clock.now()),
    date: clock.date().toISOString(),
    ...(virtual ? { pendingTimers: virtual.pendingTimers } : {}),
  });

  app.get('/api/fleet', { schema: { tags: ['fleet'], summary: 'The fleet at a glance: counts per state, control mode and power' } }, async () => {
    const byState: Record<string, number> = { Pre: 0, In: 0, Post: 0 };
    const byControlMode: Record<string, number> = { none: 0, CCM: 0, ACM: 0 };
    let powered = 0;
    for (const d of emu.devices.values()) {
      byState[d.state] = (byState[d.state] ?? 0) + 1;
      byControlMode[d.controlMode] = (byControlMode[d.controlMode] ?? 0) + 1;
      if (d.powered) powered++;
    }
    return { name: deps.name, devices: emu.devices.size, powered, byState, byControlMode, time: timeInfo(), events: emu.timeline.length };
  });

  // ---- time ----------------------------------------------------------------------------------

  const needVirtual = (): NonNullable<typeof virtual> => {
    if (!virtual) {
      throw new ApiError(409, 'CLOCK_NOT_VIRTUAL', `the fleet runs on a scaled wall clock (x${String((clock as { scale?: number }).scale ?? 1)}); start it with --time virtual to move time through the API`);
    }
    return virtual;
  };
  // One time move at a time: two overlapping advances would interleave their timers.
  let moving: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = moving.then(fn, fn);
    moving = run.catch(() => undefined);
    return run;
  };

  app.get('/api/time', { schema: { tags: ['time'], summary: "The fleet's clock" } }, async () => timeInfo());

  app.post('/api/time/advance', {
    schema: {
      tags: ['time'],
      summary: 'Advance virtual time, firing every firmware timer on the way',
      body: { type: 'object', additionalProperties: false, required: ['by'], properties: { by: { type: ['string', 'number'], description: '"90s", "6h", "1d 2h" or milliseconds' } } },
    },
  }, async (req) => {
    const v = needVirtual();
    const d = tryParseDuration((req.body as { by: string | number }).by);
    if (!d.ok) throw new ApiError(400, 'BAD_INPUT', `by: ${d.message}`);
    await serial(() => v.advance(d.ms));
    return timeInfo();
  });

  app.post('/api/time/set', {
    schema: {
      tags: ['time'],
      summary: 'Run virtual time up to `t` (ms since start); time never runs backwards',
      body: { type: 'object', additionalProperties: false, required: ['t'], properties: { t: { type: 'number', minimum: 0 } } },
    },
  }, async (req) => {
    const v = needVirtual();
    const t = (req.body as { t: number }).t;
    if (t < v.now()) throw new ApiError(409, 'TIME_BACKWARDS', `virtual time is already ${v.now()} ms; it cannot be set back to ${t}`);
    // Same bound as /advance: an unbounded target (t: 1e15) ran the fleet's timers for ever and
    // blocked every later time request behind it (found by the issue 9 API fuzz).
    if (t - v.now() > MAX_DURATION_MS) throw new ApiError(400, 'BAD_INPUT', `t: ${t} is more than 400 days ahead of virtual time ${v.now()} ms`);
    await serial(() => v.runUntil(t));
    return timeInfo();
  });

  // ---- snapshots -----------------------------------------------------------------------------

  const SNAP_ID = { type: 'object', required: ['sid'], properties: { sid: { type: 'string', pattern: '^s[0-9]{1,9}$' } } } as const;

  app.get('/api/snapshots', { schema: { tags: ['snapshots'], summary: 'Snapshots taken so far' } }, async () => ({ snapshots: deps.snapshots.list() }));

  app.post('/api/snapshots', {
    schema: {
      tags: ['snapshots'],
      summary: 'Snapshot every NVRAM image and the clock reading',
      body: { type: 'object', additionalProperties: false, properties: { name: { type: 'string', minLength: 1, maxLength: 100 } } },
    },
  }, async (req, reply) => {
    const name = (req.body as { name?: string }).name;
    return reply.status(201).send(deps.snapshots.take(name));
  });

  app.post('/api/snapshots/:sid/revert', {
    schema: { tags: ['snapshots'], summary: 'Write the snapshot images back (devices that were on are power-cycled); time is not rewound', params: SNAP_ID, body: { type: 'object', additionalProperties: false, properties: {} } },
  }, async (req) => serial(async () => deps.snapshots.revert((req.params as { sid: string }).sid)));

  app.delete('/api/snapshots/:sid', { schema: { tags: ['snapshots'], summary: 'Forget a snapshot', params: SNAP_ID } }, async (req, reply) => {
    deps.snapshots.delete((req.params as { sid: string }).sid);
    return reply.status(204).send();
  });

  // ---- fault rules ---------------------------------------------------------------------------

  app.get('/api/faults', { schema: { tags: ['faults'], summary: 'Fault rules with their hit counters' } }, async () => ({ rules: deps.faults.list() }));

  app.post('/api/faults', {
    schema: { tags: ['faults'], summary: 'Add a fault rule (toxiproxy-style: on this device/port/action, do this, for the first N calls or with a probability)', body: FAULT_SCHEMA },
  }, async (req, reply) => {
    const rule = req.body as FaultRule;
    if (rule.effect.kind === 'delay' && (rule.effect as { ms?: number }).ms === undefined) throw new ApiError(400, 'BAD_INPUT', 'a delay effect needs "ms"');
    // A rule for a device the fleet does not have would never fire: say so instead of 201.
    if (rule.deviceId !== undefined && !deps.emu.devices.has(rule.deviceId)) throw new ApiError(404, 'NOT_FOUND', `no device "${rule.deviceId}" in this fleet`);
    const id = deps.faults.add(rule);
    return reply.status(201).send(deps.faults.list().find((r) => r.id === id));
  });

  app.delete('/api/faults/:rid', {
    schema: { tags: ['faults'], summary: 'Remove one fault rule', params: { type: 'object', required: ['rid'], properties: { rid: { type: 'integer', minimum: 1 } } } },
  }, async (req, reply) => {
    const rid = (req.params as { rid: number }).rid;
    if (!deps.faults.remove(rid)) throw new ApiError(404, 'NOT_FOUND', `no fault rule ${rid}`);
    return reply.status(204).send();
  });

  app.delete('/api/faults', { schema: { tags: ['faults'], summary: 'Remove every fault rule' } }, async (_req, reply) => {
    deps.faults.clear();
    return reply.status(204).send();
  });
}
