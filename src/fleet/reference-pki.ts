/**
 * The built-in provisioning server's PKI and hello port, kept in a fleet's data directory.
 *
 * The PCs' NVRAM remembers which root they trust and which port they say hello to (reference
 * §1.1, §4.1). A built-in server with a new test root on every start would leave every restarted
 * PC answering HASH_NOT_TRUSTED; one on a new free port (--hello-port 0) would never hear their
 * hellos. So with a data directory the root, intermediate, leaf and leaf key are made once and
 * loaded on every later start, and the port the server last listened on is remembered so the
 * PCs that pointed at it can follow it (fleet-runner.ts).
 *
 * One JSON file, mode 0600 (it holds the leaf's private key), replaced atomically (temp file,
 * fsync, rename). A damaged file is an error naming the file; it is never silently replaced,
 * because the PCs trust what is in it.
 */
import { writeFileDurably } from '../common/durable-write.js';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_EPOCH } from '../clock/clock.js';
import { AmtError } from '../common/errors.js';
import { certHashes } from '../pki/hashes.js';
import { createTestPki, type TestCert, type TestPki } from '../pki/test-ca.js';

export const REFERENCE_PKI_FILE = 'builtin-provisioning-server.json';
const FORMAT = 'amtemu-builtin-provisioning-server/1';

interface StoredCert {
  pem: string;
  cn: string;
  serialHex: string;
}

interface StoredServer {
  format: typeof FORMAT;
  fqdn: string;
  root: StoredCert;
  intermediate: StoredCert;
  leaf: StoredCert;
  /** PKCS#8 PEM of the leaf key. */
  keyPem: string;
  /** The port the server listened on when it last started (PCs that say hello there follow it). */
  helloPort?: number;
}

export interface StoredReferencePki {
  pki: TestPki;
  file: string;
  /** True when this start made the PKI (no file before). */
  created: boolean;
  /** The hello port of the previous start, when known. */
  previousHelloPort: number | undefined;
  /** Remember the port this start listens on. */
  rememberHelloPort(port: number): void;
}

const damaged = (file: string, why: string): AmtError =>
  new AmtError('NVRAM_CORRUPT', `${file}: ${why} (the built-in provisioning server's PKI; remove the file to make a new root, which the PCs in this data directory will then be told to trust)`, { file });

function parseCert(file: string, field: string, v: unknown): { cert: TestCert; x509: X509Certificate } {
  const o = v as Partial<StoredCert> | null;
  if (typeof o !== 'object' || o === null || typeof o.pem !== 'string' || typeof o.cn !== 'string' || typeof o.serialHex !== 'string') {
    throw damaged(file, `field /${field} must be an object with pem, cn and serialHex`);
  }
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(o.pem);
  } catch (e) {
    throw damaged(file, `field /${field}/pem is not a certificate: ${(e as Error).message}`);
  }
  return { cert: { pem: o.pem, der: Buffer.from(x509.raw), cn: o.cn, serialHex: o.serialHex }, x509 };
}

