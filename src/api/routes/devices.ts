/**
 * Device routes: list and get, NVRAM read and merge-patch, AC power, host power and link, the host (PTHI)
 * commands an OS agent sends (reference §2.2), and unprovision.
 */
import { PROVISIONING_STATE_OF, type DeviceStateName } from '../../fleet/emulator.js';
import type { FastifyInstance } from 'fastify';
import { AmtError } from '../../common/errors.js';
import type { AmtDevice } from '../../device/device.js';
import { PowerState } from '../../device/host-power.js';
import type { PthiResult } from '../../device/host-interface.js';
import { pthiStatusName } from '../../device/pthi.js';
import { NVRAM_IMAGE_SCHEMA } from '../../nvram/schema.js';
import { deviceOr404, ID_PARAMS, type ApiDeps } from '../deps.js';
import { DEVICE_SUMMARY_SCHEMA, patchNvram, summarize } from '../device-view.js';

/** Control API names for the CIM PowerState values a console requests (src/device/host-power.ts). */
const HOST_POWER_ACTIONS = {
  on: PowerState.On,
  off: PowerState.OffSoft,
  cycle: PowerState.PowerCycleOffSoft,
  reset: PowerState.MasterBusReset,
  sleep: PowerState.SleepDeep,
  hibernate: PowerState.Hibernate,
  'off-graceful': PowerState.OffSoftGraceful,
  'reset-graceful': PowerState.MasterBusResetGraceful,
  nmi: PowerState.DiagnosticInterruptNmi,
} as const;
type HostPowerAction = keyof typeof HOST_POWER_ACTIONS;


interface HostCommand {
  summary: string;
  body?: Record<string, unknown>;
  run(d: AmtDevice, body: Record<string, unknown>): PthiResult<unknown> | Promise<PthiResult<unknown>>;
}

const NO_BODY = { type: 'object', additionalProperties: false, properties: {} } as const;

/** The PTHI commands, by the names agents (rpc-go, LMS) use for them. */
export const HOST_COMMANDS: Record<string, HostCommand> = {
  getProvisioningState: { summary: 'CFG_GetProvisioningState', run: (d) => d.host.getProvisioningState() },
  getControlMode: { summary: 'CFG_GetControlMode', run: (d) => d.host.getControlMode() },
  getUuid: { summary: 'CFG_GetUUID', run: (d) => d.host.getUuid() },
  getPkiFqdnSuffix: { summary: 'CFG_GetPkiFQDNSuffix', run: (d) => d.host.getPkiFqdnSuffix() },
  getLocalSystemAccount: { summary: 'CFG_GetLocalSystemAccount', run: (d) => d.host.getLocalSystemAccount() },
  getCertHashEntries: { summary: 'CFG_EnumerateHashHandles + CFG_GetCertificateHashEntry', run: (d) => d.host.getCertHashEntries() },
  startConfiguration: {
    summary: 'CFG_StartConfiguration: open the remote-configuration window (24 h first, then 6 h)',
    body: { type: 'object', additionalProperties: false, properties: {} },
    run: (d) => d.host.startConfiguration(false),
  },
  startConfigurationEx: {
    summary: 'CFG_StartConfigurationEx (needs a DHCP lease with option 15 or a PKI DNS suffix)',
    body: { type: 'object', additionalProperties: false, properties: { ipv6Enable: { type: 'boolean' } } },
    run: (d, b) => d.host.startConfiguration(true, b['ipv6Enable'] === true),
  },
  stopConfiguration: { summary: 'CFG_StopConfiguration: back to Pre', run: (d) => d.host.stopConfiguration() },
  startConfigurationHBased: {
    summary: 'CFG_StartConfigurationHBased: secure host-based (TLS) ACM; pins the server leaf hash, answers the device leaf hash (AMTCertHash)',
    body: {
      type: 'object',
      additionalProperties: false,
      required: ['serverCertHash'],
      properties: {
        // 64 hex = SHA-256, 96 hex = SHA-384 (reference §5.4); a length that does not fit `algorithm` is the firmware's INVALID_PARAMETER.
        serverCertHash: { type: 'string', pattern: '^([0-9a-fA-F]{64}|[0-9a-fA-F]{96})$' },
        algorithm: { type: 'integer', enum: [2, 3], default: 2 },
        hostVpnEnable: { type: 'boolean', default: false },
        // Each suffix is a DNS name; the firmware checks the 320-byte NUL-separated total.
        dnsSuffixList: { type: 'array', maxItems: 32, items: { type: 'string', minLength: 1, maxLength: 253 }, default: [] },
      },
    },
    run: async (d, b) => {
      const r = await d.host.startConfigurationHBased({
        serverHashAlgorithm: (b['algorithm'] as number | undefined) ?? 2,
        serverCertHash: Buffer.from(b['serverCertHash'] as string, 'hex'),
        hostVpnEnable: (b['hostVpnEnable'] as boolean | undefined) ?? false,
        dnsSuffixList: (b['dnsSuffixList'] as string[] | undefined) ?? [],
      });
      return r.value ? { status: r.status, value: { hashAlgorithm: r.value.hashAlgorithm, amtCertHash: r.value.amtCertHash.toString('hex') } } : { status: r.status, ...(r.code ? { code: r.code, message: r.message } : {}) };
    },
  },
  extendProvisioningPeriod: {
    summary: 'ExtendProvisioningPeriod: the window has `hours` left (1–24)',
    body: { type: 'object', additionalProperties: false, required: ['hours'], properties: { hours: { type: 'integer', minimum: 0, maximum: 1000 } } },
    run: (d, b) => d.host.extendProvisioningPeriod(b['hours'] as number),
  },
  setOtp: {
    summary: 'SET_PROVISIONING_SERVER_OTP (8–32 bytes)',
    body: { type: 'object', additionalProperties: false, required: ['otp'], properties: { otp: { type: 'string', minLength: 1, maxLength: 64 } } },
    run: (d, b) => d.host.setProvisioningServerOtp(Buffer.from(b['otp'] as string, 'utf8')),
  },
  setPkiFqdnSuffix: {
    summary: 'CFG_SetPkiFQDNSuffix',
    body: { type: 'object', additionalProperties: false, required: ['suffix'], properties: { suffix: { type: 'string', maxLength: 300 } } },
    run: (d, b) => d.host.setPkiFqdnSuffix(b['suffix'] as string),
  },
  unprovision: {
    summary: 'CFG_Unprovision (CCM only; ACM is unprovisioned over WS-Man or in MEBx)',
    body: { type: 'object', additionalProperties: false, properties: { mode: { type: 'integer', minimum: 0, maximum: 2 } } },
    run: (d, b) => d.host.unprovision((b['mode'] as number | undefined) ?? 1),
  },
};

