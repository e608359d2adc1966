/**
 * The built-in provisioning server's PKI kept in a data directory (src/fleet/reference-pki.ts):
 * made once, loaded the same next time, a damaged or foreign file refused with one line naming
 * the file; and a stored PC brought in line with the server that runs now (alignWithReference).
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { alignWithReference } from '../../src/fleet/fleet-runner.js';
import { REFERENCE_PKI_FILE, referencePkiIn } from '../../src/fleet/reference-pki.js';
import { REFERENCE_ROOT_NAME, type ReferenceServer } from '../../src/fleet/reference-server.js';
import { createFactoryImage } from '../../src/nvram/defaults.js';
import { addHash } from '../../src/nvram/hash-table.js';
import { getProfile } from '../../src/nvram/profiles.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'amtemu-refpki-'));
  dirs.push(d);
  return d;
};
const NOW = new Date('2026-03-01T12:00:00Z');

describe('built-in provisioning server PKI in the data directory', () => {
  it('is made once (0600), then loaded with the same root, chain and key; the hello port is remembered', async () => {
    const dir = tempDir();
    const a = await referencePkiIn(dir, 'rcs.corp.example.test', NOW);
    expect(a.created).toBe(true);
    expect(a.previousHelloPort).toBeUndefined();
    expect(statSync(a.file).mode & 0o777).toBe(0o600);
    a.rememberHelloPort(41234);
    const b = await referencePkiIn(dir, 'RCS.corp.example.test.', NOW);
    expect(b.created).toBe(false);
    expect(b.previousHelloPort).toBe(41234);
    expect(b.pki.rootHashes).toEqual(a.pki.rootHashes);
    expect(b.pki.valid.chainPem).toBe(a.pki.valid.chainPem);
    expect(b.pki.valid.keyPem).toBe(a.pki.valid.keyPem);
    expect(b.pki.valid.leaf.der.equals(a.pki.valid.leaf.der)).toBe(true);
    expect(b.pki.valid.chain.map((c) => c.cn)).toEqual(['rcs.corp.example.test', 'amtemu Test Intermediate CA', 'amtemu Test Root CA']);
  });

  it('refuses a damaged file, a key that is not the leaf\'s, and a file for another FQDN, naming the file in one line', async () => {
    const dir = tempDir();
    const made = await referencePkiIn(dir, 'rcs.corp.example.test', NOW);
    const file = join(dir, REFERENCE_PKI_FILE);
    const good = readFileSync(file, 'utf8');
    const oneLine = (re: RegExp) => expect.objectContaining({ message: expect.stringMatching(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: ${re.source}[^\\n]*$`)) });

    writeFileSync(file, good.slice(0, 200));
    await expect(referencePkiIn(dir, 'rcs.corp.example.test', NOW)).rejects.toEqual(oneLine(/not JSON/));
    await expect(referencePkiIn(dir, 'rcs.corp.example.test', NOW)).rejects.toMatchObject({ code: 'NVRAM_CORRUPT' });

    const other = await referencePkiIn(tempDir(), 'rcs.corp.example.test', NOW);
    writeFileSync(file, JSON.stringify({ ...JSON.parse(good), keyPem: other.pki.valid.keyPem }));
    await expect(referencePkiIn(dir, 'rcs.corp.example.test', NOW)).rejects.toEqual(oneLine(/field \/keyPem is not the leaf certificate's key/));

    writeFileSync(file, JSON.stringify({ ...JSON.parse(good), intermediate: { ...JSON.parse(good).intermediate, pem: other.pki.intermediate.pem } }));
    await expect(referencePkiIn(dir, 'rcs.corp.example.test', NOW)).rejects.toEqual(oneLine(/the intermediate is not signed by the root/));

    writeFileSync(file, JSON.stringify({ ...JSON.parse(good), root: { pem: 'x', cn: 'r', serialHex: '01' } }));
    await expect(referencePkiIn(dir, 'rcs.corp.example.test', NOW)).rejects.toEqual(oneLine(/field \/root\/pem is not a certificate/));

    writeFileSync(file, good);
    await expect(referencePkiIn(dir, 'rcs.other.example.test', NOW)).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringContaining('the built-in provisioning server here is rcs.corp.example.test, this fleet wants rcs.other.example.test'),
    });
    // Nothing was replaced on the way.
    expect(readFileSync(file, 'utf8')).toBe(good);
    expect((await referencePkiIn(dir, 'rcs.corp.example.test', NOW)).pki.rootHashes).toEqual(made.pki.rootHashes);
  });

  it('a stored PC follows the server to its new port and to a new root, unless set otherwise on purpose', async () => {
    const { pki } = await referencePkiIn(tempDir(), 'rcs.corp.example.test', NOW);
    const reference = { pki, helloPort: 40002 } as ReferenceServer;
    const oldRoot = 'ab'.repeat(32);
    const stored = () => {
      const img = createFactoryImage({ deviceId: 'pc1', seed: 'align' });
      img.setup.provisioningServer.port = 40001;
      img.certHashes = addHash(img.certHashes, getProfile(img.firmware.profile), { name: REFERENCE_ROOT_NAME, algorithm: 'SHA256', hash: oldRoot });
      return img;
    };
    const img = stored();
    expect(alignWithReference(img, {}, reference, 40001)).toEqual({
      helloPort: { from: 40001, to: 40002 },
      trustedRoot: { name: REFERENCE_ROOT_NAME, from: oldRoot, to: pki.rootHashes.sha256 },
    });
    expect(img.setup.provisioningServer.port).toBe(40002);
    expect(img.certHashes.find((h) => h.name === REFERENCE_ROOT_NAME)).toMatchObject({ hash: pki.rootHashes.sha256, isActive: true });
    expect(alignWithReference(img, {}, reference, 40001)).toBeUndefined();

    // A port set on purpose (not the server's last one), or given by the fleet file, stays.
    const own = stored();
    own.setup.provisioningServer.port = 9;
    expect(alignWithReference(own, {}, reference, 40001)).not.toHaveProperty('helloPort');
    expect(own.setup.provisioningServer.port).toBe(9);
    const filePort = stored();
    expect(alignWithReference(filePort, { helloPort: 40001 }, reference, 40001)).not.toHaveProperty('helloPort');
    // A deactivated entry is updated but stays deactivated; a removed one is not brought back.
    const off = stored();
    off.certHashes = off.certHashes.map((h) => (h.name === REFERENCE_ROOT_NAME ? { ...h, isActive: false } : h));
    alignWithReference(off, {}, reference, undefined);
    expect(off.certHashes.find((h) => h.name === REFERENCE_ROOT_NAME)).toMatchObject({ hash: pki.rootHashes.sha256, isActive: false });
    const gone = createFactoryImage({ deviceId: 'pc1', seed: 'align' });
    expect(alignWithReference(gone, {}, reference, undefined)).toBeUndefined();
  });
});