/** Reads and checks the stored server: the chain must verify and the key must be the leaf's. */
export function loadReferencePki(file: string): { pki: TestPki; helloPort: number | undefined } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new AmtError('NVRAM_IO', `${file}: cannot read: ${(e as Error).message}`, { file });
  }
  let v: Partial<StoredServer>;
  try {
    v = JSON.parse(text) as Partial<StoredServer>;
  } catch (e) {
    throw damaged(file, `not JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || v.format !== FORMAT) throw damaged(file, `field /format must be "${FORMAT}"`);
  if (typeof v.fqdn !== 'string' || !v.fqdn.includes('.')) throw damaged(file, 'field /fqdn must be the server FQDN');
  if (typeof v.keyPem !== 'string') throw damaged(file, 'field /keyPem must be a PEM private key');
  if (v.helloPort !== undefined && !(Number.isInteger(v.helloPort) && v.helloPort >= 1 && v.helloPort <= 65535)) {
    throw damaged(file, 'field /helloPort must be a port 1-65535');
  }
  const root = parseCert(file, 'root', v.root);
  const intermediate = parseCert(file, 'intermediate', v.intermediate);
  const leaf = parseCert(file, 'leaf', v.leaf);
  if (!intermediate.x509.verify(root.x509.publicKey)) throw damaged(file, 'the intermediate is not signed by the root');
  if (!leaf.x509.verify(intermediate.x509.publicKey)) throw damaged(file, 'the leaf is not signed by the intermediate');
  try {
    if (!leaf.x509.checkPrivateKey(createPrivateKey(v.keyPem))) throw damaged(file, 'field /keyPem is not the leaf certificate\'s key');
  } catch (e) {
    if (e instanceof AmtError) throw e;
    throw damaged(file, `field /keyPem is not a PEM private key: ${(e as Error).message}`);
  }
  const chain = [leaf.cert, intermediate.cert, root.cert];
  const rootHashes = certHashes(root.cert.der);
  const fqdn = v.fqdn;
  return {
    pki: {
      fqdn,
      domain: fqdn.slice(fqdn.indexOf('.') + 1),
      root: root.cert,
      intermediate: intermediate.cert,
      rootHashes,
      valid: { variant: 'valid', leaf: leaf.cert, keyPem: v.keyPem, chain, chainPem: chain.map((c) => c.pem).join(''), root: root.cert, rootHashes },
      variants: {},
    },
    helloPort: v.helloPort,
  };
}

function stored(pki: TestPki, helloPort: number | undefined): StoredServer {
  const c = (t: TestCert): StoredCert => ({ pem: t.pem, cn: t.cn, serialHex: t.serialHex });
  return {
    format: FORMAT,
    fqdn: pki.fqdn,
    root: c(pki.root),
    intermediate: c(pki.intermediate),
    leaf: c(pki.valid.leaf),
    keyPem: pki.valid.keyPem,
    ...(helloPort !== undefined ? { helloPort } : {}),
  };
}

/** Temp file, fsync, rename: a reader (the next start) sees the old file or the new one. */
function writeAtomically(file: string, data: StoredServer): void {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    writeFileDurably(file, JSON.stringify(data, null, 2) + '\n', `${file}.tmp-${process.pid}`);
  } catch (e) {
    throw new AmtError('NVRAM_IO', `${file}: cannot write: ${(e as Error).message}`, { file });
  }
}

/**
 * The built-in server's PKI for this data directory: loaded when the file exists, else made
 * (valid chain only: the fleet needs no broken variants) and written. A file for another FQDN
 * (the fleet's --domain changed) or whose leaf has expired is refused, naming the file.
 */
export async function referencePkiIn(dataDir: string, fqdn: string, now: Date): Promise<StoredReferencePki> {
  const file = path.join(dataDir, REFERENCE_PKI_FILE);
  const want = fqdn.toLowerCase().replace(/\.$/, '');
  let pki: TestPki;
  let previousHelloPort: number | undefined;
  let created = false;
  if (fs.existsSync(file)) {
    const loaded = loadReferencePki(file);
    if (loaded.pki.fqdn !== want) {
      throw new AmtError('BAD_INPUT', `${file}: the built-in provisioning server here is ${loaded.pki.fqdn}, this fleet wants ${want} (another --domain?); use that domain, another --data-dir, or remove the file to make a new PKI`, { file });
    }
    const leaf = new X509Certificate(loaded.pki.valid.leaf.pem);
    const notBefore = new Date(leaf.validFrom);
    const notAfter = new Date(leaf.validTo);
    if (notAfter.getTime() <= now.getTime()) {
      throw new AmtError('CERT_EXPIRED', `${file}: the built-in provisioning server's certificate expired on ${notAfter.toISOString()}; remove the file to make a new PKI`, { file });
    }
    if (notBefore.getTime() > now.getTime()) {
      throw new AmtError('CERT_NOT_YET_VALID', `${file}: the built-in provisioning server's certificate is valid only from ${notBefore.toISOString()}, the fleet's clock says ${now.toISOString()}; remove the file to make a new PKI`, { file });
    }
    pki = loaded.pki;
    previousHelloPort = loaded.helloPort;
  } else {
    // Valid from a day before the earlier of now and the virtual clock's epoch: the same data
    // directory may next run in virtual time (dated DEFAULT_EPOCH) or in scaled wall time.
    const from = now.getTime() - DEFAULT_EPOCH < 700 * 86_400_000 ? Math.min(now.getTime(), DEFAULT_EPOCH) : now.getTime();
    pki = await createTestPki({ fqdn: want, now: new Date(from), variants: [] });
    writeAtomically(file, stored(pki, undefined));
    created = true;
  }
  return {
    pki,
    file,
    created,
    previousHelloPort,
    rememberHelloPort: (port) => {
      if (port !== previousHelloPort) writeAtomically(file, stored(pki, port));
    },
  };
}
