import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { encodeHelloV2, encodeHelloV3, guidBytesToUuid, parseHello, uuidToGuidBytes } from '../../src/device/hello.js';

/** The three hellos MeshCentral's author captured from real AMT devices (commented samples in amtprovisioningserver.js). */
function capturedHellos(): Buffer[] {
  const file = createRequire(import.meta.url).resolve('meshcentral/amtprovisioningserver.js');
  const hex = [...readFileSync(file, 'utf8').matchAll(/processHelloData\(Buffer\.from\('([0-9a-f]+)', 'hex'\)/g)].map((m) => m[1]!);
  return hex.map((h) => Buffer.from(h, 'hex'));
}

describe('hello v3 bytes (reference §1.2)', () => {
  const samples = capturedHellos();

  it('finds the captured samples (23 and 24 hashes)', () => {
    expect(samples).toHaveLength(3);
    expect(samples.map((s) => s.length)).toEqual([25 + 23 * 34, 25 + 24 * 34, 25 + 24 * 34]);
  });

  it('parses each captured hello and re-encodes it byte for byte', () => {
    for (const bytes of samples) {
      const p = parseHello(bytes);
      if (p.version !== 3) throw new Error('expected v3');
      const again = encodeHelloV3({ adminCredentialsSet: p.adminCredentialsSet, retryCount: p.retryCount, uuid: p.uuid, hashes: p.hashes });
      expect(again.equals(bytes)).toBe(true);
    }
  });

  it('reads the UUID in GUID byte order, as the reference decodes the sample', () => {
    const p = parseHello(samples[0]!);
    expect(p.uuid).toBe('939b524b-13d4-1d18-e487-1c697a6b7a2b');
    expect(p.retryCount).toBe(0);
    expect(parseHello(samples[2]!).retryCount).toBe(1);
    expect(uuidToGuidBytes(p.uuid).toString('hex')).toBe('4b529b93d413181de4871c697a6b7a2b');
    expect(guidBytesToUuid(uuidToGuidBytes('00112233-4455-6677-8899-aabbccddeeff'))).toBe('00112233-4455-6677-8899-aabbccddeeff');
  });

  it('encodes a known packet exactly', () => {
    const b = encodeHelloV3({
      adminCredentialsSet: true,
      retryCount: 2,
      uuid: '00112233-4455-6677-8899-aabbccddeeff',
      hashes: [{ algorithm: 'SHA1', hash: 'ab'.repeat(20) }],
    });
    expect(b.toString('hex')).toBe('0100' + '0300' + '02000000' + '33221100554477668899aabbccddeeff' + '01' + '0114' + 'ab'.repeat(20));
  });

  it('encodes the PSK (v2) hello with the PID', () => {
    const b = encodeHelloV2({ adminCredentialsSet: false, retryCount: 0, uuid: '00112233-4455-6677-8899-aabbccddeeff', pid: 'ABCD-1234' });
    expect(b.toString('hex')).toBe('0000' + '0200' + '00000000' + '33221100554477668899aabbccddeeff' + Buffer.from('ABCD1234').toString('hex'));
    expect(parseHello(b)).toMatchObject({ version: 2, pid: 'ABCD1234' });
  });

  it('rejects what MeshCentral rejects, with a coded error', () => {
    const good = samples[0]!;
    const cases: Array<[string, Buffer]> = [
      ['short', good.subarray(0, 24)],
      ['admin flag 2', Buffer.concat([Buffer.from([2, 0]), good.subarray(2)])],
      ['version 4', Buffer.concat([good.subarray(0, 2), Buffer.from([4, 0]), good.subarray(4)])],
      ['truncated hash', good.subarray(0, good.length - 1)],
      ['trailing byte', Buffer.concat([good, Buffer.from([0])])],
      ['bad hash type', Buffer.concat([good.subarray(0, 25), Buffer.from([9]), good.subarray(26)])],
    ];
    for (const [name, bytes] of cases) {
      expect(() => parseHello(bytes), name).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
    }
  });
});
