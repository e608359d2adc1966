/**
 * `amtemu pki …`: make a test PKI for provisioning (root → intermediate → Intel Client Setup
 * leaf, plus broken variants) and print the root hash to put into a device's NVRAM table.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { AmtError } from '../common/errors.js';
import { certHashes, toCertDer } from '../pki/hashes.js';
import { createTestPki, writeTestPki, TEST_PKI_VARIANTS, TEST_PFX_PASSWORD, type TestPkiVariant } from '../pki/test-ca.js';
import { RSA_KEY_BITS } from '../pki/keys.js';

export interface PkiCommandIo {
  out: (line: string) => void;
}

function parseBits(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !(RSA_KEY_BITS as readonly number[]).includes(n) || n < 2048) {
    throw new AmtError('BAD_INPUT', `--key-bits must be one of 2048, 3072, 4096 (got "${v}")`);
  }
  return n;
}

function parseVariants(list: string[] | undefined): TestPkiVariant[] {
  if (!list || list.length === 0) return [];
  const names = list.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  if (names.includes('all')) return [...TEST_PKI_VARIANTS];
  for (const n of names) {
    if (!(TEST_PKI_VARIANTS as readonly string[]).includes(n)) {
      throw new AmtError('BAD_INPUT', `unknown --variant "${n}" (known: all, ${TEST_PKI_VARIANTS.join(', ')})`);
    }
  }
  return names as TestPkiVariant[];
}

/** Files whose presence means "a test PKI lives here" (what writeTestPki writes), most telling first. */
const PKI_FILES = ['root.pem', 'leaf.key', 'chain.pem', 'intermediate.pem', 'leaf.pem', 'leaf.pfx', 'root.sha256', 'variants'] as const;

/** The first PKI file already in `dir`, if any. */
export function existingPkiFile(dir: string): string | undefined {
  for (const f of PKI_FILES) {
    const p = join(dir, f);
    if (existsSync(p)) return p;
  }
  return undefined;
}

export function registerPkiCommands(program: Command, io: PkiCommandIo = { out: (l) => process.stdout.write(l + '\n') }): void {
  const pki = program.command('pki').description('test PKI for remote configuration (Intel Client Setup certificates)');

  pki
    .command('init')
    .description('create root CA, intermediate and Client Setup leaf (plus optional broken variants) in a directory')
    .requiredOption('--out <dir>', 'output directory (created if missing)')
    .option('--fqdn <fqdn>', 'provisioning server FQDN for the leaf CN/SAN', 'prov.corp.example.test')
    .option('--variant <name...>', `extra chains under variants/: all, ${TEST_PKI_VARIANTS.join(', ')}`)
    .option('--key-bits <n>', 'RSA key size for CA and leaf keys', '2048')
    .option('--force', 'replace a PKI already in --out (a new root: devices that trust the old root stop trusting this server)')
    .option('--keep-existing', 'when --out already holds a PKI, leave it as it is and exit 0 (one-shot containers that run on every start)')
    .action(async (opts: { out: string; fqdn: string; variant?: string[]; keyBits: string; force?: boolean; keepExisting?: boolean }) => {
      const keyBits = parseBits(opts.keyBits);
      const variants = parseVariants(opts.variant);
      const out = resolve(opts.out);
      if (opts.force && opts.keepExisting) throw new AmtError('BAD_INPUT', '--force and --keep-existing contradict each other; give one');
      // A new root silently replacing the old one breaks every NVRAM that trusts the old root.
      const existing = existingPkiFile(out);
      if (existing && opts.keepExisting) {
        const sha = await readFile(join(out, 'root.sha256'), 'utf8').then((t) => t.trim(), () => undefined);
        io.out(`kept the test PKI in ${out}${sha ? ` (root SHA-256: ${sha})` : ''}`);
        return;
      }
      if (existing && !opts.force) {
        throw new AmtError('BAD_INPUT', `${existing} already exists (a test PKI is in ${out}); add --force to replace it with a new root (devices that trust the old root will refuse the new chain), or --keep-existing to keep it`);
      }
      const made = await createTestPki({ fqdn: opts.fqdn, variants, keyBits });
      await writeTestPki(out, made);
      io.out(`wrote test PKI to ${out} (leaf CN ${made.valid.leaf.cn}, DNS suffix ${made.domain})`);
      if (variants.length) io.out(`variants: ${variants.join(', ')}`);
      io.out(`server chain: chain.pem + leaf.key (PEM), or leaf.pfx (password "${TEST_PFX_PASSWORD}")`);
      io.out(`root SHA-256: ${made.rootHashes.sha256}`);
      io.out(`root SHA-384: ${made.rootHashes.sha384}`);
      io.out(`root SHA-1:   ${made.rootHashes.sha1}`);
      io.out(`add it to a device: amtemu nvram hash add <deviceId> "${made.root.cn.slice(0, 32)}" ${made.rootHashes.sha256}`);
      io.out(`and set the device's DNS suffix (MEBx PKI DNS suffix or DHCP option 15) to ${made.domain}`);
    });

  pki
    .command('hash')
    .description("print SHA-1/SHA-256/SHA-384 of a certificate file's DER (PEM or DER input)")
    .argument('<file>', 'certificate file')
    .action(async (file: string) => {
      let data: Buffer;
      try {
        data = await readFile(file);
      } catch (e) {
        throw new AmtError('BAD_INPUT', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      const h = certHashes(toCertDer(data, file));
      io.out(`SHA-1:   ${h.sha1}`);
      io.out(`SHA-256: ${h.sha256}`);
      io.out(`SHA-384: ${h.sha384}`);
    });
}
