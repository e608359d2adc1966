/**
 * `amtemu mebx <op> --device ID [--data-dir DIR] --password PW …`: what a technician does in the
 * MEBx screens of a stored device. The operations and their parameters come from
 * src/device/mebx-ops.ts (shared with the control API and scenario steps); the rules from
 * src/device/mebx.ts. Each op prints the timeline events it caused; a refusal is one line with its code.
 */
import { Command } from 'commander';
import { MEBX_OPERATIONS, runMebxOperation } from '../device/mebx-ops.js';
import { DEFAULT_DATA_DIR } from './nvram-command.js';
import { formatEvents, openOfflineDevice } from './usb-setup-command.js';

interface Common { device: string; dataDir: string; password: string }

export function registerMebxCommands(program: Command, out: (s: string) => void = (s) => void process.stdout.write(s)): void {
  const mebx = program.command('mebx').description('MEBx screens of a stored device (password, network, remote setup, hashes, mode, unprovision)');
  for (const o of MEBX_OPERATIONS) {
    const c = mebx.command(o.op).description(o.description)
      .requiredOption('--device <id>', 'device id in the data directory')
      .option('--data-dir <dir>', 'directory holding <deviceId>.nvram.json files', DEFAULT_DATA_DIR)
      .requiredOption('--password <pw>', 'current MEBx password');
    for (const p of o.params) c.argument(p.optional ? `[${p.name}]` : `<${p.name}>`, p.description);
    c.action((...all: unknown[]) => {
      const positional = all.slice(0, o.params.length) as (string | undefined)[];
      const opts = all[o.params.length] as Common;
      const params: Record<string, string> = {};
      o.params.forEach((p, i) => {
        const v = positional[i];
        if (v !== undefined) params[p.name] = v;
      });
      const { device, timeline } = openOfflineDevice(opts.dataDir, opts.device, `POST /api/devices/:id/mebx/${o.op}`);
      runMebxOperation(device, o.op, opts.password, params);
      out(formatEvents(timeline.query()));
      out(`${opts.device}: ${o.op} done; state ${device.state}${device.controlMode !== 'none' ? `/${device.controlMode}` : ''}\n`);
    });
  }
}
