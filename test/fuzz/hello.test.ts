/** Fuzz: hello packets (reference §2.3; MeshCentral parseHelloData rules) — src/device/hello.ts. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AmtError } from '../../src/common/errors.js';
import { encodeHelloV2, encodeHelloV3, parseHello } from '../../src/device/hello.js';
import type { HashAlgorithm } from '../../src/nvram/image.js';
import { coded, mutatedBytes, params, report, RUNS, timed } from './harness.js';

const LEN: Record<HashAlgorithm, number> = { SHA1: 20, SHA256: 32, SHA384: 48 };
const hashEntry = fc.constantFrom<HashAlgorithm>('SHA1', 'SHA256', 'SHA384').chain((algorithm) =>
  fc.uint8Array({ minLength: LEN[algorithm], maxLength: LEN[algorithm] }).map((b) => ({ algorithm, hash: Buffer.from(b).toString('hex') })),
);
const v3Fields = fc.record({
  adminCredentialsSet: fc.boolean(),
  retryCount: fc.integer({ min: 0, max: 14 }),
  uuid: fc.uuid({ version: [1, 2, 3, 4, 5] }),
  hashes: fc.array(hashEntry, { maxLength: 24 }),
});
const v3 = v3Fields.map((f) => encodeHelloV3(f));

describe('fuzz: hello packets', () => {
  it('random bytes: parses or throws BAD_INPUT', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1200 }), (bytes) => {
        const r = timed('hello random', () => coded(() => parseHello(Buffer.from(bytes)), ['BAD_INPUT']));
        if (!(r instanceof AmtError)) expect([2, 3]).toContain(r.version);
      }),
      params(),
    );
    report('hello random', RUNS);
  });

  it('mutated valid v3 hellos: parses or throws BAD_INPUT', () => {
    fc.assert(
      fc.property(mutatedBytes(v3), (bytes) => {
        timed('hello mutated', () => coded(() => parseHello(bytes), ['BAD_INPUT']));
      }),
      params(),
    );
    report('hello mutated', RUNS);
  });

  it('round trip: encode v3 → parse gives the same fields', () => {
    fc.assert(
      fc.property(v3Fields, (f) => {
        const p = parseHello(encodeHelloV3(f));
        expect(p).toEqual({ version: 3, ...f });
      }),
      params(RUNS / 2),
    );
  });

  it('round trip: encode v2 (PSK) → parse gives the same fields', () => {
    fc.assert(
      fc.property(
        fc.record({
          adminCredentialsSet: fc.boolean(),
          retryCount: fc.integer({ min: 0, max: 14 }),
          uuid: fc.uuid({ version: [4] }),
          pid: fc.stringMatching(/^[A-Z0-9]{8}$/),
        }),
        (f) => {
          expect(parseHello(encodeHelloV2(f))).toEqual({ version: 2, ...f });
        },
      ),
      params(RUNS / 2),
    );
  });
});
