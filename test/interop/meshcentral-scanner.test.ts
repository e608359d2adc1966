/**
 * MeshCentral's Intel AMT scanner (node_modules/meshcentral/amtscanner.js) against our RMCP
 * responder on real UDP sockets: its own buildRmcpPing goes out, its own parseRmcpPacket reads
 * our pong. The module is loaded from node_modules at test time, never copied.
 */
import dgram from 'node:dgram';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RmcpResponder, type RmcpDevice } from '../../src/network/rmcp.js';
import type { FirmwareProfileId, ProvisioningState } from '../../src/nvram/image.js';
import { makeDevice } from '../helpers/device-fixture.js';

interface Scanner {
  buildRmcpPing(tag: number): Buffer;
  parseRmcpPacket(
    data: Buffer,
    rinfo: dgram.RemoteInfo,
    serverid: number,
    func: (tag: number, minor: number, major: number, state: number, openPort: number, dualPorts: boolean, rinfo: dgram.RemoteInfo) => void,
    user: unknown,
  ): void;
}
const require = createRequire(import.meta.url);
const scanner = (require('meshcentral/amtscanner.js') as { CreateAmtScanner(parent: unknown): Scanner }).CreateAmtScanner({});

// Addresses unique to this process so parallel runs do not collide.
const base = `127.${100 + (process.pid % 100)}.${(process.pid >> 8) % 250}`;
const cases: Array<{ addr: string; profile: FirmwareProfileId; state: ProvisioningState; major: number; minor: number; port: number; dual: boolean }> = [
  { addr: `${base}.11`, profile: 'amt11', state: 'Pre', major: 11, minor: 8, port: 16992, dual: false },
  { addr: `${base}.12`, profile: 'amt12', state: 'In', major: 12, minor: 0, port: 16992, dual: false },
  { addr: `${base}.13`, profile: 'amt6', state: 'Post', major: 6, minor: 2, port: 16993, dual: true },
];

const devices = new Map<string, RmcpDevice>();
let responder: RmcpResponder;
let client: dgram.Socket;

beforeAll(async () => {
  for (const c of cases) {
    const { device } = makeDevice({
      deviceId: `scan-${c.profile}-${c.state}`.toLowerCase(),
      profile: c.profile,
      image: (img) => {
        img.provisioning.state = c.state;
        if (c.state === 'Post') {
          img.provisioning.controlMode = 'ACM';
          img.tls.remote = { ...img.tls.remote, enabled: true, acceptNonSecureConnections: true };
        }
      },
    });
    device.powerOn();
    devices.set(c.addr, device);
  }
  // A free UDP port (623 needs privileges in CI); the responder binds it on each device address.
  const probe = dgram.createSocket('udp4');
  await new Promise<void>((r) => probe.bind(0, '127.0.0.1', () => r()));
  const port = probe.address().port;
  await new Promise<void>((r) => probe.close(() => r()));
  responder = new RmcpResponder({ port, deviceAt: (a) => devices.get(a) });
  for (const c of cases) {
    const r = await responder.open(c.addr);
    expect(r.ok).toBe(true);
  }
  client = dgram.createSocket('udp4');
  await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
});

afterAll(async () => {
  client?.close();
  await responder?.closeAll();
});

function ping(addr: string, tag: number): Promise<{ tag: number; minor: number; major: number; state: number; openPort: number; dualPorts: boolean; from: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no pong from ${addr}`)), 2000);
    const onMsg = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
      scanner.parseRmcpPacket(msg, rinfo, 0, (t, minor, major, state, openPort, dualPorts, ri) => {
        if (ri.address !== addr || t !== tag) return;
        clearTimeout(timer);
        client.off('message', onMsg);
        resolve({ tag: t, minor, major, state, openPort, dualPorts, from: ri.address });
      }, null);
    };
    client.on('message', onMsg);
    client.send(scanner.buildRmcpPing(tag), responder.udpPort, addr);
  });
}

describe('MeshCentral amtscanner reads our presence pong', () => {
  it.each(cases.map((c, i) => [c.profile, c.state, i] as const))('%s %s', async (_p, _s, i) => {
    const c = cases[i]!;
    const r = await ping(c.addr, 40 + i);
    expect(r.from).toBe(c.addr);
    expect(r.state).toBe({ Pre: 0, In: 1, Post: 2 }[c.state]);
    expect([r.major, r.minor]).toEqual([c.major, c.minor]);
    expect(r.openPort).toBe(c.port);
    expect(r.dualPorts).toBe(c.dual);
    const dev = devices.get(c.addr) as unknown as { timeline: { query(q: object): Array<{ data: Record<string, unknown> }> } };
    expect(dev.timeline.query({ type: 'rmcp.pong' }).some((e) => e.data.tag === 40 + i)).toBe(true);
  });

  it('ignores garbage and still answers afterwards', async () => {
    const c = cases[0]!;
    const before = responder.stats.ignored;
    client.send(Buffer.from('not rmcp at all'), responder.udpPort, c.addr);
    client.send(Buffer.alloc(0), responder.udpPort, c.addr);
    const r = await ping(c.addr, 99);
    expect(r.tag).toBe(99);
    expect(responder.stats.ignored).toBe(before + 2);
  });
});
