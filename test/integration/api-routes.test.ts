/**
 * The control API through fastify.inject on a real (loopback) fleet in virtual time: every
 * route, bad bodies answered 400 with a code, NVRAM patch validated and persisted, snapshot and
 * revert round trip, virtual time only through the API, fault rules, timeline queries, /metrics.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi, type ControlApi } from '../../src/api/server.js';
import { startFleet, type RunningFleet } from '../../src/fleet/fleet-runner.js';
import { startApiFleet, type ApiFleet } from '../helpers/api-fleet.js';

let fleet: RunningFleet;
let api: ControlApi;
let call: ApiFleet['call'];
let rig: ApiFleet;

beforeAll(async () => {
  rig = await startApiFleet({
    name: 'api-test',
    net: '127.93.0',
    defaults: { state: 'setup', profile: 'amt16' },
    devices: [
      { id: 'pc1', fields: {} },
      { id: 'pc2', fields: { state: 'configured' } },
      { id: 'pc3', fields: { state: 'factory', trigger: 'listen' } },
    ],
    settle: '2m',
  });
  ({ fleet, api, call } = rig);
}, 30_000);

afterAll(async () => {
  await rig?.stop();
});

describe('control API', () => {
  it('lists devices with state, mode, address and last event', async () => {
    const r = await call('GET', '/api/devices');
    expect(r.status).toBe(200);
    expect(r.json.total).toBe(3);
    const pc1 = r.json.devices.find((d: { id: string }) => d.id === 'pc1');
    expect(pc1).toMatchObject({ state: 'In', controlMode: 'none', powered: true, address: '127.93.0.10', plannedAddress: '127.93.0.10' });
    expect(pc1.lastEvent.deviceId).toBe('pc1');
    expect((await call('GET', '/api/devices?state=Post')).json.devices.map((d: { id: string }) => d.id)).toEqual(['pc2']);
    expect((await call('GET', '/api/devices?state=configured')).json.devices.map((d: { id: string }) => d.id)).toEqual(['pc2']);
    expect((await call('GET', '/api/devices/pc2')).json).toMatchObject({ id: 'pc2', state: 'Post', controlMode: 'ACM' });
    const missing = await call('GET', '/api/devices/nope');
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ error: { code: 'NOT_FOUND', message: 'no device "nope"' } });
    expect((await call('GET', '/api/devices?state=Broken')).json.error).toEqual({ code: 'BAD_INPUT', message: 'querystring.state must be one of "Pre", "In", "Post", "factory", "setup" or "configured"' });
  });

  it('summarises the fleet', async () => {
    const r = await call('GET', '/api/fleet');
    expect(r.json).toMatchObject({ name: 'api-test', devices: 3, powered: 3, byState: { Pre: 1, In: 1, Post: 1 }, byControlMode: { none: 2, ACM: 1 }, time: { kind: 'virtual', now: 120_000 } });
  });

  it('reads NVRAM and patches it with validation, persisting through update', async () => {
    const before = (await call('GET', '/api/devices/pc3/nvram')).json;
    expect(before.deviceId).toBe('pc3');
    const ok = await call('PATCH', '/api/devices/pc3/nvram', { setup: { pkiDnsSuffix: 'corp.example.test' }, network: { hostname: 'renamed-pc3' } });
    expect(ok.status).toBe(200);
    expect(ok.json.setup.pkiDnsSuffix).toBe('corp.example.test');
    expect(ok.json.network.hostname).toBe('renamed-pc3');
    expect(ok.json.network.wiredLan).toBe(true); // merge patch keeps siblings
    expect(ok.json.generation).toBeGreaterThan(before.generation);
    expect(fleet.emu.device('pc3').nvram.setup.pkiDnsSuffix).toBe('corp.example.test');

    const bad = await call('PATCH', '/api/devices/pc3/nvram', { provisioning: { state: 'Sideways' } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('NVRAM_INVALID');
    expect(bad.json.error.message).toMatch(/\/provisioning\/state/);
    expect(bad.json.error.message).not.toMatch(/\n/);
    expect(fleet.emu.device('pc3').state).toBe('Pre');
    expect((await call('PATCH', '/api/devices/pc3/nvram', { deviceId: 'other' })).json.error).toEqual({ code: 'BAD_INPUT', message: 'deviceId cannot be changed through the API' });
    expect((await call('PATCH', '/api/devices/pc3/nvram', {})).json.error.code).toBe('BAD_INPUT');
    const notJson = await api.app.inject({ method: 'PATCH', url: '/api/devices/pc3/nvram', headers: { 'content-type': 'application/json' }, payload: '{"setup":' });
    expect(notJson.statusCode).toBe(400);
    expect(JSON.parse(notJson.body).error.code).toBe('BAD_INPUT');
    // RFC 7396's media type is accepted as well as application/json.
    const merge = await api.app.inject({ method: 'PATCH', url: '/api/devices/pc3/nvram', headers: { 'content-type': 'application/merge-patch+json' }, payload: '{"network":{"hostname":"merge-pc3"}}' });
    expect(merge.statusCode).toBe(200);
    expect(JSON.parse(merge.body).network.hostname).toBe('merge-pc3');
    // Fields that are each valid but contradict each other are refused too.
    const contradiction = await call('PATCH', '/api/devices/pc3/nvram', { provisioning: { controlMode: 'ACM' } });
    expect(contradiction.status).toBe(400);
    expect(contradiction.json.error).toMatchObject({ code: 'NVRAM_INVALID' });
    expect(contradiction.json.error.message).toMatch(/controlMode ACM does not fit \/provisioning\/state Pre/);
    expect(fleet.emu.device('pc3').controlMode).toBe('none');
  });

  it('powers devices off and on, pulls the cable, and rejects unknown actions', async () => {
    const off = await call('POST', '/api/devices/pc1/power', { action: 'off' });
    expect(off.json).toMatchObject({ powered: false, address: null, lastEvent: { type: 'power.off', data: { reason: 'off' } } });
    expect((await call('POST', '/api/devices/pc1/power', { action: 'on' })).json.powered).toBe(true);
    expect((await call('POST', '/api/devices/pc1/power', { action: 'loss' })).json.lastEvent.data.reason).toBe('loss');
    await call('POST', '/api/devices/pc1/power', { action: 'on' });
    const bad = await call('POST', '/api/devices/pc1/power', { action: 'explode' });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('BAD_INPUT');
    expect(bad.json.error.message).toMatch(/action/);
    expect((await call('POST', '/api/devices/pc1/power', { action: 'on', extra: 1 })).status).toBe(400);
    expect((await call('POST', '/api/devices/pc1/link', { up: false })).json).toMatchObject({ link: false, address: null, lastEvent: { type: 'link.down' } });
    expect((await call('POST', '/api/devices/pc1/link', { up: true })).json.link).toBe(true);
    expect((await call('POST', '/api/devices/pc1/link', { up: 'yes' })).status).toBe(400);
  });

  it('runs host commands and answers their PTHI status', async () => {
    expect((await call('POST', '/api/devices/pc2/host/getProvisioningState')).json).toEqual({ command: 'getProvisioningState', status: 0, statusName: 'SUCCESS', value: 2 });
    expect((await call('POST', '/api/devices/pc2/host/startConfiguration', {})).json).toMatchObject({ status: 3, statusName: 'INVALID_AMT_MODE' });
    const start = await call('POST', '/api/devices/pc3/host/startConfiguration');
    expect(start.json.statusName).toBe('SUCCESS');
    expect(fleet.emu.device('pc3').state).toBe('In');
    expect((await call('POST', '/api/devices/pc3/host/extendProvisioningPeriod', { hours: 2 })).json.statusName).toBe('SUCCESS');
    expect((await call('POST', '/api/devices/pc3/host/extendProvisioningPeriod', { hours: 99 })).json.statusName).toBe('INVALID_PARAMETER');
    expect((await call('POST', '/api/devices/pc3/host/extendProvisioningPeriod', {})).json.error.code).toBe('BAD_INPUT');
    expect((await call('POST', '/api/devices/pc3/host/stopConfiguration')).json.statusName).toBe('SUCCESS');
    expect((await call('POST', '/api/devices/pc3/host/setOtp', { otp: 'one-time-pass' })).json.statusName).toBe('SUCCESS');
    expect((await call('POST', '/api/devices/pc3/host/setOtp', { otp: 'short' })).json.statusName).toBe('INVALID_PARAMETER');
    expect((await call('POST', '/api/devices/pc3/host/getUuid')).json.value).toBe(fleet.emu.device('pc3').nvram.uuid);
    expect((await call('POST', '/api/devices/pc3/host/startConfigurationEx', { ipv6Enable: true })).json.statusName).toBe('SUCCESS');
    expect((await call('POST', '/api/devices/pc3/host/stopConfiguration')).json.statusName).toBe('SUCCESS');
    expect((await call('POST', '/api/devices/pc3/host/getCertHashEntries')).json.value.length).toBeGreaterThan(0);
    expect((await call('POST', '/api/devices/pc3/host/reboot')).status).toBe(404);
  });

  it('unprovisions, and answers 409 with the code when the state forbids it', async () => {
    const r = await call('POST', '/api/devices/pc3/unprovision', { kind: 'partial' });
    expect(r.status).toBe(409);
    expect(r.json.error.code).toBe('ILLEGAL_TRANSITION');
    expect((await call('POST', '/api/devices/pc3/unprovision', { kind: 'sideways' })).status).toBe(400);
  });

  it('moves virtual time only on request, never backwards', async () => {
    const t0 = (await call('GET', '/api/time')).json.now;
    const r = await call('POST', '/api/time/advance', { by: '1h' });
    expect(r.json.now).toBe(t0 + 3_600_000);
    expect((await call('POST', '/api/time/advance', { by: 'soon' })).json.error.code).toBe('BAD_INPUT');
    expect((await call('POST', '/api/time/set', { t: t0 + 3_600_000 + 1000 })).json.now).toBe(t0 + 3_601_000);
    const back = await call('POST', '/api/time/set', { t: 0 });
    expect(back.status).toBe(409);
    expect(back.json.error.code).toBe('TIME_BACKWARDS');
  });

  it('snapshots and reverts the whole fleet', async () => {
    const snap = await call('POST', '/api/snapshots', { name: 'before unprovision' });
    expect(snap.status).toBe(201);
    expect(snap.json).toMatchObject({ id: 's1', name: 'before unprovision', devices: 3 });
    const configured = structuredClone(fleet.emu.device('pc2').nvram);
    expect((await call('POST', '/api/devices/pc2/unprovision', { kind: 'full' })).json.state).toBe('Pre');
    await call('PATCH', '/api/devices/pc1/nvram', { setup: { pkiDnsSuffix: 'changed.example.test' } });
    const rev = await call('POST', '/api/snapshots/s1/revert');
    expect(rev.status).toBe(200);
    expect(rev.json).toMatchObject({ restored: ['pc1', 'pc2', 'pc3'], untouched: [], timeRewound: false });
    const pc2 = fleet.emu.device('pc2');
    expect(pc2.state).toBe('Post');
    expect(pc2.controlMode).toBe('ACM');
    expect(pc2.powered).toBe(true);
    expect({ ...pc2.nvram, generation: 0 }).toEqual({ ...configured, generation: 0 });
    expect(fleet.emu.device('pc1').nvram.setup.pkiDnsSuffix).toBe('');
    expect(fleet.emu.timeline.query({ deviceId: 'pc2', type: 'nvram.restored' })).toHaveLength(1);
    expect((await call('GET', '/api/snapshots')).json.snapshots.map((s: { id: string }) => s.id)).toEqual(['s1']);
    expect((await call('POST', '/api/snapshots/s9/revert')).status).toBe(404);
    expect((await call('POST', '/api/snapshots/nope/revert')).status).toBe(400);
    expect((await call('DELETE', '/api/snapshots/s1')).status).toBe(204);
    expect((await call('GET', '/api/snapshots')).json.snapshots).toEqual([]);
  });

  it('keeps fault rules', async () => {
    const add = await call('POST', '/api/faults', { name: 'AdminSetup fails once', action: 'AdminSetup', firstN: 1, effect: { kind: 'fail', returnValue: 1 } });
    expect(add.status).toBe(201);
    expect(add.json).toMatchObject({ id: 1, action: 'AdminSetup', matched: 0, fired: 0 });
    expect(fleet.faults.decide({ deviceId: 'pc1', port: 16993, action: 'http://intel.com/wbem/wscim/1/ips-schema/1/IPS_HostBasedSetupService/AdminSetup' })).toEqual({ kind: 'fail', returnValue: 1 });
    expect((await call('GET', '/api/faults')).json.rules[0]).toMatchObject({ id: 1, fired: 1 });
    expect((await call('POST', '/api/faults', { effect: { kind: 'delay' } })).json.error).toEqual({ code: 'BAD_INPUT', message: 'a delay effect needs "ms"' });
    expect((await call('POST', '/api/faults', { effect: { kind: 'melt' } })).status).toBe(400);
    expect((await call('POST', '/api/faults', { probability: 2, effect: { kind: 'drop' } })).status).toBe(400);
    expect((await call('DELETE', '/api/faults/1')).status).toBe(204);
    expect((await call('DELETE', '/api/faults/1')).status).toBe(404);
    await call('POST', '/api/faults', { effect: { kind: 'reset' }, port: 16992 });
    expect((await call('DELETE', '/api/faults')).status).toBe(204);
    expect(fleet.faults.size).toBe(0);
  });

  it('applies a fault rule posted through the API to real WS-Man traffic', async () => {
    const pc1 = fleet.emu.device('pc1');
    const post = (): Promise<number | string> =>
      new Promise((resolve) => {
        // From the PC's own address: the host OS reaching its ME on 16992 (local, open on AMT 16).
        const req = http.request({ host: pc1.address!, port: fleet.listeners.ports.http, localAddress: pc1.address!, path: '/wsman', method: 'POST', agent: false }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
        req.end('<x/>');
      });
    expect((await call('POST', '/api/faults', { name: 'reset once', deviceId: 'pc1', port: 16992, firstN: 1, effect: { kind: 'reset' } })).status).toBe(201);
    // A rule that could never fire is refused instead of stored: an unknown device, a port no WS-Man listener has.
    expect((await call('POST', '/api/faults', { deviceId: 'nope', effect: { kind: 'reset' } })).status).toBe(404);
    expect((await call('POST', '/api/faults', { port: 12345, effect: { kind: 'reset' } })).status).toBe(400);
    expect(await post()).toBe('ECONNRESET');
    expect(await post()).toBe(401);
    expect((await call('GET', '/api/timeline?deviceId=pc1&type=fault.reset')).json.events).toHaveLength(1);
    expect((await call('DELETE', '/api/faults')).status).toBe(204);
  });

  it('queries the timeline by device, type prefix, time range and code', async () => {
    const all = (await call('GET', '/api/timeline?deviceId=pc1&limit=10000')).json;
    expect(all.total).toBeGreaterThan(5);
    // Nothing dropped yet at the default capacity: the history is whole, and says so.
    expect({ dropped: all.dropped, capacity: all.capacity }).toEqual({ dropped: 0, capacity: 1_000_000 });
    expect(all.events.every((e: { deviceId: string }) => e.deviceId === 'pc1')).toBe(true);
    const dhcp = (await call('GET', '/api/timeline?type=dhcp.&deviceId=pc1')).json.events;
    expect(dhcp.length).toBeGreaterThan(0);
    expect(dhcp.every((e: { type: string }) => e.type.startsWith('dhcp.'))).toBe(true);
    const failed = (await call('GET', '/api/timeline?code=HELLO_CONNECT_FAILED')).json.events;
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.every((e: { type: string; code: string }) => e.type === 'hello.failed' && e.code === 'HELLO_CONNECT_FAILED')).toBe(true);
    const early = (await call('GET', '/api/timeline?until=0')).json.events;
    expect(early.every((e: { t: number }) => e.t === 0)).toBe(true);
    const late = (await call('GET', '/api/timeline?since=3600000')).json.events;
    expect(late.every((e: { t: number }) => e.t >= 3_600_000)).toBe(true);
    expect((await call('GET', '/api/timeline?limit=2')).json.events).toHaveLength(2);
    expect((await call('GET', '/api/timeline?limit=0')).status).toBe(400);
    expect((await call('GET', '/api/timeline?bogus=1')).status).toBe(400);
  });

  it('exposes Prometheus metrics', async () => {
    const r = await api.app.inject({ method: 'GET', url: '/metrics' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = r.body;
    expect(text).toMatch(/^# HELP amtemu_devices /m);
    expect(text).toMatch(/^# TYPE amtemu_devices gauge$/m);
    expect(text).toMatch(/^amtemu_devices\{state="Post",control_mode="ACM"\} 1$/m);
    const failed = Number(/^amtemu_hellos_total\{result="failed"\} (\d+)$/m.exec(text)?.[1]);
    expect(failed).toBe(fleet.emu.timeline.count({ type: 'hello.failed' }));
    expect(failed).toBeGreaterThan(0);
    expect(text).toMatch(/^amtemu_timeline_failures_total\{code="HELLO_CONNECT_FAILED"\} \d+$/m);
    expect(text).toMatch(/^amtemu_timeline_events_total\{area="power"\} \d+$/m);
    expect(text).toMatch(/^amtemu_pkich_total\{result="accepted",code=""\} 0$/m);
    expect(Number(/^amtemu_timeline_retained (\d+)$/m.exec(text)?.[1])).toBe(fleet.emu.timeline.length);
    expect(text).toMatch(/^amtemu_timeline_capacity 1000000$/m);
    expect(text).toMatch(/^amtemu_timeline_dropped_total 0$/m);
    // Every sample line is `name{labels} number`.
    for (const line of text.trim().split('\n').filter((l) => !l.startsWith('#'))) expect(line).toMatch(/^[a-z_]+(\{[^}]*\})? -?\d+(\.\d+)?$/);
  });

  it('documents itself: OpenAPI JSON with every route, and a /docs page', async () => {
    const doc = (await call('GET', '/openapi.json')).json;
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/devices', '/api/devices/{id}/nvram', '/api/devices/{id}/host/startConfiguration', '/api/time/advance', '/api/snapshots/{sid}/revert', '/api/faults/{rid}', '/api/events', '/metrics']));
    expect(doc.paths['/api/devices/{id}/power'].post.requestBody.content['application/json'].schema.properties.action.enum).toEqual(['on', 'off', 'loss']);
    expect(doc.paths['/api/devices/{id}'].get.parameters[0]).toMatchObject({ name: 'id', in: 'path', required: true });
    const docs = await api.app.inject({ method: 'GET', url: '/docs' });
    expect(docs.headers['content-type']).toMatch(/text\/html/);
    expect(docs.body).toContain('/openapi.json');
    expect(docs.body).not.toMatch(/https?:\/\/(?!json-schema)/);
    expect((await call('GET', '/nowhere')).json.error.code).toBe('NOT_FOUND');
  });

  it('serves the dashboard without a CDN', async () => {
    const index = await api.app.inject({ method: 'GET', url: '/' });
    expect(index.body).toContain('/dashboard/app.js');
    for (const f of ['app.js', 'style.css']) {
      const r = await api.app.inject({ method: 'GET', url: `/dashboard/${f}` });
      expect(r.statusCode).toBe(200);
      expect(r.body).not.toMatch(/https?:\/\//);
    }
    expect((await api.app.inject({ method: 'GET', url: '/dashboard/secret.txt' })).statusCode).toBe(404);
  });
});

describe('control API on a scaled clock', () => {
  it('refuses to move time with 409 and says how to get virtual time', async () => {
    const scaled = await startFleet({
      time: { scaled: 1 },
      network: { ipBase: '127.93.1.10', serverAddress: '127.93.1.1', dhcpPort: 0, dnsPort: 0 },
      provisioning: { kind: 'address', address: '127.93.1.2', port: 9 },
      ports: { http: 0, https: 0, redirection: null, redirectionTls: null, rmcp: null },
      defaults: { state: 'setup', profile: 'amt16', adminPassword: 'x' },
      devices: [{ id: 'a', fields: {} }],
    });
    const a = await buildApi({ emu: scaled.emu, clock: scaled.clock, virtual: scaled.virtual, faults: scaled.faults });
    try {
      for (const [url, body] of [['/api/time/advance', { by: '1h' }], ['/api/time/set', { t: 10 }]] as const) {
        const r = await a.app.inject({ method: 'POST', url, payload: body });
        expect(r.statusCode).toBe(409);
        expect(JSON.parse(r.body).error).toMatchObject({ code: 'CLOCK_NOT_VIRTUAL', message: expect.stringMatching(/--time virtual/) });
      }
      expect(JSON.parse((await a.app.inject({ method: 'GET', url: '/api/time' })).body)).toMatchObject({ kind: 'scaled', scale: 1 });
    } finally {
      await a.close();
      await scaled.stop();
    }
  });
});
