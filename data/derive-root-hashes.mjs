#!/usr/bin/env node
// Derives data/root-hashes.json — the emulator's factory trusted-root hash catalogue — from real
// root certificates. See data/README-root-hashes.md for the why and for the exact commands.
//
// Usage: node data/derive-root-hashes.mjs <certifi-git-dir> > data/root-hashes.json
//   <certifi-git-dir>: a clone (bare is fine) of github.com/certifi/python-certifi; its history
//   still holds the roots Mozilla (and so Debian) has since retired (VeriSign, GTE, Cybertrust).
// Reads: /usr/share/ca-certificates/mozilla/*.crt (Debian ca-certificates),
//        node_modules/meshcentral/amtprovisioningserver.js (captured hello samples).
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';

const certifiDir = process.argv[2];
if (!certifiDir) {
  process.stderr.write('usage: node data/derive-root-hashes.mjs <certifi-git-dir>\n');
  process.exit(2);
}
const DEBIAN_DIR = '/usr/share/ca-certificates/mozilla';
const debianVersion = execFileSync('dpkg-query', ['-W', '-f=${Version}', 'ca-certificates']).toString();

/**
 * The roots we look for. `name` is the firmware's friendly name (≤ 32 bytes) where a firmware
 * dump shows it (reference §4.1, ME 8.0 dump list), else a short form of the subject CN.
 * `debian` names the .crt in Debian's package; `certifi` gives a certifi commit whose
 * certifi/cacert.pem still holds the root plus a subject substring (and, for the two VeriSign
 * G1 variants that share a subject, the signature algorithm) to pick it out.
 */
const ROOTS = [
  { name: 'VeriSign Class 3 Primary CA-G1', certifi: ['cf0cca9ec3299b28ae7f3b299f2ce5238f6eb312', 'OU=Class 3 Public Primary Certification Authority\n', 'md2WithRSAEncryption'] },
  { name: 'VeriSign Class 3 Primary CA-G1.5', certifi: ['cf0cca9ec3299b28ae7f3b299f2ce5238f6eb312', 'OU=Class 3 Public Primary Certification Authority\n', 'sha1WithRSAEncryption'] },
  { name: 'VeriSign Class 3 Primary CA-G2', certifi: ['cf0cca9ec3299b28ae7f3b299f2ce5238f6eb312', 'OU=Class 3 Public Primary Certification Authority - G2'] },
  { name: 'VeriSign Class 3 Primary CA-G3', certifi: ['341e59d1fb3d526d3e7f2b63de3ffb7ba1d1d74b', 'CN=VeriSign Class 3 Public Primary Certification Authority - G3'] },
  { name: 'VeriSign Class 3 Primary CA-G5', certifi: ['015cba9d2492a4cddaf5efe40666c18a2b259c93', 'CN=VeriSign Class 3 Public Primary Certification Authority - G5'] },
  { name: 'VeriSign Universal Root CA', certifi: ['45a64658872a94a83c4b70fce02a96f0f29895e6', 'CN=VeriSign Universal Root Certification Authority'] },
  { name: 'GTE CyberTrust Global Root', certifi: ['cf0cca9ec3299b28ae7f3b299f2ce5238f6eb312', 'CN=GTE CyberTrust Global Root'] },
  { name: 'Cybertrust Global Root', certifi: ['8effc0d8fd3e14e3db1f04c915246b82bb8c6107', 'CN=Cybertrust Global Root'] },
  { name: 'Go Daddy Class 2 CA', debian: 'Go_Daddy_Class_2_CA.crt' },
  { name: 'Go Daddy Root CA-G2', debian: 'Go_Daddy_Root_Certificate_Authority_-_G2.crt' },
  { name: 'Starfield Class 2 CA', debian: 'Starfield_Class_2_CA.crt' },
  { name: 'Starfield Root CA-G2', debian: 'Starfield_Root_Certificate_Authority_-_G2.crt' },
  { name: 'Comodo AAA CA', debian: 'Comodo_AAA_Services_root.crt' },
  { name: 'Baltimore CyberTrust Root', debian: 'Baltimore_CyberTrust_Root.crt' },
  { name: 'Entrust.net CA (2048)', debian: 'Entrust.net_Premium_2048_Secure_Server_CA.crt' },
  { name: 'Entrust Root CA', debian: 'Entrust_Root_Certification_Authority.crt' },
  { name: 'Entrust Root CA-G2', debian: 'Entrust_Root_Certification_Authority_-_G2.crt' },
  { name: 'AffirmTrust Premium', debian: 'AffirmTrust_Premium.crt' },
  { name: 'DigiCert Global Root CA', debian: 'DigiCert_Global_Root_CA.crt' },
  { name: 'DigiCert Global Root G2', debian: 'DigiCert_Global_Root_G2.crt' },
  { name: 'DigiCert Global Root G3', debian: 'DigiCert_Global_Root_G3.crt' },
  { name: 'DigiCert Trusted Root G4', debian: 'DigiCert_Trusted_Root_G4.crt' },
  { name: 'GlobalSign Root CA-R3', debian: 'GlobalSign_Root_CA_-_R3.crt' },
  { name: 'GlobalSign ECC Root CA-R5', debian: 'GlobalSign_ECC_Root_CA_-_R5.crt' },
  { name: 'GlobalSign Root CA-R6', debian: 'GlobalSign_Root_CA_-_R6.crt' },
];