const PTHI_RESULT_SCHEMA = {
  type: 'object',
  properties: { command: { type: 'string' }, status: { type: 'integer' }, statusName: { type: 'string' }, value: {} },
} as const;

export function registerDeviceRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { emu, observer } = deps;

  app.get('/api/devices', {
    schema: {
      tags: ['devices'],
      summary: 'List devices (optionally by state), with their last timeline event',
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          state: { type: 'string', enum: ['Pre', 'In', 'Post', 'factory', 'setup', 'configured'], description: 'Pre/In/Post as the firmware names them, or factory/setup/configured as the CLI and scenarios do' },
          offset: { type: 'integer', minimum: 0, default: 0 },
          limit: { type: 'integer', minimum: 1, maximum: 20000, default: 1000 },
        },
      },
    },
    config: { response: { type: 'object', properties: { total: { type: 'integer' }, devices: { type: 'array', items: DEVICE_SUMMARY_SCHEMA } } } },
  }, async (req) => {
    const q = req.query as { state?: string; offset: number; limit: number };
    const state = q.state === undefined ? undefined : (PROVISIONING_STATE_OF[q.state as DeviceStateName] ?? q.state);
    const all = [...emu.devices.values()].filter((d) => state === undefined || d.state === state);
    return { total: all.length, devices: all.slice(q.offset, q.offset + q.limit).map((d) => summarize(emu, d, observer.lastEvent.get(d.id))) };
  });

  app.get('/api/devices/:id', {
    schema: { tags: ['devices'], summary: 'One device', params: ID_PARAMS },
    config: { response: DEVICE_SUMMARY_SCHEMA },
  }, async (req) => {
    const d = deviceOr404(deps, (req.params as { id: string }).id);
    return { ...summarize(emu, d, observer.lastEvent.get(d.id)), lease: d.lease ?? null };
  });

  app.get('/api/devices/:id/nvram', {
    schema: { tags: ['nvram'], summary: "The device's NVRAM image", params: ID_PARAMS },
    config: { response: NVRAM_IMAGE_SCHEMA },
  }, async (req) => deviceOr404(deps, (req.params as { id: string }).id).nvram);

  app.patch('/api/devices/:id/nvram', {
    schema: {
      tags: ['nvram'],
      summary: 'Change NVRAM with a JSON merge patch (RFC 7396); the result must pass the NVRAM schema',
      description: 'deviceId, schemaVersion and generation are read-only. A patch the schema refuses answers 400 NVRAM_INVALID naming the field.',
      params: ID_PARAMS,
      body: { type: 'object', minProperties: 1, additionalProperties: true },
    },
  }, async (req) => patchNvram(deviceOr404(deps, (req.params as { id: string }).id), req.body as Record<string, unknown>));

  app.post('/api/devices/:id/power', {
    schema: {
      tags: ['devices'],
      summary: 'Power on, off, or lose power (AC loss: same as off for the ME, recorded as loss)',
      params: ID_PARAMS,
      body: { type: 'object', additionalProperties: false, required: ['action'], properties: { action: { type: 'string', enum: ['on', 'off', 'loss'] } } },
    },
  }, async (req) => {
    const d = deviceOr404(deps, (req.params as { id: string }).id);
    const action = (req.body as { action: 'on' | 'off' | 'loss' }).action;
    if (action === 'on') d.powerOn();
    else d.powerOff(action);
    return summarize(emu, d, observer.lastEvent.get(d.id));
  });

  app.post('/api/devices/:id/host-power', {
    schema: {
      tags: ['devices'],
      summary: "The host's power (S0–S5), as a console's CIM_PowerManagementService.RequestPowerStateChange would change it, and whether the OS runs an Intel agent (needed for sleep, hibernate and the graceful actions). A refused change answers 200 with its ReturnValue and reason, as the firmware would.",
      params: ID_PARAMS,
      body: {
        type: 'object',
        additionalProperties: false,
        minProperties: 1,
        properties: {
          action: { type: 'string', enum: Object.keys(HOST_POWER_ACTIONS), description: 'on 2, off 8, cycle 5, reset 10, sleep 4, hibernate 7, off-graceful 12, reset-graceful 14, nmi 11 (CIM PowerState)' },
          osAgent: { type: 'boolean' },
        },
      },
    },
  }, async (req) => {
    const d = deviceOr404(deps, (req.params as { id: string }).id);
    const body = req.body as { action?: HostPowerAction; osAgent?: boolean };
    if (body.osAgent !== undefined) d.hostPower.osAgent = body.osAgent;
    const r = body.action !== undefined ? d.hostPower.request(HOST_POWER_ACTIONS[body.action], 'api') : undefined;
    return { ...summarize(emu, d, observer.lastEvent.get(d.id)), ...(r ? { returnValue: r.returnValue, ...(r.reason ? { reason: r.reason } : {}) } : {}) };
  });

  app.post('/api/devices/:id/link', {
    schema: {
      tags: ['devices'],
      summary: 'Network cable in or out',
      params: ID_PARAMS,
      body: { type: 'object', additionalProperties: false, required: ['up'], properties: { up: { type: 'boolean' } } },
    },
  }, async (req) => {
    const d = deviceOr404(deps, (req.params as { id: string }).id);
    d.setLink((req.body as { up: boolean }).up);
    return summarize(emu, d, observer.lastEvent.get(d.id));
  });

  app.post('/api/devices/:id/unprovision', {
    schema: {
      tags: ['devices'],
      summary: 'Partial (keeps network settings, reopens the 6 h window) or full (back to factory) unprovision',
      params: ID_PARAMS,
      body: { type: 'object', additionalProperties: false, required: ['kind'], properties: { kind: { type: 'string', enum: ['partial', 'full'] } } },
    },
  }, async (req) => {
    const d = deviceOr404(deps, (req.params as { id: string }).id);
    d.unprovision((req.body as { kind: 'partial' | 'full' }).kind);
    return summarize(emu, d, observer.lastEvent.get(d.id));
  });

  for (const [name, cmd] of Object.entries(HOST_COMMANDS)) {
    app.post(`/api/devices/:id/host/${name}`, {
      schema: {
        tags: ['host commands'],
        summary: cmd.summary,
        description: 'Answers 200 with the PTHI status the firmware returns (0 SUCCESS); a refusal is a status, not an HTTP error. 409 HOST_OFF when the host OS is not running (S3/S4/S5 or POST), so no agent can send the command.',
        params: ID_PARAMS,
        body: cmd.body ?? NO_BODY,
      },
      config: { response: PTHI_RESULT_SCHEMA },
    }, async (req) => {
      const d = deviceOr404(deps, (req.params as { id: string }).id);
      const r = await cmd.run(d, (req.body as Record<string, unknown> | undefined) ?? {});
      // Not a firmware refusal: the host OS that would send the command is not running (409 HOST_OFF).
      if (r.code === 'HOST_OFF') throw new AmtError('HOST_OFF', r.message ?? 'the host is not running');
      return { command: name, status: r.status, statusName: pthiStatusName(r.status), ...(r.value !== undefined ? { value: r.value } : {}) };
    });
  }
}
