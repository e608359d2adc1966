/**
 * `amtemu mebx <op> --device ID [--data-dir DIR] --password PW …`: what a technician does in the
 * MEBx screens of a stored device (src/device/mebx.ts has the rules). Each op prints the timeline
 * events it caused; a refusal is one line with its code.
 */
import { Command } from 'commander';
import { AmtError } from '../common/errors.js';
import {
  mebxActivateNetwork, mebxAddHash, mebxChangePassword, mebxSetDomain, mebxSetHashActive, mebxSetHostname, mebxSetPidPps,
  mebxSetPkiDnsSuffix, mebxSetProvisioningMode, mebxSetProvisioningServer, mebxUnprovision,
} from '../device/mebx.js';
import type { AmtDevice } from '../device/device.js';
import type { HashAlgorithm } from '../nvram/image.js';
import { DEFAULT_DATA_DIR } from './nvram-command.js';
import { formatEvents, openOfflineDevice } from './usb-setup-command.js';

interface Common { device: string; dataDir: string; password: string }

function choice<T extends string>(flag: string, v: string, options: readonly T[]): T {
  const hit = options.find((o) => o.toLowerCase() === v.toLowerCase());
  if (!hit) throw new AmtError('BAD_INPUT', `${flag}: '${v}' is not one of ${options.join(', ')}`);
  return hit;
}

export function registerMebxCommands(program: Command, out: (s: string) => void = (s) => void process.stdout.write(s)): void {
  const mebx = program.command('mebx').description('MEBx screens of a stored device (password, network, remote setup, hashes, mode, unprovision)');
  const op = (name: string, description: string, args: string[], run: (d: AmtDevice, pw: string, a: string[]) => void, passwordHelp = 'current MEBx password'): void => {
    const c = mebx.command(name).description(description)
      .requiredOption('--device <id>', 'device id in the data directory')
      .option('--data-dir <dir>', 'directory holding <deviceId>.nvram.json files', DEFAULT_DATA_DIR)
      .requiredOption('--password <pw>', passwordHelp);
    for (const a of args) c.argument(a);
    c.action((...all: unknown[]) => {
      const positional = all.slice(0, args.length) as string[];
      const o = all[args.length] as Common;
      const { device, timeline } = openOfflineDevice(o.dataDir, o.device);
      run(device, o.password, positional);
      out(formatEvents(timeline.query()));
      out(`${o.device}: ${name} done; state ${device.state}${device.controlMode !== 'none' ? `/${device.controlMode}` : ''}\n`);
    });
  };
  op('password', "change the MEBx password (the first login forces changing 'admin')", ['<newPassword>'], (d, pw, [n]) => mebxChangePassword(d, pw, n!));
  op('hostname', 'set the host name', ['<hostname>'], (d, pw, [v]) => mebxSetHostname(d, pw, v!));
  op('domain', "set the domain name ('' clears)", ['<domain>'], (d, pw, [v]) => mebxSetDomain(d, pw, v!));
  op('pki-dns-suffix', "set the PKI DNS suffix ('' clears)", ['<suffix>'], (d, pw, [v]) => mebxSetPkiDnsSuffix(d, pw, v!));
  op('provisioning-server', 'set the provisioning server: address, FQDN or port (empty string clears)', ['<addressOrFqdn>', '[port]'], (d, pw, [host, port]) => {
    const isIp = /^[0-9.]+$/.test(host!);
    const p = port === undefined ? undefined : /^[0-9]+$/.test(port) ? Number(port) : (() => { throw new AmtError('BAD_INPUT', `port '${port}' is not a number`); })();
    mebxSetProvisioningServer(d, pw, { ...(isIp ? { address: host! } : { fqdn: host! }), ...(p !== undefined ? { port: p } : {}) });
  });
  op('pid-pps', 'enter the TLS-PSK PID and PPS (AMT before 11 only)', ['<pid>', '<pps>'], (d, pw, [pid, pps]) => mebxSetPidPps(d, pw, pid!, pps!));
  op('hash-add', 'add a custom trusted-root hash (active)', ['<name>', '<hash>'], (d, pw, [name, hash]) => {
    const len = hash!.replace(/[:\s]/g, '').length / 2;
    const algorithm: HashAlgorithm = len === 20 ? 'SHA1' : len === 48 ? 'SHA384' : 'SHA256';
    mebxAddHash(d, pw, { name: name!, algorithm, hash: hash! });
  });
  op('hash-activate', 'activate a hash entry (name or hash)', ['<nameOrHash>'], (d, pw, [k]) => mebxSetHashActive(d, pw, k!, true));
  op('hash-deactivate', 'deactivate a hash entry (name or hash)', ['<nameOrHash>'], (d, pw, [k]) => mebxSetHashActive(d, pw, k!, false));
  op('mode', 'choose the provisioning model: SMB (before AMT 6) or Enterprise', ['<mode>'], (d, pw, [m]) => mebxSetProvisioningMode(d, pw, choice('mode', m!, ['SMB', 'Enterprise'] as const)));
  op('activate', 'activate network access (SMB: configured; Enterprise: opens the hello window)', [], (d, pw) => mebxActivateNetwork(d, pw));
  op('unprovision', 'partial (keeps PID/PPS) or full (factory) unprovision', ['<kind>'], (d, pw, [k]) => mebxUnprovision(d, pw, choice('kind', k!, ['partial', 'full'] as const)));
}
