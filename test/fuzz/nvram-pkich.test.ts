/**
 * Fuzz: NVRAM image files (src/nvram/schema.ts parseImage) and PKI-CH setup chains
 * (src/device/pkich.ts validateSetupChain) with random and mutated DER. A damaged image is
 * NVRAM_CORRUPT or NVRAM_INVALID naming the file; a hostile chain is a Result with a reason code.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { AmtError } from '../../src/common/errors.js';
import { validateSetupChain, type PkiChCode } from '../../src/device/pkich.js';
import { createFactoryImage } from '../../src/nvram/defaults.js';
import { parseImage } from '../../src/nvram/schema.js';
import { getProfile } from '../../src/nvram/profiles.js';
import { createTestPki, type TestPki } from '../../src/pki/test-ca.js';
import { coded, mutatedBytes, mutatedText, params, report, RUNS, timed } from './harness.js';

const FILE = '/data/nvram/pc7.json';
const image = fc.tuple(fc.stringMatching(/^[a-z0-9]{1,12}$/), fc.constantFrom('amt11', 'amt12', 'amt16', 'amt19' as const)).map(([id, profile]) => createFactoryImage({ deviceId: id, seed: 'fuzz', profile }));
const imageText = image.map((img) => JSON.stringify(img, null, 2));

/** Replace the value at a random path of the image with a random JSON value. */
function setRandom(obj: unknown, path: number[], value: unknown): unknown {
  if (path.length === 0 || typeof obj !== 'object' || obj === null) return value;
  const keys = Object.keys(obj);
  if (keys.length === 0) return value;
  const k = keys[path[0]! % keys.length]!;
  (obj as Record<string, unknown>)[k] = setRandom((obj as Record<string, unknown>)[k], path.slice(1), value);
  return obj;
}

describe('fuzz: NVRAM image files', () => {
  it('random text, byte-damaged and truncated images: NVRAM_CORRUPT/NVRAM_INVALID naming the file', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), mutatedText(imageText)), (text) => {
        const r = timed('nvram damaged', () => coded(() => parseImage(text, FILE), ['NVRAM_CORRUPT', 'NVRAM_INVALID']));
        if (r instanceof AmtError) {
          expect(r.message.startsWith(`${FILE}:`)).toBe(true);
          expect(r.detail?.['file']).toBe(FILE);
        }
      }),
      params(),
    );
    report('nvram damaged', RUNS);
  });

  it('well-formed JSON with a random field replaced: valid or NVRAM_INVALID with a JSON pointer', () => {
    fc.assert(
      fc.property(image, fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), fc.jsonValue({ maxDepth: 2 }), (img, path, v) => {
        const text = JSON.stringify(setRandom(structuredClone(img), path, v));
        const r = timed('nvram field', () => coded(() => parseImage(text, FILE), ['NVRAM_INVALID']));
        if (r instanceof AmtError) expect(typeof r.detail?.['pointer']).toBe('string');
      }),
      params(RUNS / 2),
    );
    report('nvram field', RUNS / 2);
  });

  it('round trip: a factory image written as JSON parses back equal', () => {
    fc.assert(
      fc.property(image, (img) => {
        expect(parseImage(JSON.stringify(img), FILE)).toEqual(img);
      }),
      params(1000),
    );
  });
});

describe('fuzz: PKI-CH setup chain', () => {
  let pki: TestPki;
  const NOW = new Date('2025-06-01T12:00:00Z');
  beforeAll(async () => {
    pki = await createTestPki({ now: NOW, variants: ['expired', 'untrustedRoot'] });
  }, 120_000);
  const CODES: PkiChCode[] = ['NO_CLIENT_CERT', 'BAD_INPUT', 'CHAIN_TOO_LONG', 'CHAIN_INCOMPLETE', 'BAD_SIGNATURE', 'SHA1_NOT_ALLOWED', 'WEAK_KEY', 'CERT_NOT_YET_VALID', 'CERT_EXPIRED', 'NOT_SERVER_AUTH', 'MISSING_SETUP_OID_OR_OU', 'HASH_INACTIVE', 'HASH_NOT_TRUSTED', 'NO_DNS_SUFFIX', 'SUFFIX_MISMATCH'];
  // forge parses every certificate of every case: half the default keeps the suite under a minute.
  const PKICH_RUNS = RUNS / 2;

  it('random DER and mutated real chains: a Result with a reason code, never a throw; mutants never validate', () => {
    const profile = getProfile('amt16');
    const input = (chain: Buffer[]) => ({
      chain,
      hashes: [{ name: 'test root', algorithm: 'SHA256' as const, hash: pki.rootHashes.sha256, isDefault: false, isActive: true }],
      pkiDnsSuffix: '',
      dhcpDomain: 'corp.example.test',
      profile,
      now: NOW,
    });
    const real = fc.constantFrom(pki.valid, pki.variants.expired!, pki.variants.untrustedRoot!).map((c) => c.chain.map((x) => x.der));
    const mutatedChain = fc.tuple(real, fc.nat(3)).chain(([chain, which]) =>
      mutatedBytes(fc.constant(chain[which % chain.length]!)).map((m) => chain.map((c, i) => (i === which % chain.length ? m : c))),
    );
    const randomDer = fc.array(fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)), { maxLength: 4 });
    fc.assert(
      fc.property(fc.oneof(mutatedChain, randomDer, real.map((c) => [...c].reverse())), (chain) => {
        const r = timed('pkich', () => coded(() => validateSetupChain(input(chain))));
        if (r instanceof AmtError) throw new Error(`validateSetupChain threw ${r.code} instead of returning a Result`);
        if (!r.ok) expect(CODES).toContain(r.code);
        else expect(chain.map((c) => c.toString('hex'))).toEqual(pki.valid.chain.map((c) => c.der.toString('hex')).slice(0, chain.length));
      }),
      params(PKICH_RUNS),
    );
    report('pkich', PKICH_RUNS);
  });
});
