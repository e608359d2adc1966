/**
 * The manual and offline setup paths as scenario steps: `usbSetup` (a USB key with setup.bin,
 * src/device/usb-setup.ts) and `mebx` (a MEBx screen, src/device/mebx-ops.ts). Both end either
 * in success or in the device's coded refusal, which the device itself records on the timeline
 * (usb.setup / usb.refused, mebx.* / mebx.refused). `expectCode` turns a refusal into the
 * expected outcome; success or another code then fails the step, saying which.
 */
import { STATE_NAME_OF } from '../fleet/emulator.js';
import { readFileSync } from 'node:fs';
import { isAmtError } from '../common/errors.js';
import { runMebxOperation } from '../device/mebx-ops.js';
import { applyUsbSetup } from '../device/usb-setup.js';
import { resolveStepFile, usbSetupFile } from './files.js';
import { mebxStepParams } from './semantics.js';
import type { MebxStepSpec, UsbSetupSpec } from './types.js';
import type { World } from './world.js';

export interface StepOutcome {
  ok: boolean;
  message: string;
  deviceId?: string;
}

/** Per run: the USB keys' contents as the BIOS left them (consumed records), by resolved path. */
export type UsbKeys = Map<string, Buffer>;


/**
 * Run `act` on each device and judge it against `expectCode`. A thrown AmtError is the device's
 * refusal; anything else is a bug in the run and fails the step with its message.
 */
function judge(ids: string[], what: string, expectCode: string | undefined, act: (id: string) => string): StepOutcome {
  const done: string[] = [];
  const bad: string[] = [];
  let badDevice: string | undefined;
  for (const id of ids) {
    let detail: string | undefined;
    let code: string | undefined;
    let message = '';
    try {
      detail = act(id);
    } catch (e) {
      code = isAmtError(e) ? e.code : undefined;
      message = e instanceof Error ? e.message : String(e);
    }
    if (code === undefined && detail === undefined) {
      bad.push(`${id} ${what}: ${message}`);
    } else if (expectCode === undefined) {
      if (code === undefined) done.push(`${id}: ${what} ${detail}`);
      else bad.push(`${id} ${what} refused: ${code}: ${message}`);
    } else if (code === undefined) {
      bad.push(`${id} ${what}: expected refusal ${expectCode}, but it succeeded (${detail})`);
    } else if (code !== expectCode) {
      bad.push(`${id} ${what}: expected ${expectCode}, got ${code}: ${message}`);
    } else {
      done.push(`${id}: ${what} refused as expected: ${code} (${message})`);
    }
    if (bad.length > 0) badDevice ??= id;
  }
  if (bad.length > 0) return { ok: false, message: bad.join('; '), ...(badDevice ? { deviceId: badDevice } : {}) };
  return { ok: true, message: done.join('; ') };
}

export function runUsbSetup(spec: UsbSetupSpec, ids: string[], world: World, baseDir: string, keys: UsbKeys): StepOutcome {
  const { file } = usbSetupFile(spec);
  const expectCode = typeof spec === 'string' ? undefined : spec.expectCode;
  const path = resolveStepFile(baseDir, file);
  let bytes = keys.get(path);
  if (!bytes) {
    try {
      bytes = readFileSync(path);
    } catch (e) {
      // The loader checked the file; it went away since. Say so as a step failure, not a crash.
      return { ok: false, message: `usbSetup: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
    }
  }
  // One key moves from PC to PC: each takes the next record, as the BIOS consumes it. The file on
  // disk is never rewritten (it is a committed fixture); the run keeps the key's state.
  return judge(ids, `usbSetup ${file}`, expectCode, (id) => {
    const device = world.emu.device(id);
    const r = applyUsbSetup(device, keys.get(path) ?? bytes!, file);
    keys.set(path, r.file);
    return `record ${r.record} applied (${r.applied.length} settings${r.ignored.length ? `, ignored ${r.ignored.join(', ')}` : ''}${r.consumed ? ', consumed' : ''}); state ${STATE_NAME_OF[device.state]}`;
  });
}

export function runMebx(spec: MebxStepSpec, ids: string[], world: World): StepOutcome {
  const params = mebxStepParams(spec);
  // Stand-ins for values only the run knows (the same words the devices and DNS sections use).
  if (spec.op === 'hash-add' && params['hash'] === 'reference' && world.pki) params['hash'] = world.pki.rootHashes.sha256;
  if (spec.op === 'provisioning-server' && params['server'] === 'provisioningServer') params['server'] = world.endpoint.address;
  return judge(ids, `mebx ${spec.op}`, spec.expectCode, (id) => {
    const device = world.emu.device(id);
    runMebxOperation(device, spec.op, spec.password, params);
    return `done; state ${STATE_NAME_OF[device.state]}${device.state === 'Post' ? ` (${device.controlMode})` : ''}`;
  });
}
