/**
 * Real TLS on loopback: the device certificate serves 16993-style mutual TLS, a provisioning
 * client presents the Client Setup chain, and PKI-CH judges what the server received.
 * openssl s_client checks the device certificate with MeshCentral's TLS 1.2 cipher string
 * (reference §1.3) and with TLS 1.3.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { createServer, connect, type Server, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { createTestPki, type TestPki, type TestChain } from '../../src/pki/test-ca.js';
import { DeviceCertStore, type DeviceTlsIdentity } from '../../src/pki/device-cert.js';
import { peerChainDer } from '../../src/pki/peer-chain.js';
import { validateSetupChain } from '../../src/device/pkich.js';
import type { FirmwareProfile } from '../../src/nvram/profile-types.js';
import { MODERN, entry } from '../unit/pki-fixtures.js';

const PROFILE: FirmwareProfile = MODERN;
let pki: TestPki;
let device: DeviceTlsIdentity;
let server: Server;
let port: number;
const received: Array<{ chain: Buffer[] }> = [];

beforeAll(async () => {
  pki = await createTestPki({ variants: ['untrustedRoot', 'missingIntermediate'] });
  device = await new DeviceCertStore().get('itest', { uuid: '12345678-9abc-def0-1234-56789abcdef0', hostname: 'pc1.corp.example.test', now: new Date() });
  server = createServer(
    { key: device.keyPem, cert: device.certPem, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' },
    (socket: TLSSocket) => {
      received.push({ chain: peerChainDer(socket) });
      socket.end('ok');
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Connect as the provisioning server with a chain; resolve with what the device received. */
function presentChain(c: TestChain, maxVersion: 'TLSv1.2' | 'TLSv1.3'): Promise<Buffer[]> {
  const before = received.length;
  return new Promise((resolve, reject) => {
    const sock = connect({
      host: '127.0.0.1', port, key: c.keyPem, cert: c.chainPem, rejectUnauthorized: false, maxVersion,
      ...(maxVersion === 'TLSv1.2' ? { ciphers: 'RSA+AES:!aNULL:!MD5:!DSS' } : {}),
    });
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('TLS client timed out')); }, 5000);
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
    sock.on('data', () => undefined);
    sock.on('end', () => {
      clearTimeout(timer);
      sock.destroy();
      const got = received[before];
      if (got) resolve(got.chain);
      else reject(new Error('server saw no connection'));
    });
  });
}

function judge(chain: Buffer[]) {
  return validateSetupChain({
    chain, hashes: [entry('SHA256', pki.rootHashes.sha256)], pkiDnsSuffix: '', dhcpDomain: pki.domain, profile: PROFILE, now: new Date(),
  });
}

describe('mutual TLS with the device certificate', () => {
  it.each(['TLSv1.2', 'TLSv1.3'] as const)('a valid Client Setup chain passes PKI-CH (%s)', async (v) => {
    const chain = await presentChain(pki.valid, v);
    expect(chain.length).toBe(3);
    expect(chain[0]!.equals(pki.valid.leaf.der)).toBe(true);
    const r = judge(chain);
    expect(r.ok).toBe(true);
    expect(r.ok && r.value.matchedIdentifier).toBe(pki.fqdn);
  });

  it('an untrusted root fails HASH_NOT_TRUSTED', async () => {
    const r = judge(await presentChain(pki.variants.untrustedRoot!, 'TLSv1.3'));
    expect(!r.ok && r.code).toBe('HASH_NOT_TRUSTED');
  });

  it('a chain without the intermediate fails CHAIN_INCOMPLETE', async () => {
    const r = judge(await presentChain(pki.variants.missingIntermediate!, 'TLSv1.2'));
    expect(!r.ok && r.code).toBe('CHAIN_INCOMPLETE');
  });

  it('no client certificate gives NO_CLIENT_CERT', async () => {
    const before = received.length;
    await new Promise<void>((resolve, reject) => {
      const sock = connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
      const timer = setTimeout(() => { sock.destroy(); reject(new Error('timeout')); }, 5000);
      sock.on('error', (e) => { clearTimeout(timer); reject(e); });
      sock.on('data', () => undefined);
      sock.on('end', () => { clearTimeout(timer); sock.destroy(); resolve(); });
    });
    const r = judge(received[before]!.chain);
    expect(!r.ok && r.code).toBe('NO_CLIENT_CERT');
  });
});

function sClient(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const timer = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`openssl s_client timed out:\n${out}`)); }, 10_000);
    p.on('error', (e) => { clearTimeout(timer); reject(e); });
    p.on('close', (code) => { clearTimeout(timer); resolve({ code, out }); });
    p.stdin.end();
  });
}

describe('openssl s_client against the device certificate', () => {
  it("TLS 1.2 with MeshCentral's cipher string RSA+AES:!aNULL:!MD5:!DSS negotiates RSA key transport", async () => {
    const { out } = await sClient(['-tls1_2', '-cipher', 'RSA+AES:!aNULL:!MD5:!DSS']);
    expect(out).toMatch(/Protocol\s*: TLSv1\.2/);
    // kRSA suites are named without a key-exchange prefix (AES256-GCM-SHA384, AES128-SHA, ...).
    expect(out).toMatch(/Cipher\s*: AES\d+-/);
    expect(out).toContain(`CN = iAMT-12345678-9abc-def0-1234-56789abcdef0`);
  });

  it('TLS 1.3', async () => {
    const { out } = await sClient(['-tls1_3']);
    expect(out).toMatch(/TLSv1\.3/);
    expect(out).toMatch(/Cipher is TLS_AES_/);
  });
});
