/**
 * `openssl s_client` against 16993: the device's RSA certificate negotiates AES256-GCM-SHA384
 * under MeshCentral's cipher string (reference §1.3 step 4), and the TLS versions follow the
 * firmware profile: TLS 1.3 only on the AMT 19 profile (a documented choice), TLS 1.1 gone from
 * CSME 16 (SDK detaileddescription21.htm) but still there on AMT 12.
 */
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AmtDevice } from '../../src/device/device.js';
import { PortListeners } from '../../src/network/listeners.js';
import { makeTestDevice, provisionedImage } from '../fixtures/wsman/device.js';

function sClient(target: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    const p = execFile('openssl', ['s_client', '-connect', target, ...args], { timeout: 20_000 }, (_err, stdout, stderr) => resolve(stdout + stderr));
    p.stdin?.end();
  });
}

describe('openssl s_client handshakes with 16993', () => {
  const devices = new Map<string, AmtDevice>();
  let listeners: PortListeners;
  let amt12: AmtDevice;
  let amt16: AmtDevice;
  let amt19: AmtDevice;

  beforeAll(async () => {
    amt16 = (await makeTestDevice({ deviceId: 'ssl16', address: '127.77.6.1', profile: 'amt16', image: provisionedImage('Adm1n!pass') })).device;
    amt19 = (await makeTestDevice({ deviceId: 'ssl19', address: '127.77.6.2', profile: 'amt19', image: provisionedImage('Adm1n!pass') })).device;
    amt12 = (await makeTestDevice({ deviceId: 'ssl12', address: '127.77.6.3', profile: 'amt12', image: provisionedImage('Adm1n!pass') })).device;
    for (const d of [amt12, amt16, amt19]) devices.set(d.address!, d);
    listeners = new PortListeners({ lookup: (a) => devices.get(a), httpPort: 0, tlsPort: 0 });
    await listeners.start();
  }, 30_000);
  afterAll(async () => {
    await listeners?.stop();
  });

  it('TLS 1.2 with RSA+AES:!aNULL:!MD5:!DSS negotiates AES256-GCM-SHA384 with an RSA device certificate', async () => {
    const out = await sClient(`${amt16.address}:${listeners.tlsPort}`, ['-tls1_2', '-cipher', 'RSA+AES:!aNULL:!MD5:!DSS']);
    expect(out).toMatch(/Cipher is AES256-GCM-SHA384/);
    expect(out).toMatch(/Server public key is 2048 bit/);
    expect(out).toContain(`CN = iAMT-${amt16.nvram.uuid}`);
  });

  it('TLS 1.3 handshakes on the AMT 19 profile and is refused where the profile stops at TLS 1.2', async () => {
    const ok = await sClient(`${amt19.address}:${listeners.tlsPort}`, ['-tls1_3']);
    expect(ok).toMatch(/New, TLSv1\.3, Cipher is TLS_AES_256_GCM_SHA384/);
    expect(ok).toContain(`CN = iAMT-${amt19.nvram.uuid}`);
    const refused = await sClient(`${amt16.address}:${listeners.tlsPort}`, ['-tls1_3']);
    expect(refused).not.toMatch(/New, TLSv1\.3/);
    expect(refused).toMatch(/alert protocol version|no protocols available|wrong version number|unsupported protocol|Cipher is \(NONE\)/i);
  });

  it('TLS 1.1 answers on AMT 12 and is refused on AMT 16', async () => {
    const old = ['-tls1_1', '-cipher', 'DEFAULT:@SECLEVEL=0'];
    const ok = await sClient(`${amt12.address}:${listeners.tlsPort}`, old);
    expect(ok).toMatch(/Protocol\s*:\s*TLSv1\.1/);
    expect(ok).not.toContain('Cipher is (NONE)');
    const refused = await sClient(`${amt16.address}:${listeners.tlsPort}`, old);
    expect(refused).toContain('Cipher is (NONE)');
    expect(refused).toMatch(/alert protocol version/);
    // The refusal is on the device's timeline with a code.
    const failed = amt16.timeline.query({ deviceId: amt16.id, type: 'tls.failed' });
    expect(failed.at(-1)).toMatchObject({ code: 'TLS_HANDSHAKE_FAILED', data: { reason: expect.stringMatching(/VERSION|PROTOCOL/i) } });
  });
});
