/**
 * The live event stream over a real loopback socket: timeline events arrive as SSE with a
 * filter, heartbeats keep coming, and a client that stops reading is bounded (a `gap` event
 * reports what was dropped). Token enforcement as a non-loopback bind would have it, via inject.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi, type ControlApi } from '../../src/api/server.js';
import { startFleet, type RunningFleet } from '../../src/fleet/fleet-runner.js';

let fleet: RunningFleet;

beforeAll(async () => {
  fleet = await startFleet({
    time: 'virtual',
    network: { ipBase: '127.94.0.10', serverAddress: '127.94.0.1', dhcpPort: 0, dnsPort: 0, domain: 'corp.example.test' },
    provisioning: { kind: 'address', address: '127.94.0.2', port: 9 },
    ports: { http: 0, https: 0, redirection: null, redirectionTls: null, rmcp: null },
    defaults: { state: 'setup', profile: 'amt16', adminPassword: 'x' },
    devices: [{ id: 'pc1', fields: {} }, { id: 'pc2', fields: {} }],
  });
}, 30_000);

afterAll(async () => {
  await fleet?.stop();
});

/** Open /api/events and collect raw SSE text until `until` holds (bounded by time). */
function stream(port: number, path: string, until: (text: string) => boolean, limitMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const req = request({ host: '127.0.0.1', port, path, headers: { accept: 'text/event-stream' } }, (res) => {
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
        if (until(text)) {
          clearTimeout(timer);
          req.destroy();
          resolve(text);
        }
      });
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`stream did not satisfy the condition within ${limitMs} ms:\n${text}`));
    }, limitMs);
    req.on('error', (e) => {
      if (!(e as NodeJS.ErrnoException).code?.startsWith('ECONNRESET')) reject(e);
    });
    req.end();
  });
}

describe('live event stream', () => {
  it('streams matching timeline events and heartbeats on a real socket', async () => {
    const api = await buildApi({ emu: fleet.emu, clock: fleet.clock, virtual: fleet.virtual, faults: fleet.faults, sse: { heartbeatMs: 50 } });
    const port = await api.listen(0);
    try {
      const got = stream(port, '/api/events?deviceId=pc2&type=power.', (t) => /event: timeline[\s\S]*"type":"power\.off"/.test(t) && /: heartbeat/.test(t));
      // Wait until the stream is open before causing events.
      for (let i = 0; i < 200 && api.deps.streams.size === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(api.deps.streams.size).toBe(1);
      fleet.emu.device('pc1').powerOn(); // filtered out: other device
      fleet.emu.device('pc2').powerOn();
      fleet.emu.device('pc2').powerOff();
      const text = await got;
      const events = [...text.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]!) as { deviceId: string; type: string });
      expect(events.map((e) => `${e.deviceId} ${e.type}`)).toEqual(['pc2 power.on', 'pc2 power.off']);
      expect(text).toMatch(/^id: \d+$/m);
      for (let i = 0; i < 200 && api.deps.streams.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(api.deps.streams.size).toBe(0);
    } finally {
      await api.close();
    }
  });

  it('bounds what it queues for a client that does not read, then reports the gap', async () => {
    const api = await buildApi({ emu: fleet.emu, clock: fleet.clock, virtual: fleet.virtual, faults: fleet.faults, sse: { heartbeatMs: 60_000, maxBuffered: 10 } });
    const port = await api.listen(0);
    try {
      const { Socket } = await import('node:net');
      const sock = new Socket();
      await new Promise<void>((r) => sock.connect(port, '127.0.0.1', r));
      sock.write('GET /api/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n');
      for (let i = 0; i < 200 && api.deps.streams.size === 0; i++) await new Promise((r) => setTimeout(r, 10));
      sock.pause();
      // Far more than the socket buffers take: the server must queue at most 10 and drop the rest.
      const big = 'x'.repeat(4000);
      for (let i = 0; i < 3000; i++) fleet.emu.timeline.record('pc1', 'test.flood', { i, big });
      let text = '';
      sock.setEncoding('utf8');
      sock.on('data', (c: string) => (text += c));
      sock.resume();
      for (let i = 0; i < 500 && !/event: gap/.test(text); i++) await new Promise((r) => setTimeout(r, 10));
      const gap = /event: gap\ndata: (\{.*\})/.exec(text);
      expect(gap).not.toBeNull();
      const dropped = (JSON.parse(gap![1]!) as { dropped: number }).dropped;
      expect(dropped).toBeGreaterThan(0);
      const delivered = [...text.matchAll(/"type":"test\.flood"/g)].length;
      for (let i = 0; i < 300 && delivered + dropped < 3000; i++) await new Promise((r) => setTimeout(r, 10));
      const after = [...text.matchAll(/"type":"test\.flood"/g)].length;
      expect(after + dropped).toBe(3000);
      sock.destroy();
    } finally {
      await api.close();
    }
  });
});

describe('token enforcement', () => {
  it('requires the bearer token on /api and /metrics when bound beyond loopback', async () => {
    // host decides the policy; the app is exercised with inject, never bound to 0.0.0.0.
    const api: ControlApi = await buildApi({ emu: fleet.emu, clock: fleet.clock, virtual: fleet.virtual, faults: fleet.faults, host: '0.0.0.0' });
    try {
      expect(api.policy.required).toBe(true);
      expect(api.policy.generated).toBe(true);
      const token = api.policy.token!;
      for (const url of ['/api/devices', '/metrics', '/api/events']) {
        const r = await api.app.inject({ method: 'GET', url });
        expect(r.statusCode, url).toBe(401);
        expect(JSON.parse(r.body).error.code).toBe('UNAUTHORIZED');
        expect((await api.app.inject({ method: 'GET', url, headers: { authorization: 'Bearer wrong' } })).statusCode).toBe(401);
      }
      expect((await api.app.inject({ method: 'GET', url: '/api/devices', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(200);
      expect((await api.app.inject({ method: 'POST', url: '/api/devices/pc1/power', payload: { action: 'on' } })).statusCode).toBe(401);
      // The page and the docs hold no fleet data: open, and the page knows to ask for the token.
      const page = await api.app.inject({ method: 'GET', url: '/' });
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('data-token-required="true"');
      expect((await api.app.inject({ method: 'GET', url: '/openapi.json' })).statusCode).toBe(200);
      expect(JSON.parse((await api.app.inject({ method: 'GET', url: '/openapi.json' })).body).paths['/api/devices'].get.security).toEqual([{ bearer: [] }]);
    } finally {
      await api.close();
    }
    const open = await buildApi({ emu: fleet.emu, clock: fleet.clock, virtual: fleet.virtual, faults: fleet.faults });
    try {
      expect(open.policy.required).toBe(false);
      expect((await open.app.inject({ method: 'GET', url: '/api/devices' })).statusCode).toBe(200);
    } finally {
      await open.close();
    }
  });
});
