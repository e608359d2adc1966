import net from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock/index.js';
import { encodeHelloV2, encodeHelloV3 } from '../../src/device/hello.js';
import { createTestPki, type TestPki } from '../../src/pki/test-ca.js';
import { selectChain, type ProvisioningChain } from '../../src/provisioning/chain-select.js';
import { ProvisioningServer, type DeviceRecord } from '../../src/provisioning/server.js';

const UUID = '939b524b-13d4-1d18-e487-1c697a6b7a2b';
const fakeHash = (algo: 'SHA1' | 'SHA256', fill: string): { algorithm: 'SHA1' | 'SHA256'; hash: string } => ({ algorithm: algo, hash: fill.repeat(algo === 'SHA1' ? 40 : 64) });

/** Send bytes the way the firmware does: connect from a 127.x address, one write, close. */
function sendFrom(from: string, port: number, bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress: from }, () => {
      s.end(bytes);
    });
    s.on('error', reject);
    s.on('close', () => resolve());
  });
}

function waitRecord(server: ProvisioningServer, ip: string): Promise<DeviceRecord> {
  return new Promise((resolve) => {
    const on = (r: DeviceRecord): void => {
      if (r.deviceIp === ip && r.status !== 'in-progress') {
        server.off('record', on);
        resolve(r);
      }
    };
    server.on('record', on);
  });
}

describe('selectChain', () => {
  const chainA: ProvisioningChain = { name: 'A', chainPem: '', keyPem: '', rootHashes: { sha1: 'a'.repeat(40), sha256: 'b'.repeat(64), sha384: 'c'.repeat(96) } };
  const chainB: ProvisioningChain = { name: 'B', chainPem: '', keyPem: '', rootHashes: { sha1: 'd'.repeat(40), sha256: 'e'.repeat(64), sha384: 'f'.repeat(96) } };

  it('matches a SHA-256 entry against the root SHA-256', () => {
    const m = selectChain([chainA, chainB], [fakeHash('SHA256', '1'), fakeHash('SHA256', 'e')]);
    expect(m).toMatchObject({ index: 1, algorithm: 'SHA256', hash: 'e'.repeat(64) });
  });

  it('matches a SHA-1 entry against the root SHA-1 (not against the SHA-256)', () => {
    expect(selectChain([chainA, chainB], [fakeHash('SHA1', 'a')])).toMatchObject({ index: 0, algorithm: 'SHA1' });
    // Same hex in the wrong algorithm slot is no match.
    expect(selectChain([chainA], [{ algorithm: 'SHA1', hash: 'b'.repeat(40) }])).toBeUndefined();
  });

  it('tries chains in configured order and is case-insensitive', () => {
    const m = selectChain([chainA, chainB], [fakeHash('SHA256', 'E'), fakeHash('SHA1', 'A')]);
    expect(m?.chain.name).toBe('A');
    expect(selectChain([], [fakeHash('SHA1', 'a')])).toBeUndefined();
  });
});

