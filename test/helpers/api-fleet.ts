/**
 * The control API over a small loopback fleet in virtual time, as the API integration tests use
 * it: the fleet on its own /24 of 127/8 (`.1` fake DHCP/DNS, `.2` a provisioning server nobody
 * runs — hellos fail with HELLO_CONNECT_FAILED — devices from `.10`), free WS-Man ports, no
 * redirection or RMCP, every PC powered on and virtual time advanced through the API so leases
 * are in. Requests go through fastify.inject.
 */
import { buildApi, type ControlApi } from '../../src/api/server.js';
import type { DeviceStateName } from '../../src/fleet/emulator.js';
import type { FleetDevice } from '../../src/fleet/fleet-file.js';
import { startFleet, type RunningFleet } from '../../src/fleet/fleet-runner.js';
import type { FirmwareProfileId } from '../../src/nvram/image.js';

export interface ApiReply {
  status: number;
  /** Whatever the route answered (tests read its fields directly). */
  json: any;
  text: string;
}

export interface ApiFleet {
  fleet: RunningFleet;
  api: ControlApi;
  /** One request; a string body goes as given (with `contentType`), anything else as JSON. */
  call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown, contentType?: string): Promise<ApiReply>;
  stop(): Promise<void>;
}

export async function startApiFleet(o: {
  /** Seed and API name. */
  name: string;
  /** The fleet's /24, e.g. '127.93.0'. */
  net: string;
  defaults: { state: DeviceStateName; profile: FirmwareProfileId };
  devices: FleetDevice[];
  /** Virtual time to let pass after power-on (through POST /api/time/advance). */
  settle: string;
}): Promise<ApiFleet> {
  const fleet = await startFleet({
    time: 'virtual',
    seed: o.name,
    network: { ipBase: `${o.net}.10`, serverAddress: `${o.net}.1`, dhcpPort: 0, dnsPort: 0, domain: 'corp.example.test' },
    provisioning: { kind: 'address', address: `${o.net}.2`, port: 9 },
    ports: { http: 0, https: 0, redirection: null, redirectionTls: null, rmcp: null },
    defaults: { ...o.defaults, adminPassword: 'P@ssw0rd' },
    devices: o.devices,
  });
  const api = await buildApi({ emu: fleet.emu, clock: fleet.clock, virtual: fleet.virtual, faults: fleet.faults, name: o.name });
  const call: ApiFleet['call'] = async (method, url, body, contentType) => {
    const r = await api.app.inject({
      method,
      url,
      ...(body !== undefined ? { payload: body as string | object } : {}),
      ...(contentType ? { headers: { 'content-type': contentType } } : {}),
    });
    let json: unknown;
    try {
      json = r.body ? JSON.parse(r.body) : undefined;
    } catch {
      json = undefined;
    }
    return { status: r.statusCode, json, text: r.body };
  };
  const stop = async (): Promise<void> => {
    await api.close();
    await fleet.stop();
  };
  fleet.emu.powerOnAll();
  const settled = await call('POST', '/api/time/advance', { by: o.settle });
  if (settled.status !== 200) {
    await stop();
    throw new Error(`advancing the test fleet failed: ${settled.status} ${settled.text}`);
  }
  return { fleet, api, call, stop };
}
