/**
 * The reference provisioning server's hello port (9971) against silent and slow clients, in
 * virtual time (issue 9): a connection that never sends a hello must neither hold virtual time
 * (each clock step used to stall a second of wall time for as long as it stayed open) nor keep
 * its socket for ever; a real hello still goes through.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock/virtual-clock.js';
import { encodeHelloV3 } from '../../src/device/hello.js';
import { HELLO_DEADLINE_MS, ProvisioningServer } from '../../src/provisioning/server.js';

/** A virtual clock that counts the tracked operations still open (test instrumentation). */
class CountingClock extends VirtualClock {
  open = 0;
  override track<T>(work: Promise<T>): Promise<T> {
    this.open++;
    void work.then(
      () => this.open--,
      () => this.open--,
    );
    return super.track(work);
  }
}

const clock = new CountingClock();
let server: ProvisioningServer;
let port = 0;

beforeAll(async () => {
  server = new ProvisioningServer({
    clock,
    helloPort: 0,
    bind: '127.0.0.1',
    deviceWsmanPort: 1,
    reverseLookup: async () => undefined,
    profiles: [{ name: 'p', adminPassword: 'Adm1n!pass', mebxPassword: 'Mebx!2pass', tls: false }],
    chains: [],
  });
  await server.start();
  port = server.events.find((x) => x.step === 'server.listening')!.detail.port as number;
});
afterAll(async () => {
  await server?.stop();
});

function connect(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  });
}
const closed = (s: net.Socket, maxMs: number): Promise<boolean> =>
  new Promise((resolve) => {
    if (s.destroyed) return resolve(true);
    const t = setTimeout(() => resolve(false), maxMs);
    s.once('close', () => {
      clearTimeout(t);
      resolve(true);
    });
  });

describe('hello port: silent and trickling clients', () => {
  it('a silent client stops holding virtual time, is cut at the hello deadline, and a real hello still arrives', async () => {
    const silent = await Promise.all(Array.from({ length: 20 }, () => connect()));
    const trickler = await connect();
    trickler.write(Buffer.alloc(10));
    const iv = setInterval(() => !trickler.destroyed && trickler.write(Buffer.alloc(1)), 500);
    for (const s of [...silent, trickler]) {
      s.on('error', () => undefined);
      s.on('data', () => undefined);
    }
    // Wait (bounded) for the silent ones to be released from virtual-time tracking.
    for (let i = 0; i < 50 && clock.open > 1; i++) await new Promise((r) => setTimeout(r, 100));
    expect(clock.open).toBe(1); // only the trickler, which did send bytes, is still tracked
    // A real device hello meanwhile is received.
    const hello = encodeHelloV3({ adminCredentialsSet: false, retryCount: 0, uuid: '12345678-9abc-def0-1234-56789abcdef0', hashes: [{ algorithm: 'SHA256', hash: 'ab'.repeat(32) }] });
    const dev = await connect();
    dev.end(hello);
    for (let i = 0; i < 50 && !server.events.some((e) => e.step === 'hello.received'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(server.events.some((e) => e.step === 'hello.received')).toBe(true);
    // Everyone who never finished a hello is cut by the wall-time deadline.
    const ends = await Promise.all([...silent, trickler].map((s) => closed(s, HELLO_DEADLINE_MS + 5_000)));
    clearInterval(iv);
    expect(ends.every(Boolean)).toBe(true);
    for (let i = 0; i < 20 && clock.open > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(clock.open).toBe(0);
  }, 30_000);
});