describe('ProvisioningServer hello handling over loopback TCP', () => {
  let pki: TestPki;
  let server: ProvisioningServer | undefined;
  beforeAll(async () => {
    pki = await createTestPki({ variants: [] });
  });
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  async function startServer(opts: { reverse?: (ip: string) => Promise<string | undefined>; wsmanPort?: number } = {}): Promise<number> {
    // A port with nothing listening: sessions that get as far as TLS fail fast there.
    const closed = await new Promise<number>((r) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => r(p));
      });
    });
    server = new ProvisioningServer({
      clock: new VirtualClock(),
      helloPort: 0,
      bind: '127.0.0.1',
      deviceWsmanPort: opts.wsmanPort ?? closed,
      reverseLookup: opts.reverse ?? (async (ip) => `host-${ip.replace(/\./g, '-')}.corp.example.test`),
      profiles: [{ name: 'default', adminPassword: 'P@ssw0rd1', mebxPassword: 'Mebx@ssw0rd', tls: false }],
      chains: [{ name: 'test', chainPem: pki.valid.chainPem, keyPem: pki.valid.keyPem, rootHashes: pki.rootHashes }],
      wsmanTimeoutMs: 5000,
    });
    const { port } = await server.start();
    return port;
  }

  it('parses a hello split over several writes and names the device by reverse DNS', async () => {
    const port = await startServer();
    const hello = encodeHelloV3({ adminCredentialsSet: true, retryCount: 2, uuid: UUID, hashes: [fakeHash('SHA1', '9'), { algorithm: 'SHA256', hash: pki.rootHashes.sha256 }] });
    const done = waitRecord(server!, '127.0.0.21');
    await new Promise<void>((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.21' }, () => {
        s.write(hello.subarray(0, 10));
        setImmediate(() => s.end(hello.subarray(10)));
      });
      s.on('error', reject);
      s.on('close', () => resolve());
    });
    const rec = await done;
    const received = server!.events.find((e) => e.step === 'hello.received');
    expect(received).toMatchObject({ deviceIp: '127.0.0.21', ok: true, detail: { uuid: UUID, retryCount: 2, hashes: 2, adminCredentialsSet: true } });
    expect(server!.events.find((e) => e.step === 'dns.reverse')?.detail.host).toBe('host-127-0-0-21.corp.example.test');
    expect(server!.events.find((e) => e.step === 'chain.selected')?.detail).toMatchObject({ chain: 'test', algorithm: 'SHA256' });
    // Nothing listens on the WS-Man port, so the session ends there, with a code.
    expect(rec).toMatchObject({ status: 'failed', code: 'WSMAN_CONNECT_FAILED', uuid: UUID, chain: 'test', host: 'host-127-0-0-21.corp.example.test' });
  });

  it('stops with HASH_NOT_TRUSTED when no chain root is in the hello', async () => {
    const port = await startServer();
    const done = waitRecord(server!, '127.0.0.22');
    await sendFrom('127.0.0.22', port, encodeHelloV3({ adminCredentialsSet: false, retryCount: 0, uuid: UUID, hashes: [fakeHash('SHA256', '7')] }));
    const rec = await done;
    expect(rec).toMatchObject({ status: 'failed', code: 'HASH_NOT_TRUSTED' });
    expect(server!.events.find((e) => e.step === 'no-matching-chain')).toMatchObject({ ok: false, code: 'HASH_NOT_TRUSTED' });
    expect(server!.events.some((e) => e.step === 'tls.connect')).toBe(false);
  });

  it('ignores a second hello from an address whose session is still running', async () => {
    const pending = new Map<string, (v: string | undefined) => void>();
    const port = await startServer({ reverse: (ip) => new Promise((r) => pending.set(ip, r)) });
    const hello = encodeHelloV3({ adminCredentialsSet: false, retryCount: 0, uuid: UUID, hashes: [fakeHash('SHA256', '7')] });
    await sendFrom('127.0.0.23', port, hello);
    await sendFrom('127.0.0.23', port, hello);
    await sendFrom('127.0.0.24', port, hello); // another address is processed in parallel
    for (let i = 0; i < 50 && server!.events.filter((e) => e.step.startsWith('hello.')).length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    const helloEvents = server!.events.filter((e) => e.step.startsWith('hello.')).map((e) => `${e.deviceIp} ${e.step}`);
    expect(helloEvents).toEqual(['127.0.0.23 hello.received', '127.0.0.23 hello.ignored', '127.0.0.24 hello.received']);
    const done = waitRecord(server!, '127.0.0.23');
    pending.get('127.0.0.23')!(undefined);
    pending.get('127.0.0.24')!('pc24.corp.example.test');
    expect((await done).host).toBe('127.0.0.23'); // no reverse name: the address stands in
    await server!.idle();
    // Once the first session ended, a new hello from the same address starts a new session.
    await sendFrom('127.0.0.23', port, hello);
    for (let i = 0; i < 50 && server!.events.filter((e) => e.step === 'hello.received').length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    expect(server!.events.filter((e) => e.step === 'hello.received' && e.deviceIp === '127.0.0.23')).toHaveLength(2);
    pending.get('127.0.0.23')!(undefined);
    await server!.idle();
  });

  it('rejects bad hellos with a code and keeps serving', async () => {
    const port = await startServer();
    await sendFrom('127.0.0.25', port, Buffer.from('0100030000', 'hex'));
    await sendFrom('127.0.0.26', port, encodeHelloV2({ adminCredentialsSet: false, retryCount: 0, uuid: UUID, pid: 'ABCD1234' }));
    await sendFrom('127.0.0.27', port, Buffer.alloc(16001, 1));
    for (let i = 0; i < 50 && server!.events.filter((e) => e.step === 'hello.rejected').length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    const rejected = server!.events.filter((e) => e.step === 'hello.rejected');
    expect(rejected.map((e) => [e.deviceIp, e.code])).toEqual([
      ['127.0.0.25', 'BAD_INPUT'],
      ['127.0.0.26', 'PSK_NOT_SUPPORTED'],
      ['127.0.0.27', 'BAD_INPUT'],
    ]);
    expect(server!.records()).toEqual([]);
  });

  it('answers an HTTP GET with a page, like MeshCentral', async () => {
    const port = await startServer();
    const text = await new Promise<string>((resolve, reject) => {
      let got = '';
      const s = net.connect({ host: '127.0.0.1', port }, () => s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      s.on('data', (d) => (got += d.toString()));
      s.on('error', reject);
      s.on('close', () => resolve(got));
    });
    expect(text).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(server!.events.some((e) => e.step.startsWith('hello.'))).toBe(false);
  });
});
