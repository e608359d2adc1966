import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerAgentCommand, AGENT_CLI_NOTE } from '../../src/cli/agent-command.js';
import { formatProvisioningEvent, registerProvisionServerCommand } from '../../src/cli/provision-server-command.js';
import { isAmtError } from '../../src/common/errors.js';
import { createTestPki, writeTestPki, type TestPki } from '../../src/pki/test-ca.js';
import { loadProvisioningConfigFile, loadProvisioningConfigText } from '../../src/provisioning/config.js';

let dir: string;
let pki: TestPki;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), `amtemu-prov-${process.pid}-`));
  pki = await createTestPki({ variants: [] });
  await writeTestPki(join(dir, 'pki'), pki);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const GOOD = `# provisioning server
helloPort: 9971
profiles:
  - name: acm
    adminPassword: "Adm1n!pass"
    mebxPassword: "Mebx!2pass"
    match:
      uuids: [939b524b-13d4-1d18-e487-1c697a6b7a2b]
  - name: default
    adminPassword: "Adm1n!pass"
    mebxPassword: "Mebx!2pass"
chains:
  - name: test
    chain: pki/chain.pem
    key: pki/leaf.key
`;

function loadError(text: string): string {
  try {
    loadProvisioningConfigText(text, 'prov.yaml', dir);
  } catch (e) {
    expect(isAmtError(e, 'BAD_INPUT')).toBe(true);
    return (e as Error).message;
  }
  throw new Error('expected a load error');
}