/**
 * SHA-256 values a real device reported but that no certificate we hold hashes to. Kept because
 * they are what real firmware sends; named by elimination where the evidence allows it.
 */
const UNMATCHED = {
  '68ad50909b04363c605ef13581a939ff2c96372e3f12325b0a6861e1d59f6603': {
    name: 'Verizon Global',
    note: 'Name inferred: the ME 8.0 dump names 15 roots (reference §4.1); 14 match certificates in the AMT 11.8 list, this hash is the remaining one and "Verizon Global" the remaining name. No certificate found (never in Mozilla\'s store).',
  },
};

/** SHA-1 hashes the reference (§4.1, Intel community 2010 blog) lists as legacy defaults: prefix…suffix. */
const REFERENCE_SHA1 = {
  'VeriSign Class 3 Primary CA-G1': ['742c3192', '3e6174e2'],
  'VeriSign Class 3 Primary CA-G1.5': ['a1db6393', '40b0ae6b'],
  'VeriSign Class 3 Primary CA-G2': ['85371ca6', 'e8f8770f'],
  'VeriSign Class 3 Primary CA-G3': ['132d0d45', '609b5cc6'],
  'VeriSign Class 3 Primary CA-G5': ['4eb6d578', '6744a5e5'],
  'Go Daddy Class 2 CA': ['2796bae6', '8f20eee4'],
  'Comodo AAA CA': ['d1eb23a4', '64d8e349'],
  'Starfield Class 2 CA': ['ad7e1c28', '370eb58a'],
};

/**
 * certHashes of an AMT 11.8.50 device, from Intel's RPS test suite
 * (device-management-toolkit/rps src/Validator.test.ts, activation payload `ver: '11.8.50'`;
 * the same list appears in the rpstester README with ver 11.8.55).
 */
const RPS_AMT11_LIST = [
  'e7685634efacf69ace939a6b255b7b4fabef42935b50a265acb5cb6027e44e70', 'eb04cf5eb1f39afa762f2bb120f296cba520c1b97db1589565b81cb9a17b7244',
  'c3846bf24b9e93ca64274c0ec67c1ecc5e024ffcacd2d74019350e81fe546ae4', 'd7a7a0fb5d7e2731d771e9484ebcdef71d5f0c3e0a2948782bc83ee0ea699ef4',
  '1465fa205397b876faa6f0a9958e5590e40fcc7faa4fb7c2c8677521fb5fb658', '83ce3c1229688a593d485f81973c0f9195431eda37cc5e36430e79c7a888638b',
  'a4b6b3996fc2f306b3fd8681bd63413d8c5009cc4fa329c2ccf0e2fa1b140305', '9acfab7e43c8d880d06b262a94deeee4b4659989c3d0caf19baf6405e41ab7df',
  'a53125188d2110aa964b02c7b7c6da3203170894e5fb71fffb6667d5e6810a36', '16af57a9f676b0ab126095aa5ebadef22ab31119d644ac95cd4b93dbf3f26aeb',
  '960adf0063e96356750c2965dd0a0867da0b9cbd6e77714aeafb2349ab393da3', '68ad50909b04363c605ef13581a939ff2c96372e3f12325b0a6861e1d59f6603',
  '6dc47172e01cbcb0bf62580d895fe2b8ac9ad4f873801e0c10b9c837d21eb177', '73c176434f1bc6d5adf45b0e76e727287c8de57616c1e6e6141a2b2cbc7d8e4c',
  '2399561127a57125de8cefea610ddf2fa078b5c8067f4e828290bfb860e84b3c', '45140b3247eb9cc8c5b4f0d7b53091f73292089e6e5a63e2749dd3aca9198eda',
  '43df5774b03e7fef5fe40d931a7bedf1bb2e6b42738c4e6d3841103d3aa7f339', '2ce1cb0bf9d2f9e102993fbe215152c3b2dd0cabde1c68e5319b839154dbb7f5',
  '70a73f7f376b60074248904534b11482d5bf0e698ecc498df52577ebf2e93b9a',
];

/** Parses MeshCentral's captured hellos (reference §1.2 layout) into ordered hash lists. */
function meshCentralSamples() {
  const src = fs.readFileSync('node_modules/meshcentral/amtprovisioningserver.js', 'utf8');
  const lists = [];
  for (const m of src.matchAll(/Buffer\.from\('([0-9a-f]+)', 'hex'\)/g)) {
    const b = Buffer.from(m[1], 'hex');
    if (b.length < 25 || b.readUInt16LE(2) !== 3) continue;
    const n = b[24];
    const list = [];
    let o = 25;
    for (let i = 0; i < n; i++) {
      const type = b[o];
      const size = b[o + 1];
      list.push({ algorithm: ({ 1: 'SHA1', 2: 'SHA256', 3: 'SHA384' })[type], hash: b.subarray(o + 2, o + 2 + size).toString('hex') });
      o += 2 + size;
    }
    if (o !== b.length) throw new Error('hello sample does not parse to its full length');
    lists.push(list);
  }
  return lists;
}

