/**
 * What the API (and the dashboard) shows of a device, and the NVRAM patch: an RFC 7396 JSON
 * merge patch on the image, checked against NVRAM_IMAGE_SCHEMA before it is written through
 * AmtDevice.update — the same path every firmware write takes, so a data dir persists it.
 */
import type { TimelineEvent } from '../common/timeline.js';
import type { AmtDevice } from '../device/device.js';
import type { Emulator } from '../fleet/emulator.js';
import type { NvramImage } from '../nvram/image.js';
import { validateNvramImage } from '../nvram/schema.js';
import { consentSettings, peekUserConsent, redirectionSettings } from '../device/user-consent.js';
import { ApiError } from './errors.js';

export interface DeviceSummary {
  id: string;
  uuid: string;
  profile: string;
  firmwareVersion: string;
  state: string;
  controlMode: string;
  mode: string;
  trigger: string;
  powered: boolean;
  link: boolean;
  address: string | null;
  plannedAddress: string | null;
  hostname: string;
  window: { kind: string; remainingMs: number; hellosSent: number };
  /** The host's power as the ME sees it (src/device/host-power.ts): S-state, CIM PowerState, a change in progress. */
  hostPower: { state: string; powerState: number; transitioning: boolean; osAgent: boolean };
  lastEvent: TimelineEvent | null;
  /** User consent: OptInState, the code shown on the host screen (what the user would read out), policy. */
  consent: { state: number; code: string | null; optInRequired: number; sessions: number };
  /** AMT_RedirectionService / CIM_KVMRedirectionSAP enablement. */
  redirection: { enabledState: number; listenerEnabled: boolean; kvmEnabled: boolean };
}

export function summarize(emu: Emulator, d: AmtDevice, last: TimelineEvent | undefined): DeviceSummary {
  const img = d.nvram;
  const w = d.window;
  return {
    id: d.id,
    uuid: img.uuid,
    profile: img.firmware.profile,
    firmwareVersion: img.firmware.version,
    state: d.state,
    controlMode: d.controlMode,
    mode: img.provisioning.mode,
    trigger: img.provisioning.trigger,
    powered: d.powered,
    link: d.link,
    address: d.address ?? null,
    plannedAddress: emu.plannedAddress(d.id) ?? null,
    hostname: img.network.hostname,
    window: { kind: w.kind, remainingMs: Math.round(w.remainingMs), hellosSent: w.hellosSent },
    hostPower: { state: d.hostPower.state, powerState: d.hostPower.powerState, transitioning: d.hostPower.transitioning, osAgent: d.hostPower.osAgent },
    lastEvent: last ?? null,
    consent: { ...peekUserConsent(d), optInRequired: consentSettings(img).optInRequired },
    redirection: (({ enabledState, listenerEnabled, kvmEnabled }) => ({ enabledState, listenerEnabled, kvmEnabled }))(redirectionSettings(img)),
  };
}

export const DEVICE_SUMMARY_SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    uuid: { type: 'string' },
    profile: { type: 'string' },
    firmwareVersion: { type: 'string' },
    state: { type: 'string', enum: ['Pre', 'In', 'Post'] },
    controlMode: { type: 'string', enum: ['none', 'CCM', 'ACM'] },
    mode: { type: 'string' },
    trigger: { type: 'string' },
    powered: { type: 'boolean' },
    link: { type: 'boolean' },
    address: { type: ['string', 'null'] },
    plannedAddress: { type: ['string', 'null'] },
    hostname: { type: 'string' },
    window: { type: 'object', properties: { kind: { type: 'string' }, remainingMs: { type: 'number' }, hellosSent: { type: 'integer' } } },
    hostPower: {
      type: 'object',
      properties: { state: { type: 'string', enum: ['S0', 'S3', 'S4', 'S5', 'G3'] }, powerState: { type: 'integer' }, transitioning: { type: 'boolean' }, osAgent: { type: 'boolean' } },
    },
    lastEvent: { type: ['object', 'null'], additionalProperties: true },
    consent: {
      type: 'object',
      properties: { state: { type: 'integer' }, code: { type: ['string', 'null'] }, optInRequired: { type: 'integer' }, sessions: { type: 'integer' } },
    },
    redirection: {
      type: 'object',
      properties: { enabledState: { type: 'integer' }, listenerEnabled: { type: 'boolean' }, kvmEnabled: { type: 'boolean' } },
    },
  },
} as const;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** RFC 7396: objects merge key by key, null deletes, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k === '__proto__' || k === 'constructor' || k === 'prototype') continue;
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Fields the emulator owns: the file name, the format and the write counter. */
const READ_ONLY = ['deviceId', 'schemaVersion', 'generation'] as const;

export function patchNvram(d: AmtDevice, patch: Record<string, unknown>): NvramImage {
  for (const k of READ_ONLY) {
    if (k in patch && patch[k] !== (d.nvram as unknown as Record<string, unknown>)[k]) {
      throw new ApiError(400, 'BAD_INPUT', `${k} cannot be changed through the API`);
    }
  }
  const next = mergePatch(structuredClone(d.nvram), patch);
  // validateNvramImage throws AmtError NVRAM_INVALID naming the JSON pointer of the first bad field.
  validateNvramImage(next, `device ${d.id}`);
  // The schema checks fields one by one; firmware never holds a control mode outside Post, nor
  // Post without one (reference §0), so a patch that says so would leave a PC no flow can explain.
  const { state, controlMode } = (next as NvramImage).provisioning;
  if ((state === 'Post') !== (controlMode !== 'none')) {
    throw new ApiError(400, 'NVRAM_INVALID', `device ${d.id}: /provisioning/controlMode ${controlMode} does not fit /provisioning/state ${state} (Post has CCM or ACM, Pre and In have none)`);
  }
  const image = next;
  d.update((img) => {
    const target = img as unknown as Record<string, unknown>;
    for (const k of Object.keys(target)) delete target[k];
    Object.assign(target, image);
  });
  d.record('nvram.patched', { keys: Object.keys(patch), generation: d.nvram.generation });
  return d.nvram as NvramImage;
}
