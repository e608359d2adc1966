/**
 * PKI-CH hashes the root certificate the provisioning server SENT (reference §1.3 (b): "sends a
 * chain whose root matches a hello hash"; §5.4 (3) "chain ends in a root whose hash is …"): the
 * firmware has hashes, not a root store. node:tls, asked for the peer chain, also links issuers
 * it finds in the context's own CA store — by default Node's bundled public roots, which include
 * the very CAs (DigiCert, GoDaddy, …) on AMT's default hash list. A server that leaves its
 * public root out would then be accepted by the emulator and refused by a real PC.
 *
 * The child process trusts our test root through NODE_EXTRA_CA_CERTS (its stand-in for a public
 * root in the default store) and must still see only the two certificates that were sent.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestPki } from '../../src/pki/test-ca.js';

const dir = mkdtempSync(join(tmpdir(), 'amtemu-rootless-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('PKI-CH sees only the certificates the server sent', () => {
  it('a root known to the process CA store is not linked into the chain', async () => {
    const pki = await createTestPki({ variants: [] });
    const sent = pki.valid.chain.filter((c) => c.pem !== pki.root.pem);
    expect(sent).toHaveLength(2);
    writeFileSync(join(dir, 'root.pem'), pki.root.pem);
    writeFileSync(join(dir, 'chain.pem'), sent.map((c) => c.pem).join(''));
    writeFileSync(join(dir, 'key.pem'), pki.valid.keyPem);
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(__dirname, 'fixtures', 'peer-chain-child.ts'), join(dir, 'chain.pem'), join(dir, 'key.pem')], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: join(dir, 'root.pem') },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!)).toEqual({ seen: 2 });
  }, 40_000);
});