function certFromCertifi([commit, subjectPart, sigAlg]) {
  const pem = execFileSync('git', ['-C', certifiDir, 'show', `${commit}:certifi/cacert.pem`], { maxBuffer: 1e8 }).toString();
  const hits = [];
  for (const m of pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)) {
    const x = new crypto.X509Certificate(m[0]);
    if (!(x.subject + '\n').includes(subjectPart)) continue;
    if (sigAlg && !sigAlgOf(m[0]).includes(sigAlg)) continue;
    hits.push(x);
  }
  if (hits.length !== 1) throw new Error(`${subjectPart.trim()} ${sigAlg ?? ''}: ${hits.length} matches in certifi ${commit}`);
  return hits[0];
}

function sigAlgOf(pem) {
  return execFileSync('openssl', ['x509', '-noout', '-text'], { input: pem }).toString().match(/Signature Algorithm: (\S+)/)[1];
}

const digest = (alg, der) => crypto.createHash(alg).update(der).digest('hex');

const samples = meshCentralSamples();
const sampleSet = new Set(samples.flat().map((e) => e.hash));
const rpsSet = new Set(RPS_AMT11_LIST);

const roots = [];
for (const r of ROOTS) {
  if (Buffer.byteLength(r.name) > 32) throw new Error(`name over 32 bytes: ${r.name}`);
  const cert = r.debian ? new crypto.X509Certificate(fs.readFileSync(`${DEBIAN_DIR}/${r.debian}`)) : certFromCertifi(r.certifi);
  const source = r.debian
    ? `debian ca-certificates ${debianVersion}: ${DEBIAN_DIR}/${r.debian}`
    : `github.com/certifi/python-certifi ${r.certifi[0]}: certifi/cacert.pem`;
  const subject = cert.subject.replace(/\n/g, ', ');
  for (const [algorithm, nodeAlg] of [['SHA256', 'sha256'], ['SHA1', 'sha1'], ['SHA384', 'sha384']]) {
    const hash = digest(nodeAlg, cert.raw);
    roots.push({
      name: r.name, algorithm, hash, subject, source,
      seenInMeshCentralSample: sampleSet.has(hash),
      seenInRpsAmt11List: rpsSet.has(hash),
    });
  }
  const ref = REFERENCE_SHA1[r.name];
  if (ref) {
    const sha1 = digest('sha1', cert.raw);
    if (!sha1.startsWith(ref[0]) || !sha1.endsWith(ref[1])) throw new Error(`${r.name}: SHA-1 ${sha1} disagrees with reference ${ref.join('…')}`);
  }
}

const known = new Set(roots.map((e) => e.hash));
const allSampled = [...new Set([...samples.flat().map((e) => e.hash), ...RPS_AMT11_LIST])];
let unknownIndex = 0;
for (const hash of allSampled) {
  if (known.has(hash)) continue;
  const u = UNMATCHED[hash];
  roots.push({
    name: u ? u.name : `Unidentified root ${hash.slice(0, 8)}`,
    algorithm: 'SHA256', hash, subject: null,
    source: u ? `device-reported hash; ${u.note}` : 'device-reported hash only (MeshCentral hello sample); no certificate in Debian ca-certificates, certifi history or node:tls root store hashes to it',
    seenInMeshCentralSample: sampleSet.has(hash),
    seenInRpsAmt11List: rpsSet.has(hash),
  });
  unknownIndex++;
}

const byHash = new Map(roots.map((e) => [e.hash, e]));
const sha1Of = (name) => roots.find((e) => e.name === name && e.algorithm === 'SHA1').hash;
const [sampleA, sampleB] = [samples[0], samples[1]].map((l) => l.map((e) => e.hash));
for (const h of [...sampleA, ...sampleB, ...RPS_AMT11_LIST]) if (!byHash.has(h)) throw new Error(`unresolved ${h}`);

// Factory tables per profile, in firmware order (the order a hello lists them). Choices are
// explained in data/README-root-hashes.md.
const legacySha1 = ['VeriSign Class 3 Primary CA-G1', 'VeriSign Class 3 Primary CA-G2', 'VeriSign Class 3 Primary CA-G3',
  'Go Daddy Class 2 CA', 'Comodo AAA CA', 'Starfield Class 2 CA'].map(sha1Of);
const defaultTables = {
  amt3: legacySha1,
  amt6: legacySha1,
  amt11: RPS_AMT11_LIST,
  amt12: RPS_AMT11_LIST,
  amt15: sampleA,
  amt16: sampleB,
  amt19: sampleB,
};

const out = {
  format: 'amtemu-root-hashes/1',
  derivedBy: 'node data/derive-root-hashes.mjs <certifi-git-dir> (see data/README-root-hashes.md)',
  roots,
  defaultTables,
};
process.stdout.write(JSON.stringify(out, null, 2) + '\n');
process.stderr.write(`roots: ${roots.length} entries (${unknownIndex} device-reported only); samples: ${samples.map((s) => s.length).join(', ')}\n`);
