// Writes the setup.bin fixtures the usb-setup-*.yaml scenarios use, with MeshCentral's own
// setup.bin writer (node_modules/meshcentral/amt/amt-setupbin.js, the writer behind its
// "Download setup.bin"; records built as certoperations.js GetBareMetalSetupBinFile does), the
// same writer test/interop/meshcentral-setupbin.test.ts checks our parser against.
//
//   node scenarios/files/make-setup-bins.mjs      (from the repository root; output is deterministic)
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const stack = require('meshcentral/amt/amt-setupbin.js')();
const here = dirname(fileURLToPath(import.meta.url));

// A made-up corporate root (SHA-256 of nothing real): the key adds it as a custom trusted hash.
const CORP_ROOT_SHA256 = 'c0ffee00'.repeat(8);
const v = (moduleid, varid, value) => ({ moduleid, varid, length: -1, value });

/** One PC's record: MEBx 'admin' → its own password, PKI DNS suffix, corp root, host name, Start. */
function record(newPassword, hostname) {
  const hash = String.fromCharCode(2) + Buffer.from(CORP_ROOT_SHA256, 'hex').toString('binary') + String.fromCharCode('Corp Root'.length) + 'Corp Root';
  return {
    typeIdentifier: 1,
    flags: 3, // valid + scrambled, as SCS writes multi-PC keys
    chunkCount: 0, headerByteCount: 0, number: 0,
    variables: [v(1, 1, 'admin'), v(1, 2, newPassword), v(2, 3, 'corp.example.test'), v(2, 8, hash), v(2, 11, hostname), v(2, 28, 1)],
  };
}

const bin = stack.AmtSetupBinCreate(3, 0); // version 3, flags 0: each PC consumes its record
bin.records.push(record('Usb!Pc1pass', 'floor1-pc01'), record('Usb!Pc2pass', 'floor1-pc02'));
const good = Buffer.from(stack.AmtSetupBinEncode(bin), 'latin1');
writeFileSync(join(here, 'usb-two-pcs.bin'), good);

// Damaged copies: a key pulled out mid-write (700 of 1536 bytes) and one whose file-type GUID
// lost a byte (not a setup.bin any more).
writeFileSync(join(here, 'usb-truncated.bin'), good.subarray(0, 700));
const badGuid = Buffer.from(good);
badGuid[0] ^= 0xff;
writeFileSync(join(here, 'usb-bad-guid.bin'), badGuid);
console.log(`wrote usb-two-pcs.bin (${good.length} bytes), usb-truncated.bin (700), usb-bad-guid.bin (${badGuid.length})`);
