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
    expect(cfg.bind).toBe('0.0.0.0');
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