describe('provisioning config file', () => {
  it('loads profiles and chains; root hashes come from the last certificate of the chain', async () => {
    await writeFile(join(dir, 'prov.yaml'), GOOD);
    const cfg = loadProvisioningConfigFile(join(dir, 'prov.yaml'));
    expect(cfg.helloPort).toBe(9971);
    // Loopback unless the file or --bind says otherwise (like the control API).
    expect(cfg.bind).toBe('127.0.0.1');
    expect(loadProvisioningConfigText(`bind: 0.0.0.0\n${GOOD}`, 'prov.yaml', dir).bind).toBe('0.0.0.0');
    expect(cfg.deviceWsmanPort).toBe(16993);
    expect(cfg.profiles.map((p) => [p.name, p.tls])).toEqual([['acm', false], ['default', false]]);
    expect(cfg.chains[0]!.rootHashes).toEqual(pki.rootHashes);
    expect(cfg.chains[0]!.chainPem).toBe(pki.valid.chainPem);
    expect(cfg.deviceTls).toBeUndefined();
    const legacy = loadProvisioningConfigText(`${GOOD}deviceTls:\n  ciphers: "RSA+AES:!aNULL:!MD5:!DSS"\n  minVersion: TLSv1\n`, 'prov.yaml', dir);
    expect(legacy.deviceTls).toEqual({ ciphers: 'RSA+AES:!aNULL:!MD5:!DSS', minVersion: 'TLSv1' });
    expect(loadError(`${GOOD}deviceTls:\n  minVersion: SSLv3\n`)).toMatch(/^prov\.yaml:17: deviceTls\.minVersion: /);
  });

  it('reports file:line for schema errors', () => {
    expect(loadError(GOOD.replace('mebxPassword: "Mebx!2pass"\n    match', 'mebxPassword: "short"\n    match'))).toBe(
      'prov.yaml:6: profiles.0.mebxPassword: an AMT password needs 8–32 characters with a digit, a lower-case and an upper-case letter and a symbol',
    );
    expect(loadError(GOOD.replace('helloPort: 9971', 'helloPort: 9971\nhelo: 1'))).toBe('prov.yaml:3: config: unknown key "helo"');
    expect(loadError(GOOD.replace('      uuids: [939b524b-13d4-1d18-e487-1c697a6b7a2b]', '      uuids: [not-a-uuid]'))).toMatch(/^prov\.yaml:8: profiles\.0\.match\.uuids\.0: /);
    expect(loadError(GOOD.replace('    key: pki/leaf.key\n', ''))).toBe('prov.yaml:13: chains.0: missing "key"');
  });

  it('reports YAML syntax, missing files, duplicate names and a TLS profile without a CA', () => {
    expect(loadError('profiles: [\n  - a')).toMatch(/^prov\.yaml:\d+: /);
    expect(loadError(GOOD.replace('pki/chain.pem', 'pki/nope.pem'))).toMatch(/^prov\.yaml:14: cannot read .*nope\.pem: ENOENT$/);
    expect(loadError(GOOD.replace('name: default', 'name: acm'))).toBe('prov.yaml:9: profiles.1.name: duplicate profile "acm"');
    expect(loadError(GOOD.replace('    mebxPassword: "Mebx!2pass"\nchains', '    mebxPassword: "Mebx!2pass"\n    tls: true\nchains'))).toMatch(/tlsCa \(cert, key\) is required/);
    expect(loadError(GOOD.replace('pki/leaf.key', 'pki/root.pem'))).toMatch(/not a PEM private key/);
  });

  it('refuses at load time a chain whose key is not the leaf certificate\'s (file:line, what is wrong)', async () => {
    // A key from another PKI: before, the server started and every device failed with "key values mismatch".
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' });
    await writeFile(join(dir, 'other.key'), other);
    expect(loadError(GOOD.replace('pki/leaf.key', 'other.key'))).toBe(
      'prov.yaml:15: chains.0.key: other.key does not match the leaf certificate (the first one in pki/chain.pem); give the key the leaf was issued for',
    );
    // Garbage between the markers: one located line, not a crash at the first handshake.
    await writeFile(join(dir, 'broken.key'), '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
    expect(loadError(GOOD.replace('pki/leaf.key', 'broken.key'))).toMatch(/^prov\.yaml:15: chains\.0\.key: cannot read broken\.key as a private key \(/);
  });

  it('refuses a tlsCa whose key does not match its certificate', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' });
    await writeFile(join(dir, 'ca-other.key'), other);
    // Any certificate with its own key stands in for a CA here: the check is key against certificate.
    await writeFile(join(dir, 'ca.pem'), pki.valid.leaf.pem);
    expect(loadError(`${GOOD}tlsCa:\n  cert: ca.pem\n  key: ca-other.key\n`)).toBe('prov.yaml:18: tlsCa.key: ca-other.key does not match the CA certificate ca.pem');
    // The matching pair loads.
    await writeFile(join(dir, 'ca.key'), pki.valid.keyPem);
    expect(loadProvisioningConfigText(`${GOOD}tlsCa:\n  cert: ca.pem\n  key: ca.key\n`, 'prov.yaml', dir).tlsCa?.certPem).toBe(pki.valid.leaf.pem);
  });
});

describe('CLI registration', () => {
  it('registers provision-server with --config and agent with its note', async () => {
    const program = new Command('amtemu').exitOverride();
    registerProvisionServerCommand(program);
    const lines: string[] = [];
    registerAgentCommand(program, (s) => lines.push(s));
    expect(program.commands.map((c) => c.name())).toEqual(['provision-server', 'agent']);
    await program.parseAsync(['node', 'amtemu', 'agent']);
    expect(lines).toEqual([AGENT_CLI_NOTE]);
    await expect(program.parseAsync(['node', 'amtemu', 'provision-server', '--config', join(dir, 'missing.yaml')])).rejects.toThrow(/missing\.yaml: cannot read config: ENOENT/);
  });

  it('prints one readable line per step', () => {
    const line = formatProvisioningEvent({ t: 1234, deviceIp: '127.0.0.5', step: 'no-matching-chain', ok: false, detail: { helloHashes: 23 }, code: 'HASH_NOT_TRUSTED' });
    expect(line).toBe('+00:00:01.234  127.0.0.5       no-matching-chain                  FAIL [HASH_NOT_TRUSTED]  helloHashes=23');
  });
});
